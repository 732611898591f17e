"""The shared official-checkpoint machinery: legacy-key filter, strict loading errors, file reading, configs, export."""

from __future__ import annotations

import dataclasses
import json
import fractions
from dataclasses import dataclass

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from initbench.cli import main
from initbench.errors import CheckpointError, UsageError
from initbench.methods import get_method, method_names
from initbench.methods.official import (
    drop_legacy_entries,
    export_checked,
    load_official,
    load_strict,
    options_to_dataclass,
    read_checkpoint,
)


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.inorm = nn.InstanceNorm2d(3)  # no running stats: the modern default
        self.tracked = nn.InstanceNorm2d(3, track_running_stats=True)
        self.bn = nn.BatchNorm2d(3)
        self.conv = nn.Conv2d(3, 3, 1)


def test_legacy_filter_drops_only_instance_norm_stats_the_model_lacks():
    model = Mixed()
    sd = {**model.state_dict(), "inorm.running_mean": torch.zeros(3), "inorm.running_var": torch.ones(3), "inorm.num_batches_tracked": torch.tensor(3)}
    sd["conv.running_mean"] = torch.zeros(3)  # not an instance norm: kept, so the strict load fails on it
    kept, dropped = drop_legacy_entries(sd, model)
    assert dropped == ["inorm.running_mean", "inorm.running_var"]
    assert "inorm.num_batches_tracked" in kept and "bn.num_batches_tracked" in kept and "tracked.running_mean" in kept
    assert "conv.running_mean" in kept
    kept, dropped = drop_legacy_entries(sd, model, num_batches_tracked=True)  # CycleGAN's shim
    assert dropped == ["inorm.running_mean", "inorm.running_var", "inorm.num_batches_tracked"]
    assert "tracked.num_batches_tracked" in kept and "bn.num_batches_tracked" in kept


def test_strict_load_lists_missing_unexpected_and_shapes_and_loads_when_equal():
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(15)])
    sd = {f"{i}.{p}": torch.zeros(2, 2) if p == "weight" else torch.zeros(2) for i in range(1, 15) for p in ("weight", "bias")}
    sd["1.weight"] = torch.zeros(3, 2)
    sd["extra"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as err:
        load_strict(model, sd, path="f.pt", where="['a']", what="a 15-layer MLP", diagnose=lambda m, u, s: "layer 0 is gone")
    assert str(err.value).splitlines() == [
        "checkpoint f.pt['a'] does not match a 15-layer MLP:",
        "  missing keys (2): 0.weight, 0.bias",
        "  unexpected keys (1): extra",
        "  shape mismatches (1): 1.weight file (3, 2) vs model (2, 2)",
        "  likely cause: layer 0 is gone",
    ]
    many = {f"x{i}": torch.zeros(1) for i in range(20)}
    with pytest.raises(CheckpointError, match=r"unexpected keys \(20\): x0, x1, .*x11, \.\.\. and 8 more"):
        load_strict(model, {**model.state_dict(), **many}, path="f.pt", where="", what="m")
    good = {k: torch.full_like(v, 2.0) for k, v in model.state_dict().items()}
    load_strict(model, good, path="f.pt", where="", what="m")
    assert torch.equal(model[3].weight, torch.full((2, 2), 2.0))


def test_reading_checkpoints(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        read_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(UsageError, match="is a directory"):
        read_checkpoint(tmp_path)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match=r"junk.pt: cannot be read as a PyTorch file \(23 bytes"):
        read_checkpoint(tmp_path / "junk.pt")
    torch.save({"w": torch.arange(3)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    assert torch.equal(read_checkpoint(tmp_path / "legacy.pt")["w"], torch.arange(3))

    # an arbitrary global in the pickle (what a malicious file uses to run code): refused by weights_only
    torch.save({"w": fractions.Fraction(1, 3)}, tmp_path / "code.pt")
    with pytest.raises(CheckpointError, match="cannot be read as a PyTorch file"):
        read_checkpoint(tmp_path / "code.pt")


@dataclass
class Opts:
    dim: int = 64
    lr: float = 1e-4
    name: str = "relu"
    flag: bool = True


def test_options_are_checked_by_name_and_type():
    assert options_to_dataclass(Opts, {"dim": 16, "lr": 1, "flag": 0}, source="x.yaml") == Opts(dim=16, lr=1.0, flag=False)
    with pytest.raises(UsageError, match=r"x.yaml: unknown option 'dimm'; known options are: dim, lr, name, flag"):
        options_to_dataclass(Opts, {"dimm": 16}, source="x.yaml")
    assert options_to_dataclass(Opts, {"dimm": 16}, source="x.yaml", ignore_unknown=True) == Opts()
    with pytest.raises(UsageError, match=r"option 'dim': expected an integer; found 1.5"):
        options_to_dataclass(Opts, {"dim": 1.5}, source="x.yaml")
    with pytest.raises(UsageError, match=r"option 'flag': expected true/false \(or 1/0\); found 'yes'"):
        options_to_dataclass(Opts, {"flag": "yes"}, source="x.yaml")


def test_every_baseline_is_registered_and_unknown_methods_are_named():
    assert {"cyclegan", "unit", "munit", "drit"} <= set(method_names())
    for name in ("cyclegan", "unit", "munit", "drit"):
        entry = get_method(name)
        assert {"tiny", "paper"} <= set(entry.presets) and entry.load_official and entry.export_official
        model = entry.cls(entry.presets["tiny"](), with_discriminators=False)
        assert model.size_multiple == 4  # what translate crops inputs to
        with pytest.raises(UsageError, match=f"{name}: image height and width must be multiples of 4"):
            model.encode(torch.zeros(1, 3, 16, 18))
    with pytest.raises(UsageError, match="unknown method 'munit2'; available are: .*munit"):
        load_official("munit2", "x.pt")


@pytest.mark.parametrize("name, out", [("cyclegan", "dir"), ("cyclegan", "latest_net_G.pth"), ("unit", "gen.pt"), ("drit", "last.pth")])
def test_export_reloads_bit_identical(tmp_path, name, out):
    entry = get_method(name)
    cfg = entry.presets["tiny"]()
    if name == "cyclegan":
        cfg = dataclasses.replace(cfg, ngf=2, ndf=2)
    model = entry.cls(cfg)
    report = export_checked(model, tmp_path / out)
    if out == "dir":
        assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == ["latest_net_D_A.pth", "latest_net_D_B.pth", "latest_net_G_A.pth", "latest_net_G_B.pth"]
        assert report["tensors_checked"] == 2 * len(model.netG_A.state_dict())
    elif out == "latest_net_G.pth":
        assert report["tensors_checked"] == len(model.netG_A.state_dict())
    else:
        assert report["tensors_checked"] == sum(len(m.state_dict()) for m in model.generator_modules())
    assert all(len(f["sha256"]) == 64 and f["bytes"] > 0 for f in report["files"])


def test_export_official_command(tmp_path):
    from initbench.training.checkpoints import save_checkpoint

    entry = get_method("munit")
    cfg = entry.presets["tiny"]()
    model = entry.cls(cfg)
    ckpt = save_checkpoint(tmp_path / "run" / "checkpoint.pt", method="munit", config=dataclasses.asdict(cfg), model_state=model.state_dict(), step=3)
    out = tmp_path / "gen_00000003.pt"
    runner = CliRunner()
    res = runner.invoke(main, ["export-official", "--method", "munit", "--ckpt", str(ckpt), "--out", str(out), "--json", "-"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["tensors_checked"] == 2 * len(model.gen_a.state_dict()) and report["files"][0]["path"] == str(out)
    back = load_official("munit", out, cfg)
    assert all(torch.equal(back.gen_b.state_dict()[k], v) for k, v in model.gen_b.state_dict().items())
    res = runner.invoke(main, ["export-official", "--method", "drit", "--ckpt", str(ckpt), "--out", str(tmp_path / "x.pt")])
    assert res.exit_code == 2 and "holds a 'munit' model; --method says 'drit'" in res.output
    res = runner.invoke(main, ["export-official", "--method", "nope", "--ckpt", str(ckpt), "--out", str(tmp_path / "x.pt")])
    assert res.exit_code == 2 and "unknown method 'nope'" in res.output
