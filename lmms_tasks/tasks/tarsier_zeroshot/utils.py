"""lmms-eval hooks of the ``tarsier_*`` zero-shot tasks (named from their YAML files).

Documents come from ``data`` (local annotation files) or ``hub`` (lmms-eval's Hub datasets, the ``*_hub`` tasks);
each task's ``process_docs`` names its benchmark. ``process_results`` turns a
document and the model's answer into the released prediction line (``text.prediction`` set, plus ``benchmark``,
``num_frames`` and ``annotations``), which every metric of the task receives. The aggregations score all lines of the
task once, in ``scoring`` (lmms-eval loads this file afresh for every ``!function``, so nothing here keeps state),
with the family's scorer from ``lmms_tasks.zeroshot``: the same code ``tarsier-eval score`` runs.
"""

from __future__ import annotations

import json

import datasets

from lmms_tasks.tasks.tarsier_zeroshot.data import DataSourceError, benchmark_named, docs_for
from lmms_tasks.tasks.tarsier_zeroshot.hub import HUB_SOURCES, hf_home, hub_docs_for
from lmms_tasks.tasks.tarsier_zeroshot.scoring import task_results
from lmms_tasks.zeroshot.benchmarks import MVBENCH_SUBTASKS, mvbench_subtask
from lmms_tasks.zeroshot.released_format import to_released_row


def _exit_on_data_error(build):
    """lmms-eval retries a failing ``process_docs`` and then shows ``RetryError[<Future ...>]``, burying the message;
    a missing data source is not transient: stop at once with the message (as dream1k does)."""
    try:
        return build()
    except DataSourceError as error:
        raise SystemExit(f"tarsier zero-shot: {error}") from None


def _docs(key: str):
    def process_docs(dataset: datasets.Dataset) -> datasets.Dataset:
        return datasets.Dataset.from_list(_exit_on_data_error(lambda: docs_for(benchmark_named(key))))

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


def _hub_docs(key: str):
    def process_docs(dataset: datasets.Dataset) -> datasets.Dataset:
        return datasets.Dataset.from_list(_exit_on_data_error(lambda: hub_docs_for(key, dataset)))

    process_docs.__name__ = f"{key}_hub_docs"
    return process_docs


# The tarsier_*_hub tasks (lmms-eval's Hub datasets): nextqa_mc_hub_docs, ..., mvbench_<name>_hub_docs.
for _key in HUB_SOURCES:
    globals()[f"{_key}_hub_docs"] = _hub_docs(_key)


def doc_to_visual(doc: dict) -> list[str]:
    if not doc["video"] and doc["annotations"].startswith("hub:"):
        source = HUB_SOURCES[doc["benchmark"]]
        folders = " or ".join(str(hf_home() / source.cache_dir / folder) for folder in source.video_folders)
        raise FileNotFoundError(
            f"{doc['benchmark']} row {doc['idx']}: no video {doc['vid']!r} in {folders}; the task uses the videos "
            f"lmms-eval downloads for {source.dataset} (see tarsier_zeroshot/hub.py)"
        )
    if not doc["video"]:
        raise FileNotFoundError(
            f"{doc['benchmark']} row {doc['dataset']}_{doc['idx']}: no video for vid {doc['vid']!r} "
            f"(video_file {doc['video_file']!r}); set TARSIER_EVAL_<BENCHMARK>_VIDEO_DIR (see tarsier_zeroshot/data.py)"
            + (
                "; for a row that lists its frames (MVBench episodic reasoning), give video_file as the folder "
                "holding them (a frame folder is read as a clip)"
                if doc["video_file"] is None
                else ""
            )
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
        "idx": doc["idx"],
        "dataset": doc["dataset"],
        "vid": doc["vid"],
        "video_file": doc["video_file"],
        "start_time": doc["start_time"],
        "end_time": doc["end_time"],
        "question": doc["question"],
        "response": doc["response"],
        "prompt": doc["source_prompt"],
        "prediction": prediction,
    }
    # A request the model could not answer (lmms_tasks.failed_generation) becomes the released "<error>" line with its
    # reason in "generation_error": scored as the released pipeline scores "<error>", and listed as a failed generation.
    extra = {"benchmark": doc["benchmark"], "num_frames": doc["num_frames"], "annotations": doc["annotations"]}
    return {**to_released_row(record), **extra}


MC_METRICS = ("accuracy", "accuracy_all", "n_failed_parse", "results")
OE_QA_METRICS = ("accuracy", "score", "accuracy_all", "score_all", "n_failed", "results")
CAPTION_METRICS = ("cider", "n_generation_errors", "results")


def process_results(doc: dict, results: list[str]) -> dict:
    row = _row(doc, results[0])
    metrics = {"mc_qa": MC_METRICS, "oe_qa": OE_QA_METRICS, "caption": CAPTION_METRICS}[
        benchmark_named(doc["benchmark"]).family
    ]
    return {name: row for name in metrics}


def _overall(name: str):
    def aggregate(items, args=None):
        return task_results(items, args)["overall"][name]

    aggregate.__name__ = name
    return aggregate


def results(items, args=None) -> str:
    """Where the full results of the task are (numbers, sub-tasks, counts, failures, 95% CIs, protocol): the
    ``<benchmark>_results.json`` written with ``--output_path``. lmms-eval's summary table shows a metric in one cell,
    so the full results are a file, as dream1k's AutoDQ report; the headline numbers are metrics."""
    artifacts = task_results(items, args).get("artifacts")
    return artifacts["results"] if artifacts else "not saved (run with --output_path to keep the full results)"


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
