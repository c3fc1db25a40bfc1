"""Making a study from two predictions files (``tarsier-sbs create``).

The predictions are read with ``tarsier-autodq``'s reader (``lmms_tasks.autodq.cli.read_predictions``): the
``predictions.jsonl`` the ``dream1k`` task writes (``idx``, ``source``, ``prediction``), Tarsier's own prediction
files, or any JSONL with a clip id and a description. Only clips present in both files are compared; the others are
counted and named in the summary.

A clip's source (DREAM-1K's five: ``DREAM/movie_animation``, ...) comes from the DREAM-1K annotations when given,
else from a ``source`` field in the first predictions file, else it is ``"all"``. The annotations also give the
reference description (shown to the LLM annotator, never to people) and the video file name, which is looked up in
``--videos`` the way the ``dream1k`` task does (``lmms_tasks.tasks.dream1k.data.index_videos``: any extension of
``tarsier_hf.video_io.VIDEO_EXTENSIONS``, named after the annotation's ``video_file`` or the clip id).

Sampling and order: ``random.Random(seed)`` draws ``sample`` clips (all when ``sample`` is None or not smaller than
the number of common clips), in the drawn order, and then, per pair, whether model A's description is shown on the
left. The same inputs and seed give the same study.
"""

import json
import random
import secrets
from importlib import resources
from pathlib import Path

from lmms_tasks.autodq.annotations import load_dream1k_annotations
from lmms_tasks.autodq.cli import read_predictions
from lmms_tasks.jsonl import iter_jsonl
from lmms_tasks.tasks.dream1k.data import DataSourceError, index_videos
from tarsier_hf.video_io import DEFAULT_NUM_FRAMES, check_num_frames

from .store import Study, StudyError

UNKNOWN_SOURCE = "all"


def default_guide() -> tuple[str, dict]:
    """The packaged annotation guide (Markdown) and its source note (``guide_source.json``)."""
    package = resources.files(__package__)
    return package.joinpath("guide.md").read_text(encoding="utf-8"), json.loads(
        package.joinpath("guide_source.json").read_text(encoding="utf-8")
    )


def _sources_from_predictions(path: Path) -> dict[str, str]:
    """Clip id -> ``source`` of the rows of a predictions file that have one (the ``dream1k`` task writes it).

    The file was already read (and checked) by ``read_predictions``; rows without a string ``source`` are skipped.
    """
    sources = {}
    for _, row in iter_jsonl(path):
        if isinstance(row.get("source"), str):
            idx = row.get("idx", row.get("id"))
            if idx is not None:
                sources[str(idx)] = row["source"]
    return sources


def _video_stem(clip_id: str, annotation: dict | None) -> str:
    video_file = (annotation or {}).get("video_file")
    if isinstance(video_file, str) and video_file.strip() and "<placeholder>" not in video_file:
        return Path(video_file.strip()).stem
    return clip_id


def create_study(
    study_dir: str | Path,
    predictions_a: str | Path,
    predictions_b: str | Path,
    *,
    names: tuple[str, str] = ("A", "B"),
    sample: int | None = None,
    seed: int = 0,
    videos: str | Path | None = None,
    annotations: str | Path | None = None,
    annotators: int = 3,
    num_frames: int = DEFAULT_NUM_FRAMES,
    guide: str | Path | None = None,
) -> tuple[Study, dict]:
    """Create the study in ``study_dir``; returns it and a summary (``n_pairs``, ``only_a``, ``only_b``, ...).

    Raises:
        StudyError / ValueError: bad arguments or unreadable inputs, naming the file and the problem.
    """
    if names[0] == names[1]:
        raise StudyError(f"the two models need different names, got {names[0]!r} twice")
    if annotators < 1:
        raise StudyError(f"--annotators must be >= 1, got {annotators}")
    if sample is not None and sample < 1:
        raise StudyError(f"--sample must be >= 1, got {sample}")
    check_num_frames(num_frames)
    predictions_a, predictions_b = Path(predictions_a), Path(predictions_b)
    text_a, text_b = read_predictions(predictions_a), read_predictions(predictions_b)
    common = [clip_id for clip_id in text_a if clip_id in text_b]
    if not common:
        raise StudyError(f"{predictions_a} and {predictions_b} have no clip id in common")

    reference = load_dream1k_annotations(annotations) if annotations else {}
    sources = _sources_from_predictions(predictions_a)
    video_index = {}
    if videos is not None:
        try:
            video_index = index_videos(Path(videos).expanduser().resolve())
        except DataSourceError as error:
            raise StudyError(str(error)) from None

    rng = random.Random(seed)
    chosen = common if sample is None or sample >= len(common) else rng.sample(common, sample)
    if chosen is common:
        chosen = list(common)
        rng.shuffle(chosen)
    pairs, missing_videos = [], []
    for clip_id in chosen:
        annotation = reference.get(clip_id)
        video = video_index.get(_video_stem(clip_id, annotation)) if video_index else None
        if videos is not None and video is None:
            missing_videos.append(clip_id)
        pairs.append(
            {
                "clip_id": clip_id,
                "source": (annotation or {}).get("source") or sources.get(clip_id) or UNKNOWN_SOURCE,
                "reference": (annotation or {}).get("reference"),
                "video": str(video) if video else None,
                "text_a": text_a[clip_id],
                "text_b": text_b[clip_id],
                "a_on_left": rng.random() < 0.5,
            }
        )
    if guide is None:
        guide_text, guide_source = default_guide()
    else:
        guide_text = Path(guide).read_text(encoding="utf-8")
        guide_source = {"text": f"custom guide from {Path(guide).resolve()}"}
    meta = {
        "names": {"a": names[0], "b": names[1]},
        "inputs": {
            "a": str(predictions_a.resolve()),
            "b": str(predictions_b.resolve()),
            "annotations": str(Path(annotations).resolve()) if annotations else None,
            "videos": str(Path(videos).resolve()) if videos else None,
        },
        "seed": seed,
        "sample": sample,
        "annotators": annotators,
        "num_frames": num_frames,
        "guide": guide_text,
        "guide_source": guide_source,
        "secret": secrets.token_hex(32),
    }
    study = Study.create(study_dir, pairs, meta)
    summary = {
        "n_pairs": len(pairs),
        "n_common": len(common),
        "only_a": sorted(set(text_a) - set(text_b)),
        "only_b": sorted(set(text_b) - set(text_a)),
        "missing_videos": missing_videos,
        "a_on_left": sum(1 for pair in pairs if pair["a_on_left"]),
    }
    return study, summary
