"""lmms-eval hooks of the ``tarsier_*`` zero-shot tasks (named from their YAML files).

Documents come from ``data``; each task's ``process_docs`` names its benchmark. ``process_results`` turns a
document and the model's answer into the released prediction line (``text.prediction`` set, plus ``benchmark`` and
``num_frames``), which every metric of the task receives; the aggregations score all lines of the task once with
the family's scorer (``lmms_tasks.zeroshot``), the same code ``tarsier-eval score`` runs. With ``--output_path``
the lines are also written, before any judge is asked, as ``predictions.jsonl`` in the released format, together
with ``<benchmark>_results.json`` and ``<benchmark>_per_item.jsonl``, under
``<output_path>/<model>/tarsier_<benchmark>_<time>_<id>/``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from datetime import datetime, timezone
from pathlib import Path

import datasets

from lmms_tasks import run_protocol
from lmms_tasks.autodq.cache import default_cache_dir
from lmms_tasks.autodq.judge import JudgeConfig
from lmms_tasks.tasks.tarsier_zeroshot.data import docs_for
from lmms_tasks.zeroshot.benchmarks import BENCHMARKS, MVBENCH_SUBTASKS, Benchmark, mvbench_subtask
from lmms_tasks.zeroshot.released_format import normalise, to_released_row
from lmms_tasks.zeroshot.scoring import save_results, score_benchmark

logger = logging.getLogger(__name__)
PREDICTIONS_FILE = "predictions.jsonl"
_results: dict[tuple, dict] = {}
_lock = threading.Lock()


def _benchmark(key: str) -> Benchmark:
    if key in BENCHMARKS:
        return BENCHMARKS[key]
    for name in MVBENCH_SUBTASKS:
        if mvbench_subtask(name).key == key:
            return mvbench_subtask(name)
    raise KeyError(f"unknown tarsier benchmark {key!r}")


def _docs(key: str):
    def process_docs(dataset: datasets.Dataset) -> datasets.Dataset:
        return datasets.Dataset.from_list(docs_for(_benchmark(key)))

    process_docs.__name__ = f"{key}_docs"
    return process_docs


nextqa_mc_docs = _docs("nextqa_mc")
egoschema_docs = _docs("egoschema")
egoschema_full_docs = _docs("egoschema_full")
msvd_qa_docs = _docs("msvd_qa")
msrvtt_qa_docs = _docs("msrvtt_qa")
activitynet_qa_docs = _docs("activitynet_qa")
tgif_qa_docs = _docs("tgif_qa")
msvd_caption_docs = _docs("msvd_caption")
msrvtt_caption_docs = _docs("msrvtt_caption")
vatex_caption_docs = _docs("vatex_caption")
# The 20 MVBench sub-tasks: mvbench_action_sequence_docs, ... (named as their tasks, tarsier_mvbench_<name>).
for _name in MVBENCH_SUBTASKS:
    globals()[f"{mvbench_subtask(_name).key}_docs"] = _docs(mvbench_subtask(_name).key)


def doc_to_visual(doc: dict) -> list[str]:
    if not doc["video"]:
        raise FileNotFoundError(
            f"{doc['benchmark']} row {doc['dataset']}_{doc['idx']}: no video for vid {doc['vid']!r} "
            f"(video_file {doc['video_file']!r}); set TARSIER_EVAL_<BENCHMARK>_VIDEO_DIR (see tarsier_zeroshot/data.py)"
            + ("; frame-list videos (MVBench episodic reasoning) must be converted to a video file first" if doc["video_file"] is None else "")
        )
    return [doc["video"]]


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """The released prompt as the released processor tokenizes it (``USER: <video> ... ASSISTANT: ...``)."""
    return doc["prompt"]


def doc_to_messages(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> list[dict]:
    """One user turn: the video (with the annotation's start/end times) and the released prompt."""
    video = {"type": "video", "url": doc_to_visual(doc)[0]}
    if doc.get("start_time") is not None:
        video["start_time"] = doc["start_time"]
    if doc.get("end_time") is not None:
        video["end_time"] = doc["end_time"]
    return [{"role": "user", "content": [video, {"type": "text", "text": doc_to_text(doc)}]}]


def doc_to_target(doc: dict) -> str:
    response = doc["response"]
    return response if isinstance(response, str) else json.dumps(response, ensure_ascii=False)


def _row(doc: dict, prediction: str) -> dict:
    record = {
        "idx": doc["idx"], "dataset": doc["dataset"], "vid": doc["vid"], "video_file": doc["video_file"],
        "start_time": doc["start_time"], "end_time": doc["end_time"], "question": doc["question"],
        "response": doc["response"], "prompt": doc["annotation_prompt"] or doc["prompt"], "prediction": prediction,
    }
    extra = {"benchmark": doc["benchmark"], "num_frames": doc["num_frames"], "annotations": doc["annotations"]}
    return {**to_released_row(record), **extra}


MC_METRICS = ("accuracy", "accuracy_all", "n_failed_parse", "results")
OE_QA_METRICS = ("accuracy", "score", "accuracy_all", "score_all", "n_failed", "results")
CAPTION_METRICS = ("cider", "n_generation_errors", "results")


def process_results(doc: dict, results: list[str]) -> dict:
    row = _row(doc, results[0])
    metrics = {"mc_qa": MC_METRICS, "oe_qa": OE_QA_METRICS, "caption": CAPTION_METRICS}[_benchmark(doc["benchmark"]).family]
    return {name: row for name in metrics}


def task_results(items, args=None) -> dict:
    """Everything the family's scorer computed for the task's rows (scored once per set of rows and judge)."""
    rows = list(items)
    if not rows:
        raise ValueError("tarsier zero-shot task: no rows to score")
    keys = sorted({row["benchmark"] for row in rows})
    if len(keys) != 1:
        raise ValueError(f"tarsier zero-shot aggregation got rows of several benchmarks {keys}")
    benchmark = _benchmark(keys[0])
    judge = JudgeConfig() if benchmark.family == "oe_qa" else None
    memo = (
        benchmark.key,
        tuple(sorted((f"{row['dataset']}_{row['idx']}", row["text"]["prediction"]) for row in rows)),
        json.dumps(judge.describe(), sort_keys=True) if judge else None,
        str(default_cache_dir()) if judge else None,
    )
    with _lock:
        if memo not in _results:
            _results[memo] = _score(benchmark, rows, judge, args, memo)
        return _results[memo]


def _score(benchmark: Benchmark, rows: list[dict], judge, args, memo: tuple) -> dict:
    records = [normalise(row, f"{benchmark.task} row {row['idx']}", need_prediction=True) for row in rows]
    run_dir = _run_dir(args, benchmark, memo)
    predictions = None
    if run_dir:
        run_dir.mkdir(parents=True, exist_ok=True)
        predictions = run_dir / PREDICTIONS_FILE
        predictions.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    try:
        results = score_benchmark(benchmark, records, judge=judge, protocol=_task_protocol(rows, args))
    except Exception as error:
        if predictions:
            logger.error(
                "%s: scoring failed (%s). The predictions are in %s; score them later with "
                "`tarsier-eval score %s --benchmarks %s`", benchmark.task, error, predictions, predictions, benchmark.key,
            )
        raise
    results["artifacts"] = None
    if run_dir:
        paths = save_results(results, run_dir)
        results["artifacts"] = {"predictions": str(predictions), **{name: str(path) for name, path in paths.items()}}
    return {name: value for name, value in results.items() if name != "items"}


def _task_protocol(rows: list[dict], args) -> dict:
    settings = run_protocol.model_settings()
    frames = sorted({row["num_frames"] for row in rows})
    return {
        "frames": frames[0] if len(frames) == 1 else frames,
        "frames_source": "the task's num_frames per document (tarsier model plugin honours it)",
        "frame_sampling": settings.get("frame_sampling"),
        "model": getattr(args, "model", None),
        "model_args": getattr(args, "model_args", None),
        "model_settings": settings,
        "gen_kwargs": getattr(args, "gen_kwargs", None) or None,
        "generation": "greedy, max_new_tokens 512, no stop strings (task YAML)",
        "limit": getattr(args, "limit", None),
        "annotations": sorted({row.get("annotations", "") for row in rows} - {""}) or None,
    }


def _run_dir(args, benchmark: Benchmark, memo: tuple) -> Path | None:
    output_path = getattr(args, "output_path", None)
    if not output_path:
        return None
    from lmms_eval.loggers.evaluation_tracker import GeneralConfigTracker
    from lmms_eval.utils import sanitize_model_name

    model_dir = sanitize_model_name(GeneralConfigTracker._get_model_name(getattr(args, "model_args", "") or ""))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_id = hashlib.sha256(repr(memo).encode("utf-8")).hexdigest()[:8]
    return Path(output_path) / model_dir / f"{benchmark.task}_{stamp}_{run_id}"


def _overall(name: str):
    def aggregate(items, args=None):
        return task_results(items, args)["overall"][name]

    aggregate.__name__ = name
    return aggregate


def results(items, args=None) -> dict:
    """The full results of the task: numbers, sub-tasks, counts, failures, 95% CIs, protocol, artifacts."""
    return task_results(items, args)


accuracy = _overall("accuracy")
accuracy_all = _overall("accuracy_all")
score = _overall("score")
score_all = _overall("score_all")
cider = _overall("cider")


def n_failed_parse(items, args=None) -> int:
    return task_results(items, args)["n_failed_parse"]


def n_failed(items, args=None) -> int:
    return task_results(items, args)["n_failed"]


def n_generation_errors(items, args=None) -> int:
    return task_results(items, args)["n_generation_errors"]
