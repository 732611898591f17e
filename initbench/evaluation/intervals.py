"""Confidence intervals of a metric's mean: the percentile bootstrap, over inputs and over training seeds.

A results file holds one value per input (``per_input``), and a configuration is trained with several
seeds, so a mean has two sources of spread:

* **over inputs** (:func:`over_inputs`): the per-input values of every seed pooled and resampled;
  it says how much the number would move with other test images, for these trained models;
* **over seeds** (:func:`over_seeds`): one mean per seed, resampled; it says how much it would move
  with another training run. With few seeds (3) the percentile bootstrap has few distinct resamples
  and its interval is narrow for its nominal level: read it as a range, not a calibrated 95 %.

Every function is deterministic under ``seed`` (numpy's ``default_rng``). The interval is the
percentile bootstrap: the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the resampled
statistic (numpy's default linear interpolation), as ``scipy.stats.bootstrap(method="percentile")``.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from initbench.errors import UsageError

#: Resampled index rows drawn at once (bounds the memory of large inputs: rows x n int64).
_CHUNK_ELEMENTS = 1 << 22


def _values(values: Sequence[float], name: str = "values") -> np.ndarray:
    x = np.asarray(list(values), dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise UsageError(f"{name}: expected a non-empty list of numbers; got {x.size} value(s) of shape {x.shape}")
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise UsageError(f"{name}: expected finite numbers; value {int(bad[0])} is {x[bad[0]]} (leave out missing values first)")
    return x


def _check(n_resamples: int, level: float) -> None:
    if n_resamples < 1:
        raise UsageError(f"n_resamples: expected at least 1; got {n_resamples}")
    if not 0.0 < level < 1.0:
        raise UsageError(f"level: expected a confidence level in (0, 1); got {level}")


def bootstrap_statistic_ci(n: int, statistic: Callable[[np.ndarray], float], *, seed: int = 0, n_resamples: int = 2000,
                           level: float = 0.95) -> tuple[float, float]:
    """Percentile interval ``(lo, hi)`` of ``statistic(indices)`` over ``n_resamples`` resamples of ``range(n)``
    with replacement (``indices``: int64 array of length ``n``). For statistics that are not a mean of per-item
    values (IS from per-input marginals); :func:`bootstrap_ci` is the mean's fast path."""
    _check(n_resamples, level)
    if n < 1:
        raise UsageError(f"n: expected at least one item to resample; got {n}")
    rng = np.random.default_rng(seed)
    estimates = np.array([statistic(rng.integers(0, n, size=n)) for _ in range(n_resamples)], dtype=np.float64)
    return _percentiles(estimates, level)


def _percentiles(estimates: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.percentile(estimates, [50.0 * (1.0 - level), 50.0 * (1.0 + level)])
    return float(lo), float(hi)


def bootstrap_ci(values: Sequence[float], *, seed: int = 0, n_resamples: int = 2000, level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, lo, hi)``: the mean of ``values`` and its percentile-bootstrap interval at ``level``.

    ``values``: finite numbers (a missing value is the caller's to leave out). One value gives
    ``(v, v, v)``. Deterministic under ``seed``; ``lo <= mean <= hi`` up to the resampling noise of a
    very skewed sample (the percentile interval is not forced to contain the mean).
    """
    _check(n_resamples, level)
    x = _values(values)
    n = x.size
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples, dtype=np.float64)
    rows = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, n_resamples, rows):
        k = min(rows, n_resamples - start)
        means[start : start + k] = x[rng.integers(0, n, size=(k, n))].mean(axis=1)
    lo, hi = _percentiles(means, level)
    return float(x.mean()), lo, hi


def over_inputs(per_seed: Sequence[Sequence[float]], **kwargs) -> tuple[float, float, float]:
    """``(mean, lo, hi)`` over inputs: the per-input values of every seed (``per_seed[s][i]``) pooled into one sample
    and bootstrapped (:func:`bootstrap_ci` keywords)."""
    pooled = [v for values in per_seed for v in values]
    return bootstrap_ci(pooled, **kwargs)


def over_seeds(per_seed: Sequence[Sequence[float]], **kwargs) -> tuple[float, float, float]:
    """``(mean, lo, hi)`` over seeds: each seed's mean over its inputs, bootstrapped (:func:`bootstrap_ci` keywords)."""
    means = [float(_values(values, f"per_seed[{s}]").mean()) for s, values in enumerate(per_seed)]
    return bootstrap_ci(means, **kwargs)


def interval_dict(mean_lo_hi: tuple[float, float, float]) -> dict[str, float | None]:
    """``{"mean", "lo", "hi"}`` for JSON (non-finite numbers as None)."""
    return {k: (v if math.isfinite(v) else None) for k, v in zip(("mean", "lo", "hi"), mean_lo_hi)}
