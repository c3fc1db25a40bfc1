"""``tarsier-sbs judge``: the study's pairs labelled by an LLM, through the AutoDQ judge client.

Every pair is asked twice, once with model A's description as "Description 1" and once with model B's, so that a
judge's preference for a position cancels in the combined label (``stats.combine_orders``). Requests go through
``lmms_tasks.autodq.judge.Judge.ask``: the same OpenAI-compatible configuration, persistent reply cache, retries,
re-asks of invalid replies and failure accounting as AutoDQ; only the prompt and the reply schema (``prompt``) are
this module's.

Each judgment is written to the study (``llm_judgments``) as soon as it arrives, so an interrupted run resumes
where it stopped: a judgment already in the study is not asked again. A pair whose judgment fails (``JudgeFailure``)
is counted and named and the others go on; ``JudgeSetupError`` (no key, endpoint unreachable) stops the run.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from lmms_tasks.autodq.cache import JudgeCache, default_cache_dir
from lmms_tasks.autodq.fanout import judge_each
from lmms_tasks.autodq.judge import Judge, JudgeConfig, JudgeFailure

from .prompt import PROMPT_HASH, parse_compare_reply, render_compare
from .store import Study

logger = logging.getLogger(__name__)


@dataclass
class JudgeRun:
    """What one ``judge_study`` call did."""

    judge_model: str
    asked: int = 0  # judgments obtained in this run (from the endpoint or the cache)
    already_stored: int = 0  # judgments the study held before this run
    failed: list[str] = field(default_factory=list)  # "clip_id (A first)" / "(B first)": no valid reply
    judge_stats: dict = field(default_factory=dict)


async def _judge_pairs(study: Study, judge: Judge, show_progress: bool) -> JudgeRun:
    model = judge.config.model
    guide = study.meta("guide")
    stored = {(row["clip_id"], row["first"]) for row in study.llm_judgments(model)}
    run = JudgeRun(judge_model=model)
    jobs = []
    for pair in study.pairs():
        for first in ("a", "b"):
            if (pair["clip_id"], first) in stored:
                run.already_stored += 1
            else:
                jobs.append((pair, first))

    async def one(job: tuple[dict, str]) -> None:
        pair, first = job
        texts = (pair["text_a"], pair["text_b"]) if first == "a" else (pair["text_b"], pair["text_a"])
        prompt = render_compare(guide, texts[0], texts[1], pair["reference"])
        reply = await judge.ask("sbs_compare", prompt, parse_compare_reply, PROMPT_HASH)
        study.record_llm_judgment(model, pair["clip_id"], first, reply["verdict"], reply["reason"])
        run.asked += 1

    def failed(job: tuple[dict, str], error: JudgeFailure) -> str:
        pair, first = job
        logger.warning("clip %s, %s shown first: %s", pair["clip_id"], first.upper(), error)
        return f"{pair['clip_id']} ({first.upper()} first)"

    try:
        outcomes = await judge_each(
            jobs,
            one,
            limit=judge.config.concurrency,
            on_failure=failed,
            progress=tqdm(total=len(jobs), desc=f"sbs judge {model}", unit="judgment", disable=not show_progress),
        )
    finally:
        await judge.aclose()
    # In study order (the order of jobs), whatever order the replies came back in.
    run.failed = [label for label in outcomes if label is not None]
    run.judge_stats = vars(judge.stats).copy()
    return run


def judge_study(
    study: Study,
    config: JudgeConfig,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    show_progress: bool = True,
) -> JudgeRun:
    """Label every pair of ``study`` in both orders with the judge ``config``; see the module docstring."""
    cache = JudgeCache((cache_dir or default_cache_dir()) if use_cache else None)
    try:
        return asyncio.run(_judge_pairs(study, Judge(config, cache), show_progress))
    finally:
        cache.close()
