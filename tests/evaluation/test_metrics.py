"""The metrics step: pure functions of collected values, and the leaderboard's recomputation through them."""

import math

import pytest
import torch

from initbench.evaluation import inception as IS
from initbench.evaluation.metrics import (METRIC_KEYS, Scores, combine, fid_kid_to_metrics, inception_to_metrics,
                                          lpips_to_metrics, mean_drit_lpips, mean_lpips, summaries_to_metrics)
from initbench.leaderboard.results import recompute_metrics


def _groups(seed=0, inputs=4, samples=6, classes=4):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(samples, classes, generator=g, dtype=torch.float64) * 2 for _ in range(inputs)]


def test_combine_fills_every_metric_and_keeps_the_parts_order():
    s = combine(Scores(per_input={"keys": ["a"]}), Scores(metrics={"fid": 1.5}, extra={"x": 1}, warnings=["w1"]),
                Scores(metrics={"lpips_diversity": 0.25}, extra={"y": 2}, per_input={"lpips": [0.25]}, warnings=["w2"]))
    assert list(s.metrics) == list(METRIC_KEYS)
    assert s.metrics == {**dict.fromkeys(METRIC_KEYS), "fid": 1.5, "lpips_diversity": 0.25}
    assert list(s.extra) == ["x", "y"] and list(s.per_input) == ["keys", "lpips"] and s.warnings == ["w1", "w2"]


def test_lpips_munit_and_drit_pairings():
    s = lpips_to_metrics([[0.5, 0.25], [0.75, 1.0]])
    assert s.metrics == {"lpips_diversity": 0.625}
    assert s.per_input == {"lpips": [0.375, 0.875], "lpips_pairs": [[0.5, 0.25], [0.75, 1.0]]} and s.extra == {}
    d = lpips_to_metrics([[0.5, 0.25], [0.75, 1.0]], [(0, 1), (1, 0)], [0.125, 0.375])
    assert d.metrics == {"lpips_diversity": 0.25} and d.extra == {"lpips_munit_pairing": 0.625}
    assert d.per_input["lpips_drit_pairs"] == [[0, 1, 0.125], [1, 0, 0.375]]
    assert mean_lpips([]) is None and mean_drit_lpips([]) is None


def test_is_and_cis_from_summaries_equal_those_from_the_logits():
    """The per-input summaries a results file records give the numbers computed from the logits themselves."""
    groups = _groups()
    s = inception_to_metrics(groups, isc_rng_seed=2020)
    again = summaries_to_metrics(s.per_input["cis_kl"], s.per_input["marginal"], s.per_input["neg_entropy"])
    assert list(again) == ["cis_kl", "cis_exp", "is_kl", "is_exp"]
    for k, v in again.items():
        assert v == pytest.approx(s.metrics[k], rel=1e-12)
    assert s.metrics["is_kl"] == pytest.approx(IS.inception_score(torch.cat(groups))["kl"], rel=1e-15)
    assert s.metrics["is_exp_10split"] == IS.inception_score_splits(torch.cat(groups), 10, rng_seed=2020)["mean"]
    assert s.extra == {"is_exp_10split_std": IS.inception_score_splits(torch.cat(groups), 10, rng_seed=2020)["std"]}
    assert summaries_to_metrics(cis_kl=[0.5, 1.5]) == {"cis_kl": 1.0, "cis_exp": math.e}


def test_fewer_than_ten_outputs_have_no_ten_split_is_and_identical_rows_have_cis_zero():
    row = torch.tensor([[1.0, 2.0, 0.5]], dtype=torch.float64)
    s = inception_to_metrics([row.repeat(3, 1), (row * 2).repeat(3, 1)], isc_rng_seed=0)
    assert "is_exp_10split" not in s.metrics and s.extra == {}
    assert s.metrics["cis_kl"] == 0.0 and s.metrics["cis_exp"] == 1.0 and s.metrics["is_kl"] > 0


def test_fid_kid_report_counts_and_warn_below_the_feature_dimension():
    g = torch.Generator().manual_seed(1)
    outs, ref = torch.randn(12, 4, generator=g), torch.randn(3, 4, generator=g) + 1
    s = fid_kid_to_metrics(outs, ref, kid_subsets=5, kid_subset_size=3, rng_seed=0)
    assert set(s.metrics) == {"fid", "kid"} and s.metrics["fid"] > 0
    assert (s.extra["fid_outputs"], s.extra["fid_reference_images"], s.extra["kid_subset_size"]) == (12, 3, 3)
    assert s.warnings == ["FID/KID from 3 reference images, fewer than the feature dimension 4: the covariance is "
                          "singular and FID is not comparable with one from more samples"]


def test_recompute_metrics_gives_the_evaluators_lpips_bit_for_bit():
    """Seen: recompute_metrics re-derived the mean with math.fsum; the evaluator sums left to right
    ((0.1 + 0.2 + 0.3) / 3: 0.20000000000000004 vs 0.19999999999999998). Both pairings now use the evaluator's functions."""
    munit = lpips_to_metrics([[0.1, 0.2, 0.3]])
    assert munit.metrics["lpips_diversity"] == 0.20000000000000004
    assert recompute_metrics({"per_input": munit.per_input})["lpips_diversity"] == munit.metrics["lpips_diversity"]
    vals = torch.rand(100, generator=torch.Generator().manual_seed(0), dtype=torch.float64).tolist()
    drit = lpips_to_metrics([[0.5]], [(0, 1)] * 100, vals)
    doc = {"protocol_spec": {"pairing": "drit"}, "per_input": drit.per_input}
    assert recompute_metrics(doc)["lpips_diversity"] == drit.metrics["lpips_diversity"]


def test_recompute_metrics_is_and_cis_through_the_summary_functions():
    s = inception_to_metrics(_groups(seed=3), isc_rng_seed=0)
    got = recompute_metrics({"per_input": s.per_input})
    assert set(got) == {"cis_kl", "cis_exp", "is_kl", "is_exp"}
    for k, v in got.items():
        assert v == pytest.approx(s.metrics[k], rel=1e-12)
    # marginals of unequal width or count: IS is not recomputed, CIS still is
    bad = {**s.per_input, "marginal": [m[:-1] if i == 0 else m for i, m in enumerate(s.per_input["marginal"])]}
    assert set(recompute_metrics({"per_input": bad})) == {"cis_kl", "cis_exp"}


def test_recompute_metrics_of_a_malformed_per_input_is_empty_not_a_crash():
    """Seen: a per_input that is a list raised AttributeError inside `leaderboard validate`."""
    assert recompute_metrics({"per_input": [1, 2]}) == {}
    assert recompute_metrics({"per_input": {"lpips_pairs": [["x"]], "cis_kl": "no"}}) == {}
