"""Fixtures of the bundled-model tests: one tiny INIT trained for 2 steps (with an EMA) on the small mini-INIT v2,
its paired-v1 results, and that run bundled into a temporary files folder and catalogue."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

NAME = "mini-init-v2/sunny2night/init"
TINY_INIT = ["--set", "dim=4", "--set", "n_res=1", "--set", "mlp_dim=16"]
SMALL_EVAL = ["--protocol", "paired-v1", "--lpips-backbone", "random", "--num-inputs", "2", "--samples-per-input", "2"]


@pytest.fixture(scope="session")
def trained_run(mini_init_v2_root, tmp_path_factory):
    """``{"run", "ckpt", "train_json", "paired"}``: a tiny INIT after 2 steps (EMA 0.9) and its paired-v1 results."""
    from initbench.cli import main

    run = tmp_path_factory.mktemp("pretrained_run") / "run"
    train_json = run.parent / "train.json"
    res = CliRunner().invoke(main, ["train", "--method", "init", "--data", str(mini_init_v2_root), "--task", "sunny2night",
                                    "--preset", "tiny", "--out", str(run), "--max-steps", "2", "--ema", "0.9", "--threads", "1",
                                    "--device", "cpu", "--json", str(train_json), *TINY_INIT])
    assert res.exit_code == 0, res.output
    paired = run.parent / "paired.json"
    res = CliRunner().invoke(main, ["evaluate", "--method", "init", "--ckpt", str(run / "checkpoint.pt"), "--data",
                                    str(mini_init_v2_root), "--task", "sunny2night", *SMALL_EVAL, "--out", str(paired)])
    assert res.exit_code == 0, res.output
    return {"run": run, "ckpt": run / "checkpoint.pt", "train_json": train_json, "paired": paired}


@pytest.fixture(scope="session")
def bundled_dir(trained_run, tmp_path_factory):
    """A files folder holding ``catalogue.json`` and the bundled :data:`NAME` (read-only: copy it to change it)."""
    from initbench.pretrained.bundle import bundle

    folder = tmp_path_factory.mktemp("pretrained_files")
    bundle(trained_run["run"], name=NAME, command="initbench train --method init --preset tiny ...",
           results=[trained_run["paired"]], train_json=trained_run["train_json"], machine="test machine",
           directory=folder, catalogue=folder / "catalogue.json")
    return folder


@pytest.fixture
def models_dir(bundled_dir, tmp_path, monkeypatch):
    """A private copy of :func:`bundled_dir`, which ``INITBENCH_PRETRAINED_DIR`` and ``..._CATALOGUE`` point at."""
    folder = tmp_path / "models"
    shutil.copytree(bundled_dir, folder)
    monkeypatch.setenv("INITBENCH_PRETRAINED_DIR", str(folder))
    monkeypatch.setenv("INITBENCH_PRETRAINED_CATALOGUE", str(folder / "catalogue.json"))
    return folder


@pytest.fixture
def catalogue_entry(bundled_dir):
    """The bundled model's catalogue entry (a fresh copy)."""
    return json.loads((bundled_dir / "catalogue.json").read_text())["models"][0]
