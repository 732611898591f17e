"""UNIT: the authors' layout, released files (PyTorch-0.3 entries), noise-free test forward, training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from initbench.errors import CheckpointError, UsageError
from initbench.methods import get_method
from initbench.methods.nvlabs import DisOptions
from initbench.methods.official import load_official as official_load
from initbench.methods.unit import UNIT, UNITConfig, UNITGenOptions, export_official, load_official

LAYOUTS = json.loads(Path(__file__).with_name("baseline_layouts.json").read_text())["networks"]


def keys_shapes(module: torch.nn.Module) -> list:
    return [[k, list(v.shape)] for k, v in module.state_dict().items()]


def random_state(name: str, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=g) for k, shape in LAYOUTS[name]["keys"]}


def authors_legacy_keys() -> list[str]:
    """The 38 keys the UNIT repo's ``pytorch03_to_pytorch04`` deletes from each VAEGen."""
    norms = [f"enc.model.{i}.norm" for i in range(3)]
    norms += [f"enc.model.3.model.{i}.model.{j}.norm" for i in range(4) for j in range(2)]
    norms += [f"dec.model.0.model.{i}.model.{j}.norm" for i in range(4) for j in range(2)]
    return [f"{n}.{s}" for n in norms for s in ("running_mean", "running_var")]


def small_config() -> UNITConfig:
    return UNITConfig(gen=UNITGenOptions(dim=4, n_res=1), dis=DisOptions(dim=4, n_layer=2, num_scales=2))


def test_default_networks_have_the_reference_keys_and_shapes():
    with torch.device("meta"):
        m = UNIT()
    assert keys_shapes(m.gen_a) == LAYOUTS["unit.gen"]["keys"]
    assert keys_shapes(m.dis_a) == LAYOUTS["unit.dis"]["keys"]
    assert sum(p.numel() for p in m.gen_b.parameters()) == LAYOUTS["unit.gen"]["params"] == 11_140_483
    assert m.style_dim == 0 and not m.is_multimodal


def test_released_file_with_pytorch03_entries_loads_strictly_and_exports_back(tmp_path):
    sd = {"a": random_state("unit.gen", 3), "b": random_state("unit.gen", 4)}
    legacy = authors_legacy_keys()
    channels = {"enc.model.0": 64, "enc.model.1": 128}
    stored = {d: {**sd[d], **{k: torch.rand(channels.get(k.rsplit(".", 2)[0], 256)) for k in legacy}} for d in "ab"}
    assert len(stored["b"]) == 48 + 38
    path = tmp_path / "unit_gta2city.pt"
    torch.save(stored, path, _use_new_zipfile_serialization=False)
    model = load_official(path)
    assert model.dropped_legacy_keys == {"a": legacy, "b": legacy}
    assert all(torch.equal(model.gen_b.state_dict()[k], v) for k, v in sd["b"].items())
    out = tmp_path / "gen_00010000.pt"
    export_official(model, out)
    back = torch.load(out, weights_only=True)
    for d in "ab":
        assert list(back[d]) == [k for k, _ in LAYOUTS["unit.gen"]["keys"]]
        assert all(torch.equal(back[d][k], v) for k, v in sd[d].items())


def test_test_time_forward_decodes_the_content_without_noise():
    torch.manual_seed(0)
    m = UNIT(UNITConfig(gen=UNITGenOptions(dim=8, n_res=2)), with_discriminators=False).eval()
    x = torch.rand(2, 3, 16, 24) * 2 - 1
    with torch.no_grad():
        y = m.translate(x)
        assert torch.equal(y, m.gen_b.dec(m.gen_a.enc(x)))
        assert torch.equal(m.translate(x), y)  # no noise anywhere at test time
        assert torch.equal(m.translate(x, style=torch.randn(2, 8)), y)  # style ignored
        assert torch.equal(m.translate(y, direction="b2a"), m.gen_a.dec(m.gen_b.enc(y)))
        h, noise = m.gen_a.encode(x)  # training-time encode draws unit noise
        assert noise.shape == h.shape and 0.5 < noise.std() < 1.5
    assert y.shape == x.shape and y.abs().max() <= 1
    with pytest.raises(UsageError, match="multiples of 4"):
        m.translate(torch.zeros(1, 3, 18, 16))


def test_version_02_files_and_wrong_files_are_rejected_with_the_reason(tmp_path):
    torch.save({"encode_A.0.model.0.weight": torch.zeros(64, 3, 7, 7), "enc_shared.0.model.0.weight": torch.zeros(256, 256, 3, 3)}, tmp_path / "cat2tiger_gen_00500000.pkl")
    with pytest.raises(CheckpointError, match=r"UNIT version_02 \(NIPS'17\) COCOResGen file"):
        load_official(tmp_path / "cat2tiger_gen_00500000.pkl")
    src = UNIT(small_config())
    torch.save({"a": src.dis_a.state_dict(), "b": src.dis_b.state_dict()}, tmp_path / "dis_00010000.pt")
    with pytest.raises(CheckpointError) as err:
        load_official(tmp_path / "dis_00010000.pt", small_config())
    msg = str(err.value)
    assert f"missing keys ({len(UNIT(small_config()).gen_a.state_dict())}): enc.model.0.conv.weight" in msg and "unexpected keys" in msg and "cnns.0.0.conv.weight" in msg
    assert "likely cause: this is a discriminator (MsImageDis) file, dis_XXXXXXXX.pt: pass the generator file gen_XXXXXXXX.pt" in msg
    munit = get_method("munit").cls(get_method("munit").presets["tiny"](), with_discriminators=False)
    torch.save({"a": munit.gen_a.state_dict(), "b": munit.gen_b.state_dict()}, tmp_path / "munit.pt")
    with pytest.raises(CheckpointError, match="this is a MUNIT AdaINGen file .*use --method munit"):
        load_official(tmp_path / "munit.pt")


def test_training_steps_with_vae_terms():
    torch.manual_seed(0)
    m = UNIT(small_config())
    specs = m.optimizer_specs()
    opts = {k: torch.optim.Adam(s.params, lr=s.lr, betas=s.betas, weight_decay=s.weight_decay) for k, s in specs.items()}
    batch = {"a": torch.rand(1, 3, 16, 16) * 2 - 1, "b": torch.rand(1, 3, 16, 16) * 2 - 1}
    before = m.gen_a.enc.model[0].conv.weight.clone()
    for step in range(2):
        shared: dict = {}  # one per step, as the trainer
        for phase in m.phases(step):
            opts[phase].zero_grad()
            losses = m.phase_losses(phase, batch, step, shared)
            losses["total"].backward()
            opts[phase].step()
    assert set(losses) == {"adv_a", "adv_b", "recon_x_a", "recon_x_b", "kl_a", "kl_b", "kl_cyc_aba", "kl_cyc_bab", "cyc_x_a", "cyc_x_b", "total"}
    assert not torch.equal(before, m.gen_a.enc.model[0].conv.weight)


# Each option's loss group (the authors' names); distinct primes make a swapped or dropped weight change the total.
WEIGHT_OF = {"adv": "gan_w", "recon_x": "recon_x_w", "kl": "recon_kl_w", "kl_cyc": "recon_kl_cyc_w", "cyc_x": "recon_x_cyc_w"}
PRIMES = {"gan_w": 2.0, "recon_x_w": 3.0, "recon_kl_w": 5.0, "recon_kl_cyc_w": 7.0, "recon_x_cyc_w": 11.0}


def test_each_weight_scales_its_own_loss_group(check_each_weight_scales_its_group):
    check_each_weight_scales_its_group(UNIT, small_config(), WEIGHT_OF, PRIMES)


def test_registered_with_presets_and_the_registry_round_trips_the_authors_file(tmp_path):
    entry = get_method("unit")
    assert set(entry.presets) == {"tiny", "paper"} and entry.presets["paper"]() == UNITConfig()
    torch.manual_seed(0)
    src = UNIT(small_config(), with_discriminators=False).eval()
    entry.export_official(src, tmp_path / "gen.pt")
    back = official_load("unit", tmp_path / "gen.pt", small_config())
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        assert torch.equal(back.translate(x), src.translate(x))


def test_encoder_and_decoder_equal_the_authors_computation():
    import torch.nn.functional as F

    torch.manual_seed(0)
    m = UNIT(UNITConfig(gen=UNITGenOptions(dim=4, n_res=2)), with_discriminators=False).eval()
    sd_a, sd_b = m.gen_a.state_dict(), m.gen_b.state_dict()

    def conv(h, sd, name, stride=1, pad=0):
        return F.conv2d(F.pad(h, (pad,) * 4, mode="reflect"), sd[f"{name}.conv.weight"], sd[f"{name}.conv.bias"], stride=stride)

    def res(h, sd, name):
        r = F.relu(F.instance_norm(conv(h, sd, f"{name}.model.0", pad=1)))
        return h + F.instance_norm(conv(r, sd, f"{name}.model.1", pad=1))

    def layer_norm(h, sd, name):  # the authors' LayerNorm: unbiased std, divide by std + eps
        flat = h.flatten(1)
        h = (h - flat.mean(1).view(-1, 1, 1, 1)) / (flat.std(1).view(-1, 1, 1, 1) + 1e-5)
        return h * sd[f"{name}.norm.gamma"].view(1, -1, 1, 1) + sd[f"{name}.norm.beta"].view(1, -1, 1, 1)

    x = torch.rand(2, 3, 16, 20) * 2 - 1
    h = F.relu(F.instance_norm(conv(x, sd_a, "enc.model.0", pad=3)))
    h = F.relu(F.instance_norm(conv(h, sd_a, "enc.model.1", 2, 1)))
    h = F.relu(F.instance_norm(conv(h, sd_a, "enc.model.2", 2, 1)))
    for i in range(2):
        h = res(h, sd_a, f"enc.model.3.model.{i}")
    hidden = h
    for i in range(2):
        h = res(h, sd_b, f"dec.model.0.model.{i}")
    for idx in (2, 4):
        h = F.relu(layer_norm(conv(F.interpolate(h, scale_factor=2.0, mode="nearest"), sd_b, f"dec.model.{idx}", pad=2), sd_b, f"dec.model.{idx}"))
    y = torch.tanh(conv(h, sd_b, "dec.model.5", pad=3))
    with torch.no_grad():
        assert torch.allclose(m.encode(x), hidden, atol=1e-5)
        assert torch.allclose(m.translate(x), y, atol=1e-5)
