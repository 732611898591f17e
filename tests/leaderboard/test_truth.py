"""Entries tell the truth: conformance, data fingerprint and direction are carried from the results and
checked against them; `show` ranks validated entries only."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from initbench.cli import main
from initbench.errors import UsageError
from initbench.digests import results_digest
from initbench.leaderboard.render import build_tables
from initbench.leaderboard.results import build_entry
from initbench.leaderboard.store import submit
from initbench.leaderboard.validate import validate_entry

RANDOM_LPIPS = "lpips backbone is random (protocol: pretrained AlexNet)"


def _build(paths, tmp_path, benchmark="init-v1"):
    return build_entry(paths, benchmark=benchmark, code_url="u", command="c", entry_dir=tmp_path,
                       created="2026-12-01T00:00:00+00:00")


def _report(entry, tmp_path):
    r = validate_entry(entry, "e.json", base_dir=tmp_path)
    return [f"{p.path}: {p.message}" for p in r.problems], r.unchecked


def _rewrite(path, entry, i=0, **changes):
    """Change a results file after the entry was built, and re-hash it in the entry (a consistent forgery)."""
    res = json.loads(path.read_text())
    for k, v in changes.items():
        if v is None:
            res.pop(k, None)
        else:
            res[k] = v
    path.write_text(json.dumps(res))
    entry["runs"][i]["results_file"]["sha256"] = results_digest(res)


def test_entry_carries_conformance_and_data_fingerprint(make_results, tmp_path):
    p = make_results(0)
    entry = _build([p], tmp_path)
    res = json.loads(p.read_text())
    assert (entry["conformant"], entry["nonconformant_reasons"]) == (True, [])
    assert entry["data_fingerprint"] == res["data_fingerprint"] and len(entry["data_fingerprint"]) == 64
    assert _report(entry, tmp_path) == ([], [])


def test_validate_checks_the_data_fingerprint_against_the_results(make_results, tmp_path):
    p = make_results(0)
    entry = _build([p], tmp_path)
    real = entry["data_fingerprint"]
    entry["data_fingerprint"] = "0" * 64
    assert _report(entry, tmp_path)[0] == [
        f"$.runs[0]: results file {p}: data_fingerprint is {real!r}; the entry has {'0' * 64!r}"]


def test_a_data_fingerprint_its_keys_do_not_give_is_refused(make_results, tmp_path):
    p = make_results(0, data_fingerprint="0" * 64)
    with pytest.raises(UsageError, match=rf"^RESULTS: {p}: its data keys give data_fingerprint '[0-9a-f]{{64}}'; "
                                         rf"it states '0{{64}}'$"):
        _build([p], tmp_path)


def test_seeds_on_other_data_are_not_one_entry(make_results, tmp_path):
    a = make_results(0)
    data = {"split": "v1", "inputs": ["sunny/9.png"], "reference": ["night/0.png"]}
    from initbench.evaluation.conformance import data_fingerprint

    b = make_results(1, data=data, data_fingerprint=data_fingerprint("v1", data["inputs"], data["reference"]))
    with pytest.raises(UsageError, match=f"RESULTS: {b} has data_fingerprint '[0-9a-f]+' but {a} has"):
        _build([a, b], tmp_path)


def test_entries_on_other_data_are_ranked_in_separate_groups(make_results, tmp_path):
    from initbench.evaluation.conformance import data_fingerprint

    a = _build([make_results(0, name="a.json")], tmp_path)
    data = {"split": "v1", "inputs": ["sunny/9.png"], "reference": []}
    b = _build([make_results(1, name="b.json", method="init", data=data,
                             data_fingerprint=data_fingerprint("v1", data["inputs"], []))], tmp_path)
    tables = [t for t in build_tables([("a", a), ("b", b)]) if t.metric == "lpips_diversity"]
    assert sorted(len(t.rows) for t in tables) == [1, 1]  # never ranked together
    groups = {t.rows[0].label: t.group for t in tables}
    assert f"data {a['data_fingerprint'][:12]}," in groups["munit"]
    assert f"data {b['data_fingerprint'][:12]}," in groups["init"]


@pytest.mark.parametrize("changes, message", [
    ({"model_task": "sunny2rainy"}, "model_task 'sunny2rainy' is neither the task 'sunny2night' nor its reverse "
                                    "'night2sunny'"),
    ({"direction": "b2a"}, "direction 'b2a' with model_task 'sunny2night' on task 'sunny2night'; expected 'a2b'"),
    ({"model_task": "night2sunny"}, "direction 'a2b' with model_task 'night2sunny' on task 'sunny2night'; "
                                    "expected 'b2a'"),
])
def test_direction_must_match_the_model_task(make_results, tmp_path, changes, message):
    p = make_results(0, **changes)
    with pytest.raises(UsageError) as exc:
        _build([p], tmp_path)
    assert str(exc.value) == f"RESULTS: {p}: {message}"
    good = make_results(1, name="good.json")
    entry = _build([good], tmp_path)
    _rewrite(good, entry, **changes)
    assert _report(entry, tmp_path)[0] == [f"$.runs[0]: results file {good}: {message}"]


def test_reverse_model_task_run_b2a_is_accepted(make_results, tmp_path):
    p = make_results(0, model_task="night2sunny", direction="b2a")
    assert _report(_build([p], tmp_path), tmp_path) == ([], [])


def test_results_without_direction_are_unknown_not_ok(make_results, tmp_path):
    p = make_results(0, direction=None, model_task=None)
    problems, unchecked = _report(_build([p], tmp_path), tmp_path)
    assert problems == []
    assert unchecked == [f"e.json: $.runs[0]: results file {p} records no direction/model_task (an older "
                         "evaluator): the translation direction is not checked"]


def test_init_v1_ranks_conformant_results_only(make_results, tmp_path):
    p = make_results(0, conformant=False, nonconformant_reasons=[RANDOM_LPIPS])
    entry = _build([p], tmp_path)
    assert (entry["conformant"], entry["nonconformant_reasons"]) == (False, [RANDOM_LPIPS])
    assert _report(entry, tmp_path)[0] == [
        f"$.conformant: benchmark init-v1 ranks conformant results only; these are not: {RANDOM_LPIPS}"]
    entry["benchmark"] = "mini-init"
    assert _report(entry, tmp_path) == ([], [])
    entry["conformant"] = True  # a verdict that contradicts its own reasons
    problems, _ = _report(entry, tmp_path)
    assert problems == [f"$.conformant: is True with reasons ['{RANDOM_LPIPS}']; expected true exactly when there "
                        "are no reasons",
                        f"$.runs[0]: results file {p}: conformance is [False, ['{RANDOM_LPIPS}']]; the entry has "
                        f"[True, ['{RANDOM_LPIPS}']]"]


def test_results_without_reasons_are_not_conformant(make_results, tmp_path):
    p = make_results(0, nonconformant_reasons=None, data=None, data_fingerprint=None)
    entry = _build([p], tmp_path)
    why = "conformance unknown (results written before nonconformant_reasons were recorded)"
    assert (entry["conformant"], entry["nonconformant_reasons"], entry["data_fingerprint"]) == (False, [why], None)
    problems, unchecked = _report(entry, tmp_path)
    assert problems == [f"$.conformant: benchmark init-v1 ranks conformant results only; these are not: {why}"]
    assert unchecked == [f"e.json: $.runs[0]: results file {p} records no data_fingerprint: the data is unknown"]


def _submitted(make_results, tmp_path):
    """A mini-init entry of a quick run (protocol overrides recorded), submitted to tmp_path/lb."""
    spec = {"version": "v1", "pairing": "munit", "overrides": {"num_inputs": 3}}
    p = make_results(0, protocol_spec=spec, conformant=False, nonconformant_reasons=["protocol overridden: num_inputs=3"])
    entry = _build([p], tmp_path, benchmark="mini-init")
    src = tmp_path / "entry.json"
    src.write_text(json.dumps(entry))
    return submit(src, tmp_path / "lb").path


def test_show_leaves_out_an_entry_whose_overrides_were_emptied(make_results, tmp_path):
    """Seen: an entry whose protocol_overrides were emptied was shown as plain protocol v1."""
    path = _submitted(make_results, tmp_path)
    args = ["leaderboard", "show", "--root", str(tmp_path / "lb"), "--format", "markdown"]
    shown = CliRunner().invoke(main, args)
    assert shown.exit_code == 0 and "| 1 | munit |" in shown.stdout
    e = json.loads(path.read_text())
    e["protocol_overrides"] = {}
    path.write_text(json.dumps(e))
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0 and res.stdout == "_No entries._\n"
    assert "left out" in res.stderr and "protocol overrides is {'num_inputs': 3}; the entry has {}" in res.stderr


def test_show_marks_an_entry_it_could_not_check(make_results, tmp_path):
    path = _submitted(make_results, tmp_path)
    for f in (path.parent / "results").iterdir():
        f.unlink()
    res = CliRunner().invoke(main, ["leaderboard", "show", "--root", str(tmp_path / "lb"), "--format", "markdown"])
    assert res.exit_code == 0 and "| 1 | munit (1) |" in res.stdout
    assert "- (1) not verified against its results files: $.runs[0].results_file: " in res.stdout


def test_an_entry_from_before_conformance_says_how_to_fix_it(measured_entry, tmp_path):
    _, entry = measured_entry
    del entry["data_fingerprint"]
    assert _report(entry, tmp_path)[0] == [
        "$.data_fingerprint: required field missing (an entry built before results recorded conformance and their "
        "data: rebuild it from results of the current evaluator)"]
