"""Validation: the reference entries pass; each broken variant fails with one precise message."""

from __future__ import annotations

import copy
import json
import statistics

import pytest

from initbench.leaderboard.store import iter_entry_files
from initbench.leaderboard.validate import validate_entry, validate_files


def _problems(entry, tmp_path, **kw):
    r = validate_entry(entry, "e.json", base_dir=tmp_path, **kw)
    return [f"{p.path}: {p.message}" for p in r.problems]


def test_every_reference_entry_is_valid(repo_root):
    files = list(iter_entry_files(repo_root / "leaderboards", "init-v1"))
    # Table 3: 7 rows x 3 tasks; Table 4: 6 methods x 6 tasks, merged per (method, task) into one entry,
    # plus one average entry per table and method.
    assert len(files) == 6 * 6 + 3 + 7 + 6
    report = validate_files(files)
    assert report.problems == []
    assert report.unchecked == []  # reported entries reference no files


def test_reference_entries_keep_the_printed_munit_cis_with_notes(repo_root):
    entries = [json.loads(p.read_text()) for p in iter_entry_files(repo_root / "leaderboards", "init-v1")]
    munit_sn = [e for e in entries if e["method"] == "munit" and e["task"] == "sunny2night"][0]
    assert munit_sn["metrics"]["cis"]["as_printed"] == "1.159"
    assert "munit-cis-sunny2night" in {n["id"] for n in munit_sn["notes"]}
    avg = [e for e in entries if e["method"] == "munit" and e["task"] == "average" and "cis" in e["metrics"]][0]
    assert avg["metrics"]["cis"]["value"] == 1.032
    assert "average-mismatch" in {n["id"] for n in avg["notes"]}
    cyc = [e for e in entries if e["method"] == "cyclegan" and e["task"] == "night2sunny"][0]
    assert "cis-without-exp" in {n["id"] for n in cyc["notes"]}
    assert all(e["source"]["status"] == "as reported, not reproduced" for e in entries)


def test_average_without_its_note_is_refused(repo_root, tmp_path):
    entries = [json.loads(p.read_text()) for p in iter_entry_files(repo_root / "leaderboards", "init-v1")]
    avg = [e for e in entries if e["method"] == "munit" and e["task"] == "average" and "cis" in e["metrics"]][0]
    avg["notes"] = [n for n in avg["notes"] if n["id"] != "average-mismatch"]
    assert _problems(avg, tmp_path) == [
        "$.metrics.cis.value: the reported average 1.032 is not the mean of its components (1.0493) and no "
        "note with id 'average-mismatch' lists 'cis'"
    ]


def test_reported_value_must_be_the_printed_one(repo_root, tmp_path):
    e = json.loads(next(iter_entry_files(repo_root / "leaderboards", "init-v1", "sunny2night")).read_text())
    name = next(iter(e["metrics"]))
    printed = e["metrics"][name]["as_printed"]
    e["metrics"][name]["value"] += 0.001
    assert _problems(e, tmp_path) == [
        f"$.metrics.{name}.value: the printed value {printed!r} is {float(printed)!r}; found {e['metrics'][name]['value']!r}"
    ]


def test_valid_measured_entry_checks_results_files(measured_entry, tmp_path):
    path, entry = measured_entry
    report = validate_files([path])
    assert report.problems == []
    assert len(report.checked) == 3
    # lpips_diversity, is_kl, is_exp, cis_kl, cis_exp recomputed from per-input values agree with
    # what the evaluator's own functions computed from the logits.
    assert all("5 metric(s) recomputed" in line for line in report.checked)


def test_missing_field(measured_entry, tmp_path):
    _, entry = measured_entry
    del entry["task"]
    assert _problems(entry, tmp_path) == ["$.task: required field missing"]


def test_typed_mean_that_the_seeds_do_not_give(measured_entry, tmp_path):
    _, entry = measured_entry
    vals = entry["metrics"]["fid"]["per_seed"]
    entry["metrics"]["fid"]["mean"] = 90.0
    assert _problems(entry, tmp_path) == [
        f"$.metrics.fid.mean: the per-seed values {vals} give mean {statistics.fmean(vals)!r}; found 90.0"
    ]


def test_std_is_unbiased(measured_entry, tmp_path):
    _, entry = measured_entry
    vals = entry["metrics"]["fid"]["per_seed"]
    assert entry["metrics"]["fid"]["std"] == pytest.approx(statistics.stdev(vals), rel=1e-12)
    entry["metrics"]["fid"]["std"] = statistics.pstdev(vals)  # the biased one is refused
    (msg,) = _problems(entry, tmp_path)
    assert msg.startswith("$.metrics.fid.std: the per-seed values [100.0, 99.0, 98.0] give unbiased std (n - 1) 1.0;")


def test_per_seed_value_differs_from_its_results_file(measured_entry, tmp_path):
    _, entry = measured_entry
    entry["metrics"]["fid"]["per_seed"][1] = 0.5
    vals = entry["metrics"]["fid"]["per_seed"]
    entry["metrics"]["fid"]["mean"] = statistics.fmean(vals)
    entry["metrics"]["fid"]["std"] = statistics.stdev(vals)
    (msg,) = _problems(entry, tmp_path)
    assert msg == (f"$.metrics.fid.per_seed[1]: results file {tmp_path / 'results-seed1.json'} has fid = 99.0; "
                   "the entry has 0.5")


def test_wrong_results_hash(measured_entry, tmp_path):
    _, entry = measured_entry
    real = entry["runs"][2]["results_file"]["sha256"]
    entry["runs"][2]["results_file"]["sha256"] = "0" * 64
    assert _problems(entry, tmp_path) == [
        f"$.runs[2].results_file.sha256: {tmp_path / 'results-seed2.json'} has content sha256 {real} (timings left out); the entry says {'0' * 64}"
    ]


def test_wrong_checkpoint_hash(measured_entry, tmp_path):
    _, entry = measured_entry
    ck = tmp_path / "ck.pt"
    ck.write_bytes(b"weights")
    entry["runs"][0]["checkpoint"]["path"] = "ck.pt"
    (msg,) = _problems(entry, tmp_path)
    assert msg.startswith(f"$.runs[0].checkpoint.path: {ck}: not a readable initbench checkpoint, so its weights cannot")


def test_results_file_whose_mean_its_per_input_values_do_not_give(make_results, tmp_path):
    from initbench.leaderboard.results import build_entry

    p = make_results(0, lpips=(0.2, 0.4), metrics={"lpips_diversity": 0.5})
    entry = build_entry([p], benchmark="init-v1", code_url="u", command="c", entry_dir=tmp_path)
    assert _problems(entry, tmp_path) == [
        f"$.metrics.lpips_diversity.per_seed[0]: results file {p}: its per-input values give "
        f"lpips_diversity = {statistics.fmean([0.2, 0.2 + 0.01, 0.4, 0.4 + 0.01])!r}; it states 0.5"
    ]
    assert entry["metrics"]["lpips_diversity"]["std"] is None  # one seed: no std


def test_mismatched_fingerprint(make_results, tmp_path):
    from initbench.leaderboard.results import build_entry

    fp = {"lpips_backbone": "random", "lpips_backbone_seed": 0, "lpips_linear": "b" * 64, "classifier": "c" * 64,
          "classifier_arch": "small", "fid_features": None}
    p = make_results(0, fingerprint=fp, metrics={"fid": None})
    entry = build_entry([p], benchmark="init-v1", code_url="u", command="c", entry_dir=tmp_path)
    assert _problems(entry, tmp_path) == [
        "$.fingerprint.lpips_backbone: benchmark init-v1 expects the sha256 of a pretrained network (not 'random', "
        "not null); found 'random'",
        "$.fingerprint.classifier_arch: benchmark init-v1 expects 'inception_v3'; found 'small'",
    ]
    entry["benchmark"] = "mini-init"  # the synthetic benchmark accepts a random LPIPS backbone
    assert _problems(entry, tmp_path) == []
    # ... but the results file must carry the fingerprint the entry states.
    entry["fingerprint"] = dict(fp, classifier="d" * 64)
    entry["fingerprint"]["classifier"] = "d" * 64
    (msg,) = _problems(entry, tmp_path)
    assert msg.startswith(f"$.runs[0]: results file {p}: fingerprint is ")


def test_unknown_task(measured_entry, tmp_path):
    _, entry = measured_entry
    entry["task"] = "sunny2snow"
    assert _problems(entry, tmp_path, check_files=False) == [
        "$.task: unknown task 'sunny2snow' for benchmark init-v1; expected one of sunny2night, night2sunny, "
        "sunny2rainy, rainy2sunny, sunny2cloudy, cloudy2sunny"
    ]


def test_measured_entry_may_not_use_the_ambiguous_cis(measured_entry, tmp_path):
    _, entry = measured_entry
    entry["metrics"]["cis"] = copy.deepcopy(entry["metrics"]["cis_kl"])
    (msg,) = _problems(entry, tmp_path, check_files=False)
    assert msg.startswith("$.metrics: ")


def test_unreadable_file_is_a_problem_of_that_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  \"kind\": \n}")
    report = validate_files([bad])
    assert [str(p) for p in report.problems] == [f"{bad}: $: line 3: not valid JSON: Expecting value (column 1)"]


def test_metric_without_its_network_and_protocol_overrides(make_results, tmp_path):
    from initbench.leaderboard.results import build_entry

    p = make_results(0, protocol_spec={"version": "v1", "pairing": "munit", "overrides": {"num_inputs": 3}})
    entry = build_entry([p], benchmark="init-v1", code_url="u", command="c", entry_dir=tmp_path)
    entry["fingerprint"]["fid_features"] = None
    assert _problems(entry, tmp_path, check_files=False) == [
        "$.protocol_overrides: benchmark init-v1 needs the published protocol v1; the results override ['num_inputs']",
        "$.fingerprint.fid_features: required by metric 'fid'; found null",
    ]


def test_build_refuses_mixed_configurations(make_results, tmp_path):
    from initbench.errors import UsageError
    from initbench.leaderboard.results import build_entry

    a = make_results(0)
    b = make_results(1, task="sunny2rainy")
    with pytest.raises(UsageError, match=f"RESULTS: {b} has task 'sunny2rainy' but {a} has 'sunny2night'"):
        build_entry([a, b], benchmark="init-v1", code_url="u", command="c")
    c = make_results(2, name="same-ckpt.json", checkpoint_sha256=f"{1:064x}")
    with pytest.raises(UsageError, match="two results evaluate the same checkpoint"):
        build_entry([a, c], benchmark="init-v1", code_url="u", command="c")
    d = make_results(3, name="noseed.json", training_seed=None)
    with pytest.raises(UsageError, match="--seeds: neither the results nor --checkpoint files give the training seed"):
        build_entry([d], benchmark="init-v1", code_url="u", command="c")
    assert build_entry([d], benchmark="init-v1", code_url="u", command="c", seeds=[7])["seeds"] == [7]


def test_average_components_must_match_the_per_task_entries(repo_root, tmp_path):
    src = repo_root / "leaderboards" / "init-v1"
    files = []
    for p in iter_entry_files(repo_root / "leaderboards", "init-v1"):
        e = json.loads(p.read_text())
        if e["method"] != "cyclegan":
            continue
        if e["task"] == "average" and "lpips_diversity" in e["metrics"]:
            e["metrics"]["lpips_diversity"]["components"]["sunny2night"] = 0.017  # the average still rounds to 0.012
        q = tmp_path / p.relative_to(src)
        q.parent.mkdir(parents=True, exist_ok=True)
        q.write_text(json.dumps(e))
        files.append(q)
    report = validate_files(files)
    assert [(p.path, p.message) for p in report.problems] == [
        ("$.metrics.lpips_diversity.components.sunny2night", "0.017 differs from the sunny2night entry's reported 0.016")
    ]
