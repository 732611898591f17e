"""The direction of translation follows the task: the model's own task is a2b, its reverse b2a, anything else
is refused naming both tasks; through ``translate`` and ``evaluate``'s translator resolution."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from initbench.cli import main
from initbench.dataset.png import read_rgb, write_png
from initbench.errors import UsageError
from initbench.methods.init import InitConfig, InitModel
from initbench.training.checkpoints import load_translator, resolve_translator, save_checkpoint
from initbench.training.direction import direction_for, resolve_direction

SMALL = dict(dim=4, n_res=1, mlp_dim=16, dis_dim=4, dis_n_layer=2, dis_num_scales=2)
UNRELATED = ("--task sunny2rainy: the model was trained for sunny2night (a = sunny, b = night); "
             "it translates sunny2night (a2b) or night2sunny (b2a) only")


def _oneline(text: str) -> str:
    """Rich wraps long messages at the terminal width; compare them without the line breaks."""
    return " ".join(text.split())


@pytest.fixture
def ckpt(tmp_path):
    torch.manual_seed(0)
    model = InitModel(InitConfig(**SMALL))
    return save_checkpoint(tmp_path / "c.pt", method="init", config=model.config_dict(), model_state=model.state_dict(),
                           step=0, train_config={"task": "sunny2night"})


def test_direction_for_the_same_task_its_reverse_and_an_unrelated_one():
    assert direction_for("sunny2night", "sunny2night") == "a2b"
    assert direction_for("sunny2night", "night2sunny") == "b2a"
    assert direction_for(None, "night2sunny") == "a2b"  # a file that records no task: taken as trained for it
    with pytest.raises(UsageError) as err:
        direction_for("sunny2night", "sunny2rainy")
    assert str(err.value) == UNRELATED
    with pytest.raises(UsageError, match="got 'sunny2sunny'"):
        direction_for("sunny2night", "sunny2sunny")


def test_a_native_checkpoint_records_its_task(ckpt):
    model = load_translator(ckpt)
    assert model.task == "sunny2night"
    assert resolve_direction(model, task="night2sunny") == ("b2a", "night2sunny")
    assert resolve_direction(model) == ("a2b", "sunny2night")
    assert resolve_direction(model, direction="b2a") == ("b2a", "night2sunny")
    with pytest.raises(UsageError, match="give --task or --direction, not both"):
        resolve_direction(model, task="night2sunny", direction="a2b")
    with pytest.raises(UsageError, match="--ckpt-task: .* records its task sunny2night; got rainy2night"):
        resolve_translator(None, ckpt=ckpt, ckpt_task="rainy2night")


def test_official_files_need_ckpt_task_and_one_generator_refuses_the_other_direction(tmp_path):
    from initbench.methods.cyclegan import CycleGAN, CycleGANConfig

    tiny = dict(ngf=4, ndf=4, netG="resnet_6blocks", n_layers_D=2, pool_size=2)
    path = tmp_path / "latest_net_G.pth"  # one generator file: a2b only
    torch.save(CycleGAN(CycleGANConfig(**tiny), with_discriminators=False).netG_A.state_dict(), path)
    with pytest.raises(UsageError, match=r"--ckpt-task: required with --official-ckpt: the authors' files do not record"):
        resolve_translator("cyclegan", official_ckpt=path, config=tiny, need_task=True)
    with pytest.raises(UsageError, match="--ckpt-task: expected '<source>2<target>'"):
        resolve_translator("cyclegan", official_ckpt=path, config=tiny, ckpt_task="sunny")
    model = resolve_translator("cyclegan", official_ckpt=path, config=tiny, ckpt_task="night2sunny", need_task=True)
    assert model.task == "night2sunny" and model.loaded_directions == {"a2b"}
    assert resolve_direction(model, task="night2sunny") == ("a2b", "night2sunny")
    with pytest.raises(UsageError) as err:
        resolve_direction(model, task="sunny2night")
    assert str(err.value) == "--task sunny2night needs the b2a generator; the loaded file holds only a2b"


def test_translate_reverse_task_uses_b2a_and_an_unrelated_task_exits_2(ckpt, tmp_path):
    inputs = tmp_path / "in"
    write_png(inputs / "x.png", torch.randint(0, 256, (3, 24, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)))
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["translate", "--ckpt", str(ckpt), "--input", str(inputs), "--out", str(out),
                                    "--task", "night2sunny", "--seed", "3"])
    assert res.exit_code == 0, res.output
    translator = load_translator(ckpt)
    x = read_rgb(str(inputs / "x.png")).float()[None] / 127.5 - 1
    style = translator.sample_style(1, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        b2a, a2b = (translator.translate(x, direction=d, style=style)[0] for d in ("b2a", "a2b"))
    got = read_rgb(str(out / "x_s0.png"))
    assert torch.equal(got, ((b2a + 1) / 2 * 255).round().clamp(0, 255).to(torch.uint8))
    assert not torch.equal(got, ((a2b + 1) / 2 * 255).round().clamp(0, 255).to(torch.uint8))
    record = json.loads((out / "translate.json").read_text())
    assert (record["model_task"], record["task"], record["direction"]) == ("sunny2night", "night2sunny", "b2a")

    res = CliRunner().invoke(main, ["translate", "--ckpt", str(ckpt), "--input", str(inputs), "--out", str(tmp_path / "o2"),
                                    "--task", "sunny2rainy"])
    assert res.exit_code == 2 and _oneline(res.stderr) == f"error: {UNRELATED}"
    assert not (tmp_path / "o2").exists()


def test_evaluate_resolves_the_direction_before_any_work(ckpt, tmp_path, monkeypatch):
    import initbench.evaluation.evaluator as E

    root = tmp_path / "data"
    root.mkdir()
    calls = []

    def fake_evaluate(translator, root, task, **kw):
        calls.append((task, kw["direction"], kw["model_task"]))
        return {"stand-in": True}

    monkeypatch.setattr(E, "evaluate", fake_evaluate)
    base = ["evaluate", "--method", "init", "--ckpt", str(ckpt), "--data", str(root), "--json", "-"]
    res = CliRunner().invoke(main, base + ["--task", "night2sunny"])
    assert res.exit_code == 0, res.output
    assert calls == [("night2sunny", "b2a", "sunny2night")]
    res = CliRunner().invoke(main, base + ["--task", "sunny2rainy"])
    assert res.exit_code == 2 and _oneline(res.stderr) == f"error: {UNRELATED}" and len(calls) == 1
