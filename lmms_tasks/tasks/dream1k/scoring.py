"""The dream1k aggregation: one AutoDQ run over all clips, shared by every metric of the task.

lmms-eval aggregates each metric separately, from its own item list; all of them resolve to the same
:class:`~lmms_tasks.tasks.dream1k.records.ClipRecord` objects, so the first aggregation scores every clip in one
``AutoDQScorer.score`` call (batched, concurrent, cached judge calls) and the others reuse its report. Scoring
then

- writes each clip's events, judgments and scores into its record (which lmms-eval logs with ``--log_samples``),
- adds to the report a protocol with what the scorer cannot know (prompt, frames, sampling, model, data),
- with ``--output_path``, writes ``predictions.jsonl`` before asking the judge (so that a judge that cannot be
  reached costs no generation: score the file later with ``tarsier-autodq score``), then the AutoDQ results JSON,
  the per-clip JSONL and the PNG plot, in ``<output_path>/<model>/dream1k_autodq_<time>_<id>/``, next to
  lmms-eval's results file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from datetime import datetime, timezone
from pathlib import Path

from lmms_tasks import run_protocol
from lmms_tasks.autodq import AutoDQScorer, JudgeConfig, default_cache_dir, load_dream1k_annotations
from lmms_tasks.tasks.dream1k.records import as_record

logger = logging.getLogger(__name__)

# Already in the record, or (the reference) in the logged row's "target".
_NOT_COPIED_TO_RECORD = ("idx", "source", "prediction", "reference")
PREDICTIONS_FILE = "predictions.jsonl"
_reports: dict[tuple, dict] = {}
_lock = threading.Lock()


def autodq_results(items, args=None) -> dict:
    """The AutoDQ results for the clips behind ``items`` (scored once per distinct set of clips and judge)."""
    records = [as_record(item) for item in items]
    if not records:
        raise ValueError("dream1k: no clips to score")
    annotation_files = sorted({record.annotations for record in records})
    if len(annotation_files) != 1:
        raise ValueError(
            f"dream1k: the clips come from several annotation files {annotation_files}; score one at a time"
        )
    judge = JudgeConfig()
    key = (
        annotation_files[0],
        tuple(sorted(record.key for record in records)),
        json.dumps(judge.describe(), sort_keys=True),
        str(default_cache_dir()),
    )
    with _lock:
        if key not in _reports:
            _reports[key] = _score(records, annotation_files[0], judge, args, key)
        return _reports[key]


def _score(records, annotations_path: str, judge: JudgeConfig, args, key: tuple) -> dict:
    by_clip = {}
    for record in records:
        if record["clip_id"] in by_clip:
            raise ValueError(
                f"dream1k: clip {record['clip_id']} has several predictions; AutoDQ scores one per clip (use repeats=1)"
            )
        by_clip[record["clip_id"]] = record
    annotations = load_dream1k_annotations(annotations_path)
    predictions = {clip_id: r["prediction"] for clip_id, r in by_clip.items() if "generation_error" not in r}
    unanswered = {clip_id: r["generation_error"] for clip_id, r in by_clip.items() if "generation_error" in r}
    run_dir = _run_dir(args, key)
    predictions_file = _save_predictions(by_clip.values(), run_dir) if run_dir else None
    try:
        report = AutoDQScorer(judge=judge).score(
            predictions, annotations, protocol=_task_protocol(args, annotations_path), unanswered=unanswered
        )
    except Exception as error:
        if predictions_file:
            logger.error(
                "dream1k: AutoDQ scoring failed (%s). The predictions are in %s; once the judge works, score them with "
                "`tarsier-autodq score %s --annotations %s`",
                error,
                predictions_file,
                predictions_file,
                annotations_path,
            )
        raise
    for row in report.per_clip:
        by_clip[row["idx"]].update({name: value for name, value in row.items() if name not in _NOT_COPIED_TO_RECORD})
    results = dict(report.results)
    results["artifacts"] = None
    if run_dir:
        paths = report.save(run_dir)
        results["artifacts"] = {
            "predictions": str(predictions_file),
            **{name: str(path) for name, path in paths.items()},
        }
        logger.warning("dream1k: AutoDQ results, per-clip judgments and plot written to %s", run_dir)
    return results


def _task_protocol(args, annotations_path: str) -> dict:
    settings = run_protocol.model_settings()
    prompts = run_protocol.prompts()
    return {
        "task": "dream1k",
        "generation_prompt": prompts[0] if len(prompts) == 1 else prompts,
        "frames": settings.get("num_frames"),
        "frame_sampling": settings.get("frame_sampling"),
        "model": getattr(args, "model", None),
        "model_args": getattr(args, "model_args", None),
        "model_settings": settings,
        "gen_kwargs": getattr(args, "gen_kwargs", None) or None,
        "limit": getattr(args, "limit", None),
        "offset": getattr(args, "offset", None),
        "annotations": annotations_path,
        "dataset_revision": _hub_commit(annotations_path),
    }


def _hub_commit(path: str) -> str | None:
    """The Hub commit of an annotation file in the Hugging Face cache (``.../snapshots/<commit>/...``)."""
    parts = Path(path).parts
    return parts[parts.index("snapshots") + 1] if "snapshots" in parts[:-1] else None


def _run_dir(args, key: tuple) -> Path | None:
    """``<output_path>/<model>/dream1k_autodq_<time>_<id>``: next to lmms-eval's results file for the same run."""
    output_path = getattr(args, "output_path", None)
    if not output_path:
        logger.info("dream1k: no --output_path, so the predictions, per-clip judgments and plot are not written")
        return None
    from lmms_eval.loggers.evaluation_tracker import GeneralConfigTracker
    from lmms_eval.utils import sanitize_model_name

    model_dir = sanitize_model_name(GeneralConfigTracker._get_model_name(getattr(args, "model_args", "") or ""))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_id = hashlib.sha256(repr(key).encode("utf-8")).hexdigest()[:8]
    return Path(output_path) / model_dir / f"dream1k_autodq_{stamp}_{run_id}"


def _save_predictions(records, run_dir: Path) -> Path:
    """The predictions, written before the judge is asked, in the format ``tarsier-autodq score`` reads."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / PREDICTIONS_FILE
    with path.open("w", encoding="utf-8") as stream:
        for record in records:
            if "generation_error" in record:
                continue  # no description to score later; the results list the clip as failed, with the reason
            row = {"idx": record["clip_id"], "source": record["source"], "prediction": record["prediction"]}
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path
