"""AutoDQ numbers from per-clip recall and precision, computed as the released scorer computes them.

Released scorer: ``DREAMGPTMetric`` in ``evaluation/metrics/evaluate_dream_gpt.py`` of ``bytedance/tarsier``.

- Per clip: recall = (reference events the prediction entails) / (reference events); precision = (prediction
  events the reference entails) / (prediction events); both are 1.0 when there are no events (see ``scorer``).
- Per source (the ``dataset`` field, e.g. ``DREAM/movie_animation``): the mean of the clips' recalls, the mean of
  their precisions, and the F1 **of those two means** (not a mean of per-clip F1s).
- Overall: the unweighted mean over sources of the per-source mean recall and of the per-source mean precision
  (sources in sorted order), and the F1 of those. With no failed clips every DREAM-1K source has 200 clips, so
  this equals the mean over clips; when clips fail, the sources still weigh equally.
- Buckets (the paper's Figure 5 and the released ``buckets``), over all scored clips regardless of source, from the
  annotation's ``n_subjects`` / ``n_shots`` / ``n_events``, with the released labels: subjects and shots
  ``<=1``, ``==2``, ``==3``, ``>=4``; events ``<=3``, ``in [4, 5]``, ``in [6, 7]``, ``>=8``. Each bucket reports
  mean recall, mean precision and their F1. A clip whose count is unknown is in no bucket of that kind.
- F1 is ``2*r*p/(r+p)``. Where the released scorer divides 0 by 0 (r = p = 0) and gets NaN, the F1 here is 0.0;
  an empty bucket or source has ``None`` for its numbers (NaN in the released scorer) and ``n`` = 0.

Not in the released scorer: ``f1_ci95``, a percentile bootstrap 95% confidence interval of the overall F1 over
clips, resampling clips with replacement within each source (the statistic is a mean over sources, so each
replicate keeps every source's clip count), ``n_resamples`` replicates from ``numpy.random.default_rng(seed)``.
"""

from collections.abc import Callable, Sequence

import numpy as np

BUCKETS: dict[str, tuple[str, tuple[tuple[str, Callable[[int], bool]], ...]]] = {
    "subjects": (
        "n_subjects",
        (("<=1", lambda n: n <= 1), ("==2", lambda n: n == 2), ("==3", lambda n: n == 3), (">=4", lambda n: n >= 4)),
    ),
    "shots": (
        "n_shots",
        (("<=1", lambda n: n <= 1), ("==2", lambda n: n == 2), ("==3", lambda n: n == 3), (">=4", lambda n: n >= 4)),
    ),
    "events": (
        "n_events",
        (
            ("<=3", lambda n: n <= 3),
            ("in [4, 5]", lambda n: n in (4, 5)),
            ("in [6, 7]", lambda n: n in (6, 7)),
            (">=8", lambda n: n >= 8),
        ),
    ),
}


def f1(recall: float, precision: float) -> float:
    """Harmonic mean, written as the released ``count_f1``; 0.0 where that gives NaN (both zero)."""
    if recall + precision == 0:
        return 0.0
    return 2 * recall * precision / (recall + precision)


def mean_scores(clips: Sequence[dict]) -> dict:
    """Mean recall, mean precision and the F1 of the two means over ``clips`` (``None``s when there are none)."""
    if not clips:
        return {"f1": None, "precision": None, "recall": None, "n": 0}
    recall = float(np.mean(np.asarray([clip["recall"] for clip in clips], dtype=np.float64)))
    precision = float(np.mean(np.asarray([clip["precision"] for clip in clips], dtype=np.float64)))
    return {"f1": f1(recall, precision), "precision": precision, "recall": recall, "n": len(clips)}


def _by_source(clips: Sequence[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for clip in clips:
        groups.setdefault(clip["source"], []).append(clip)
    return dict(sorted(groups.items()))


def overall_scores(per_source: dict[str, dict]) -> dict:
    """The mean over sources of their mean recall and mean precision, and the F1 of those."""
    scored = [scores for scores in per_source.values() if scores["n"]]
    if not scored:
        return {"f1": None, "precision": None, "recall": None, "n": 0}
    recall = float(np.mean(np.asarray([scores["recall"] for scores in scored], dtype=np.float64)))
    precision = float(np.mean(np.asarray([scores["precision"] for scores in scored], dtype=np.float64)))
    return {"f1": f1(recall, precision), "precision": precision, "recall": recall, "n": sum(s["n"] for s in scored)}


def bucket_scores(clips: Sequence[dict]) -> dict[str, dict[str, dict]]:
    """Per bucket kind (subjects, shots, events), per bucket label: mean scores over the clips in it."""
    buckets = {}
    for kind, (count_field, bounds) in BUCKETS.items():
        buckets[kind] = {}
        for label, holds in bounds:
            members = [clip for clip in clips if clip.get(count_field) is not None and holds(clip[count_field])]
            buckets[kind][label] = mean_scores(members)
    return buckets


def bootstrap_f1_ci(
    clips: Sequence[dict], *, n_resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> list[float] | None:
    """Percentile bootstrap interval of the overall F1, resampling clips within each source."""
    if not clips:
        return None
    rng = np.random.default_rng(seed)
    replicate_recalls, replicate_precisions = [], []
    for members in _by_source(clips).values():
        recalls = np.asarray([clip["recall"] for clip in members], dtype=np.float64)
        precisions = np.asarray([clip["precision"] for clip in members], dtype=np.float64)
        draws = rng.integers(0, len(members), size=(n_resamples, len(members)))
        replicate_recalls.append(recalls[draws].mean(axis=1))
        replicate_precisions.append(precisions[draws].mean(axis=1))
    recall = np.mean(np.stack(replicate_recalls), axis=0)
    precision = np.mean(np.stack(replicate_precisions), axis=0)
    total = recall + precision
    f1s = np.divide(2 * recall * precision, total, out=np.zeros_like(total), where=total > 0)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(f1s, [tail, 100 - tail])
    return [float(low), float(high)]


def summarize(scored: Sequence[dict], failed: Sequence[dict] = (), *, n_resamples: int = 1000, seed: int = 0) -> dict:
    """All AutoDQ numbers for the scored clips (each with source, recall, precision, n_subjects/n_shots/n_events).

    ``failed`` clips (each with at least a source) only add to the per-source ``n_failed`` counts.
    """
    per_source = {source: mean_scores(members) for source, members in _by_source(scored).items()}
    for source in {clip["source"] for clip in failed} - set(per_source):
        per_source[source] = mean_scores([])
    per_source = dict(sorted(per_source.items()))
    for source, scores in per_source.items():
        scores["n_failed"] = sum(1 for clip in failed if clip["source"] == source)
    return {
        "overall": overall_scores(per_source),
        "per_source": per_source,
        "buckets": bucket_scores(scored),
        "f1_ci95": bootstrap_f1_ci(scored, n_resamples=n_resamples, seed=seed),
        "bootstrap": {
            "n_resamples": n_resamples,
            "seed": seed,
            "method": "percentile, clips resampled within each source",
        },
    }
