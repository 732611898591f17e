""""A new method is one file plus a registry line": a method defined here, registered in this process, goes
through ``initbench train``, ``translate`` and ``evaluate`` with nothing else changed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from torch import nn

from initbench.cli import main
from initbench.methods import base
from initbench.methods.base import MethodEntry, OptimizerSpec, TrainableTranslator, check_direction, register

NAME = "test-two-convs"


@dataclass
class TwoConvsConfig:
    width: int = 4
    style_dim: int = 2
    lr: float = 1e-3


class TwoConvs(TrainableTranslator):
    """A stride-2 conv encoder, a style-modulated transposed-conv decoder per domain, one conv discriminator per
    domain; least-squares GAN plus self-reconstruction. Only what base.py asks for; defaults for the rest."""

    name = NAME
    size_multiple = 2

    def __init__(self, config: TwoConvsConfig | None = None):
        super().__init__()
        self.config = c = config or TwoConvsConfig()
        self.style_dim = c.style_dim
        self.enc = nn.Conv2d(3, c.width, 3, stride=2, padding=1)
        self.dec = nn.ModuleDict({d: nn.ConvTranspose2d(c.width, 3, 4, stride=2, padding=1) for d in "ab"})
        self.mod = nn.Linear(c.style_dim, c.width)
        self.dis = nn.ModuleDict({d: nn.Conv2d(3, 1, 3, padding=1) for d in "ab"})

    def encode(self, images: torch.Tensor, *, direction: str = "a2b") -> torch.Tensor:
        check_direction(direction)
        return torch.relu(self.enc(images))

    def decode(self, content: torch.Tensor, *, direction: str = "a2b", style: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        check_direction(direction)
        style = self.style_or_sample(style, content.shape[0], generator, content.device)
        return torch.tanh(self.dec[direction[2]](content * (1 + self.mod(style)[:, :, None, None])))

    def optimizer_specs(self) -> dict[str, OptimizerSpec]:
        gen = [*self.enc.parameters(), *self.dec.parameters(), *self.mod.parameters()]
        lr = self.config.lr
        return {"gen": OptimizerSpec(gen, lr=lr), "dis": OptimizerSpec(list(self.dis.parameters()), lr=lr)}

    def phases(self, step: int) -> list[str]:
        return ["gen", "dis"]

    def phase_losses(self, phase: str, batch: dict[str, Any], step: int, shared: dict[str, Any]) -> dict[str, torch.Tensor]:
        if phase == "gen":
            fake_b = self.translate(batch["a"])
            shared["fake_b"] = fake_b.detach()
            adv = (self.dis["b"](fake_b) - 1).pow(2).mean()
            rec = F.l1_loss(self.decode(self.encode(batch["b"], direction="b2a"), direction="b2a"), batch["a"])
            return {"total": adv + rec, "adv": adv, "rec": rec}
        d = self.dis["b"]
        loss = d(shared.pop("fake_b")).pow(2).mean() + (d(batch["b"]) - 1).pow(2).mean()
        return {"total": loss, "d": loss}


@pytest.fixture
def registered():
    """The registry line of the new method, undone after the test (the registry is process-wide)."""
    entry = register(MethodEntry(name=NAME, cls=TwoConvs, config_cls=TwoConvsConfig, presets={"tiny": TwoConvsConfig}))
    yield entry
    base._REGISTRY.pop(NAME)


def test_a_method_defined_here_trains_translates_and_evaluates_through_the_cli(registered, mini_init_root, tmp_path):
    run = tmp_path / "run"
    res = CliRunner().invoke(main, ["train", "--method", NAME, "--data", str(mini_init_root), "--task", "sunny2night",
                                    "--out", str(run), "--max-steps", "2", "--batch-size", "1", "--log-every", "1",
                                    "--threads", "1", "--device", "cpu", "--json", "-"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert (summary["method"], summary["steps"]) == (NAME, 2)
    assert set(summary["last_losses"]) == {"gen/total", "gen/adv", "gen/rec", "dis/total", "dis/d"}
    ckpt = run / "checkpoint.pt"

    images = sorted((mini_init_root / "sunny").rglob("*.png"))[:2]
    out = tmp_path / "translated"
    res = CliRunner().invoke(main, ["translate", "--method", NAME, "--ckpt", str(ckpt), "--input", str(images[0]),
                                    "--out", str(out), "--num-styles", "2", "--json", "-"])
    assert res.exit_code == 0, res.output
    assert [r["style_index"] for r in json.loads(res.stdout)] == [0, 1]

    res = CliRunner().invoke(main, ["evaluate", "--method", NAME, "--ckpt", str(ckpt), "--data", str(mini_init_root),
                                    "--task", "sunny2night", "--lpips-backbone", "random", "--num-inputs", "2",
                                    "--samples-per-input", "2", "--short-side", "40", "--no-fid", "--offline", "--json", "-"])
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout)
    assert (result["method"], result["model_task"], result["direction"]) == (NAME, "sunny2night", "a2b")
    assert len(result["per_input"]["keys"]) == 2 and not result["deterministic"]
    # multimodal: the two style draws of an input give two different outputs
    assert result["metrics"]["lpips_diversity"] > 0 and all(v > 0 for v in result["per_input"]["lpips"])


def test_the_cli_offers_a_registered_method_and_refuses_an_unregistered_one(registered, tmp_path):
    res = CliRunner().invoke(main, ["train", "--help"])
    assert NAME in res.output
    base._REGISTRY.pop(NAME)
    try:
        res = CliRunner().invoke(main, ["train", "--method", NAME, "--out", str(tmp_path / "r"), "--data", str(tmp_path)])
        assert res.exit_code == 2 and f"'{NAME}' is not one of" in res.output
    finally:
        base._REGISTRY[NAME] = registered


def test_a_method_without_presets_is_not_offered_for_training(tmp_path):
    assert "identity" in base.method_names() and "identity" not in base.trainable_method_names()
    from initbench.errors import UsageError
    from initbench.training.config import build_method_config

    with pytest.raises(UsageError, match=r"^--method: 'identity' has nothing to train \(no presets\); trainable methods are "):
        build_method_config("identity", "tiny")
