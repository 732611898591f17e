"""Confidence intervals for reported means: a percentile bootstrap over inputs, a t interval over seeds.

:func:`bootstrap_ci` resamples the values with replacement exactly as ``scipy.stats.bootstrap``
(``method="percentile"``, one batch, ``rng=numpy.random.default_rng(seed)``) does, so the two give the
same interval for the same seed; it is written out here because it is a few lines and runs on lists
that may hold ``None`` (a paired-v1 input without a box of a class). :func:`t_interval` is for the few
training seeds of one method: too few to bootstrap.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, Sequence

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


# -- two levels for several training seeds (benchmarks/init_vs_munit.py) ---------------------------------------------
# "Over inputs": the per-input values of every seed pooled and resampled (how the number moves with other test
# images, for these trained models). "Over seeds": one mean per seed, resampled (how it moves with another training
# run; with 3 seeds a range rather than a calibrated 95 %, see t_interval for the parametric alternative).


def bootstrap_statistic_ci(n: int, statistic: Callable[[np.ndarray], float], *, seed: int = 0,
                           n_resamples: int = 2000, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval ``(lo, hi)`` of ``statistic(indices)`` over ``n_resamples`` draws of ``n`` indices with
    replacement from ``numpy.random.default_rng(seed)`` (the draws of :func:`bootstrap_ci`): for statistics that are
    not a mean of per-item values (IS from per-input marginals). Raises ValueError as :func:`bootstrap_ci`."""
    if n < 1:
        raise ValueError(f"bootstrap_statistic_ci: expected at least one item to resample; got {n}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"bootstrap_statistic_ci: level must lie in (0, 1); got {level}")
    if n_resamples < 1:
        raise ValueError(f"bootstrap_statistic_ci: n_resamples must be at least 1; got {n_resamples}")
    idx = np.random.default_rng(seed).integers(0, n, (n_resamples, n))
    estimates = np.array([statistic(row) for row in idx], dtype=np.float64)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(estimates, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def over_inputs(per_seed: Sequence[Iterable[float | None]], **kwargs) -> tuple[float, float, float]:
    """``(mean, lo, hi)`` over inputs: every seed's per-input values (``per_seed[s][i]``, None left out) pooled into
    one sample and bootstrapped (:func:`bootstrap_ci` keywords)."""
    return bootstrap_ci([v for values in per_seed for v in values], **kwargs)


def over_seeds(per_seed: Sequence[Iterable[float | None]], **kwargs) -> tuple[float, float, float]:
    """``(mean, lo, hi)`` over seeds: each seed's mean over its inputs (None left out), bootstrapped."""
    means = []
    for s, values in enumerate(per_seed):
        x = _numbers(values)
        if x.size == 0:
            raise ValueError(f"over_seeds: seed {s} has no values")
        means.append(float(x.mean()))
    return bootstrap_ci(means, **kwargs)


def interval_dict(mean_lo_hi: tuple[float, float | None, float | None]) -> dict[str, float | None]:
    """``{"mean", "lo", "hi"}`` for JSON (None and non-finite numbers as None)."""
    return {k: (float(v) if v is not None and math.isfinite(v) else None) for k, v in zip(("mean", "lo", "hi"), mean_lo_hi)}
