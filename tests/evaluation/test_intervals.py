"""Bootstrap intervals: deterministic, around the mean, narrower with more data, equal to scipy's percentile
bootstrap, and the two levels (over inputs, over seeds) built from the right samples."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from initbench.errors import UsageError
from initbench.evaluation.intervals import bootstrap_ci, bootstrap_statistic_ci, over_inputs, over_seeds


def _sample(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).gamma(2.0, 0.1, size=n)  # skewed, like per-input L1 errors


def test_deterministic_under_the_seed_and_different_across_seeds():
    x = _sample(40)
    assert bootstrap_ci(x, seed=3) == bootstrap_ci(list(x), seed=3)
    assert bootstrap_ci(x, seed=3)[1:] != bootstrap_ci(x, seed=4)[1:]


def test_the_interval_holds_the_mean():
    for seed in range(10):
        x = _sample(30, seed)
        mean, lo, hi = bootstrap_ci(x, seed=seed)
        assert mean == pytest.approx(float(np.mean(x)), abs=1e-15)
        assert lo < mean < hi


def test_more_data_narrows_the_interval():
    small, large = _sample(20, 1), _sample(2000, 1)
    _, lo_s, hi_s = bootstrap_ci(small)
    _, lo_l, hi_l = bootstrap_ci(large)
    assert (hi_l - lo_l) < (hi_s - lo_s) / 5  # ~ sqrt(100) = 10 times narrower


def test_a_higher_level_widens_it():
    x = _sample(50)
    _, lo90, hi90 = bootstrap_ci(x, level=0.90)
    _, lo99, hi99 = bootstrap_ci(x, level=0.99)
    assert lo99 < lo90 and hi90 < hi99


@pytest.mark.parametrize("n", [12, 100])
def test_agrees_with_scipy_percentile_bootstrap(n):
    x = _sample(n, 7)
    mean, lo, hi = bootstrap_ci(x, seed=0, n_resamples=20000)
    ref = stats.bootstrap((x,), np.mean, method="percentile", n_resamples=20000, confidence_level=0.95,
                          random_state=np.random.default_rng(1)).confidence_interval
    se = float(np.std(x, ddof=1) / np.sqrt(n))
    # two independent Monte Carlo estimates of the same quantiles: agree to a small fraction of a standard error
    assert lo == pytest.approx(ref.low, abs=0.08 * se)
    assert hi == pytest.approx(ref.high, abs=0.08 * se)
    # and both are close to the normal-theory interval for the mean of this sample size
    assert lo == pytest.approx(mean - 1.96 * se, abs=0.25 * se)


def test_one_value_and_bad_input():
    assert bootstrap_ci([0.5]) == (0.5, 0.5, 0.5)
    with pytest.raises(UsageError, match="values: expected a non-empty list of numbers; got 0 value"):
        bootstrap_ci([])
    with pytest.raises(UsageError, match=r"values: expected finite numbers; value 1 is nan"):
        bootstrap_ci([1.0, float("nan")])
    with pytest.raises(UsageError, match=r"level: expected a confidence level in \(0, 1\); got 95"):
        bootstrap_ci([1.0, 2.0], level=95)


def test_statistic_bootstrap_of_the_mean_matches_the_fast_path():
    x = _sample(25, 2)
    mean, lo, hi = bootstrap_ci(x, seed=5, n_resamples=500)
    assert bootstrap_statistic_ci(len(x), lambda idx: float(x[idx].mean()), seed=5, n_resamples=500) == (lo, hi)


def test_over_inputs_pools_and_over_seeds_averages_per_seed():
    # seed 1's inputs are all high: over seeds sees 3 means (one far off), over inputs sees 30 values
    per_seed = [list(_sample(10, 0)), list(_sample(10, 1)), list(_sample(10, 2) + 1.0)]
    pooled = [v for s in per_seed for v in s]
    assert over_inputs(per_seed, seed=2) == bootstrap_ci(pooled, seed=2)
    assert over_seeds(per_seed, seed=2) == bootstrap_ci([float(np.mean(s)) for s in per_seed], seed=2)
    # unequal input counts: the pooled mean weights inputs, the seed mean weights seeds
    uneven = [[0.0] * 9, [1.0]]
    assert over_inputs(uneven)[0] == pytest.approx(0.1) and over_seeds(uneven)[0] == pytest.approx(0.5)
