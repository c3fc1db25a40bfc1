"""lmms-eval hooks of the ``dream1k`` task (named from ``dream1k.yaml``).

lmms-eval loads this file afresh for every ``!function`` it names, so nothing here keeps state; the state lives
in the ``lmms_tasks`` modules it calls (data source, clip records, the shared AutoDQ report, the run protocol).
"""

import datasets

from lmms_tasks import failed_generation, run_protocol
from lmms_tasks.tasks.dream1k.data import DataSourceError, docs_from_source
from lmms_tasks.tasks.dream1k.records import ClipRecord, ClipRef
from lmms_tasks.tasks.dream1k.scoring import autodq_results

DEFAULT_PROMPT = "Describe the video in detail."


def dream1k_process_docs(dataset: datasets.Dataset) -> datasets.Dataset:
    """The source row the YAML loads -> one document per DREAM-1K clip (see ``data``).

    Raises ``SystemExit`` with the fix when the annotations or videos cannot be had: lmms-eval runs this hook
    under a retry-on-any-``Exception`` loop (five tries, a minute) and then reports only a ``RetryError``, and its
    command line turns any other exception into a log line and exit status 0."""
    if len(dataset) != 1:
        raise ValueError(f"the dream1k source file must hold exactly one row, it holds {len(dataset)}")
    try:
        docs = docs_from_source(dataset[0])
    except DataSourceError as error:
        raise SystemExit(f"dream1k: {error}") from None
    return datasets.Dataset.from_list(docs)


def dream1k_doc_to_visual(doc: dict) -> list[str]:
    if not doc["video"]:
        raise FileNotFoundError(
            f"dream1k clip {doc['clip_id']}: no video named {doc['video_id']}.<ext> in {doc['video_dir']} "
            f"(set TARSIER_DREAM1K_VIDEO_DIR to the folder of the DREAM-1K videos)"
        )
    return [doc["video"]]


def dream1k_doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """The task prompt: ``lmms_eval_specific_kwargs["prompt"]`` (per model in the YAML), else the paper's prompt."""
    prompt = (lmms_eval_specific_kwargs or {}).get("prompt") or DEFAULT_PROMPT
    run_protocol.report_prompt(prompt)
    return prompt


def dream1k_doc_to_target(doc: dict) -> str:
    return doc["reference"]


def dream1k_process_results(doc: dict, results: list[str]) -> dict:
    """One clip's record. A clip the model could not answer (``failed_generation``) is kept as a failed clip."""
    record = ClipRecord.create(
        doc["annotations"], doc["clip_id"], doc["source"], results[0], failed_generation.reason_of(results[0])
    )
    return {
        "autodq": record,
        "autodq_f1": ClipRef(record),
        "autodq_precision": ClipRef(record),
        "autodq_recall": ClipRef(record),
        "autodq_f1_ci95_low": ClipRef(record),
        "autodq_f1_ci95_high": ClipRef(record),
        "autodq_n_scored": ClipRef(record),
        "autodq_n_failed": ClipRef(record),
    }


def dream1k_autodq(items, args=None) -> str:
    """Where the full AutoDQ report is: per source, buckets, F1 95% CI, failures with reasons, protocol, judge
    statistics (written with ``--output_path`` next to lmms-eval's results file). lmms-eval's summary table shows
    every metric in one cell, so the report itself is not a metric; its headline numbers are."""
    report = autodq_results(items, args)
    artifacts = report.get("artifacts")
    return artifacts["results"] if artifacts else "not saved (run with --output_path to keep the AutoDQ report)"


def dream1k_autodq_f1(items, args=None) -> float | None:
    """The paper's DREAM-1K number: F1 of the per-source mean recall and mean precision, averaged over sources."""
    return autodq_results(items, args)["overall"]["f1"]


def dream1k_autodq_precision(items, args=None) -> float | None:
    return autodq_results(items, args)["overall"]["precision"]


def dream1k_autodq_recall(items, args=None) -> float | None:
    return autodq_results(items, args)["overall"]["recall"]


def dream1k_autodq_f1_ci95_low(items, args=None) -> float | None:
    """Lower end of the F1's 95% bootstrap interval (clips resampled within each source)."""
    return (autodq_results(items, args)["f1_ci95"] or [None, None])[0]


def dream1k_autodq_f1_ci95_high(items, args=None) -> float | None:
    return (autodq_results(items, args)["f1_ci95"] or [None, None])[1]


def dream1k_autodq_n_scored(items, args=None) -> int:
    return autodq_results(items, args)["n_scored"]


def dream1k_autodq_n_failed(items, args=None) -> int:
    return autodq_results(items, args)["n_failed"]
