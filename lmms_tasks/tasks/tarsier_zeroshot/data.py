"""Where the ``tarsier_*`` documents come from: an annotation file in the released Tarsier format and a video folder.

Per benchmark ``KEY`` (``NEXTQA_MC``, ``EGOSCHEMA``, ``EGOSCHEMA_FULL``, ``MVBENCH`` (all 20 sub-tasks), ``MSVD_QA``,
``MSRVTT_QA``, ``ACTIVITYNET_QA``, ``TGIF_QA``, ``MSVD_CAPTION``, ``MSRVTT_CAPTION``, ``VATEX_CAPTION``):

- annotations: ``$TARSIER_EVAL_<KEY>_ANNOTATIONS``, else ``$TARSIER_EVAL_ANNOTATIONS_DIR/<released file name>``
  (e.g. ``Next-QA-val-multi_choice.jsonl``; ``lmms_tasks.zeroshot.benchmarks`` lists them);
- videos: ``$TARSIER_EVAL_<KEY>_VIDEO_DIR``, else ``$TARSIER_EVAL_VIDEO_DIR`` (searched recursively).

A row's video is its ``video_file`` when that is a real path (absolute, or relative to the video folder or to the
annotation file), else the file in the video folder whose name without extension is the stem of ``video_file``
or the row's ``vid``; extensions are those of ``tarsier_hf.video_io`` (videos and GIFs). Rows are selected by their
``dataset`` field as the released code does, so one file may hold several benchmarks.

Each document carries the prompt the released processor would tokenize (``text.prompt`` verbatim, or the
benchmark's template for rows without one, then wrapped as ``USER: ... ASSISTANT: `` when it is not a turn yet),
and ``num_frames`` (the paper's: 16 for EgoSchema, 8 otherwise; ``$TARSIER_EVAL_NUM_FRAMES`` overrides it for
every benchmark, e.g. 8 to match the released script, which passes 8 to everything).
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

from lmms_tasks.zeroshot.benchmarks import BENCHMARKS, MVBENCH_SUBTASKS, Benchmark, mvbench_subtask
from lmms_tasks.zeroshot.released_format import released_prompt, select_rows
from tarsier_hf.video_io import GIF_EXTENSIONS, VIDEO_EXTENSIONS

ANNOTATIONS_DIR_ENV = "TARSIER_EVAL_ANNOTATIONS_DIR"
VIDEO_DIR_ENV = "TARSIER_EVAL_VIDEO_DIR"
NUM_FRAMES_ENV = "TARSIER_EVAL_NUM_FRAMES"
PLACEHOLDER = "<placeholder>"

logger = logging.getLogger(__name__)


class DataSourceError(RuntimeError):
    """The annotations or videos of a benchmark cannot be found; the message says what to set."""


def benchmark_named(key: str) -> Benchmark:
    """The benchmark (or MVBench sub-task, e.g. ``mvbench_action_sequence``) with this key."""
    if key in BENCHMARKS:
        return BENCHMARKS[key]
    for name in MVBENCH_SUBTASKS:
        if mvbench_subtask(name).key == key:
            return mvbench_subtask(name)
    raise KeyError(f"unknown tarsier benchmark {key!r}")


def env_key(benchmark: Benchmark) -> str:
    return "MVBENCH" if benchmark.subtask else benchmark.key.upper()


def annotations_path(benchmark: Benchmark) -> Path:
    own = f"TARSIER_EVAL_{env_key(benchmark)}_ANNOTATIONS"
    if os.environ.get(own):
        path = Path(os.environ[own]).expanduser()
    elif os.environ.get(ANNOTATIONS_DIR_ENV):
        path = Path(os.environ[ANNOTATIONS_DIR_ENV]).expanduser() / benchmark.annotation_file
    else:
        raise DataSourceError(
            f"{benchmark.task}: no annotation file; set {own} to a {benchmark.annotation_file} in the released Tarsier "
            f"format, or {ANNOTATIONS_DIR_ENV} to the folder holding it"
        )
    if not path.is_file():
        raise DataSourceError(f"{benchmark.task}: annotation file not found: {path}")
    return path


def video_dir(benchmark: Benchmark) -> Path | None:
    value = os.environ.get(f"TARSIER_EVAL_{env_key(benchmark)}_VIDEO_DIR") or os.environ.get(VIDEO_DIR_ENV)
    return Path(value).expanduser() if value else None


@functools.lru_cache(maxsize=16)
def index_videos(folder: Path) -> dict[str, Path]:
    """Video and GIF files under ``folder`` by name without extension (first in sorted order wins)."""
    if not folder.is_dir():
        raise DataSourceError(f"video folder not found: {folder}")
    extensions = VIDEO_EXTENSIONS | GIF_EXTENSIONS
    videos: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in extensions and not path.name.startswith("._") and "__MACOSX" not in path.parts:
            videos.setdefault(path.stem, path)
    return videos


def find_video(record: dict, folder: Path | None, annotations: Path) -> str:
    video_file = record.get("video_file")
    if isinstance(video_file, list):
        return ""  # MVBench episodic reasoning ships frame lists; see doc_to_visual's error
    candidates = []
    if isinstance(video_file, str) and video_file.strip() and PLACEHOLDER not in video_file:
        path = Path(video_file.strip()).expanduser()
        candidates += [path] if path.is_absolute() else [p / path for p in (folder, annotations.parent) if p]
        for candidate in candidates:
            if candidate.is_file() or candidate.is_dir():  # a folder: the clip's frames (tarsier_hf.video_io)
                return str(candidate)
    if folder is None:
        return ""
    index = index_videos(folder.resolve())
    for stem in (
        Path(video_file).stem if isinstance(video_file, str) and PLACEHOLDER not in video_file else None,
        record.get("vid"),
    ):
        if stem and str(stem) in index:
            return str(index[str(stem)])
    return ""


def docs_for(benchmark: Benchmark) -> list[dict]:
    """One lmms-eval document per annotated row of ``benchmark``, in file order."""
    path = annotations_path(benchmark)
    folder = video_dir(benchmark)
    records = select_rows(path, benchmark, need_prediction=False)
    if not records:
        raise DataSourceError(
            f"{benchmark.task}: {path} has no rows whose dataset is {benchmark.subtask or benchmark.dataset!r}"
        )
    docs = [make_doc(benchmark, record, find_video(record, folder, path), str(path)) for record in records]
    warn_absent_videos(benchmark, docs, folder)
    return docs


def make_doc(benchmark: Benchmark, record: dict, video: str, data_source: str) -> dict:
    """The lmms-eval document of one released-format ``record`` (``normalise``'s fields; ``prompt`` ``None`` for a
    row without ``text.prompt``), with its resolved ``video`` path ("" when absent) and where the row came from."""
    prompt = record.get("prompt")
    if not isinstance(prompt, str):
        question = record.get("question")
        if not isinstance(question, str) and "${question}" in benchmark.template:
            raise DataSourceError(f"{record['where']}: the row has neither text.prompt nor text.question")
        prompt = benchmark.render(question or "")
    frames = os.environ.get(NUM_FRAMES_ENV) or benchmark.num_frames
    return {
        "benchmark": benchmark.key,
        "idx": record["idx"],
        "dataset": record["dataset"],
        "vid": None if record.get("vid") is None else str(record["vid"]),
        "video": video,
        "video_file": record.get("video_file") if isinstance(record.get("video_file"), str) else None,
        "start_time": None if record.get("start_time") is None else float(record["start_time"]),
        "end_time": None if record.get("end_time") is None else float(record["end_time"]),
        "source_prompt": prompt,  # text.prompt, or the template's rendering for a row without one
        "prompt_from": "annotation" if isinstance(record.get("prompt"), str) else "template",
        "prompt": released_prompt(prompt),
        "question": record.get("question"),
        "response": record["response"],
        "num_frames": int(frames),
        "annotations": data_source,
    }


def warn_absent_videos(benchmark: Benchmark, docs: list[dict], folder) -> None:
    absent = [doc for doc in docs if not doc["video"]]
    if absent:
        logger.warning(
            "%s: %d of %d rows have no video (first: vid %s) in %s; evaluating them will fail",
            benchmark.task,
            len(absent),
            len(docs),
            absent[0]["vid"],
            folder,
        )
