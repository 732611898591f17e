"""``initbench train`` and ``initbench translate`` end to end: exact PNG pixels, run folders on the mini-INIT."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from initbench.cli import main
from initbench.dataset.imageio import read_rgb as read_image, write_png
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
            "--out", str(out), "--max-steps", "1", "--log-every", "1", "--threads", "1", "--device", "cpu", "--json"]
    if method == "init":
        args += ["--set", "dim=4", "--set", "n_res=1", "--set", "mlp_dim=16"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["steps"] == 1 and summary["method"] == method
    assert (out / "checkpoint.pt").is_file() and (out / "losses.csv").is_file()
    assert load_translator(out / "checkpoint.pt").name == method
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 2 and "pass --resume" in again.output
