"""The conventions every command shares: ``--json -`` is one JSON document alone on stdout, Ctrl-C
exits 130 saying so, and an unexpected failure is one line, never a traceback."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from initbench.cli import main


def _json_alone(result) -> dict | list:
    """The document on stdout; fails if anything else was written there."""
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def manifest_of_root(mini_init_root, tmp_path_factory):
    path = tmp_path_factory.mktemp("manifest") / "m.csv"
    r = CliRunner().invoke(main, ["manifest", "build", str(mini_init_root), "--out", str(path)])
    assert r.exit_code == 0, r.output
    return path


def test_synth_json_to_stdout_is_the_only_output(tmp_path):
    r = CliRunner().invoke(main, ["synth", str(tmp_path / "s"), "--per-domain", "2", "--size", "64x40", "--json", "-"])
    doc = _json_alone(r)
    assert doc["images"] == {"sunny": 2, "night": 2, "cloudy": 2, "rainy": 2}
    assert "synthetic mini-INIT" in r.stderr  # the human table moved to stderr, it did not vanish


@pytest.mark.parametrize("args", [
    ["verify-dataset", "{root}"],
    ["stats", "{root}"],
    ["manifest", "check", "{root}", "{manifest}"],
    ["manifest", "build", "{root}", "--out", "{tmp}/m2.csv"],
    ["prepare", "{root}", "{tmp}/prepared", "--size", "20"],
])
def test_json_dash_keeps_stdout_pure(args, mini_init_root, manifest_of_root, tmp_path):
    argv = [a.format(root=mini_init_root, manifest=manifest_of_root, tmp=tmp_path) for a in args] + ["--json", "-"]
    doc = _json_alone(CliRunner().invoke(main, argv))
    assert isinstance(doc, dict) and doc


def test_train_classifier_json_dash(mini_init_root, tmp_path):
    r = CliRunner().invoke(main, ["train-classifier", str(mini_init_root), "--out", str(tmp_path / "c.pt"), "--small",
                                  "--epochs", "1", "--max-per-domain", "4", "--json", "-"])
    doc = _json_alone(r)
    assert doc["arch"] == "small" and 0.0 <= doc["accuracy"] <= 1.0


def test_ctrl_c_exits_130_and_says_interrupted(monkeypatch, tmp_path):
    from initbench.dataset import synthetic

    def stop(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(synthetic, "synthesize", stop)
    r = CliRunner().invoke(main, ["synth", str(tmp_path / "s")])
    assert r.exit_code == 130
    assert "interrupted" in r.stderr and r.stdout == ""


def test_unexpected_failure_is_one_line_without_traceback(monkeypatch, tmp_path):
    from initbench.dataset import synthetic

    def boom(*a, **k):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(synthetic, "synthesize", boom)
    monkeypatch.delenv("INITBENCH_DEBUG", raising=False)
    r = CliRunner().invoke(main, ["synth", str(tmp_path / "s")])
    assert r.exit_code == 2
    assert "Traceback" not in r.output
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "unexpected RuntimeError: disk on fire" in lines[0] and "INITBENCH_DEBUG=1" in lines[0]
    monkeypatch.setenv("INITBENCH_DEBUG", "1")
    r = CliRunner().invoke(main, ["synth", str(tmp_path / "s2")])
    assert isinstance(r.exception, RuntimeError)  # the debug switch lets the traceback through


def test_manifest_build_offers_the_whole_drive_split(mini_init_v2_root, tmp_path):
    r = CliRunner().invoke(main, ["manifest", "build", str(mini_init_v2_root), "--out", str(tmp_path / "m.csv"),
                                  "--split", "drives", "--json", "-"])
    doc = _json_alone(r)
    assert doc["split"] == "drives" and doc["leaky_test_frames"] == 0
    assert all(d["gap"] == 0 and d["test"] > 0 for d in doc["per_domain"].values())


def test_ctrl_c_in_train_says_how_to_resume_only_when_there_is_a_checkpoint(monkeypatch, tmp_path):
    from initbench.training import trainer

    def stop(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "train", stop)
    out = tmp_path / "run"
    args = ["train", "--method", "init", "--data", str(tmp_path), "--out", str(out)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 130 and "no checkpoint was written yet" in " ".join(r.stderr.split())
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"")
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 130
    assert f"resume with: initbench train --out {out} --resume" in " ".join(r.stderr.split())
