"""The interval helpers against scipy: the bootstrap matches scipy.stats.bootstrap's percentile method
draw for draw; the t interval matches scipy.stats.t.interval."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from initbench.evaluation.intervals import bootstrap_ci, t_interval


@pytest.mark.parametrize("n,seed,level", [(7, 0, 0.95), (40, 3, 0.9), (200, 11, 0.99)])
def test_bootstrap_equals_scipy_percentile(n, seed, level):
    x = np.random.default_rng(100 + n).gamma(2.0, size=n)
    mean, lo, hi = bootstrap_ci(x.tolist(), seed=seed, n_resamples=999, level=level)
    ref = stats.bootstrap((x,), np.mean, n_resamples=999, confidence_level=level, method="percentile",
                          rng=np.random.default_rng(seed))
    assert mean == pytest.approx(x.mean(), rel=1e-12)
    assert lo == pytest.approx(ref.confidence_interval.low, rel=1e-10)
    assert hi == pytest.approx(ref.confidence_interval.high, rel=1e-10)
    assert lo < mean < hi


def test_bootstrap_width_follows_the_standard_error():
    # many resamples of many values: the percentile interval approaches mean +- z * sd_pop / sqrt(n)
    x = np.random.default_rng(5).normal(3.0, 2.0, size=400)
    mean, lo, hi = bootstrap_ci(x, seed=1, n_resamples=20000)
    half = stats.norm.ppf(0.975) * x.std(ddof=0) / np.sqrt(x.size)
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.05)
    assert (lo + hi) / 2 == pytest.approx(mean, abs=0.1 * half)


def test_bootstrap_seeded_none_skipped_and_degenerate_cases():
    x = [0.1, None, 0.5, 0.2, 0.9, None, 0.4]
    assert bootstrap_ci(x, seed=4) == bootstrap_ci([v for v in x if v is not None], seed=4)
    assert bootstrap_ci(x, seed=4) != bootstrap_ci(x, seed=5)
    assert bootstrap_ci([0.3], seed=0) == (0.3, 0.3, 0.3)
    assert bootstrap_ci([2.0] * 5, seed=0) == (2.0, 2.0, 2.0)
    with pytest.raises(ValueError, match="at least one number"):
        bootstrap_ci([None, None])
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci([1.0, 2.0], level=95)


def test_t_interval_equals_scipy():
    x = [0.31, 0.35, 0.29, 0.40]
    mean, lo, hi = t_interval(x, level=0.95)
    ref = stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))
    assert (lo, hi) == pytest.approx(ref, rel=1e-12)
    assert t_interval([0.5]) == (0.5, None, None)
