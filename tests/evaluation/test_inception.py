import math

import pytest
import torch
from torch_fidelity.metric_isc import isc_features_to_metric

from initbench.errors import UsageError
from initbench.evaluation import inception as IS


def _logits(n, c=4, seed=0, scale=3.0):
    return torch.randn(n, c, generator=torch.Generator().manual_seed(seed)) * scale


@pytest.mark.parametrize("splits", [1, 10])
def test_is_matches_torch_fidelity(splits):
    logits = _logits(503)
    ref = isc_features_to_metric(logits, splits=splits, shuffle=True, rng_seed=2020)
    ours = IS.inception_score_splits(logits, splits=splits, shuffle=True, rng_seed=2020)
    assert ours["mean"] == pytest.approx(ref["inception_score_mean"], rel=1e-12)
    assert ours["std"] == pytest.approx(ref["inception_score_std"], rel=1e-9, abs=1e-15)
    if splits == 1:
        assert IS.inception_score(logits)["exp"] == pytest.approx(ref["inception_score_mean"], rel=1e-12)


def test_cis_on_hand_built_probabilities():
    # input A: two outputs with p = (0.9, 0.1) and (0.1, 0.9): marginal (0.5, 0.5)
    # input B: two identical outputs with p = (0.9, 0.1): KL 0 to its own marginal
    a = torch.tensor([[0.9, 0.1], [0.1, 0.9]]).log()
    b = torch.tensor([[0.9, 0.1], [0.9, 0.1]]).log()
    k = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    cis = IS.conditional_inception_score([a, b])
    assert cis["kl"] == pytest.approx((k + k + 0 + 0) / 4, rel=1e-6)
    assert cis["exp"] == pytest.approx(math.exp((2 * k) / 4), rel=1e-6)
    # IS: global marginal (0.7, 0.3)
    q = (0.7, 0.3)
    kl = lambda p: sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))  # noqa: E731
    expected_is = (kl((0.9, 0.1)) * 3 + kl((0.1, 0.9))) / 4
    assert IS.inception_score(torch.cat([a, b]))["kl"] == pytest.approx(expected_is, rel=1e-6)
    s = IS.scores_from_summaries([IS.input_summary(a), IS.input_summary(b)])
    assert s["cis_kl"] == pytest.approx(cis["kl"], rel=1e-9)
    assert s["is_kl"] == pytest.approx(expected_is, rel=1e-6)


def test_deterministic_outputs_give_cis_zero_and_exp_one():
    row = _logits(1, seed=5)
    groups = [row.repeat(100, 1), _logits(1, seed=6).repeat(100, 1)]
    cis = IS.conditional_inception_score(groups)
    assert cis["kl"] == 0.0 and cis["exp"] == 1.0
    assert IS.input_summary(groups[0])["cis_kl"] == 0.0


def test_summaries_recompute_is_and_cis():
    groups = [_logits(20, seed=s) for s in range(7)]
    s = IS.scores_from_summaries([IS.input_summary(g) for g in groups])
    assert s["is_kl"] == pytest.approx(IS.inception_score(torch.cat(groups))["kl"], rel=1e-10)
    assert s["cis_kl"] == pytest.approx(IS.conditional_inception_score(groups)["kl"], rel=1e-10)


def test_bad_input_is_a_usage_error():
    with pytest.raises(UsageError, match=r"expected a tensor N x C"):
        IS.inception_score(torch.zeros(5))
    with pytest.raises(UsageError, match=r"splits"):
        IS.inception_score_splits(_logits(5), splits=10)
