"""The aggregation of a ``tarsier_*`` task: its rows scored once by the family's scorer, shared by all its metrics.

lmms-eval aggregates each metric separately from its own item list (all the same rows here); the first
aggregation scores them with ``lmms_tasks.zeroshot.score_benchmark`` (the code ``tarsier-eval score`` runs) and the
others reuse the result. With ``--output_path`` the rows are first written as ``predictions.jsonl`` in the released
format (so a judge that cannot be reached costs no generation: score the file later with ``tarsier-eval score``),
then ``<benchmark>_results.json`` and ``<benchmark>_per_item.jsonl``, in
``<output_path>/<model>/tarsier_<benchmark>_<time>_<id>/``, next to lmms-eval's results file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from datetime import datetime, timezone
from pathlib import Path

from lmms_tasks import run_protocol
from lmms_tasks.autodq.cache import default_cache_dir
from lmms_tasks.autodq.judge import JudgeConfig
from lmms_tasks.tasks.tarsier_zeroshot.data import benchmark_named
from lmms_tasks.zeroshot.benchmarks import Benchmark
from lmms_tasks.zeroshot.released_format import normalise
from lmms_tasks.zeroshot.scoring import save_results, score_benchmark

logger = logging.getLogger(__name__)
PREDICTIONS_FILE = "predictions.jsonl"
_results: dict[tuple, dict] = {}
_lock = threading.Lock()


def task_results(items, args=None) -> dict:
    """Everything the family's scorer computed for the task's rows (scored once per set of rows and judge)."""
    rows = list(items)
    if not rows:
        raise ValueError("tarsier zero-shot task: no rows to score")
    keys = sorted({row["benchmark"] for row in rows})
    if len(keys) != 1:
        raise ValueError(f"tarsier zero-shot aggregation got rows of several benchmarks {keys}")
    benchmark = benchmark_named(keys[0])
    judge = JudgeConfig() if benchmark.family == "oe_qa" else None
    memo = (
        benchmark.key,
        tuple(sorted({str(row.get("annotations", "")) for row in rows})),  # local file vs Hub: other results
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
                "`tarsier-eval score %s --benchmarks %s`",
                benchmark.task,
                error,
                predictions,
                predictions,
                benchmark.key,
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
    protocol = {
        "frames": frames[0] if len(frames) == 1 else frames,
        "frames_source": "the task's num_frames per document (tarsier model plugin honours it)",
        "frame_sampling": settings.get("frame_sampling"),
        "model": getattr(args, "model", None),
        "model_args": getattr(args, "model_args", None),
        "model_settings": settings,
        "gen_kwargs": getattr(args, "gen_kwargs", None) or None,
        "generation": _generation(settings),
        "limit": getattr(args, "limit", None),
        "annotations": sorted({row.get("annotations", "") for row in rows} - {""}) or None,
    }
    if rows and all(str(row.get("annotations", "")).startswith("hub:") for row in rows):
        benchmark = benchmark_named(rows[0]["benchmark"])
        protocol["prompt_source"] = (
            f"Hub rows carry no released prompts: the {benchmark.template_from} template, applied to questions built "
            "as the released annotation files build them (tarsier_zeroshot/hub.py)"
        )
    return protocol


def _generation(settings: dict) -> str:
    """The generation actually used: the task YAML's (greedy, 512 new tokens, no stop string) unless the model's
    ``max_new_tokens`` (``--model_args``) replaced the length."""
    tokens = settings.get("max_new_tokens")
    if tokens is None or tokens == 512:
        return "greedy, max_new_tokens 512, no stop strings (task YAML)"
    return f"greedy, max_new_tokens {tokens} (model_args; the task YAML's 512 was replaced), no stop strings"


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
