"""Submission: atomic, content-named, duplicates refused, results copied and still checkable."""

from __future__ import annotations

import json
import os

import pytest

from initbench.leaderboard.entry import entry_hash
from initbench.leaderboard.store import SubmissionError, load_entries, submit
from initbench.leaderboard.validate import validate_files


def test_submit_writes_the_named_file_and_its_results(measured_entry, tmp_path):
    path, entry = measured_entry
    root = tmp_path / "lb"
    done = submit(path, root)
    stored = json.loads(done.path.read_text())
    assert done.path == root / "init-v1" / "sunny2night" / f"munit-{entry_hash(stored)[:8]}.json"
    assert [r["results_file"]["path"] for r in stored["runs"]] == [
        f"results/{r['results_file']['sha256'][:16]}.json" for r in entry["runs"]]
    assert len(done.copied_results) == 3
    report = validate_files([done.path])  # hashes and values checked against the copies
    assert report.problems == [] and len(report.checked) == 3 and report.unchecked == []
    assert [p.name for p in (root / "init-v1" / "sunny2night").iterdir() if p.name.startswith(".")] == []


def test_duplicate_is_refused(measured_entry, tmp_path):
    path, entry = measured_entry
    root = tmp_path / "lb"
    submit(path, root)
    with pytest.raises(SubmissionError, match="duplicate of .*munit-.*json"):
        submit(path, root)
    # The same results with other metadata are a duplicate too.
    entry2 = dict(entry, label="MUNIT again")
    p2 = tmp_path / "entry2.json"
    p2.write_text(json.dumps(entry2))
    with pytest.raises(SubmissionError, match="same entry or same results files"):
        submit(p2, root)
    assert len(load_entries(root)) == 1


def test_invalid_entry_writes_nothing(measured_entry, tmp_path):
    path, entry = measured_entry
    entry["metrics"]["fid"]["mean"] += 1
    path.write_text(json.dumps(entry))
    with pytest.raises(SubmissionError) as info:
        submit(path, tmp_path / "lb")
    assert [p.path for p in info.value.report.problems] == ["$.metrics.fid.mean"]
    assert not (tmp_path / "lb").exists()


def test_interrupted_write_leaves_no_file(measured_entry, tmp_path, monkeypatch):
    path, _ = measured_entry
    root = tmp_path / "lb"

    def boom(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "link", boom)
    with pytest.raises(KeyboardInterrupt):
        submit(path, root)
    task_dir = root / "init-v1" / "sunny2night"
    assert sorted(p.name for p in task_dir.iterdir()) == ["results"]  # no entry, no temporary file
    assert all(not p.name.startswith(".") for p in (task_dir / "results").iterdir())
    monkeypatch.undo()
    done = submit(path, root)  # and a retry succeeds
    assert done.path.exists()
