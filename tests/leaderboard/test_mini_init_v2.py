"""Benchmark mini-init-v2: entries of paired-v1 results build, validate, rank lower-is-better, and tampering shows."""

from __future__ import annotations

import json

import pytest

from initbench.leaderboard.benchmarks import BENCHMARKS, LOWER_IS_BETTER, METRIC_NETWORK, PAIRED_METRICS
from initbench.leaderboard.render import build_tables
from initbench.leaderboard.results import build_entry
from initbench.leaderboard.validate import validate_entry


def test_leaderboard_knows_every_paired_metric_of_the_evaluator():
    from initbench.evaluation.paired import HIGHER_IS_BETTER, METRIC_KEYS

    assert set(METRIC_KEYS) == set(PAIRED_METRICS) | {"lpips_diversity"}
    assert {k for k in METRIC_KEYS if k not in LOWER_IS_BETTER} == HIGHER_IS_BETTER
    assert METRIC_NETWORK["l1_gt_frame"] is None and METRIC_NETWORK["lpips_gt_objects"] == "lpips_backbone"
    b = BENCHMARKS["mini-init-v2"]
    assert (b.split, b.protocol) == ("drives", "paired-v1")


@pytest.fixture(scope="module")
def paired_results(mini_init_v2_root, tmp_path_factory):
    """Results files of identity and of the ground truth on sunny2night (random LPIPS backbone)."""
    from initbench.evaluation.paired import evaluate_paired
    from initbench.evaluation.protocol import PAIRED_V1
    from initbench.evaluation.truth_styles import TruthStyles
    from initbench.methods.identity import Identity

    d = tmp_path_factory.mktemp("paired_results")
    out = {}
    for name, translator, ts in (("identity", Identity(), None), ("ground-truth", None, TruthStyles(24, 0, (64, 40)))):
        r = evaluate_paired(translator, mini_init_v2_root, "sunny2night", lpips_backbone="random", truth_styles=ts,
                            protocol=PAIRED_V1.with_overrides(samples_per_input=4))
        out[name] = d / f"{name}.json"
        out[name].write_text(json.dumps(r))
    return out


def _entry(path, tmp_path):
    return build_entry([path], benchmark="mini-init-v2", code_url="https://example.org/initbench@abc",
                       command="initbench evaluate ...", seeds=[0], entry_dir=path.parent, created="2026-01-01T00:00:00+00:00")


def test_entries_build_and_validate(paired_results, tmp_path):
    for path in paired_results.values():
        entry = _entry(path, tmp_path)
        report = validate_entry(entry, base_dir=path.parent)
        assert report.problems == [], [str(p) for p in report.problems]
        assert any("metric(s) recomputed" in c for c in report.checked)
        assert "l1_gt_frame" in entry["metrics"] and "domain_accuracy" not in entry["metrics"]  # null: left out


def test_ground_truth_row_is_unranked_and_l1_ranks_lower_first(paired_results, tmp_path):
    entries = [(str(p), _entry(p, tmp_path)) for p in paired_results.values()]
    table = next(t for t in build_tables(entries) if t.metric == "l1_gt_frame")
    ranks = {r.label: r.rank for r in table.rows}
    assert ranks == {"identity": 1, "ground-truth": None}
    gt = dict(entries)[str(paired_results["ground-truth"])]
    assert gt["metrics"]["l1_gt_frame"]["mean"] == 0.0 and gt["metrics"]["lpips_diversity"]["mean"] > 0


def test_a_paired_metric_that_its_per_input_values_do_not_give_is_a_problem(paired_results, tmp_path):
    doc = json.loads(paired_results["identity"].read_text())
    doc["metrics"]["l1_gt_objects"] += 0.01
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    report = validate_entry(_entry(bad, tmp_path), base_dir=tmp_path)
    assert [p.message for p in report.problems if "per-input values give l1_gt_objects" in p.message]


def test_committed_mini_init_v2_entries_validate_and_colour_transfer_beats_identity(repo_root):
    from initbench.leaderboard.store import iter_entry_files
    from initbench.leaderboard.validate import validate_files

    files = list(iter_entry_files(repo_root / "leaderboards", "mini-init-v2"))
    report = validate_files(files)
    assert report.problems == [], [str(p) for p in report.problems]
    l1: dict = {}  # (task, method, classifier) -> L1 over the frame; entries scored with one classifier form a group
    for f in files:
        e = json.loads(f.read_text())
        l1[(e["task"], e["method"], e["fingerprint"]["classifier"])] = e["metrics"]["l1_gt_frame"]["mean"]
    tasks = {"sunny2night", "night2sunny", "sunny2rainy", "sunny2cloudy"}
    assert {(t, m) for t, m, _ in l1} >= {(t, m) for t in tasks for m in ("identity", "colour-transfer", "ground-truth")}
    for (t, m, c), v in l1.items():
        if m == "ground-truth":
            assert v == 0.0
        elif m == "colour-transfer":
            assert 0.0 < v < l1[(t, "identity", c)]
    # the bundled models, with floors scored by their classifiers: every model below the colour map on sunny2night
    groups = {c for t, m, c in l1 if m == "init"}
    assert len(groups) == 1
    (c,) = groups
    for m in ("init", "munit", "cyclegan"):
        assert l1[("sunny2night", m, c)] < l1[("sunny2night", "colour-transfer", c)]


def test_every_committed_results_file_follows_the_results_schema(repo_root):
    import json

    from initbench.evaluation.result import schema_problems

    files = sorted((repo_root / "leaderboards").rglob("results/*.json"))
    assert len(files) >= 14  # mini-init (2) and mini-init-v2 (12)
    assert {str(f): schema_problems(json.loads(f.read_text())) for f in files} == {str(f): [] for f in files}
