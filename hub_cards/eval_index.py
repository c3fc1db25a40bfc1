"""Task results → the Hub's two evaluation formats, and merging them into what a card already holds.

- ``model-index`` in the card metadata, as :class:`huggingface_hub.EvalResult` objects (one per metric; the Hub
  groups them by task, dataset, config, split and revision): :func:`to_eval_results`, :func:`merge_eval_results`.
- ``.eval_results/<task>.yaml`` files (the Hub's newer format, :class:`huggingface_hub.EvalResultEntry`, one value
  per benchmark task): :func:`to_eval_result_entries`, :func:`eval_results_yaml`. That format has no metric name,
  so each task contributes its *primary* metric only (AutoDQ F1 for DREAM-1K, else accuracy, CIDEr, score, else
  the first headline metric); the metric and the protocol go into ``notes``. Only tasks whose dataset is on the Hub
  get one (:attr:`TaskResult.on_hub`): the format names a Hub benchmark dataset, and a local annotation file
  (``local:...``) or a task name standing in for a dataset is none.

``model-index`` keeps every task: its ``dataset.type`` is the Hub dataset id when there is one, else the non-Hub
identifier of :mod:`hub_cards.results` (the card's evaluation section says which).
"""

from __future__ import annotations

from huggingface_hub import EvalResult

from .results import TaskResult, metric_identity, task_kind

TASK_TYPE = "video-text-to-text"
_PRIMARY = ("autodq_f1", "accuracy", "acc", "cider", "score")

try:  # huggingface_hub >= 1.x ships the `.eval_results/*.yaml` format
    from huggingface_hub import EvalResultEntry, eval_result_entries_to_yaml
except ImportError:  # pragma: no cover - older huggingface_hub
    EvalResultEntry = eval_result_entries_to_yaml = None

SUPPORTS_EVAL_RESULTS_FILES = EvalResultEntry is not None


def to_eval_results(tasks: list[TaskResult], source_url: str | None = None, source_name: str | None = None):
    """One ``EvalResult`` per headline metric of every task, values rounded to 4 decimals (as shown on the Hub)."""
    results = []
    for task in tasks:
        for metric, value in task.metrics.items():
            metric_type, pretty = metric_identity(metric)
            results.append(
                EvalResult(
                    task_type=TASK_TYPE,
                    task_name=task_kind(task.metrics),
                    dataset_type=task.dataset_id,
                    dataset_name=task.dataset_name,
                    dataset_config=task.dataset_config,
                    dataset_split=task.split,
                    dataset_revision=task.revision,
                    metric_type=metric_type,
                    metric_name=pretty,
                    metric_value=round(value, 4),
                    metric_config=task.filters.get(metric),
                    source_name=(source_name or "tarsier-hf evaluation") if source_url else None,
                    source_url=source_url,
                )
            )
    return results


def merge_eval_results(existing: list[EvalResult] | None, new: list[EvalResult]) -> list[EvalResult]:
    """``existing`` with each metric of ``new`` replacing the same metric (same task, dataset, config, split,
    revision, metric type and name) in place, and the others appended. Foreign entries are kept as they are."""
    merged = list(existing or [])
    for result in new:
        for index, old in enumerate(merged):
            if _same_metric(old, result):
                merged[index] = result
                break
        else:
            merged.append(result)
    return merged


def _same_metric(a: EvalResult, b: EvalResult) -> bool:
    return (a.unique_identifier, a.metric_type, a.metric_name, a.metric_config) == (
        b.unique_identifier,
        b.metric_type,
        b.metric_name,
        b.metric_config,
    )


def primary_metric(task: TaskResult) -> str:
    """The metric a leaderboard shows for the task (see the module docstring)."""
    for name in _PRIMARY:
        if name in task.metrics:
            return name
    return next(iter(task.metrics))


def to_eval_result_entries(tasks: list[TaskResult], source_url: str | None = None) -> dict[str, list]:
    """``{file name: [EvalResultEntry]}`` for ``.eval_results/``: one file per task whose dataset is on the Hub, its
    primary metric (:func:`without_eval_results_file` lists the others)."""
    if not SUPPORTS_EVAL_RESULTS_FILES:
        return {}
    files = {}
    for task in tasks:
        if not task.on_hub:
            continue
        metric = primary_metric(task)
        notes = [f"metric: {metric_identity(metric)[1]}"]
        for key in ("frames", "judge_model", "n_scored", "n_failed", "limit"):
            if task.protocol.get(key) is not None:
                notes.append(f"{key}: {task.protocol[key]}")
        files[f"{task.task}.yaml"] = [
            EvalResultEntry(
                dataset_id=task.dataset_id,
                task_id=task.task,
                value=round(task.metrics[metric], 4),
                dataset_revision=task.revision,
                source_url=source_url,
                source_name="tarsier-hf evaluation" if source_url else None,
                notes="; ".join(notes),
            )
        ]
    return files


def without_eval_results_file(tasks: list[TaskResult]) -> list[TaskResult]:
    """The tasks :func:`to_eval_result_entries` leaves out: their dataset is not on the Hub."""
    return [task for task in tasks if not task.on_hub]


def eval_results_yaml(entries: list) -> str:
    """The YAML text of one ``.eval_results`` file."""
    import yaml

    return yaml.safe_dump(eval_result_entries_to_yaml(entries), sort_keys=False, allow_unicode=True)
