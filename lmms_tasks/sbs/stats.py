"""The numbers of a side-by-side comparison: win / same / loss rates, advantage, bootstrap CI, kappas.

Labels are ``"a"`` (model A's description is better: a *win* for A), ``"b"`` (a *loss* for A) and ``"same"``.

Rates weigh clips equally: a clip with labels from several annotators contributes the share of each label among
its labels (two "a" and one "same" -> win 2/3, same 1/3), and a group's rate is the mean of its clips' shares.
When every clip has the same number of annotators this equals pooling all answers. The **advantage rate** is
``win - loss`` (the paper's Table 4 number, e.g. +51.4% for Tarsier-34B against PLLaVA-34B), in [-1, 1].

The 95% interval is a percentile bootstrap over clips: clips are resampled with replacement (each keeping all its
labels), the advantage is recomputed ``resamples`` times with ``numpy.random.default_rng(seed)``, and the 2.5th and
97.5th percentiles are reported.
"""

from collections import Counter
from itertools import combinations

import numpy as np

LABELS = ("a", "same", "b")


def clip_shares(labels: list[str]) -> tuple[float, float, float]:
    """``(win, same, loss)`` shares of one clip's labels. Raises ``ValueError`` on an empty list or unknown label."""
    if not labels:
        raise ValueError("a clip needs at least one label")
    unknown = set(labels) - set(LABELS)
    if unknown:
        raise ValueError(f"unknown labels {sorted(unknown)}; expected {LABELS}")
    counts = Counter(labels)
    return counts["a"] / len(labels), counts["same"] / len(labels), counts["b"] / len(labels)


def summarize_labels(
    labels_by_clip: dict[str, list[str]], resamples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> dict:
    """Rates of one group of clips: ``n_clips``, ``n_labels``, ``win``, ``same``, ``loss``, ``advantage`` and
    ``advantage_ci95`` (``[low, high]``; ``None`` with no clip or ``resamples == 0``)."""
    shares = np.array([clip_shares(labels) for labels in labels_by_clip.values()], dtype=np.float64).reshape(-1, 3)
    n = len(shares)
    if n == 0:
        return {
            "n_clips": 0,
            "n_labels": 0,
            "win": None,
            "same": None,
            "loss": None,
            "advantage": None,
            "advantage_ci95": None,
        }
    win, same, loss = shares.mean(axis=0)
    interval = None
    if resamples > 0:
        advantage_per_clip = shares[:, 0] - shares[:, 2]
        rng = np.random.default_rng(seed)
        means = advantage_per_clip[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
        tail = (1 - confidence) / 2 * 100
        interval = [float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))]
    return {
        "n_clips": n,
        "n_labels": sum(len(labels) for labels in labels_by_clip.values()),
        "win": float(win),
        "same": float(same),
        "loss": float(loss),
        "advantage": float(win - loss),
        "advantage_ci95": interval,
    }


def cohen_kappa(first: list[str], second: list[str]) -> float | None:
    """Cohen's kappa of two raters over the same items; ``None`` when undefined (chance agreement is 1, i.e. both
    raters used one and the same label for every item) or when there are no items."""
    if len(first) != len(second):
        raise ValueError(f"Cohen's kappa needs paired labels, got {len(first)} and {len(second)}")
    n = len(first)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(first, second, strict=True)) / n
    count_first, count_second = Counter(first), Counter(second)
    expected = sum(count_first[label] * count_second[label] for label in count_first) / (n * n)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def fleiss_kappa(labels_by_item: list[list[str]]) -> float | None:
    """Fleiss' kappa over items rated by two or more raters (items with fewer are ignored).

    With the same number of raters per item this is Fleiss (1971); with varying numbers, each item's agreement
    ``P_i = (sum_j n_ij^2 - n_i) / (n_i (n_i - 1))`` uses its own ``n_i`` and the label proportions ``p_j`` pool all
    ratings (the usual generalisation). ``None`` when undefined (every rating has the same label) or no item
    qualifies.
    """
    items = [Counter(labels) for labels in labels_by_item if len(labels) >= 2]
    if not items:
        return None
    agreement = [
        (sum(c * c for c in counts.values()) - sum(counts.values()))
        / (sum(counts.values()) * (sum(counts.values()) - 1))
        for counts in items
    ]
    totals = Counter()
    for counts in items:
        totals.update(counts)
    n_ratings = sum(totals.values())
    expected = sum((count / n_ratings) ** 2 for count in totals.values())
    if expected == 1:
        return None
    return (float(np.mean(agreement)) - expected) / (1 - expected)


def agreement(labels_by_clip: dict[str, dict[str, str]]) -> dict | None:
    """Inter-annotator agreement from ``{clip: {annotator: label}}``; ``None`` when no clip has two annotators.

    Returns ``n_clips`` (clips with >= 2 labels), ``fleiss_kappa``, ``percent_agreement`` (share of agreeing
    annotator pairs over those clips) and ``cohen_kappa`` per annotator pair (``"x | y"``) over the clips both
    labelled, with ``n``.
    """
    multi = {clip: by_annotator for clip, by_annotator in labels_by_clip.items() if len(by_annotator) >= 2}
    if not multi:
        return None
    pairs_total = pairs_agree = 0
    for by_annotator in multi.values():
        for x, y in combinations(by_annotator.values(), 2):
            pairs_total += 1
            pairs_agree += x == y
    annotators = sorted({name for by_annotator in multi.values() for name in by_annotator})
    cohen = {}
    for x, y in combinations(annotators, 2):
        shared = [clip for clip, by_annotator in multi.items() if x in by_annotator and y in by_annotator]
        if shared:
            cohen[f"{x} | {y}"] = {
                "n": len(shared),
                "kappa": cohen_kappa([multi[c][x] for c in shared], [multi[c][y] for c in shared]),
            }
    return {
        "n_clips": len(multi),
        "fleiss_kappa": fleiss_kappa([list(by_annotator.values()) for by_annotator in multi.values()]),
        "percent_agreement": pairs_agree / pairs_total,
        "cohen_kappa": cohen,
    }


def majority(labels: list[str]) -> str | None:
    """The most frequent label, or ``None`` on a tie for first place."""
    ranked = Counter(labels).most_common()
    if not ranked or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def combine_orders(first_a: str | None, first_b: str | None) -> str | None:
    """One LLM label from the judgments in both orders (A shown first; B shown first), in model terms.

    Equal choices give that choice; different choices give ``"same"`` (a judge that follows the position has no
    preference between the models, so its position bias cancels); ``None`` when either judgment is missing.
    """
    if first_a is None or first_b is None:
        return None
    return first_a if first_a == first_b else "same"
