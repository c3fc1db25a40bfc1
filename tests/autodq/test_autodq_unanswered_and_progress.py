"""Clips the model gave no description for are failed clips, never judged; the progress bar moves clip by clip."""

import pytest

from lmms_tasks.autodq import scorer as scorer_module

CLIP_1 = "A character emerges from smoke and fire. The character half kneels on the ground. A dog barks."


def test_unanswered_clips_are_listed_failed_with_their_reason_and_not_judged(
    make_scorer, annotations, judge_server, tmp_path
):
    alone = make_scorer(cache_dir=tmp_path / "alone").score({"1": CLIP_1}, annotations).results
    calls_for_clip_1 = judge_server.calls
    report = make_scorer(cache_dir=tmp_path / "with-unanswered").score(
        {"1": CLIP_1}, annotations, unanswered={"2": "MediaError: 2.mp4: file not found"}
    )
    assert judge_server.calls == 2 * calls_for_clip_1  # clip 2 has no prediction: nothing is asked about it
    results = report.results
    assert results["n_scored"] == 1 and results["n_failed"] == 1 and results["failed_ids"] == ["2"]
    assert results["failures"]["2"] == "no prediction: MediaError: 2.mp4: file not found"
    assert results["n_predictions"] == 2
    assert results["per_source"]["DREAM/movie_animation"]["n_failed"] == 1
    assert results["overall"] == alone["overall"]  # the failed clip is in no mean
    failed_row = next(row for row in report.per_clip if row["idx"] == "2")
    assert failed_row["prediction"] is None and failed_row["recall"] is None


def test_only_unanswered_clips_still_give_a_report(make_scorer, annotations):
    results = make_scorer().score({}, annotations, unanswered={"3": "FileNotFoundError: no video"}).results
    assert (results["n_scored"], results["n_failed"]) == (0, 1)


def test_a_clip_cannot_be_both_predicted_and_unanswered(make_scorer, annotations):
    with pytest.raises(ValueError, match=r"both with a prediction and as unanswered"):
        make_scorer().score({"1": CLIP_1}, annotations, unanswered={"1": "oops"})
    with pytest.raises(ValueError, match=r"unanswered clip ids are not in the annotations"):
        make_scorer().score({"1": CLIP_1}, annotations, unanswered={"no-such-clip": "oops"})


def test_progress_counts_finished_clips_while_the_judge_is_still_busy(
    make_scorer, annotations, judge_server, monkeypatch
):
    """With all clips in flight at once, none finished before nearly every call was made (the bar sat at 0)."""
    calls_at_update = []

    class RecordingBar:
        def __init__(self, *args, **kwargs):
            pass

        def update(self, count):
            calls_at_update.append(judge_server.calls)

        def close(self):
            pass

    monkeypatch.setattr(scorer_module, "tqdm", RecordingBar)
    clips = list(annotations)[:40]
    make_scorer(concurrency=2).score({idx: CLIP_1 for idx in clips}, annotations)
    assert len(calls_at_update) == 40
    total = judge_server.calls
    # The first clip is done while most of the judge's work is still ahead.
    assert calls_at_update[0] < total / 4, (calls_at_update[:5], total)
