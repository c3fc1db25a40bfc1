"""Percentile bootstrap 95% confidence intervals (not in the released scorers), over items.

``groups`` is a list of 1-D value arrays (one per sub-task; one array for a plain benchmark); each replicate
resamples every group's items with replacement (keeping its size) and applies ``statistic`` to the list of
resampled group means (the default, ``numpy.mean``, of one group is its mean; of several, the macro mean).
Replicates come from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

DEFAULT_RESAMPLES = 1000


def bootstrap_ci(
    groups: Sequence[Sequence[float]],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
    scale: float = 1.0,
    statistic: Callable[[np.ndarray], np.ndarray] = lambda means: means.mean(axis=0),
) -> list[float] | None:
    """``[low, high]`` of the statistic times ``scale``; ``None`` when there is nothing to resample."""
    arrays = [np.asarray(group, dtype=np.float64) for group in groups if len(group)]
    if not arrays or n_resamples < 1:
        return None
    rng = np.random.default_rng(seed)
    means = np.stack(
        [values[rng.integers(0, len(values), size=(n_resamples, len(values)))].mean(axis=1) for values in arrays]
    )
    replicates = statistic(means) * scale
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return [float(low), float(high)]


def describe(n_resamples: int, seed: int, what: str) -> dict:
    return {"n_resamples": n_resamples, "seed": seed, "level": 0.95, "method": f"percentile, {what}"}
