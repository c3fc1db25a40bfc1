"""AutoDQ averaging on real DREAM-1K annotations, against numbers worked out by hand.

By default on the committed subset (10 clips per source, 5 odd and 5 even ids each; tests/data/README.md); the
bucket counts of the full 1000-clip file are checked too when the shared data is present."""

import numpy as np
import pytest

from lmms_tasks.autodq.metrics import bootstrap_f1_ci, f1, summarize

SOURCES = ["DREAM/movie_animation", "DREAM/movie_live_action", "DREAM/vertical_video", "DREAM/videvo", "DREAM/youtube"]


def clips_with(annotations, score):
    """Per-clip records for every annotated clip; ``score(annotation) -> (recall, precision)``."""
    clips = []
    for annotation in annotations.values():
        recall, precision = score(annotation)
        clips.append({**annotation, "recall": recall, "precision": precision})
    return clips


def test_the_subset_has_ten_clips_per_source_half_of_them_odd(annotations):
    # The hand-worked numbers below rely on this layout: sources by id range (1-200 movie_animation, 201-400
    # movie_live_action, ...), 10 clips each, 5 with odd ids.
    for number, source in enumerate(SOURCES):
        ids = [int(idx) for idx, annotation in annotations.items() if annotation["source"] == source]
        assert len(ids) == 10 and all(200 * number < i <= 200 * (number + 1) for i in ids)
        assert sum(i % 2 for i in ids) == 5


@pytest.mark.shared_data
def test_the_full_file_has_five_sources_of_200_contiguous_clips(full_dream1k_path):
    from lmms_tasks.autodq import load_dream1k_annotations

    full = load_dream1k_annotations(full_dream1k_path)
    for number, source in enumerate(SOURCES):
        ids = [int(idx) for idx, annotation in full.items() if annotation["source"] == source]
        assert ids == list(range(200 * number + 1, 200 * number + 201))


def by_hand(annotation):
    idx, source = int(annotation["idx"]), annotation["source"]
    if source == "DREAM/movie_animation":
        return (1.0 if idx % 2 else 0.0), 1.0  # mean recall 0.5, precision 1.0
    if source == "DREAM/movie_live_action":
        return 0.5, 0.25
    if source == "DREAM/vertical_video":
        return 0.0, 0.0
    if source == "DREAM/videvo":
        return (1.0, 0.0) if idx % 2 else (0.0, 1.0)  # every clip's own F1 is 0, the F1 of the means is 0.5
    return 0.8, 0.6


def test_per_source_means_and_f1_of_means(annotations):
    results = summarize(clips_with(annotations, by_hand), n_resamples=50)
    per_source = results["per_source"]
    assert list(per_source) == SOURCES
    assert all(per_source[source]["n"] == 10 and per_source[source]["n_failed"] == 0 for source in SOURCES)
    expected = {
        "DREAM/movie_animation": (0.5, 1.0, 2 / 3),
        "DREAM/movie_live_action": (0.5, 0.25, 1 / 3),
        "DREAM/vertical_video": (0.0, 0.0, 0.0),  # 0/0: NaN in the released scorer, 0 here
        "DREAM/videvo": (0.5, 0.5, 0.5),
        "DREAM/youtube": (0.8, 0.6, 0.96 / 1.4),
    }
    for source, (recall, precision, f1_value) in expected.items():
        assert per_source[source]["recall"] == pytest.approx(recall)
        assert per_source[source]["precision"] == pytest.approx(precision)
        assert per_source[source]["f1"] == pytest.approx(f1_value)
    # overall: the mean over sources of the means, then their F1
    assert results["overall"]["recall"] == pytest.approx(2.3 / 5)
    assert results["overall"]["precision"] == pytest.approx(2.35 / 5)
    assert results["overall"]["f1"] == pytest.approx(2 * 0.46 * 0.47 / 0.93)
    assert results["overall"]["n"] == 50


def test_sources_weigh_equally_when_clips_fail(annotations):
    def score(annotation):
        return (0.0, 0.0) if annotation["source"] == "DREAM/youtube" else (1.0, 1.0)

    clips = clips_with(annotations, score)
    failed = [clip for clip in clips if 801 <= int(clip["idx"]) <= 900]  # 7 of the subset's 10 youtube clips
    scored = [clip for clip in clips if clip not in failed]
    results = summarize(scored, failed, n_resamples=50)
    assert results["per_source"]["DREAM/youtube"]["n"] == 3
    assert results["per_source"]["DREAM/youtube"]["n_failed"] == 7
    assert results["per_source"]["DREAM/videvo"]["n_failed"] == 0
    # 4 sources at 1.0 and one at 0.0: 0.8 overall, although 40 of the 43 scored clips are perfect (0.93)
    assert results["overall"]["recall"] == pytest.approx(0.8)
    assert results["overall"]["f1"] == pytest.approx(0.8)
    assert results["overall"]["n"] == 43


def test_a_source_with_only_failed_clips_is_listed_without_numbers(annotations):
    clips = clips_with(annotations, lambda annotation: (1.0, 0.5))
    failed = [clip for clip in clips if clip["source"] == "DREAM/videvo"]
    results = summarize([clip for clip in clips if clip not in failed], failed, n_resamples=50)
    assert results["per_source"]["DREAM/videvo"] == {
        "f1": None,
        "precision": None,
        "recall": None,
        "n": 0,
        "n_failed": 10,
    }
    assert results["overall"]["recall"] == pytest.approx(1.0)
    assert results["overall"]["precision"] == pytest.approx(0.5)
    assert results["overall"]["n"] == 40


# Bucket counts: n_events / n_subjects / n_shots of the subset, then of the full file.
SUBSET_COUNTS = {
    "events": [7, 13, 14, 16],  # n_events 0:4 2:1 3:2 | 4:5 5:8 | 6:5 7:9 | 8:4 9:4 10:8
    "subjects": [14, 16, 11, 9],  # n_subjects 1:14 | 2:16 | 3:11 | 4:7 5:1 6:1
    "shots": [33, 7, 4, 6],  # n_shots 1:33 | 2:7 | 3:4 | 4:1 5:1 6:1 7:1 9:1 10:1
}
FULL_COUNTS = {
    "events": [114, 287, 264, 335],  # n_events 0:4 1:5 2:31 3:74 | 4:127 5:160 | 6:143 7:121 | 8:135 9:84 10:116
    "subjects": [318, 337, 220, 125],  # n_subjects 1:318 | 2:337 | 3:220 | 4:100 5:16 6:5 8:4
    "shots": [586, 195, 101, 118],  # n_shots 1:586 | 2:195 | 3:101 | 4:64 5:25 6:10 7:10 8:4 9:3 10:2
}


def check_buckets(annotations, counts):
    results = summarize(
        clips_with(annotations, lambda a: (1.0, 1.0) if a["n_events"] >= 8 else (0.0, 0.0)), n_resamples=50
    )
    events = results["buckets"]["events"]
    assert list(events) == ["<=3", "in [4, 5]", "in [6, 7]", ">=8"]
    assert [events[label]["n"] for label in events] == counts["events"]
    assert events[">=8"] == {"f1": 1.0, "precision": 1.0, "recall": 1.0, "n": counts["events"][3]}
    assert events["<=3"] == {"f1": 0.0, "precision": 0.0, "recall": 0.0, "n": counts["events"][0]}

    results = summarize(clips_with(annotations, lambda a: (0.25, 1.0 if a["n_subjects"] == 2 else 0.5)), n_resamples=50)
    subjects, shots = results["buckets"]["subjects"], results["buckets"]["shots"]
    assert [subjects[label]["n"] for label in subjects] == counts["subjects"]
    assert subjects["==2"]["precision"] == pytest.approx(1.0)
    assert subjects["==2"]["f1"] == pytest.approx(2 * 0.25 / 1.25)
    assert subjects[">=4"]["precision"] == pytest.approx(0.5)
    assert subjects[">=4"]["f1"] == pytest.approx(2 * 0.25 * 0.5 / 0.75)
    assert [shots[label]["n"] for label in shots] == counts["shots"]


def test_buckets_follow_the_released_boundaries(annotations):
    check_buckets(annotations, SUBSET_COUNTS)


@pytest.mark.shared_data
def test_buckets_of_the_full_file(full_dream1k_path):
    from lmms_tasks.autodq import load_dream1k_annotations

    check_buckets(load_dream1k_annotations(full_dream1k_path), FULL_COUNTS)


def test_an_empty_bucket_has_no_numbers(annotations):
    single_subject = [a for a in annotations.values() if a["n_subjects"] == 1]
    clips = [{**a, "recall": 1.0, "precision": 1.0} for a in single_subject]
    buckets = summarize(clips, n_resamples=50)["buckets"]["subjects"]
    assert buckets["<=1"]["n"] == 14
    assert buckets["==2"] == {"f1": None, "precision": None, "recall": None, "n": 0}


def test_averaging_is_bit_identical_to_the_released_formula(annotations):
    rng = np.random.default_rng(7)
    clips = clips_with(annotations, lambda a: (float(rng.integers(0, 6)) / 5, float(rng.integers(0, 9)) / 8))
    results = summarize(clips, n_resamples=50)
    # released _summarize_metric_by_subtask: np.average per sorted source, np.average over sources, 2*r*p/(r+p)
    source_recalls, source_precisions = [], []
    for source in sorted({clip["source"] for clip in clips}):
        source_recalls.append(np.average([c["recall"] for c in clips if c["source"] == source]))
        source_precisions.append(np.average([c["precision"] for c in clips if c["source"] == source]))
    recall, precision = np.average(source_recalls), np.average(source_precisions)
    assert results["overall"]["recall"] == recall
    assert results["overall"]["precision"] == precision
    assert results["overall"]["f1"] == 2 * recall * precision / (recall + precision)


def test_f1_is_the_harmonic_mean_and_zero_for_zeros():
    assert f1(0.5, 1.0) == pytest.approx(2 / 3)
    assert f1(0.0, 0.0) == 0.0
    assert f1(0.0, 1.0) == 0.0


def test_bootstrap_ci_is_seeded_and_stratified_by_source(annotations):
    clips = clips_with(annotations, by_hand)
    interval = bootstrap_f1_ci(clips, n_resamples=300, seed=0)
    assert interval == bootstrap_f1_ci(clips, n_resamples=300, seed=0)
    assert interval != bootstrap_f1_ci(clips, n_resamples=300, seed=1)
    point = summarize(clips, n_resamples=50)["overall"]["f1"]
    assert interval[0] < point < interval[1]
    assert interval[1] - interval[0] < 0.1

    # One source all 1.0, another all 0.0 recall: every stratified replicate has overall recall exactly 0.5,
    # so the interval has no width (resampling clips across sources would move it).
    def split(annotation):
        return (1.0 if annotation["source"] == "DREAM/youtube" else 0.0), 1.0

    two_sources = [c for c in clips_with(annotations, split) if c["source"] in ("DREAM/youtube", "DREAM/videvo")]
    low, high = bootstrap_f1_ci(two_sources, n_resamples=300, seed=0)
    assert low == pytest.approx(2 / 3) and high == pytest.approx(2 / 3)
    assert bootstrap_f1_ci([], n_resamples=10) is None
