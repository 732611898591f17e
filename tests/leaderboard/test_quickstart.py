"""The quickstart end to end, small: every stage runs, a rerun reuses them all, an interruption
leaves no half-written file and the next run finishes the job."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from initbench.cli import main
from initbench.leaderboard.store import iter_entry_files, load_entries
from initbench.leaderboard.validate import validate_files
from initbench.quickstart import QuickstartOptions, run_quickstart

SMALL = dict(steps=2, per_domain=16, classifier_epochs=1, eval_inputs=2, eval_samples=2, grid_inputs=2,
             grid_styles=2, lpips_backbone="random")


def _tmp_files(root):
    return [p for p in root.rglob("*") if ".tmp" in p.name]


def test_quickstart_end_to_end_rerun_and_interrupt(tmp_path):
    out = tmp_path / "qs"
    opts = QuickstartOptions(out=str(out), submit_to=str(tmp_path / "lb"), **SMALL)

    # An interruption inside evaluation (a Ctrl-C arriving from a progress callback).
    def interrupt(stage, done, total, info):
        if stage == "evaluate-munit":
            raise KeyboardInterrupt

    events = []
    with pytest.raises(KeyboardInterrupt):
        run_quickstart(opts, progress=interrupt, on_stage=lambda e, s, d: events.append((e, s)))
    assert ("done", "evaluate-init") in events and ("done", "evaluate-munit") not in events
    assert not (out / ".stages" / "evaluate-munit.json").exists()
    assert _tmp_files(out) == []

    # The rerun reuses everything that finished and does the rest.
    events.clear()
    result = run_quickstart(opts, on_stage=lambda e, s, d: events.append((e, s)))
    assert result["reused"] == ["synth", "verify", "classifier", "train-init", "train-munit", "evaluate-init"]
    assert [s for e, s in events if e == "done"] == ["evaluate-munit", "leaderboard", "report"]
    assert _tmp_files(out) == []

    # Entries: valid, results hashes checked, written both in OUT and in --submit-to.
    lb = result["stages"]["leaderboard"]
    for root in (out / "leaderboards", tmp_path / "lb"):
        files = list(iter_entry_files(root, "mini-init", "sunny2night"))
        assert sorted(p.name.split("-")[0] for p in files) == ["init", "munit"]
        report = validate_files(files)
        assert report.problems == [] and report.unchecked == [] and len(report.checked) == 2
    entries = dict((e["method"], e) for _, e in load_entries(tmp_path / "lb"))
    assert entries["init"]["protocol_overrides"] == {"num_inputs": 2, "samples_per_input": 2, "short_side": 64}
    assert entries["init"]["fingerprint"]["lpips_backbone"] == "random"
    assert set(lb["ranking"]) >= {"lpips_diversity", "cis_exp", "is_exp"}

    # The report holds the metric table, one grid per method (inputs + 2 styles) and the loss curves.
    html = (out / "report.html").read_text()
    assert html.count("<table") == len(lb["ranking"])
    assert html.count("data:image/png;base64,") == 2 and html.count("<svg") >= 2
    assert "LPIPS: --lpips-backbone random" in html

    # A third run changes nothing and submits nothing twice.
    again = run_quickstart(opts)
    assert again["reused"] == [s for s in again["stages"]]
    assert len(list(iter_entry_files(tmp_path / "lb"))) == 2

    # The CLI prints the ranked table from the finished stages.
    r = CliRunner().invoke(main, ["quickstart", "--out", str(out), "--steps", "2", "--per-domain", "16",
                                  "--classifier-epochs", "1", "--eval-inputs", "2", "--eval-samples", "2",
                                  "--lpips-backbone", "random", "--submit-to", str(tmp_path / "lb"), "--json", "-"])
    # grid settings differ from SMALL's (CLI defaults), so only the report is redone
    assert r.exit_code == 0, r.output
    assert "mini-init · sunny2night · LPIPS diversity" in r.stderr and "report:" in r.stderr
    assert set(json.loads(r.stdout)["stages"]) >= {"synth", "train-init", "report"}  # stdout: the document alone
    marker = json.loads((out / ".stages" / "report.json").read_text())
    assert marker["stage"] == "report"


def test_two_identical_quickstart_runs_give_identical_entries(tmp_path):
    """Same settings in two folders: same weights, numbers and fingerprints, so the same entries (names and
    content); only the creation time may differ, and it is not part of an entry's identity."""
    entries = []
    for name in ("a", "b"):
        out = tmp_path / name
        run_quickstart(QuickstartOptions(out=str(out), **SMALL))
        files = sorted(iter_entry_files(out / "leaderboards", "mini-init", "sunny2night"))
        entries.append({p.name: {k: v for k, v in json.loads(p.read_text()).items() if k != "created"} for p in files})
    assert entries[0] == entries[1] and len(entries[0]) == 2
    fingerprints = {e["fingerprint"]["classifier"] for e in entries[0].values()}
    assert len(fingerprints) == 1 and len(fingerprints.pop()) == 64
