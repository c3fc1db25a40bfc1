"""Score one benchmark's predictions with its family's scorer; write and print the results.

Used by the lmms-eval tasks (``lmms_tasks/tasks/tarsier_zeroshot``) and by ``tarsier-eval score``, so both give the
same numbers for the same predictions.
"""

from __future__ import annotations

import json
from pathlib import Path

from lmms_tasks.autodq.cache import JudgeCache, default_cache_dir
from lmms_tasks.autodq.judge import Judge, JudgeConfig
from lmms_tasks.autodq.scorer import _run_sync

from . import captioning, multi_choice, open_qa
from .benchmarks import CAPTION, MC, OE_QA, Benchmark
from .protocol import build_protocol
from .stats import DEFAULT_RESAMPLES

PER_ITEM_SUFFIX = "_per_item.jsonl"
RESULTS_SUFFIX = "_results.json"


def score_benchmark(
    benchmark: Benchmark,
    records: list[dict],
    *,
    judge: JudgeConfig | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    protocol: dict | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    show_progress: bool = True,
) -> dict:
    """The results dict (numbers, counts, CIs, failures, ``items``, ``protocol``) for ``records`` (flat records from
    ``released_format``, each with a string ``prediction``)."""
    if not records:
        raise ValueError(f"{benchmark.key}: no predictions to score")
    judge_settings = None
    if benchmark.family == MC:
        summary = multi_choice.summarize(
            records, by_subtask=benchmark.key == "mvbench", n_resamples=n_resamples, seed=seed
        )
    elif benchmark.family == CAPTION:
        summary = captioning.summarize(records, n_resamples=n_resamples, seed=seed)
    elif benchmark.family == OE_QA:
        judge = judge if judge is not None else JudgeConfig()
        folder = (Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()) if use_cache else None
        items, stats = _run_sync(lambda: _judge_all(judge, folder, records, show_progress))
        summary = open_qa.summarize(items, n_resamples=n_resamples, seed=seed)
        summary["judge_stats"] = {**stats, "cache_dir": None if folder is None else str(folder)}
        judge_settings = {
            **judge.describe(),
            "judge_prompt": "Video-ChatGPT (lmms_tasks/zeroshot/prompts)",
            "judge_prompt_hash": open_qa.PROMPT_HASH,
            "judge_prompt_files": dict(open_qa.PROMPT_FILE_HASHES),
        }
    else:
        raise ValueError(f"unknown family {benchmark.family!r}")
    return {
        "benchmark": benchmark.key,
        "task": benchmark.task,
        "family": benchmark.family,
        "paper_tarsier_7b": benchmark.paper_7b,
        **summary,
        "n_predictions": len(records),
        "protocol": build_protocol(benchmark, records, judge=judge_settings, caller=protocol),
    }


async def _judge_all(config: JudgeConfig, folder: Path | None, records: list[dict], show_progress: bool):
    cache = JudgeCache(folder)
    judge = Judge(config, cache)
    try:
        items = await open_qa.judge_items(judge, records, show_progress=show_progress)
    finally:
        await judge.aclose()
        cache.close()
    return items, dict(vars(judge.stats))


def save_results(results: dict, output_dir: str | Path) -> dict[str, Path]:
    """``<benchmark>_results.json`` (everything but the per-item rows) and ``<benchmark>_per_item.jsonl``."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "results": output_dir / f"{results['benchmark']}{RESULTS_SUFFIX}",
        "per_item": output_dir / f"{results['benchmark']}{PER_ITEM_SUFFIX}",
    }
    summary = {name: value for name, value in results.items() if name != "items"}
    paths["results"].write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    with paths["per_item"].open("w", encoding="utf-8") as stream:
        for item in results.get("items", []):
            stream.write(json.dumps(item, ensure_ascii=False) + "\n")
    return paths


def headline(results: dict) -> dict:
    """The overall numbers of a result (released headline and honest variants)."""
    return dict(results["overall"])
