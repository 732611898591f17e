"""``initbench train`` and ``initbench translate`` end to end: exact PNG pixels, run folders on the mini-INIT."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from click.testing import CliRunner

from initbench.cli import main
from initbench.dataset.png import read_rgb as read_image, write_png
from initbench.methods.init import InitConfig, InitModel
from initbench.training.checkpoints import load_translator, save_checkpoint

SMALL = dict(dim=4, n_res=1, mlp_dim=16, dis_dim=4, dis_n_layer=2, dis_num_scales=2)


def test_translate_writes_the_exact_generator_outputs(tmp_path):
    torch.manual_seed(0)
    model = InitModel(InitConfig(**SMALL))
    ckpt = save_checkpoint(tmp_path / "c.pt", method="init", config=model.config_dict(), model_state=model.state_dict(), step=0)
    inputs = tmp_path / "in"
    g = torch.Generator().manual_seed(0)
    write_png(inputs / "x.png", torch.randint(0, 256, (3, 24, 32), dtype=torch.uint8, generator=g))
    write_png(inputs / "y.png", torch.randint(0, 256, (3, 26, 34), dtype=torch.uint8, generator=g))  # cropped to 24 x 32
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["translate", "--method", "init", "--ckpt", str(ckpt), "--input", str(inputs),
                                    "--out", str(out), "--num-styles", "2", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.glob("*.png")) == ["x_s0.png", "x_s1.png", "y_s0.png", "y_s1.png"]
    translator = load_translator(ckpt)
    styles = translator.sample_style(2, generator=torch.Generator().manual_seed(3))
    for stem in ("x", "y"):
        img = read_image(str(inputs / f"{stem}.png"))[:, :24, :32] if stem == "x" else read_image(str(inputs / "y.png"))[:, 1:25, 1:33]
        x = img.float()[None] / 127.5 - 1
        for k in range(2):
            with torch.no_grad():
                y = translator.translate(x, style=styles[k : k + 1])[0]
            expected = ((y + 1) / 2 * 255).round().clamp(0, 255).to(torch.uint8)
            assert torch.equal(read_image(str(out / f"{stem}_s{k}.png")), expected)
    record = json.loads((out / "translate.json").read_text())
    assert record["seed"] == 3 and len(record["files"]) == 4


def test_translate_errors(tmp_path):
    res = CliRunner().invoke(main, ["translate", "--method", "init", "--input", str(tmp_path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "give exactly one" in res.output


@pytest.mark.parametrize("method", ["init", "munit"])
def test_train_command_on_the_mini_init(mini_init_root, tmp_path, method):
    out = tmp_path / method
    args = ["train", "--method", method, "--data", str(mini_init_root), "--task", "sunny2night", "--preset", "tiny",
            "--out", str(out), "--max-steps", "1", "--log-every", "1", "--threads", "1", "--device", "cpu", "--json", "-"]
    if method == "init":
        args += ["--set", "dim=4", "--set", "n_res=1", "--set", "mlp_dim=16"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["steps"] == 1 and summary["method"] == method
    assert (out / "checkpoint.pt").is_file() and (out / "losses.csv").is_file()
    assert load_translator(out / "checkpoint.pt").name == method
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 2 and "pass --resume" in again.output


def _oneline(text: str) -> str:
    """Rich wraps long messages at the terminal width; compare them without the line breaks."""
    return " ".join(text.split())


TINY_INIT = ["--set", "dim=4", "--set", "n_res=1", "--set", "mlp_dim=16"]


def _train_args(root, out, *extra):
    return ["train", "--method", "init", "--data", str(root), "--out", str(out), "--threads", "1", "--device", "cpu",
            "--json", "-", *extra]


def test_bad_set_values_are_one_line_naming_the_option(mini_init_root, tmp_path):
    res = CliRunner().invoke(main, _train_args(mini_init_root, tmp_path / "r", "--set", "dim=foo"))
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit)  # no traceback: a clean exit
    assert _oneline(res.stderr) == "error: --set dim: expected an integer (the field is 8 now); got 'foo'"
    res = CliRunner().invoke(main, _train_args(mini_init_root, tmp_path / "r", "--set", "dim=0"))
    assert res.exit_code == 2
    assert _oneline(res.stderr) == "error: --set dim: expected a positive integer (the field is 8 now); got 0"
    res = CliRunner().invoke(main, _train_args(mini_init_root, tmp_path / "r", "--set", "lr=fast"))
    assert res.exit_code == 2
    assert _oneline(res.stderr) == "error: --set lr: expected a number (the field is 0.0001 now); got 'fast'"
    assert not (tmp_path / "r").exists()


def test_divergence_names_the_step_the_loss_and_what_to_try(mini_init_root, tmp_path):
    res = CliRunner().invoke(main, _train_args(mini_init_root, tmp_path / "r", "--max-steps", "3", *TINY_INIT, "--set", "lr=1e9"))
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit)
    text = _oneline(res.stderr)
    assert text.startswith("error: training diverged at step 2 of 3: loss gen/x_g = nan (and ")
    assert text.endswith("try a lower learning rate (--set lr=1e+08; the gen rate was 1e+09) or --amp off")


def test_translate_size_and_unreadable_ckpt_are_one_line_errors(tmp_path):
    torch.manual_seed(0)
    model = InitModel(InitConfig(**SMALL))
    ckpt = save_checkpoint(tmp_path / "c.pt", method="init", config=model.config_dict(), model_state=model.state_dict(), step=0)
    write_png(tmp_path / "in" / "x.png", torch.zeros(3, 8, 8, dtype=torch.uint8))
    base = ["translate", "--input", str(tmp_path / "in"), "--out", str(tmp_path / "o")]
    res = CliRunner().invoke(main, base + ["--ckpt", str(ckpt), "--size", "0"])
    assert res.exit_code == 2
    assert _oneline(res.stderr) == "error: --size: expected a short side of at least 4 pixels (the model's size multiple); got 0"
    junk = tmp_path / "junk.pt"
    junk.write_bytes(bytes(range(256)) * 4)
    res = CliRunner().invoke(main, base + ["--ckpt", str(junk)])
    assert res.exit_code == 2 and "weights_only" not in res.stderr
    assert "".join(res.stderr.split()) == "".join(
        f"error: --ckpt: {junk} is not an initbench checkpoint (neither a PyTorch zip archive nor a legacy PyTorch pickle: "
        "not a checkpoint, or corrupt)".split())


def test_translate_keeps_inputs_with_the_same_stem_apart(tmp_path):
    from torchvision.io import write_jpeg

    torch.manual_seed(0)
    model = InitModel(InitConfig(**SMALL))
    ckpt = save_checkpoint(tmp_path / "c.pt", method="init", config=model.config_dict(), model_state=model.state_dict(), step=0)
    inputs = tmp_path / "in"
    g = torch.Generator().manual_seed(0)
    write_png(inputs / "a.png", torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8, generator=g))
    with warnings.catch_warnings():  # torchvision 0.29 flags its codecs as deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        write_jpeg(torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8, generator=g), str(inputs / "a.jpg"))
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["translate", "--ckpt", str(ckpt), "--input", str(inputs), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.glob("*.png")) == ["a_jpg_s0.png", "a_png_s0.png"]
    assert not torch.equal(read_image(str(out / "a_jpg_s0.png")), read_image(str(out / "a_png_s0.png")))
    files = json.loads((out / "translate.json").read_text())["files"]
    assert {(f["input"].rsplit("/", 1)[1], f["output"].rsplit("/", 1)[1]) for f in files} == {
        ("a.jpg", "a_jpg_s0.png"), ("a.png", "a_png_s0.png")}


def test_output_stems_stay_distinct():
    from pathlib import Path

    from initbench.translate import output_stems

    names = ["a.png", "a.jpg", "a_jpg.png", "b.png", "B.PNG"]
    assert output_stems([Path(n) for n in names]) == ["a_png", "a_jpg", "a_jpg-2", "b", "B-2"]


def test_resume_continues_the_run_as_stored(mini_init_root, tmp_path, monkeypatch):
    from initbench.training.config import TRAIN_PRESETS

    # a preset default of 3 steps: a resume that falls back to it (the old behaviour) would train on to 3
    monkeypatch.setitem(TRAIN_PRESETS, "tiny", {**TRAIN_PRESETS["tiny"], "max_steps": 3})
    monkeypatch.chdir(mini_init_root.parent)
    out = tmp_path / "run"
    first = CliRunner().invoke(main, _train_args(mini_init_root.name, out, "--max-steps", "1", "--seed", "5", "--log-every", "1",
                                                 *TINY_INIT))
    assert first.exit_code == 0, first.output
    stored = json.loads((out / "config.json").read_text())["train"]
    assert stored["data"] == str(mini_init_root.resolve()) and stored["out"] == str(out.resolve())
    assert len(stored["data_fingerprint"]) == 64

    # from another folder, without --method, --data, --max-steps, --seed or --set: the stored settings
    monkeypatch.chdir(tmp_path)
    again = CliRunner().invoke(main, ["train", "--out", str(out), "--resume", "--json", "-"])
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)
    assert (summary["steps"], summary["resumed_from"]) == (1, 1)
    assert json.loads((out / "config.json").read_text())["train"] == stored

    # a flag overrides its setting only
    more = CliRunner().invoke(main, ["train", "--method", "init", "--out", str(out), "--resume", "--max-steps", "2", "--json", "-"])
    assert more.exit_code == 0, more.output
    assert json.loads(more.stdout)["steps"] == 2
    now = json.loads((out / "config.json").read_text())["train"]
    assert now == {**stored, "max_steps": 2}


def test_a_new_run_needs_a_method(mini_init_root, tmp_path):
    res = CliRunner().invoke(main, ["train", "--data", str(mini_init_root), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2
    assert "--method: a new run needs a method" in res.output
    assert not (tmp_path / "r").exists()


def test_resume_refuses_other_data_and_another_task(mini_init_root, tmp_path):
    from initbench.dataset.synthetic import synthesize

    out = tmp_path / "run"
    res = CliRunner().invoke(main, _train_args(mini_init_root, out, "--max-steps", "1", *TINY_INIT))
    assert res.exit_code == 0, res.output
    other = tmp_path / "other"
    synthesize(other, per_domain=14, size=(64, 40), seed=0)
    res = CliRunner().invoke(main, ["train", "--method", "init", "--out", str(out), "--resume", "--data", str(other),
                                    "--max-steps", "2", "--json", "-"])
    assert res.exit_code == 2
    text = _oneline(res.stderr)
    assert text.startswith(f"error: --data: {other} holds other sunny2night training images than the run was trained on")
    assert text.endswith(f"resume with the run's data ({mini_init_root})")
    res = CliRunner().invoke(main, ["train", "--method", "init", "--out", str(out), "--resume", "--task", "night2sunny",
                                    "--json", "-"])
    assert res.exit_code == 2
    assert _oneline(res.stderr) == (f"error: --task: the run in {out} trains task 'sunny2night'; got 'night2sunny' "
                                    "(a resumed run keeps it; choose another --out for a new run)")
