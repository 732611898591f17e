"""CycleGAN: the authors' layout, their released files (legacy entries included), exact forward, training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from initbench.errors import CheckpointError
from initbench.methods import get_method
from initbench.methods.cyclegan import CycleGAN, CycleGANConfig, export_official, load_official
from initbench.methods.cyclegan_nets import ImagePool

LAYOUTS = json.loads(Path(__file__).with_name("baseline_layouts.json").read_text())["networks"]


TINY = dict(ngf=4, ndf=4, netG="resnet_6blocks", n_layers_D=2, pool_size=2)


def keys_shapes(module: torch.nn.Module) -> list:
    return [[k, list(v.shape)] for k, v in module.state_dict().items()]


def random_state(name: str, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=g) for k, shape in LAYOUTS[name]["keys"]}


def in_layers_9blocks() -> list[str]:
    """The 23 instance norms of the default generator (3 front, 18 in the blocks, 2 in upsampling)."""
    return ["model.2", "model.5", "model.8"] + [f"model.{i}.conv_block.{j}" for i in range(10, 19) for j in (2, 6)] + ["model.20", "model.23"]


def test_default_networks_have_the_reference_keys_and_shapes():
    with torch.device("meta"):
        m = CycleGAN()
    assert keys_shapes(m.netG_A) == LAYOUTS["cyclegan.gen"]["keys"]
    assert keys_shapes(m.netD_A) == LAYOUTS["cyclegan.dis"]["keys"]
    assert sum(p.numel() for p in m.netG_A.parameters()) == LAYOUTS["cyclegan.gen"]["params"] == 11_378_179
    assert sum(p.numel() for p in m.netD_A.parameters()) == LAYOUTS["cyclegan.dis"]["params"]


def test_dropout_moves_the_second_conv_and_6blocks_shortens_the_model():
    with torch.device("meta"):
        drop = CycleGAN(CycleGANConfig(no_dropout=False), with_discriminators=False)
        six = CycleGAN(CycleGANConfig(netG="resnet_6blocks"), with_discriminators=False)
    keys = drop.netG_A.state_dict().keys()
    assert "model.10.conv_block.6.weight" in keys and "model.10.conv_block.5.weight" not in keys
    six_keys = list(six.netG_A.state_dict())
    assert {k.split(".")[1] for k in six_keys if "conv_block" in k} == {str(i) for i in range(10, 16)}
    assert six_keys[-6:] == ["model.16.weight", "model.16.bias", "model.19.weight", "model.19.bias", "model.23.weight", "model.23.bias"]


def test_released_file_with_legacy_entries_loads_strictly_and_exports_back(tmp_path):
    sd = random_state("cyclegan.gen", 0)
    legacy = {}
    for name in in_layers_9blocks():  # what a mid-2018 file holds (track_running_stats=True)
        legacy[f"{name}.running_mean"] = torch.zeros(LAYOUTS_CHANNELS[name])
        legacy[f"{name}.running_var"] = torch.ones(LAYOUTS_CHANNELS[name])
        legacy[f"{name}.num_batches_tracked"] = torch.tensor(7)
    path = tmp_path / "horse2zebra_pretrained" / "latest_net_G.pth"
    path.parent.mkdir()
    torch.save({**sd, **legacy}, path, _use_new_zipfile_serialization=False)  # the pre-1.6 format of the old files
    assert len(sd) + len(legacy) == 48 + 69

    model = load_official(path)
    assert model.loaded_directions == {"a2b"}
    assert all(torch.equal(model.netG_A.state_dict()[k], v) for k, v in sd.items())
    assert sorted(model.dropped_legacy_keys["a2b"]) == sorted(legacy)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        y = model.translate(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    with pytest.raises(CheckpointError, match="holds only the a2b generator"):
        model.translate(x, direction="b2a")

    out = tmp_path / "export" / "latest_net_G.pth"
    export_official(model, out)
    back = torch.load(out, weights_only=True)
    assert list(back) == [k for k, _ in LAYOUTS["cyclegan.gen"]["keys"]]
    assert all(torch.equal(back[k], v) for k, v in sd.items())


LAYOUTS_CHANNELS = {n: c for n, c in zip(in_layers_9blocks(), [64, 128, 256] + [256] * 18 + [128, 64])}


def test_g_a_file_loads_its_g_b_sibling_and_a_directory_loads_both(tmp_path):
    cfg = CycleGANConfig(**TINY)
    src = CycleGAN(cfg)
    torch.save(src.netG_A.state_dict(), tmp_path / "latest_net_G_A.pth")
    torch.save(src.netG_B.state_dict(), tmp_path / "latest_net_G_B.pth")
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    for target in (tmp_path / "latest_net_G_A.pth", tmp_path):
        m = load_official(target, dict(TINY))
        assert m.loaded_directions == {"a2b", "b2a"}
        with torch.no_grad():
            assert torch.equal(m.translate(x, direction="b2a"), src.netG_B(x))
    only_b = load_official(tmp_path / "latest_net_G_B.pth", dict(TINY))
    assert only_b.loaded_directions == {"b2a"}
    with pytest.raises(CheckpointError, match="no weights for a2b"):
        only_b.translate(x)


def test_dropout_file_gives_the_key_listing_and_names_no_dropout(tmp_path):
    src = CycleGAN(CycleGANConfig(**{**TINY, "no_dropout": False}), with_discriminators=False)
    path = tmp_path / "latest_net_G.pth"
    torch.save(src.netG_A.state_dict(), path)
    with pytest.raises(CheckpointError) as err:
        load_official(path, dict(TINY))
    msg = str(err.value)
    assert "missing keys (12): model.10.conv_block.5.weight" in msg
    assert "unexpected keys (12): model.10.conv_block.6.weight" in msg
    assert "pass no_dropout=False" in msg
    assert load_official(path, {**TINY, "no_dropout": False}).loaded_directions == {"a2b"}


def test_wrong_width_blocks_truncated_and_foreign_files(tmp_path):
    src = CycleGAN(CycleGANConfig(**TINY), with_discriminators=False)
    path = tmp_path / "latest_net_G.pth"
    torch.save(src.netG_A.state_dict(), path)
    with pytest.raises(CheckpointError) as err:
        load_official(path)  # default: ngf 64, 9 blocks
    assert "pass netG=resnet_6blocks" in str(err.value) and "pass ngf=4" in str(err.value)
    data = path.read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cannot be read as a PyTorch file.*truncated"):
        load_official(tmp_path / "cut.pth", dict(TINY))
    torch.save({"a": src.netG_A.state_dict(), "b": src.netG_A.state_dict()}, tmp_path / "munit.pt")
    with pytest.raises(CheckpointError, match=r"expected a state dict .*MUNIT/UNIT generator file"):
        load_official(tmp_path / "munit.pt", dict(TINY))


def _reference_generator(sd: dict, x: torch.Tensor, n_blocks: int) -> torch.Tensor:
    """The authors' ResnetGenerator written out functionally (reflect pads, IN without affine, no act after the add)."""

    def conv(h, name, stride=1, padding=0):
        return F.conv2d(h, sd[f"{name}.weight"], sd[f"{name}.bias"], stride=stride, padding=padding)

    h = F.relu(F.instance_norm(conv(F.pad(x, (3,) * 4, mode="reflect"), "model.1")))
    h = F.relu(F.instance_norm(conv(h, "model.4", 2, 1)))
    h = F.relu(F.instance_norm(conv(h, "model.7", 2, 1)))
    for i in range(10, 10 + n_blocks):
        r = F.relu(F.instance_norm(conv(F.pad(h, (1,) * 4, mode="reflect"), f"model.{i}.conv_block.1")))
        h = h + F.instance_norm(conv(F.pad(r, (1,) * 4, mode="reflect"), f"model.{i}.conv_block.5"))
    up1, up2, last = 10 + n_blocks, 13 + n_blocks, 17 + n_blocks
    h = F.relu(F.instance_norm(F.conv_transpose2d(h, sd[f"model.{up1}.weight"], sd[f"model.{up1}.bias"], 2, 1, 1)))
    h = F.relu(F.instance_norm(F.conv_transpose2d(h, sd[f"model.{up2}.weight"], sd[f"model.{up2}.bias"], 2, 1, 1)))
    return torch.tanh(conv(F.pad(h, (3,) * 4, mode="reflect"), f"model.{last}"))


def test_forward_equals_the_authors_computation_and_ignores_style():
    torch.manual_seed(0)
    m = CycleGAN(CycleGANConfig(**TINY), with_discriminators=False).eval()
    x = torch.rand(2, 3, 20, 24) * 2 - 1
    with torch.no_grad():
        y = m.translate(x)
        ref = _reference_generator(m.netG_A.state_dict(), x, 6)
        assert torch.allclose(y, ref, atol=1e-6)
        assert torch.equal(m.translate(x, style=torch.randn(2, 8)), y)
        assert torch.equal(m.decode(m.encode(x, direction="b2a"), direction="b2a"), m.netG_B(x))


def test_training_steps_update_generators_and_discriminators():
    torch.manual_seed(0)
    m = CycleGAN(CycleGANConfig(**TINY))
    specs = m.optimizer_specs()
    assert specs["gen"].lr == 2e-4 and specs["gen"].betas == (0.5, 0.999) and specs["gen"].schedule == "linear"
    opts = {k: torch.optim.Adam(s.params, lr=s.lr, betas=s.betas) for k, s in specs.items()}
    batch = {"a": torch.rand(1, 3, 16, 16) * 2 - 1, "b": torch.rand(1, 3, 16, 16) * 2 - 1}
    before = {k: v.clone() for k, v in m.state_dict().items()}
    for step in range(2):
        shared: dict = {}  # one per step, as the trainer
        assert m.phases(step) == ["gen", "dis"]
        for phase in m.phases(step):
            opts[phase].zero_grad()
            losses = m.phase_losses(phase, batch, step, shared)
            assert torch.isfinite(losses["total"])
            losses["total"].backward()
            opts[phase].step()
    g = m.phase_losses("gen", batch, 2, {})
    assert {"G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B", "total"} == set(g)
    assert torch.allclose(g["total"], sum(v for k, v in g.items() if k != "total"))
    after = m.state_dict()
    assert not torch.equal(before["netG_A.model.1.weight"], after["netG_A.model.1.weight"])
    assert not torch.equal(before["netD_B.model.0.weight"], after["netD_B.model.0.weight"])
    assert len(m.pool_A.images) == 2  # pool_size 2 filled by two steps of batch 1


def test_image_pool_is_reproducible_and_returns_stored_images():
    imgs = [torch.full((1, 3, 2, 2), float(i)) for i in range(20)]

    def run(seed):
        pool = ImagePool(3, torch.Generator().manual_seed(seed))
        return [float(pool.query(im)[0, 0, 0, 0]) for im in imgs]

    a, b = run(1), run(1)
    assert a == b
    assert a[:3] == [0.0, 1.0, 2.0]
    assert any(v < i for i, v in enumerate(a))  # some queries returned an older image


def test_registered_with_presets():
    entry = get_method("cyclegan")
    assert entry.config_cls is CycleGANConfig and set(entry.presets) == {"tiny", "small", "paper"}
    assert entry.presets["paper"]() == CycleGANConfig()
    assert entry.load_official is load_official and entry.export_official is export_official
