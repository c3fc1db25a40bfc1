# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""Training rows, per-dataset converters and the weighted dataset mixture.

Row format (one JSON object per sample; JSONL/JSON/Parquet files, a folder of them, or a Hub dataset id, all read
with ``datasets.load_dataset``)::

    {"id": "clip-001",                       # unique within its dataset; seeds frame sampling
     "video": "clips/001.mp4",               # a file (relative to the dataset's video_root) or a list of frame files
     "images": ["a.jpg", "b.jpg"],           # ...or still images, one <image> each...
                                             # ...or neither: a text-only row
     "start": 1.5, "end": 7.0,               # optional trimming in seconds (video files only)
     "messages": [{"role": "user", "content": "<video>\\nDescribe the video."},
                  {"role": "assistant", "content": "A man ..."}]}

``messages`` is TRL's conversational format: any number of turns, ``content`` a string or a list of
``{"type": "text"|"video"|"image"}`` blocks. Without a ``<video>``/``<image>`` placeholder the visuals go in front of
the first user turn, as in the official prompt. Sources without ``messages`` name a converter in the mixture:
``caption`` (field ``caption``), ``label`` (``label``) or ``qa`` (``question``/``answer``); the instruction is drawn
from the dataset's prompt pool with the sample's seed.

Mixture YAML::

    seed: 42
    samples_per_epoch: 10000        # optional; defaults to the sum of the dataset sizes
    datasets:
      - name: my_captions           # names the dataset in logs and in the sample ids
        path: data/captions.jsonl   # file, folder or Hub id (with optional split:, config:)
        video_root: /data/videos
        weight: 2.0                 # share of samples_per_epoch, proportional to weight
        converter: caption
        prompts: short_caption      # a built-in pool (trl_recipes.prompts) or a list of prompts
        frames: {sampler: stage1, min_frames: 8, max_frames: 32}

``frames``: ``{sampler: stage1, min_frames, max_frames}`` (one random frame from each of n equal segments),
``{sampler: stage2, num_frames: 8 | [8, 16]}`` (first and last frame, the rest evenly spaced) or
``{sampler: uniform, num_frames: 8}`` (inference sampling). The stage's default applies when it is left out.

Rows stay metadata here: :class:`MixtureDataset` returns dicts with paths; the collator decodes in the dataloader
workers.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from torch.utils.data import Dataset

from tarsier_hf.video_io import (
    sample_frame_indices,
    sample_stage1_indices,
    sample_stage2_indices,
)

from .prompts import resolve_prompt_pool

__all__ = [
    "CONVERTERS",
    "STAGE_FRAME_DEFAULTS",
    "DatasetSpec",
    "FrameSpec",
    "MixtureConfig",
    "MixtureDataset",
    "load_mixture",
    "sample_rng",
]

STAGE_FRAME_DEFAULTS = {
    1: {"sampler": "stage1", "min_frames": 8, "max_frames": 32},
    2: {"sampler": "stage2", "num_frames": [8]},
}
_DATA_FILE_BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}
_MIXTURE_KEYS = {"seed", "samples_per_epoch", "datasets"}
_DATASET_KEYS = {
    "name",
    "path",
    "split",
    "config",
    "video_root",
    "weight",
    "converter",
    "prompts",
    "frames",
}


def sample_rng(seed: int, sample_id: str, epoch: int, purpose: str = "frames") -> random.Random:
    """A ``random.Random`` seeded from ``(seed, sample id, epoch, purpose)`` with SHA-256, so the draw does not depend
    on the process, the worker or Python's hash randomisation: a resumed run sees the same frames and prompts."""
    digest = hashlib.sha256(f"{seed}\x00{sample_id}\x00{epoch}\x00{purpose}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "little"))


@dataclass(frozen=True)
class FrameSpec:
    """How to pick frames from a video of ``total`` frames (see the module docstring)."""

    sampler: str = "uniform"
    num_frames: tuple[int, ...] = (8,)
    min_frames: int = 8
    max_frames: int = 32

    @classmethod
    def from_dict(cls, spec: dict, dataset: str) -> FrameSpec:
        spec = dict(spec)
        sampler = spec.pop("sampler", "uniform")
        if sampler not in ("stage1", "stage2", "uniform"):
            raise ValueError(f"dataset {dataset!r}: frames.sampler must be stage1, stage2 or uniform, got {sampler!r}")
        num_frames = spec.pop("num_frames", 8)
        num_frames = tuple(num_frames) if isinstance(num_frames, (list, tuple)) else (num_frames,)
        min_frames, max_frames = spec.pop("min_frames", 8), spec.pop("max_frames", 32)
        if spec:
            raise ValueError(f"dataset {dataset!r}: unknown frames keys {sorted(spec)}")
        counts = [*num_frames, min_frames, max_frames]
        if not num_frames or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in counts):
            raise ValueError(f"dataset {dataset!r}: frame counts must be integers >= 1, got {spec or counts}")
        if min_frames > max_frames:
            raise ValueError(f"dataset {dataset!r}: frames.min_frames {min_frames} > max_frames {max_frames}")
        return cls(sampler, num_frames, min_frames, max_frames)

    def sampler_fn(self, rng: random.Random):
        """``total_frames -> indices`` for ``video_io.load_frames(sampler=...)``."""
        if self.sampler == "stage1":
            return functools.partial(
                sample_stage1_indices,
                rng=rng,
                min_frames=self.min_frames,
                max_frames=self.max_frames,
            )
        if self.sampler == "stage2":
            return functools.partial(sample_stage2_indices, rng=rng, frame_choices=self.num_frames)
        return functools.partial(sample_frame_indices, num_frames=self.num_frames[0])


# ------------------------------------------------------------------------------------------------- converters


def _user_assistant(prompt: str, answer: str) -> list[dict]:
    return [
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": answer},
    ]


def convert_caption(row: dict, prompts: Sequence[str], rng: random.Random) -> list[dict]:
    """``caption`` → user: a prompt from the pool; assistant: the caption."""
    return _user_assistant(rng.choice(list(prompts)), _field(row, "caption"))


def convert_label(row: dict, prompts: Sequence[str], rng: random.Random) -> list[dict]:
    """``label`` (action recognition) → user: a prompt from the pool; assistant: the label."""
    return _user_assistant(rng.choice(list(prompts)), _field(row, "label"))


def convert_qa(row: dict, prompts: Sequence[str], rng: random.Random) -> list[dict]:
    """``question``/``answer`` → user: ``"{prompt}\\n{question}"``; assistant: the answer."""
    return _user_assistant(f"{rng.choice(list(prompts))}\n{_field(row, 'question')}", _field(row, "answer"))


CONVERTERS = {"caption": convert_caption, "label": convert_label, "qa": convert_qa}
_DEFAULT_POOLS = {
    "caption": "short_caption",
    "label": "action_label",
    "qa": "short_answer",
}


def _field(row: dict, name: str) -> str:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"row {row.get('id')!r}: the converter needs a non-empty {name!r} field")
    return str(value)


# ---------------------------------------------------------------------------------------------------- config


@dataclass
class DatasetSpec:
    name: str
    path: str
    split: str = "train"
    config: str | None = None
    video_root: str | None = None
    weight: float = 1.0
    converter: str | None = None
    prompts: tuple[str, ...] = ()
    frames: FrameSpec = field(default_factory=FrameSpec)


@dataclass
class MixtureConfig:
    datasets: list[DatasetSpec]
    seed: int = 42
    samples_per_epoch: int | None = None


def _resolve_path(value: str, base: Path) -> str:
    """Relative paths in a mixture YAML are relative to the YAML's folder when they exist there."""
    candidate = base / value
    return str(candidate) if not os.path.isabs(value) and candidate.exists() else value


def parse_mixture(data: dict, stage: int, base: Path = Path(".")) -> MixtureConfig:
    """Validate a mixture mapping (as read from YAML). Raises ``ValueError`` naming the bad key or dataset."""
    if not isinstance(data, dict) or not isinstance(data.get("datasets"), list) or not data["datasets"]:
        raise ValueError("a mixture needs a non-empty 'datasets' list")
    unknown = set(data) - _MIXTURE_KEYS
    if unknown:
        raise ValueError(f"unknown mixture keys {sorted(unknown)}; allowed: {sorted(_MIXTURE_KEYS)}")
    specs, names = [], set()
    for index, entry in enumerate(data["datasets"]):
        if not isinstance(entry, dict) or "path" not in entry:
            raise ValueError(f"mixture dataset #{index} needs at least a 'path'")
        unknown = set(entry) - _DATASET_KEYS
        if unknown:
            raise ValueError(
                f"mixture dataset #{index}: unknown keys {sorted(unknown)}; allowed: {sorted(_DATASET_KEYS)}"
            )
        name = str(entry.get("name") or Path(str(entry["path"])).stem)
        if name in names:
            raise ValueError(f"two mixture datasets are named {name!r}; give each a unique 'name'")
        names.add(name)
        weight = entry.get("weight", 1.0)
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight <= 0:
            raise ValueError(f"dataset {name!r}: weight must be a positive number, got {weight!r}")
        converter = entry.get("converter")
        if converter is not None and converter not in CONVERTERS:
            raise ValueError(f"dataset {name!r}: unknown converter {converter!r}; use one of {sorted(CONVERTERS)}")
        prompts = entry.get("prompts", _DEFAULT_POOLS.get(converter))
        video_root = entry.get("video_root")
        if video_root is not None:
            video_root = _resolve_path(str(video_root), base)
            if not Path(video_root).is_dir():
                raise ValueError(f"dataset {name!r}: video_root {video_root!r} is not an existing folder")
        specs.append(
            DatasetSpec(
                name=name,
                path=_resolve_path(str(entry["path"]), base),
                split=entry.get("split", "train"),
                config=entry.get("config"),
                video_root=video_root,
                weight=float(weight),
                converter=converter,
                prompts=resolve_prompt_pool(prompts, name) if prompts is not None else (),
                frames=FrameSpec.from_dict(entry.get("frames") or STAGE_FRAME_DEFAULTS[stage], name),
            )
        )
    seed = data.get("seed", 42)
    samples = data.get("samples_per_epoch")
    if samples is not None and (not isinstance(samples, int) or samples < 1):
        raise ValueError(f"samples_per_epoch must be a positive integer, got {samples!r}")
    return MixtureConfig(datasets=specs, seed=int(seed), samples_per_epoch=samples)


def load_mixture(path: str | os.PathLike, stage: int) -> MixtureConfig:
    """Read and validate a mixture YAML file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"mixture file {str(path)!r} not found")
    with path.open(encoding="utf-8") as handle:
        return parse_mixture(yaml.safe_load(handle), stage, base=path.parent)


# ---------------------------------------------------------------------------------------------------- loading


def load_rows(spec: DatasetSpec):
    """The dataset's rows as a ``datasets.Dataset`` (metadata only: paths, text)."""
    from datasets import load_dataset

    path = Path(spec.path)
    if path.is_file():
        builder = _DATA_FILE_BUILDERS.get(path.suffix.lower())
        if builder is None:
            raise ValueError(f"dataset {spec.name!r}: {spec.path} is not a .jsonl/.json/.parquet file")
        return load_dataset(builder, data_files=str(path), split="train")
    return load_dataset(spec.path, name=spec.config, split=spec.split)


def _check_columns(rows, spec: DatasetSpec) -> None:
    columns = set(rows.column_names)
    if "messages" not in columns and spec.converter is None:
        raise ValueError(
            f"dataset {spec.name!r} ({spec.path}) has no 'messages' column and no converter; add messages to the rows "
            f"or set 'converter' to one of {sorted(CONVERTERS)} (columns found: {sorted(columns)})"
        )
    needed = {
        "caption": {"caption"},
        "label": {"label"},
        "qa": {"question", "answer"},
    }.get(spec.converter, set())
    if "messages" not in columns and not needed <= columns:
        raise ValueError(f"dataset {spec.name!r}: converter {spec.converter!r} needs columns {sorted(needed)}")
    if ("video" in columns or "images" in columns) and spec.video_root is None:
        first = rows[0]
        media = first.get("video") or first.get("images")
        media = media[0] if isinstance(media, list) and media else media
        if isinstance(media, str) and not os.path.isabs(media):
            raise ValueError(
                f"dataset {spec.name!r}: media paths such as {media!r} are relative but the dataset has no video_root"
            )


def _allocate(sizes: Sequence[int], weights: Sequence[float], total: int) -> list[int]:
    """Largest-remainder split of ``total`` samples proportional to ``weights`` (empty datasets get none)."""
    weights = [w if size else 0.0 for w, size in zip(weights, sizes)]
    scale = total / sum(weights)
    exact = [w * scale for w in weights]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: exact[i] - counts[i], reverse=True)[: total - sum(counts)]:
        counts[i] += 1
    return counts


class MixtureDataset(Dataset):
    """Map-style dataset over a weighted mixture: index ``i`` → one row dict (metadata) ready for the collator.

    Each epoch holds ``samples_per_epoch`` rows (default: all rows of all datasets once); dataset ``d`` contributes
    ``round(total * weight_d / sum(weights))`` of them, walking through a seeded permutation of its rows (repeating
    it when the share is larger than the dataset). The table is fixed for a given seed, so the trainer's sampler
    shuffles and shards it like any dataset. ``set_epoch`` (called by the trainer callback at each epoch start,
    before the dataloader workers start) feeds the epoch into the per-sample seeds for frames and prompts.

    Returned row keys: ``id`` (``"{dataset}/{row id}"``), ``dataset``, ``messages``, ``video``/``images`` (absolute
    paths or decoded images), ``start``/``end``, ``frames`` (:class:`FrameSpec`), ``epoch``, ``seed``.
    """

    def __init__(self, config: MixtureConfig, sources: list | None = None):
        self.config = config
        self.sources = sources if sources is not None else [load_rows(spec) for spec in config.datasets]
        for rows, spec in zip(self.sources, config.datasets):
            if len(rows) == 0:
                raise ValueError(f"dataset {spec.name!r} ({spec.path}) has no rows")
            _check_columns(rows, spec)
        sizes = [len(rows) for rows in self.sources]
        total = config.samples_per_epoch or sum(sizes)
        counts = _allocate(sizes, [spec.weight for spec in config.datasets], total)
        rng = random.Random(config.seed)
        self.index: list[tuple[int, int]] = []
        for source, (size, count) in enumerate(zip(sizes, counts)):
            order = []
            while len(order) < count:
                permutation = list(range(size))
                rng.shuffle(permutation)
                order += permutation
            self.index += [(source, row) for row in order[:count]]
        self.counts = dict(zip((spec.name for spec in config.datasets), counts))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def as_hf_dataset(self):
        """This mixture as a ``datasets.Dataset`` (what ``SFTTrainer`` takes): a table of ``(source, row)`` indices
        whose rows are built on access by :meth:`__getitem__`. The view's ``mixture`` attribute is this object; keep
        its epoch current with :class:`trl_recipes.trainer.MixtureEpochCallback` (accelerate's dataloader does not
        forward ``set_epoch`` to a map-style dataset when its sampler has one)."""
        from datasets import Dataset as HFDataset

        table = HFDataset.from_dict({"mixture_index": list(range(len(self.index)))})
        view = table.with_transform(self._rows_of)
        view.mixture = self
        return view

    def _rows_of(self, batch: dict) -> dict:
        rows = [self[int(i)] for i in batch["mixture_index"]]
        keys = {key for row in rows for key in row}
        return {key: [row.get(key) for row in rows] for key in keys}

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> dict:
        source, row_index = self.index[index]
        spec = self.config.datasets[source]
        row = dict(self.sources[source][row_index])
        row_id = row.get("id")
        sample_id = f"{spec.name}/{row_id if row_id is not None else row_index}"
        messages = row.get("messages")
        if not messages:
            if spec.converter is None:
                raise ValueError(f"sample {sample_id!r} has no messages and dataset {spec.name!r} has no converter")
            rng = sample_rng(self.config.seed, sample_id, self.epoch, "prompt")
            messages = CONVERTERS[spec.converter](row, spec.prompts, rng)
        item = {
            "id": sample_id,
            "dataset": spec.name,
            "messages": messages,
            "start": row.get("start"),
            "end": row.get("end"),
            "frames": spec.frames,
            "epoch": self.epoch,
            "seed": self.config.seed,
        }
        for key in ("video", "images"):
            value = row.get(key)
            if value is not None and (not isinstance(value, list) or value):
                item[key] = _under_root(value, spec.video_root)
        return item


def _under_root(value, root: str | None):
    if isinstance(value, list):
        return [_under_root(v, root) for v in value]
    if isinstance(value, str) and root is not None and not os.path.isabs(value):
        return os.path.join(root, value)
    return value
