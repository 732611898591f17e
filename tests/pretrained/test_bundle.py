"""The bundler: a stripped checkpoint translates exactly as the full one, holds no training state, cannot resume a run,
and is refused when too large; results of another model and a name that contradicts the checkpoint are refused."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from click.testing import CliRunner

from initbench.cli import main
from initbench.dataset.png import write_png
from initbench.errors import CheckpointError, UsageError
from initbench.pretrained import bundle as B
from initbench.training.checkpoints import load_checkpoint, load_translator, save_checkpoint
from initbench.training.inference_only import strip_checkpoint

NAME = "mini-init-v2/sunny2night/init"  # the model the conftest bundles


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "in"
    g = torch.Generator().manual_seed(0)
    for stem in ("x", "y"):
        write_png(folder / f"{stem}.png", torch.randint(0, 256, (3, 40, 64), dtype=torch.uint8, generator=g))
    return folder


@pytest.mark.parametrize("task", ["sunny2night", "night2sunny"])
def test_the_bundled_model_translates_exactly_as_the_run_checkpoint(trained_run, models_dir, images, tmp_path, task):
    outs = {}
    for kind, source in (("ckpt", ["--ckpt", str(trained_run["ckpt"])]), ("pretrained", ["--pretrained", NAME])):
        outs[kind] = tmp_path / kind
        res = CliRunner().invoke(main, ["translate", *source, "--input", str(images), "--out", str(outs[kind]),
                                        "--num-styles", "2", "--seed", "5", "--task", task])
        assert res.exit_code == 0, res.output
    names = sorted(p.name for p in outs["ckpt"].glob("*.png"))
    assert names == ["x_s0.png", "x_s1.png", "y_s0.png", "y_s1.png"]
    assert all((outs["ckpt"] / n).read_bytes() == (outs["pretrained"] / n).read_bytes() for n in names)
    record = json.loads((outs["pretrained"] / "translate.json").read_text())
    assert record["pretrained"] == {"name": NAME, "sha256": json.loads((models_dir / "catalogue.json").read_text())["models"][0]["sha256"]}
    assert "pretrained" not in json.loads((outs["ckpt"] / "translate.json").read_text())


def test_the_bundled_file_holds_the_ema_generators_only_and_cannot_resume(trained_run, models_dir, catalogue_entry):
    path = models_dir / catalogue_entry["file"]
    small, full = load_checkpoint(path), load_checkpoint(trained_run["ckpt"])
    assert (small["inference_only"], small["ema_folded"], small["optimizers"], small["ema"], small["rng"]) == (True, True, {}, None, [])
    assert small["step"] == full["step"] == catalogue_entry["training"]["steps"] == 2
    assert sorted({k.split(".")[0] for k in small["model"]}) == ["gen_a", "gen_b"]
    assert any(k.startswith("dis_") for k in full["model"])
    for name, value in small["model"].items():  # the EMA weights where the run kept them, the raw ones otherwise
        assert torch.equal(value, full["ema"].get(name, full["model"][name])), name
    assert catalogue_entry["size_bytes"] == path.stat().st_size < trained_run["ckpt"].stat().st_size / 4
    assert small["train_config"]["out"] == "" and small["train_config"]["task"] == "sunny2night"
    with pytest.raises(CheckpointError, match="holds the EMA weights only"):
        load_translator(path, use_ema=False)
    run = models_dir.parent / "resumed"
    shutil.copytree(trained_run["run"], run)
    shutil.copy(path, run / "checkpoint.pt")
    res = CliRunner().invoke(main, ["train", "--method", "init", "--out", str(run), "--resume", "--max-steps", "3"])
    assert res.exit_code == 2
    assert " ".join(res.output.split()).startswith(f"error: --resume: {run / 'checkpoint.pt'} is an inference-only checkpoint")
    assert "cannot resume training" in res.output


@pytest.mark.parametrize("method, variant", [("init", None), ("init", "no-ds"), ("init", "multiscale"), ("munit", None),
                                             ("unit", None), ("drit", None), ("cyclegan", None)])
def test_every_method_strips_to_the_same_translations(tmp_path, method, variant):
    from initbench.methods.base import count_parameters, get_method
    from initbench.training.checkpoints import build_from_checkpoint
    from initbench.training.config import build_method_config

    torch.manual_seed(0)
    model = get_method(method).cls(build_method_config(method, "tiny", variant))
    gen = {id(p) for m in model.generator_modules() for p in m.parameters()}
    ema = {n: p.detach() + 0.01 * torch.randn_like(p) for n, p in model.named_parameters() if id(p) in gen}
    ckpt = save_checkpoint(tmp_path / "full.pt", method=method, config=model.config_dict(), model_state=model.state_dict(),
                           step=3, ema=ema, train_config={"task": "sunny2night"})
    full = load_translator(ckpt)
    small = build_from_checkpoint(strip_checkpoint(load_checkpoint(ckpt))).eval()
    assert count_parameters([small]) == count_parameters(full.generator_modules()) < count_parameters([full])
    B.check_same_translations(full, small, method)  # same weights, same outputs both ways
    if get_method(method).export_official is not None:  # export-official --pretrained: the generators, checked on reload
        from initbench.methods.official import export_checked

        out = tmp_path / ("export" if method == "cyclegan" else "export.pt")
        assert export_checked(small, out)["tensors_checked"] > 0
    broken = strip_checkpoint(load_checkpoint(ckpt))
    key = next(iter(broken["model"]))
    broken["model"][key] = broken["model"][key] + 1
    with pytest.raises(CheckpointError, match=f"differ from the checkpoint's at 1 tensor"):
        B.check_same_translations(full, build_from_checkpoint(broken).eval(), method)


def _bundle(trained_run, folder, **changes):
    kwargs = dict(name=NAME, command="initbench train --method init --preset tiny ...", results=[trained_run["paired"]],
                  train_json=trained_run["train_json"], machine="test machine", directory=folder,
                  catalogue=folder / "catalogue.json")  # as the conftest bundled it
    kwargs.update(changes)
    return B.bundle(trained_run["run"], **kwargs)


def test_too_large_a_file_or_catalogue_is_refused_and_nothing_is_written(trained_run, models_dir, catalogue_entry, monkeypatch):
    before = {p.name: p.read_bytes() for p in models_dir.iterdir()}
    size = catalogue_entry["size_bytes"]
    monkeypatch.setattr(B, "MAX_FILE_BYTES", size - 1)
    with pytest.raises(UsageError, match=rf"--name {NAME}: the inference-only file would be .* MiB; a bundled model may not exceed"):
        _bundle(trained_run, models_dir)
    monkeypatch.setattr(B, "MAX_FILE_BYTES", size)
    monkeypatch.setattr(B, "MAX_TOTAL_BYTES", 2 * size - 1)  # the model itself again fits; beside a second one it would not
    assert _bundle(trained_run, models_dir)["replaced"]
    with pytest.raises(UsageError, match=r"the bundled models would total .* MiB; the catalogue may not exceed .* \(1 other"):
        _bundle(trained_run, models_dir, name="mini-init-v2b/sunny2night/init")
    assert {p.name: p.read_bytes() for p in models_dir.iterdir()} == before  # bundling again wrote the same bytes (deterministic)


def test_a_second_model_is_added_beside_the_first(trained_run, models_dir):
    with pytest.raises(UsageError, match=r"--name: the checkpoint holds method 'init', variant None, task 'sunny2night': "
                                         r"expected 'mini-init-v2/sunny2night/init'; got 'mini-init-v2/sunny2night/munit'"):
        _bundle(trained_run, models_dir, name="mini-init-v2/sunny2night/munit")
    entry = _bundle(trained_run, models_dir, name=NAME.replace("mini-init-v2", "mini-init-v2b"))
    doc = json.loads((models_dir / "catalogue.json").read_text())
    assert [m["name"] for m in doc["models"]] == [NAME, "mini-init-v2b/sunny2night/init"] and not entry["replaced"]
    assert (models_dir / "mini-init-v2b__sunny2night__init.pt").read_bytes() == (models_dir / "mini-init-v2__sunny2night__init.pt").read_bytes()


def test_results_of_another_model_are_refused(trained_run, models_dir, tmp_path):
    doc = json.loads(trained_run["paired"].read_text())
    doc["weights_sha256"] = "0" * 64
    other = tmp_path / "other.json"
    other.write_text(json.dumps(doc))
    with pytest.raises(UsageError, match=rf"--results {other}: evaluated weights with sha256 0000000000000000...; the checkpoint's are"):
        _bundle(trained_run, models_dir, results=[other])
    doc = json.loads(trained_run["paired"].read_text())
    doc["method"] = "munit"
    other.write_text(json.dumps(doc))
    with pytest.raises(UsageError, match="evaluates method 'munit'; the checkpoint holds 'init'"):
        _bundle(trained_run, models_dir, results=[other])


def test_the_catalogue_records_the_run(catalogue_entry, trained_run):
    from initbench.digests import results_digest

    summary = json.loads(trained_run["train_json"].read_text())
    results = json.loads(trained_run["paired"].read_text())
    assert catalogue_entry["training"] == {"seconds": round(summary["seconds"], 3), "steps": 2, "machine": "test machine",
                                           "ema_folded": True}
    (r,) = catalogue_entry["results"]
    assert r["results_sha256"] == results_digest(results) and r["weights_sha256"] == results["weights_sha256"]
    assert r["metrics"]["l1_gt_frame"] == results["metrics"]["l1_gt_frame"]
    assert (r["protocol"], r["task"], r["conformant"]) == ("paired-v1", "sunny2night", False)
