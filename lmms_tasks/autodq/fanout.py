"""Judging many items concurrently: one loop for every LLM-judged metric (AutoDQ clips, open-ended QA answers,
side-by-side pairs).

Items are started a few at a time rather than all at once: with every item in flight, each one waits on the judge
client's shared request limit behind all the others, none finishes until the end and the progress bar sits at 0 for
most of the run. As many items in flight as judge requests (``JudgeConfig.concurrency``) keeps the judge as busy.
Each caller makes its own ``tqdm`` bar (description, unit, ``disable``) and hands it over to be advanced and closed.
"""

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from tqdm.auto import tqdm

from .judge import JudgeFailure

Item = TypeVar("Item")
Result = TypeVar("Result")


async def judge_each(
    items: Iterable[Item],
    judge_one: Callable[[Item], Awaitable[Result]],
    *,
    limit: int,
    on_failure: Callable[[Item, JudgeFailure], Result] | None = None,
    progress: tqdm | None = None,
) -> list[Result]:
    """``[await judge_one(item) for item in items]``, run concurrently with at most ``limit`` items in flight.

    Results come in the order of ``items``, whatever order the replies arrive in. With ``on_failure``, an item whose
    ``judge_one`` raises ``JudgeFailure`` gets ``on_failure(item, error)`` as its result and the others go on;
    without it (or on any other exception, e.g. ``JudgeSetupError``) the items still running are cancelled and the
    exception is raised. ``progress`` (a ``tqdm`` bar of ``total=len(items)``, made by the caller with its own
    ``desc``/``unit``/``disable``) is advanced by 1 per finished item, failed ones included, and closed at the end.
    """
    progress = progress if progress is not None else tqdm(disable=True)
    if limit < 1:
        progress.close()
        raise ValueError(f"items in flight must be >= 1, got {limit}")
    in_flight = asyncio.Semaphore(limit)

    async def run_one(item):
        async with in_flight:
            try:
                result = await judge_one(item)
            except JudgeFailure as error:
                if on_failure is None:
                    raise
                result = on_failure(item, error)
        progress.update(1)
        return result

    tasks = [asyncio.ensure_future(run_one(item)) for item in items]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        progress.close()
