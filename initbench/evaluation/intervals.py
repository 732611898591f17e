"""Confidence intervals for reported means: a percentile bootstrap over inputs, a t interval over seeds.

:func:`bootstrap_ci` resamples the values with replacement exactly as ``scipy.stats.bootstrap``
(``method="percentile"``, one batch, ``rng=numpy.random.default_rng(seed)``) does, so the two give the
same interval for the same seed; it is written out here because it is a few lines and runs on lists
that may hold ``None`` (a paired-v1 input without a box of a class). :func:`t_interval` is for the few
training seeds of one method: too few to bootstrap.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np


def _numbers(values: Iterable[float | None]) -> np.ndarray:
    return np.asarray([float(v) for v in values if v is not None], dtype=np.float64)


def bootstrap_ci(values: Iterable[float | None], *, seed: int = 0, n_resamples: int = 2000,
                 level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, lo, hi)``: the mean of ``values`` and its ``level`` percentile-bootstrap interval.

    ``None`` entries are left out. Resamples: ``n_resamples`` draws of ``n`` indices with replacement
    from ``numpy.random.default_rng(seed)``; the bounds are the ``(1 - level) / 2`` and ``(1 + level) / 2``
    quantiles (linear interpolation) of the resampled means. One value gives ``(v, v, v)``.
    Raises ValueError for no values, ``level`` outside (0, 1) or ``n_resamples`` < 1.
    """
    x = _numbers(values)
    if x.size == 0:
        raise ValueError("bootstrap_ci: expected at least one number; got none")
    if not 0.0 < level < 1.0:
        raise ValueError(f"bootstrap_ci: level must lie in (0, 1); got {level}")
    if n_resamples < 1:
        raise ValueError(f"bootstrap_ci: n_resamples must be at least 1; got {n_resamples}")
    mean = float(x.mean())
    if x.size == 1:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, (n_resamples, x.size))
    means = x[idx].mean(axis=-1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return mean, float(lo), float(hi)


def t_interval(values: Iterable[float | None], *, level: float = 0.95) -> tuple[float, float | None, float | None]:
    """``(mean, lo, hi)`` of Student's t interval ``mean +- t * s / sqrt(n)`` (``s`` with ``n - 1``);
    ``lo``/``hi`` are None for fewer than two values. ``None`` entries are left out."""
    from scipy.stats import t

    x = _numbers(values)
    if x.size == 0:
        raise ValueError("t_interval: expected at least one number; got none")
    mean = float(x.mean())
    if x.size < 2:
        return mean, None, None
    half = float(t.ppf((1.0 + level) / 2.0, x.size - 1)) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return mean, mean - half, mean + half
