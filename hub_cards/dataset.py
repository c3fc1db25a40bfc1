"""Video datasets → a Hub dataset repository that ``datasets.load_dataset`` reads, validated first.

Input: a folder of videos and an annotation file (JSON Lines, or one JSON list) in one of two formats:

- **DREAM-1K annotations**: Tarsier's evaluation format (``idx``, ``dataset``, ``messages`` with the reference in
  the assistant's ``reference``, ``extra_info``) or the Hub dataset's ``metadata.json`` (``idx``, ``source``,
  ``description``, ``events``, ``n_subjects``, ``n_shots``, ``n_events``, ``duration``, ``video_file``). Read with
  the AutoDQ annotation reader; a clip's video is the file under the folder (searched recursively) whose name
  without extension is the ``video_file``'s, or the clip id. Default split ``test``.
- **training rows** of the recipes: ``{"id", "video", "start", "end", "messages"}``; ``video`` is a path relative
  to the folder (or absolute), ``start`` / ``end`` are seconds or null, ``messages`` a list of
  ``{"role", "content"}``. Default split ``train``.

Output (:func:`package_dataset`), the ``videofolder`` layout with a ``metadata.jsonl`` per split:

    README.md                           dataset card; its ``configs`` point at data/<split>/**
    data/<split>/metadata.jsonl         one row per example; ``file_name`` = the video, relative to the file
    data/<split>/videos/...             the videos (hard links when possible, else copies), with their paths
                                        relative to the deepest folder that holds all of them

Training rows also go to ``training_rows/<split>.jsonl`` in the recipes' own format (``video`` relative to
``data/<split>``), which a ``trl_recipes`` mixture reads as is: ``path: <copy>/training_rows/train.jsonl``,
``video_root: <copy>/data/train`` (``hf download REPO --repo-type dataset --local-dir <copy>``).

``load_dataset(repo)`` gives a ``video`` column (a ``Video`` feature; ``cast_column("video", Video(decode=False))``
gives ``{"path", "bytes"}`` without torchcodec) and the other fields as columns: DREAM-1K rows as the Hub's
``metadata.json`` fields (so ``data/test/metadata.jsonl`` also works as ``TARSIER_DREAM1K_ANNOTATIONS``), training
rows as ``id``, ``start``, ``end``, ``messages`` (:func:`to_training_row` turns a loaded row back into the recipe's
format).

Validation (:func:`validate_rows`) runs before anything is written: required fields present and typed, ids unique,
every video exists and decodes (first and last frame of the clip, or of ``[start, end]``, through
``tarsier_hf.video_io``), ``start < end``. Every bad row is listed in one :class:`DatasetValidationError`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from tarsier_hf.video_io import GIF_EXTENSIONS, VIDEO_EXTENSIONS, MediaError, load_frames

FORMATS = ("dream1k", "training")
DEFAULT_SPLITS = {"dream1k": "test", "training": "train"}
_ANNOTATION_SUFFIXES = (".jsonl", ".json")
_TRAINING_FIELDS = ("id", "video", "messages")
_MAX_LISTED = 50
TRAINING_ROWS_DIR = "training_rows"


class DatasetValidationError(ValueError):
    """Bad rows, all of them: ``problems`` is a list of ``(row label, message)``; the text lists them."""

    def __init__(self, problems: list[tuple[str, str]], n_rows: int, annotations: Path):
        problems = sorted(problems, key=lambda problem: int(re.search(r"\d+", problem[0]).group()))  # in file order
        self.problems = problems
        listed = "\n".join(f"  {label}: {message}" for label, message in problems[:_MAX_LISTED])
        more = f"\n  ... and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
        bad = len({label for label, _ in problems})
        super().__init__(
            f"{annotations}: {bad} of {n_rows} rows are invalid, nothing was written or uploaded:\n{listed}{more}"
        )


@dataclass
class Example:
    """One validated row: ``row`` holds the output fields (without the video), ``video`` the source file."""

    example_id: str
    video: Path
    row: dict
    label: str


@dataclass
class PackagedDataset:
    """What :func:`package_dataset` wrote: the folder, the split, the format, the rows and the bytes of video."""

    folder: Path
    split: str
    format: str
    n_rows: int
    n_videos: int
    video_bytes: int
    files: list[str] = field(default_factory=list)


def find_annotations(folder: Path) -> Path:
    """The one ``.jsonl`` / ``.json`` file directly inside ``folder``; an error when there are none or several."""
    candidates = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _ANNOTATION_SUFFIXES)
    if len(candidates) != 1:
        found = ", ".join(p.name for p in candidates) or "none"
        raise ValueError(
            f"{folder}: expected one annotation file (.jsonl or .json) in the folder, found {found}; "
            "pass --annotations FILE"
        )
    return candidates[0]


def read_rows(path: Path) -> list[tuple[str, object]]:
    """``(label, record)`` per row of a JSON Lines file or a JSON list; a line that is not JSON is a bad row."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except ValueError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from None
        return [(f"row {number}", record) for number, record in enumerate(records, start=1)]
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append((f"line {number}", json.loads(line)))
            except ValueError as error:
                rows.append((f"line {number}", _Unparsable(str(error))))
    return rows


class _Unparsable:
    def __init__(self, message: str):
        self.message = message


def detect_format(rows: list[tuple[str, object]]) -> str:
    """``"training"`` when the first row has ``id``, ``video`` and ``messages``, else ``"dream1k"``."""
    for _, record in rows:
        if isinstance(record, dict):
            return "training" if all(key in record for key in _TRAINING_FIELDS) else "dream1k"
    raise ValueError("no JSON object among the annotation rows")


def _video_index(folder: Path) -> dict[str, list[Path]]:
    index: dict[str, list[Path]] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS | GIF_EXTENSIONS:
            index.setdefault(path.stem, []).append(path)
    return index


def _dream1k_examples(rows, folder: Path, problems: list) -> list[Example]:
    from lmms_tasks.autodq.annotations import AnnotationError, _normalise

    index = _video_index(folder)
    examples = []
    for label, record in rows:
        if isinstance(record, _Unparsable):
            problems.append((label, f"not valid JSON ({record.message})"))
            continue
        try:
            annotation = _normalise(record, label)
        except AnnotationError as error:
            problems.append((label, str(error).removeprefix(f"{label}: ")))
            continue
        clip_id = annotation["idx"]
        video_file = annotation.get("video_file")
        stem = Path(video_file).stem if isinstance(video_file, str) and video_file else clip_id
        found = index.get(stem, [])
        if len(found) != 1:
            why = "no video" if not found else f"{len(found)} videos ({', '.join(str(p) for p in found)})"
            problems.append((f"{label} (id {clip_id!r})", f"{why} named {stem}.* under {folder}"))
            continue
        row = {
            "idx": clip_id,
            "source": annotation["source"],
            "description": annotation["reference"],
            "events": annotation["events"],
            "n_subjects": annotation["n_subjects"],
            "n_shots": annotation["n_shots"],
            "n_events": annotation["n_events"],
            "duration": annotation["duration"],
            "video_file": found[0].name,
        }
        examples.append(Example(clip_id, found[0], row, f"{label} (id {clip_id!r})"))
    return examples


def _training_examples(rows, folder: Path, problems: list) -> list[Example]:
    examples = []
    for label, record in rows:
        if isinstance(record, _Unparsable):
            problems.append((label, f"not valid JSON ({record.message})"))
            continue
        if not isinstance(record, dict):
            problems.append((label, f"expected a JSON object, got {type(record).__name__}"))
            continue
        missing = [key for key in _TRAINING_FIELDS if record.get(key) in (None, "")]
        where = f"{label} (id {record.get('id')!r})" if record.get("id") is not None else label
        if missing:
            problems.append((where, f"missing required field(s): {', '.join(missing)}"))
            continue
        row_problems = []
        messages = record["messages"]
        if (
            not isinstance(messages, list)
            or not messages
            or not all(isinstance(m, dict) and isinstance(m.get("role"), str) and "content" in m for m in messages)
        ):
            row_problems.append("'messages' must be a non-empty list of {'role', 'content'} objects")
        start, end = record.get("start"), record.get("end")
        for name, value in (("start", start), ("end", end)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                row_problems.append(f"'{name}' must be a number of seconds >= 0 or null, got {value!r}")
        if isinstance(start, (int, float)) and isinstance(end, (int, float)) and not start < end:
            row_problems.append(f"'start' ({start}) must be before 'end' ({end})")
        if not isinstance(record["video"], str):
            row_problems.append(f"'video' must be a path string, got {type(record['video']).__name__}")
        if row_problems:
            problems.extend((where, message) for message in row_problems)
            continue
        video = Path(record["video"])
        video = video if video.is_absolute() else folder / video
        if not video.is_file():
            problems.append((where, f"video not found: {video}"))
            continue
        row = {"id": str(record["id"]), "start": start, "end": end, "messages": messages}
        row.update(
            {key: value for key, value in record.items() if key not in ("id", "video", "start", "end", "messages")}
        )
        examples.append(Example(str(record["id"]), video, row, where))
    return examples


def _check_decodes(examples: list[Example], problems: list, progress: bool) -> None:
    """Decode the first and last frame of each distinct (video, start, end) once."""
    checked: dict[tuple, str | None] = {}
    for example in tqdm(examples, desc="checking videos", unit="video", disable=not progress):
        start, end = example.row.get("start"), example.row.get("end")
        key = (example.video, start, end)
        if key not in checked:
            try:
                load_frames(example.video, 2, start_time=start, end_time=end)
                checked[key] = None
            except (MediaError, OSError, RuntimeError, ValueError) as error:
                checked[key] = f"video does not decode: {str(error).splitlines()[0]}"
        if checked[key]:
            problems.append((example.label, checked[key]))


def validate_rows(
    folder: str | Path, annotations: str | Path | None = None, data_format: str | None = None, progress: bool = True
) -> tuple[str, list[Example]]:
    """``(format, examples)`` after checking every row (module docstring); raises :class:`DatasetValidationError`
    listing every bad row, or ``ValueError`` when the folder or the annotation file cannot be used at all."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder")
    annotations = Path(annotations) if annotations else find_annotations(folder)
    if not annotations.is_file():
        raise ValueError(f"annotation file not found: {annotations}")
    rows = read_rows(annotations)
    if not rows:
        raise ValueError(f"{annotations}: no rows")
    data_format = data_format or detect_format(rows)
    if data_format not in FORMATS:
        raise ValueError(f"unknown annotation format {data_format!r}; known: {', '.join(FORMATS)}")
    problems: list[tuple[str, str]] = []
    reader = _dream1k_examples if data_format == "dream1k" else _training_examples
    examples = reader(rows, folder, problems)
    seen: dict[str, str] = {}
    for example in examples:
        if example.example_id in seen:
            problems.append(
                (example.label, f"duplicate id {example.example_id!r} (first at {seen[example.example_id]})")
            )
        else:
            seen[example.example_id] = example.label
    _check_decodes(examples, problems, progress)
    if problems:
        raise DatasetValidationError(problems, len(rows), annotations)
    return data_format, examples


def _place(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def package_dataset(
    folder: str | Path,
    output_dir: str | Path,
    *,
    annotations: str | Path | None = None,
    data_format: str | None = None,
    split: str | None = None,
    card_options: dict | None = None,
    progress: bool = True,
) -> PackagedDataset:
    """Validate, then write the repository layout (module docstring) with its dataset card into ``output_dir``
    (which must not exist or be empty). ``card_options`` go to :func:`hub_cards.dataset_card.build_dataset_card`."""
    from .dataset_card import build_dataset_card

    folder, output_dir = Path(folder), Path(output_dir)
    if output_dir.exists() and any(output_dir.iterdir()):
        raise ValueError(f"{output_dir}: output folder is not empty")
    data_format, examples = validate_rows(folder, annotations, data_format, progress=progress)
    split = split or DEFAULT_SPLITS[data_format]
    split_dir = output_dir / "data" / split
    targets: dict[Path, Path] = {}
    rows = []
    # Videos keep their paths relative to the deepest folder holding all of them (flat names when they are spread).
    sources = [example.video.resolve() for example in examples]
    base = Path(os.path.commonpath([source.parent for source in sources])) if sources else folder
    for example, source in zip(examples, sources):
        try:
            relative = source.relative_to(base)
        except ValueError:
            relative = Path(source.name)
        target = Path("videos") / relative
        if targets.setdefault(target, source) != source:
            raise DatasetValidationError(
                [(example.label, f"two different videos would both be stored as {target}")],
                len(examples),
                Path(annotations or folder),
            )
        rows.append({"file_name": target.as_posix(), **example.row})
    for target, source in tqdm(targets.items(), desc="packaging videos", unit="video", disable=not progress):
        _place(source, split_dir / target)
    split_dir.mkdir(parents=True, exist_ok=True)
    with (split_dir / "metadata.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    if data_format == "training":  # the recipes' own row format, outside the data/ files that load_dataset reads
        rows_file = output_dir / TRAINING_ROWS_DIR / f"{split}.jsonl"
        rows_file.parent.mkdir(parents=True, exist_ok=True)
        with rows_file.open("w", encoding="utf-8") as handle:
            for row in rows:
                training_row = {
                    "id": row["id"],
                    "video": row["file_name"],
                    **{k: v for k, v in row.items() if k not in ("id", "file_name")},
                }
                handle.write(json.dumps(training_row, ensure_ascii=False) + "\n")
    card = build_dataset_card(data_format=data_format, split=split, n_rows=len(rows), **(card_options or {}))
    card.save(output_dir / "README.md")
    files = sorted(p.relative_to(output_dir).as_posix() for p in output_dir.rglob("*") if p.is_file())
    return PackagedDataset(
        folder=output_dir,
        split=split,
        format=data_format,
        n_rows=len(rows),
        n_videos=len(targets),
        video_bytes=sum(source.stat().st_size for source in targets.values()),
        files=files,
    )


def to_training_row(row: dict) -> dict:
    """A row loaded from a packaged training dataset → the recipe's ``{"id", "video", "start", "end", "messages"}``
    (``video`` a local path; pass rows loaded with ``Video(decode=False)`` or whose video object has a path)."""
    video = row["video"]
    if isinstance(video, dict):
        path = video.get("path")
    else:
        path = getattr(video, "path", None) or getattr(getattr(video, "metadata", None), "path", None)
    if not path:
        raise ValueError(f"row {row.get('id')!r}: the video has no local path; load with Video(decode=False)")
    return {
        "id": row["id"],
        "video": path,
        "start": row.get("start"),
        "end": row.get("end"),
        "messages": row["messages"],
    }
