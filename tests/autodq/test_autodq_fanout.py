"""``judge_each``: the one loop that judges many items (AutoDQ clips, open-QA answers, side-by-side pairs)."""

import asyncio

import pytest
from tqdm.auto import tqdm

from lmms_tasks.autodq.fanout import judge_each
from lmms_tasks.autodq.judge import JudgeFailure, JudgeSetupError


class Tracker:
    """``judge_one`` that sleeps ``delays[item]`` seconds and records how many items were in flight at once."""

    def __init__(self, delays: dict, fail: set = frozenset(), stop: set = frozenset()):
        self.delays, self.fail, self.stop = delays, fail, stop
        self.in_flight = self.most_in_flight = 0
        self.started, self.finished, self.cancelled = [], [], []

    async def __call__(self, item):
        self.started.append(item)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delays[item])
            if item in self.stop:
                raise JudgeSetupError(f"no judge for {item}")
            if item in self.fail:
                raise JudgeFailure(f"no valid reply for {item}")
            self.finished.append(item)
            return f"judged {item}"
        except asyncio.CancelledError:
            self.cancelled.append(item)
            raise
        finally:
            self.in_flight -= 1


def run(items, tracker, **options):
    settings = {"limit": 3, **options}
    return asyncio.run(judge_each(items, tracker, **settings))


def test_results_in_item_order_with_at_most_limit_in_flight():
    items = list(range(10))
    tracker = Tracker({i: 0.002 * (10 - i) for i in items})  # later items finish sooner
    assert run(items, tracker) == [f"judged {i}" for i in items]
    assert tracker.most_in_flight == 3
    assert sorted(tracker.finished) == items and tracker.finished != items  # replies came back out of order


def test_a_failed_item_gets_on_failure_and_the_others_go_on():
    items = ["a", "b", "c", "d"]
    tracker = Tracker(dict.fromkeys(items, 0.001), fail={"b", "d"})
    results = run(items, tracker, on_failure=lambda item, error: f"failed {item}: {error}")
    assert results == ["judged a", "failed b: no valid reply for b", "judged c", "failed d: no valid reply for d"]


def test_without_on_failure_a_judge_failure_stops_the_run_and_cancels_the_rest():
    tracker = Tracker({"quick": 0.0, "slow": 5.0}, fail={"quick"})
    with pytest.raises(JudgeFailure, match="no valid reply for quick"):
        run(["quick", "slow"], tracker)
    assert tracker.cancelled == ["slow"]


def test_setup_error_is_never_captured_and_cancels_the_rest():
    tracker = Tracker({"broken": 0.0, "slow": 5.0}, stop={"broken"})
    with pytest.raises(JudgeSetupError, match="no judge for broken"):
        run(["broken", "slow"], tracker, on_failure=lambda item, error: None)
    assert tracker.cancelled == ["slow"]


def test_progress_counts_every_finished_item(capsys):
    items = list(range(5))
    bar = tqdm(total=len(items), desc="test")
    run(items, Tracker(dict.fromkeys(items, 0.0), fail={1}), on_failure=lambda item, error: None, progress=bar)
    assert bar.n == 5 and "5/5" in capsys.readouterr().err


def test_limit_below_one_is_refused():
    with pytest.raises(ValueError, match="items in flight must be >= 1, got 0"):
        run([1], Tracker({1: 0.0}), limit=0)
