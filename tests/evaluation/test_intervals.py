"""The two levels of intervals for several seeds (over inputs, over seeds) and the bootstrap of any statistic;
``bootstrap_ci`` itself is checked against scipy in tests/report/test_intervals.py."""

from __future__ import annotations

import numpy as np
import pytest

from initbench.evaluation.intervals import bootstrap_ci, bootstrap_statistic_ci, over_inputs, over_seeds


def _sample(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).gamma(2.0, 0.1, size=n)  # skewed, like per-input L1 errors


def test_the_interval_holds_the_mean_and_narrows_with_more_data():
    for seed in range(5):
        mean, lo, hi = bootstrap_ci(_sample(30, seed), seed=seed)
        assert lo < mean < hi
    _, lo_s, hi_s = bootstrap_ci(_sample(20, 1))
    _, lo_l, hi_l = bootstrap_ci(_sample(2000, 1))
    assert (hi_l - lo_l) < (hi_s - lo_s) / 5  # ~ sqrt(100) = 10 times narrower


def test_statistic_bootstrap_of_the_mean_matches_bootstrap_ci():
    x = _sample(25, 2)
    _, lo, hi = bootstrap_ci(x, seed=5, n_resamples=500)
    assert bootstrap_statistic_ci(len(x), lambda idx: float(x[idx].mean()), seed=5, n_resamples=500) == \
        pytest.approx((lo, hi), rel=1e-12)
    # another statistic: the median's interval holds the sample median
    lo_m, hi_m = bootstrap_statistic_ci(len(x), lambda idx: float(np.median(x[idx])), seed=5)
    assert lo_m <= float(np.median(x)) <= hi_m
    with pytest.raises(ValueError, match="expected at least one item"):
        bootstrap_statistic_ci(0, lambda idx: 0.0)


def test_over_inputs_pools_and_over_seeds_averages_per_seed():
    # seed 2's inputs are all high: over seeds sees 3 means (one far off), over inputs sees 30 values
    per_seed = [list(_sample(10, 0)), list(_sample(10, 1)) + [None], list(_sample(10, 2) + 1.0)]
    pooled = [v for s in per_seed for v in s if v is not None]
    assert over_inputs(per_seed, seed=2) == bootstrap_ci(pooled, seed=2)
    assert over_seeds(per_seed, seed=2) == bootstrap_ci([float(np.mean([v for v in s if v is not None]))
                                                         for s in per_seed], seed=2)
    _, lo_i, hi_i = over_inputs(per_seed)
    _, lo_s, hi_s = over_seeds(per_seed)
    assert (hi_i - lo_i) < (hi_s - lo_s)  # the between-seed spread dominates with 3 seeds
    # unequal input counts: the pooled mean weights inputs, the seed mean weights seeds
    uneven = [[0.0] * 9, [1.0]]
    assert over_inputs(uneven)[0] == pytest.approx(0.1) and over_seeds(uneven)[0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="over_seeds: seed 1 has no values"):
        over_seeds([[1.0], [None]])
