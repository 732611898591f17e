"""``initbench pretrained``, ``--pretrained NAME`` on evaluate / translate / export-official, and the bundler's command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from initbench.cli import main

NAME = "mini-init-v2/sunny2night/init"  # the model the conftest bundles
SMALL_EVAL = ["--protocol", "paired-v1", "--lpips-backbone", "random", "--num-inputs", "2", "--samples-per-input", "2"]


def _oneline(text: str) -> str:
    return " ".join(text.split())


def test_the_list_is_one_json_document_and_exit_1_names_a_missing_file(models_dir, catalogue_entry):
    res = CliRunner().invoke(main, ["pretrained", "--json", "-"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [(m["name"], m["status"], m["found_sha256"]) for m in doc["models"]] == [(NAME, "intact", catalogue_entry["sha256"])]
    assert doc["files_dir"] == str(models_dir)
    path = models_dir / catalogue_entry["file"]
    path.write_bytes(path.read_bytes()[:-1])
    res = CliRunner().invoke(main, ["pretrained", "--json", "-"])
    assert res.exit_code == 1 and json.loads(res.stdout)["models"][0]["status"] == "corrupt"
    path.unlink()
    res = CliRunner().invoke(main, ["pretrained", "--json", "-"])
    assert res.exit_code == 1 and json.loads(res.stdout)["models"][0]["status"] == "missing"
    assert _oneline(res.stderr) == f"missing: {NAME}: expected {path} with sha256 {catalogue_entry['sha256']}"
    table = CliRunner().invoke(main, ["pretrained", "--no-hash"])
    assert table.exit_code == 1 and "missing" in table.stdout and NAME in table.stdout


def test_an_empty_catalogue_is_fine(tmp_path, monkeypatch):
    monkeypatch.setenv("INITBENCH_PRETRAINED_CATALOGUE", str(tmp_path / "none.json"))  # absent: no model
    res = CliRunner().invoke(main, ["pretrained"])
    assert res.exit_code == 0 and _oneline(res.stdout).startswith("no reference models are bundled")
    res = CliRunner().invoke(main, ["pretrained", "--json", "-"])
    assert res.exit_code == 0 and json.loads(res.stdout)["models"] == []


@pytest.mark.parametrize("argv, message", [
    (["translate", "--input", "x", "--out", "y", "--ckpt", "c.pt"], "error: --pretrained: not with --ckpt (give one model)"),
    (["evaluate", "--method", "init", "--data", ".", "--task", "sunny2night", "--official-ckpt", __file__],
     "error: --pretrained: not with --official-ckpt (give one model)"),
    (["evaluate", "--method", "munit", "--data", ".", "--task", "sunny2night"],
     f"error: --pretrained {NAME}: holds a 'init' model; --method says 'munit'"),
    (["translate", "--method", "cyclegan", "--input", "x", "--out", "y"],
     f"error: --pretrained {NAME}: holds a 'init' model; --method says 'cyclegan'"),
    (["export-official", "--method", "munit", "--out", "y.pt"], f"error: --pretrained {NAME}: holds a 'init' model; --method says 'munit'"),
    (["evaluate", "--method", "init", "--data", ".", "--task", "sunny2night", "--pretrained", "nope"],
     f"error: --pretrained: unknown model 'nope'; available are: {NAME}"),
])
def test_pretrained_is_one_model_of_the_right_method(models_dir, argv, message):
    args = argv if "--pretrained" in argv else [*argv, "--pretrained", NAME]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and _oneline(res.output) == message


def test_export_official_needs_a_checkpoint():
    res = CliRunner().invoke(main, ["export-official", "--method", "munit", "--out", "y.pt"])
    assert res.exit_code == 2 and _oneline(res.output) == "error: --ckpt / --pretrained: expected one of them"


def test_evaluate_records_the_bundled_model_and_finds_the_catalogue_numbers(models_dir, mini_init_v2_root, catalogue_entry,
                                                                           trained_run):
    from initbench.digests import results_digest
    from initbench.evaluation.result import schema_problems

    res = CliRunner().invoke(main, ["evaluate", "--method", "init", "--pretrained", NAME, "--data", str(mini_init_v2_root),
                                    "--task", "sunny2night", *SMALL_EVAL, "--json", "-"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["pretrained"] == {"name": NAME, "sha256": catalogue_entry["sha256"]}
    assert doc["checkpoint_sha256"] == catalogue_entry["sha256"] and doc["weights_sha256"] == catalogue_entry["weights_sha256"]
    assert schema_problems(doc) == []
    (recorded,) = catalogue_entry["results"]
    assert {k: doc["metrics"][k] for k in recorded["metrics"]} == recorded["metrics"]  # the run's numbers, exactly
    assert json.loads(trained_run["paired"].read_text())["metrics"] == doc["metrics"]
    # how the model was named is not what was found: the digest leaves it out
    assert results_digest(doc) == results_digest({k: v for k, v in doc.items() if k != "pretrained"})
    assert results_digest(doc) != results_digest({**doc, "weights_sha256": "0" * 64})


def test_the_bundler_command(trained_run, models_dir):
    from initbench.cli.pretrained_cmds import bundle_cmd

    base = [str(trained_run["run"]), "--name", "mini-init-v2b/sunny2night/init", "--command", "initbench train ...",
            "--results", str(trained_run["paired"])]
    res = CliRunner().invoke(bundle_cmd, [*base, "--seconds", "12.5", "--machine", "1x test CPU", "--json", "-"])
    assert res.exit_code == 0, res.output
    entry = json.loads(res.stdout)
    assert entry["training"] == {"seconds": 12.5, "steps": 2, "machine": "1x test CPU", "ema_folded": True}
    assert (models_dir / entry["file"]).is_file() and entry["catalogue"] == str(models_dir / "catalogue.json")
    res = CliRunner().invoke(bundle_cmd, base)
    assert res.exit_code == 2
    assert _oneline(res.output) == ("error: --seconds / --train-json: give the training time (or the summary of "
                                    "`initbench train --json`)")
    helped = subprocess.run([sys.executable, "-m", "initbench.pretrained.bundle", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "python -m initbench.pretrained.bundle" in helped.stdout


def test_report_finds_a_bundled_model_by_name(models_dir, mini_init_v2_root, trained_run, tmp_path):
    """Results made with --pretrained NAME are rows of NAME, and their grids and style space come from the bundled
    file; --pretrained also adds a model to the report; an unknown name is refused before any work."""
    res = tmp_path / "r.json"
    ev = CliRunner().invoke(main, ["evaluate", "--method", "init", "--pretrained", NAME, "--data", str(mini_init_v2_root),
                                   "--task", "sunny2night", *SMALL_EVAL, "--out", str(res)])
    assert ev.exit_code == 0, ev.output
    out = tmp_path / "r.html"
    r = CliRunner().invoke(main, ["report", str(res), "--pretrained", NAME, "--data", str(mini_init_v2_root),
                                  "--grid-inputs", "1", "--grid-styles", "1", "--style-images", "3", "--out", str(out),
                                  "--json", "-"])
    assert r.exit_code == 0, r.output
    html = out.read_text()
    assert f"{NAME} (r.json)" in html and f"<h3>{NAME}</h3>" in html
    assert "no translations" not in html
    bad = CliRunner().invoke(main, ["report", str(res), "--pretrained", "mini-init-v2/sunny2night/nope", "--out",
                                    str(tmp_path / "bad.html")])
    assert bad.exit_code == 2 and "available are: mini-init-v2/sunny2night/init" in bad.output
    assert not (tmp_path / "bad.html").exists()


def test_translate_dataset_takes_a_bundled_model(models_dir, mini_init_v2_root, trained_run, tmp_path):
    """translate-dataset --pretrained NAME writes the same images as the run's own checkpoint."""
    common = ["--data", str(mini_init_v2_root), "--split", "test", "--split-rule", "drives", "--domain", "sunny",
              "--size", "32"]
    a = CliRunner().invoke(main, ["translate-dataset", "--pretrained", NAME, *common, "--out", str(tmp_path / "a")])
    b = CliRunner().invoke(main, ["translate-dataset", "--method", "init", "--ckpt", str(trained_run["ckpt"]), *common,
                                  "--out", str(tmp_path / "b")])
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    pngs = sorted(str(p.relative_to(tmp_path / "a" / "images")) for p in (tmp_path / "a" / "images").rglob("*.png"))
    assert pngs and pngs == sorted(str(p.relative_to(tmp_path / "b" / "images")) for p in (tmp_path / "b" / "images").rglob("*.png"))
    assert all((tmp_path / "a" / "images" / n).read_bytes() == (tmp_path / "b" / "images" / n).read_bytes() for n in pngs)
    none = CliRunner().invoke(main, ["translate-dataset", *common, "--out", str(tmp_path / "c")])
    assert none.exit_code == 2 and "--ckpt / --pretrained: expected one of them" in none.output
