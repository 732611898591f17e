"""DRIT: the authors' layouts (concat 1/0, three historical key layouts), released files, exact forward, training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from initbench.errors import CheckpointError, UsageError
from initbench.methods import get_method
from initbench.methods.blocks import LayerNorm as MunitLayerNorm
from initbench.methods.drit import DRIT, DRITConfig, detect_layout, export_official, load_official
from initbench.methods.drit_nets import HeadLayerNorm
from initbench.methods.official import load_official as official_load

LAYOUTS = json.loads(Path(__file__).with_name("baseline_layouts.json").read_text())["networks"]


SMALL = dict(dim=4, content_dis_layers=0, dis_scale=2)


def keys_shapes(module: torch.nn.Module) -> list:
    return [[k, list(v.shape)] for k, v in module.state_dict().items()]


def random_state(name: str, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=g) for k, shape in LAYOUTS[name]["keys"]}


def save_drit(model: DRIT, path: Path, **extra) -> None:
    torch.save({"enc_c": model.enc_c.state_dict(), "enc_a": model.enc_a.state_dict(), "gen": model.gen.state_dict(), **extra}, path)


def test_default_networks_have_the_reference_keys_and_shapes():
    with torch.device("meta"):
        m1, m0 = DRIT(), DRIT(DRITConfig(concat=0))
    for name, module in [
        ("drit.enc_c", m1.enc_c), ("drit.enc_a.concat1", m1.enc_a), ("drit.gen.concat1", m1.gen),
        ("drit.enc_a.concat0", m0.enc_a), ("drit.gen.concat0", m0.gen), ("drit.dis", m1.disB2), ("drit.dis_content", m1.disContent),
    ]:  # fmt: skip
        assert keys_shapes(module) == LAYOUTS[name]["keys"], name
        assert sum(p.numel() for p in module.parameters()) == LAYOUTS[name]["params"], name
    assert m1.style_dim == 8


def test_released_checkpoint_loads_enc_c_enc_a_gen_strictly_and_exports_back(tmp_path):
    parts = {"enc_c": random_state("drit.enc_c", 1), "enc_a": random_state("drit.enc_a.concat1", 2), "gen": random_state("drit.gen.concat1", 3)}
    ignored = {"disA": random_state("drit.dis", 4), "disA_opt": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0, 1]}]}, "ep": 1199, "total_it": 499_000}
    path = tmp_path / "ysmt_DRIT_1200.pth"
    torch.save({**parts, **ignored}, path)
    model = load_official(path)  # concat and nz read off the file
    assert model.layout == 3 and model.config.concat == 1 and model.config.nz == 8
    for name, sd in parts.items():
        own = getattr(model, name).state_dict()
        assert list(own) == list(sd) and all(torch.equal(own[k], v) for k, v in sd.items())
    out = tmp_path / "exported.pth"
    export_official(model, out)
    back = torch.load(out, weights_only=True)
    assert set(back) == {"enc_c", "enc_a", "gen", "ep", "total_it"} and (back["ep"], back["total_it"]) == (1199, 499_000)
    for name, sd in parts.items():
        assert all(torch.equal(back[name][k], v) for k, v in sd.items())


def test_concat0_loads_and_a_wrong_config_names_the_option(tmp_path):
    src = DRIT(DRITConfig(concat=0, dim=8), with_discriminators=False)
    path = tmp_path / "concat0.pth"
    save_drit(src, path)
    m = load_official(path)
    assert (m.config.concat, m.config.nz, m.config.dim) == (0, 8, 8)
    with pytest.raises(CheckpointError, match=r"(?s)\['enc_a'\] does not match DRIT enc_a .*missing keys.*unexpected keys \(24\): model_a.1.weight.*the file is a concat=0 model: pass concat: 0"):
        load_official(path, {"concat": 1, "dim": 8})
    with pytest.raises(CheckpointError, match=r"(?s)shape mismatches.*the file has nz=8: pass nz: 8"):
        load_official(path, {"concat": 0, "dim": 8, "nz": 4})
    with pytest.raises(UsageError, match=r"option 'concat': expected one of 0, 1; found 2"):
        load_official(path, {"concat": 2})


def test_layout_2_loads_with_its_layer_norm_and_layout_1_is_rejected(tmp_path):
    torch.manual_seed(0)
    src = DRIT(DRITConfig(dim=8, layer_norm="munit"), with_discriminators=False).eval()
    assert "decA2.0.model.1.gamma" in src.gen.state_dict() and src.gen.state_dict()["decA2.0.model.1.gamma"].shape == (24,)
    path = tmp_path / "example.pth"
    save_drit(src, path)
    m = load_official(path)
    assert m.layout == 2 and isinstance(m.gen.decB2[0].model[1], MunitLayerNorm)
    x, z = torch.rand(1, 3, 16, 16) * 2 - 1, torch.randn(1, 8)
    with torch.no_grad():
        assert torch.equal(m.translate(x, style=z), src.translate(x, style=z))
    old = {k.replace("convA.0.model.1.", "convA.0.model.0."): v for k, v in src.enc_c.state_dict().items()}
    torch.save({"enc_c": old, "enc_a": src.enc_a.state_dict(), "gen": src.gen.state_dict()}, tmp_path / "old.pth")
    with pytest.raises(CheckpointError, match=r"found DRIT key layout 1 \(DRIT code before 2018-07-31: zero padding"):
        load_official(tmp_path / "old.pth")
    torch.save({"dis1": {}, "dis2": {}, "disContent": {}, "enc_c": old, "enc_a": {}, "gen": {}, "ep": 1}, tmp_path / "weather_MDMM.pth")
    with pytest.raises(CheckpointError, match=r"multi-domain DRIT\+\+ \(HsinYingLee/MDMM\) checkpoint"):
        load_official(tmp_path / "weather_MDMM.pth")
    assert detect_layout(old, {}, {}) == 1 and detect_layout(src.enc_c.state_dict(), {}, src.gen.state_dict()) == 2
    assert detect_layout({}, {}, DRIT(DRITConfig(dim=4), with_discriminators=False).gen.state_dict()) == 3


def test_forward_tiles_z_into_every_stage_with_the_authors_norms_and_slopes():
    torch.manual_seed(0)
    m = DRIT(DRITConfig(dim=8, nz=5), with_discriminators=True).eval()
    x, z = torch.rand(2, 3, 16, 20) * 2 - 1, torch.randn(2, 5)
    seen = []
    hooks = [getattr(m.gen, f"decB{i}").register_forward_hook(lambda mod, inp, out: seen.append(inp[0])) for i in range(1, 5)]
    with torch.no_grad():
        y = m.translate(x, style=z)
    for h in hooks:
        h.remove()
    assert [t.size(1) for t in seen] == [37, 42, 26, 18]  # 32+5 -> 37+5 -> 21+5 -> 13+5
    for t in seen:
        assert torch.equal(t[:, -5:], z[:, :, None, None].expand(2, 5, *t.shape[2:]))
    assert y.shape == x.shape and y.abs().max() <= 1
    with torch.no_grad():
        assert torch.equal(y, m.gen.forward_b(m.enc_c.forward_a(x), z)) and torch.equal(m.translate(x, style=z), y)
        ln = m.gen.decA2[0].model[1]
        assert isinstance(ln, HeadLayerNorm) and ln.weight.shape == (21, 1, 1)
        ln.weight.normal_(), ln.bias.normal_()
        t = torch.randn(2, 21, 4, 6)
        mean, var = t.mean((1, 2, 3), keepdim=True), t.var((1, 2, 3), unbiased=False, keepdim=True)
        assert torch.allclose(ln(t), (t - mean) / torch.sqrt(var + 1e-5) * ln.weight + ln.bias, atol=1e-5)
        m.enc_c.train()
        assert not torch.equal(m.encode(x), m.encode(x))  # the content noise layer is on in training only
    assert m.enc_c.convA[0].model[2].negative_slope == 0.01 and m.disA.Diss[0][0].model[2].negative_slope == 0.01
    assert m.enc_a.conv_A[2].conv[0].negative_slope == 0.2
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(m.style_from_images(x, generator=g1), m.style_from_images(x, generator=g2))


def _run(m: DRIT, steps: list[int], batch: dict) -> dict:
    specs = m.optimizer_specs()
    opts = {k: torch.optim.Adam(s.params, lr=s.lr, betas=s.betas, weight_decay=s.weight_decay) for k, s in specs.items()}
    seen = {}
    for step in steps:
        shared: dict = {}  # one per step, as the trainer
        for phase in m.phases(step):
            opts[phase].zero_grad()
            losses = m.phase_losses(phase, batch, step, shared)
            losses["total"].backward()
            if specs[phase].clip_grad_norm:
                torch.nn.utils.clip_grad_norm_(specs[phase].params, specs[phase].clip_grad_norm)
            opts[phase].step()
            seen[phase] = losses
    return seen


def test_training_phases_losses_and_updates():
    torch.manual_seed(0)
    m = DRIT(DRITConfig(**SMALL))
    assert [m.phases(s) for s in range(3)] == [["dis_content"], ["dis_content"], ["dis", "dis_content", "gen"]]
    specs = m.optimizer_specs()
    assert specs["dis_content"].lr == pytest.approx(4e-5) and specs["dis_content"].clip_grad_norm == 5.0 and specs["gen"].weight_decay == 1e-4
    batch = {"a": torch.rand(2, 3, 32, 32) * 2 - 1, "b": torch.rand(2, 3, 32, 32) * 2 - 1}
    before = {k: v.clone() for k, v in m.state_dict().items()}
    seen = _run(m, [0, 1, 2], batch)
    g = seen["gen"]
    assert {"G_GAN_Acontent", "G_L1_A", "G_L1_BB", "kl_za_a", "kl_zc_b", "z_L1_a", "G_GAN2_B2", "lz_AB"} <= set(g)
    assert {"disA", "disA2", "disB", "disB2"} <= set(seen["dis"])
    after = m.state_dict()
    for key in ("gen.decA1.0.model.1.weight", "enc_a.fc_B.0.weight", "disContent.model.0.model.1.weight", "disB2.Diss.0.0.model.1.weight"):
        assert not torch.equal(before[key], after[key]), key
    with pytest.raises(UsageError, match="batch size of at least 2"):
        m.phase_losses("gen", {"a": batch["a"][:1], "b": batch["b"][:1]}, 5, {})


def test_gen_total_is_the_authors_update_EG_loss():
    """Their backward_EG + backward_G_alone, written out from the forward pass: BCE GANs (content target 0.5),
    L1 x 10 (cross-cycle, self-reconstruction, latent regression), KL x 0.01, mode seeking 1 / (ratio + 1e-5)."""
    import torch.nn.functional as F

    from initbench.methods.drit_train import _gen_losses, drit_forward

    torch.manual_seed(0)
    m = DRIT(DRITConfig(**SMALL))
    batch = {"a": torch.rand(2, 3, 32, 32) * 2 - 1, "b": torch.rand(2, 3, 32, 32) * 2 - 1}
    f = drit_forward(m, batch)
    total = _gen_losses(m, f)["total"]

    def bce(logits, target):
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))

    def gan(dis, fake):
        return sum(bce(out, 1.0) for out in dis(fake))

    def l1(x, y):
        return (x - y).abs().mean()

    with torch.no_grad():
        ref = bce(m.disContent(f["zc_a"])[-1], 0.5) + bce(m.disContent(f["zc_b"])[-1], 0.5)
        ref += gan(m.disA, f["fake_A_encoded"]) + gan(m.disB, f["fake_B_encoded"])
        ref += sum(gan(dis, f[f"fake_{d}_{k}"]) for dis, d in ((m.disA2, "A"), (m.disB2, "B")) for k in ("random", "random2"))
        ref += 10 * sum(l1(f[f"fake_{d}_{k}"], f[f"real_{d}_encoded"]) for d in "AB" for k in ("recon", "self"))
        ref += 0.01 * sum(f[f"zc_{d}"].pow(2).mean() for d in "ab")
        ref += 0.01 * sum(-0.5 * (1 + f[f"logvar_{d}"] - f[f"mu_{d}"].pow(2) - f[f"logvar_{d}"].exp()).sum() for d in "ab")
        ref += 10 * l1(m.enc_a.forward_a(f["fake_A_random"])[0], f["z_random"])
        ref += 10 * l1(m.enc_a.forward_b(f["fake_B_random"])[0], f["z_random"])
        dz = l1(f["z_random2"], f["z_random"])
        ref += sum(1 / (l1(f[f"fake_{d}_random2"], f[f"fake_{d}_random"]) / dz + 1e-5) for d in "AB")
    assert total.item() == pytest.approx(ref.item(), rel=1e-5)


def test_latent_regression_does_not_train_the_attribute_encoder_and_concat0_trains():
    from initbench.methods.drit_train import _gen_losses, drit_forward

    torch.manual_seed(0)
    m = DRIT(DRITConfig(**SMALL))
    batch = {"a": torch.rand(2, 3, 32, 32) * 2 - 1, "b": torch.rand(2, 3, 32, 32) * 2 - 1}
    losses = _gen_losses(m, drit_forward(m, batch))
    (losses["z_L1_a"] + losses["z_L1_b"]).backward()
    assert all(p.grad is None or not p.grad.any() for p in m.enc_a.parameters())
    assert any(p.grad is not None and p.grad.any() for p in m.gen.parameters())
    m0 = DRIT(DRITConfig(concat=0, **SMALL))
    seen = _run(m0, [2], batch)
    assert torch.isfinite(seen["gen"]["total"]) and "kl_za_a" in seen["gen"]


def test_registered_with_presets_and_the_registry_round_trips_the_authors_file(tmp_path):
    entry = get_method("drit")
    assert set(entry.presets) == {"tiny", "paper"} and entry.presets["paper"]() == DRITConfig()
    torch.manual_seed(0)
    src = DRIT(DRITConfig(dim=4, nz=3), with_discriminators=False).eval()
    entry.export_official(src, tmp_path / "last.pth")
    back = official_load("drit", tmp_path / "last.pth")  # concat, nz and dim read off the file
    x, z = torch.rand(2, 3, 16, 16) * 2 - 1, torch.randn(2, 3)
    with torch.no_grad():
        assert torch.equal(back.translate(x, style=z), src.translate(x, style=z))
    tiny = entry.presets["tiny"]()
    assert (tiny.crop_size, tiny.content_dis_layers, tiny.batch_size) == (64, 1, 2)
    with torch.no_grad():  # the tiny content discriminator fits the 16 x 16 content of a 64 px crop
        out = DRIT(tiny).disContent(torch.zeros(2, 4 * tiny.dim, 16, 16))[0]
    assert out.shape == (2 * 3 * 3,)


def _reference_drit_a2b(sd_c: dict, sd_a: dict, sd_g: dict, x: torch.Tensor, ref: torch.Tensor, z: torch.Tensor):
    """DRIT HEAD's E_content.forward_a, E_attr_concat.forward_b (mu) and G_concat.forward_b, written out."""
    import torch.nn.functional as F

    def conv(h, sd, name, stride=1, pad=0):
        return F.conv2d(F.pad(h, (pad,) * 4, mode="reflect") if pad else h, sd[f"{name}.weight"], sd[f"{name}.bias"], stride=stride)

    def res(h, sd, name):  # INSResBlock: pad conv IN ReLU pad conv IN, + x
        r = F.relu(F.instance_norm(conv(h, sd, f"{name}.model.1", pad=1)))
        return h + F.instance_norm(conv(r, sd, f"{name}.model.5", pad=1))

    h = F.leaky_relu(conv(x, sd_c, "convA.0.model.1", pad=3), 0.01)
    h = F.relu(F.instance_norm(conv(h, sd_c, "convA.1.model.1", 2, 1)))
    h = F.relu(F.instance_norm(conv(h, sd_c, "convA.2.model.1", 2, 1)))
    for i in (3, 4, 5):
        h = res(h, sd_c, f"convA.{i}")
    content = res(h, sd_c, "conv_share.0")

    a = conv(ref, sd_a, "conv_B.1", 2, 1)
    for i in (2, 3, 4):
        t = conv(F.leaky_relu(a, 0.2), sd_a, f"conv_B.{i}.conv.2", pad=1)
        t = F.avg_pool2d(conv(F.leaky_relu(t, 0.2), sd_a, f"conv_B.{i}.conv.4.1", pad=1), 2)
        a = t + conv(F.avg_pool2d(a, 2), sd_a, f"conv_B.{i}.shortcut.1")
    mu = F.linear(F.adaptive_avg_pool2d(F.leaky_relu(a, 0.2), 1).flatten(1), sd_a["fc_B.0.weight"], sd_a["fc_B.0.bias"])

    def cat(h):
        return torch.cat([h, z[:, :, None, None].expand(-1, -1, *h.shape[2:])], 1)

    def up(h, name):  # ConvTranspose2d x2, F.layer_norm over C,H,W with C x 1 x 1 affine, ReLU
        h = F.conv_transpose2d(h, sd_g[f"{name}.model.0.weight"], sd_g[f"{name}.model.0.bias"], 2, 1, 1)
        shape = h.shape[1:]
        return F.relu(F.layer_norm(h, shape, sd_g[f"{name}.model.1.weight"].expand(shape), sd_g[f"{name}.model.1.bias"].expand(shape)))

    h = cat(res(content, sd_g, "dec_share.0"))
    for i in range(3):
        h = res(h, sd_g, f"decB1.{i}")
    h = cat(up(cat(up(cat(h), "decB2.0")), "decB3.0"))
    return content, mu, torch.tanh(F.conv_transpose2d(h, sd_g["decB4.0.weight"], sd_g["decB4.0.bias"]))


def test_encoders_and_generator_equal_the_authors_computation():
    torch.manual_seed(0)
    m = DRIT(DRITConfig(dim=4, nz=3), with_discriminators=False).eval()
    with torch.no_grad():
        for module in (m.gen.decB2[0].model[1], m.gen.decB3[0].model[1]):
            module.weight.normal_(), module.bias.normal_()
        x, ref, z = torch.rand(2, 3, 20, 24) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1, torch.randn(2, 3)
        content, mu, y = _reference_drit_a2b(m.enc_c.state_dict(), m.enc_a.state_dict(), m.gen.state_dict(), x, ref, z)
        assert torch.allclose(m.encode(x), content, atol=1e-5)
        assert torch.allclose(m.enc_a.forward_b(ref)[0], mu, atol=1e-5)
        assert torch.allclose(m.translate(x, style=z), y, atol=1e-5)


def test_concat0_generator_equals_the_authors_computation():
    import torch.nn.functional as F

    torch.manual_seed(0)
    m = DRIT(DRITConfig(concat=0, dim=4, nz=3), with_discriminators=False).eval()
    sd = m.gen.state_dict()
    content, z = torch.randn(2, 16, 5, 6), torch.randn(2, 3)

    def c1(h, name):
        return F.conv2d(h, sd[f"{name}.weight"], sd[f"{name}.bias"])

    with torch.no_grad():
        hidden = F.relu(F.linear(F.relu(F.linear(z, sd["mlpB.0.weight"], sd["mlpB.0.bias"])), sd["mlpB.2.weight"], sd["mlpB.2.bias"]))
        codes = torch.split(F.linear(hidden, sd["mlpB.4.weight"], sd["mlpB.4.bias"]), 16, dim=1)
        h = content
        for k, code in enumerate(codes, start=1):
            zz = code[:, :, None, None].expand(-1, -1, *h.shape[2:])
            o1 = F.instance_norm(F.conv2d(F.pad(h, (1,) * 4, mode="reflect"), sd[f"decB{k}.conv1.0.1.weight"], sd[f"decB{k}.conv1.0.1.bias"]))
            o2 = F.relu(c1(F.relu(c1(torch.cat([o1, zz], 1), f"decB{k}.blk1.0")), f"decB{k}.blk1.2"))
            o3 = F.instance_norm(F.conv2d(F.pad(o2, (1,) * 4, mode="reflect"), sd[f"decB{k}.conv2.0.1.weight"], sd[f"decB{k}.conv2.0.1.bias"]))
            h = F.relu(c1(F.relu(c1(torch.cat([o3, zz], 1), f"decB{k}.blk2.0")), f"decB{k}.blk2.2")) + h
        for i in (0, 1):
            h = F.conv_transpose2d(h, sd[f"decB5.{i}.model.0.weight"], sd[f"decB5.{i}.model.0.bias"], 2, 1, 1)
            h = F.relu(F.layer_norm(h, h.shape[1:], sd[f"decB5.{i}.model.1.weight"].expand(h.shape[1:]), sd[f"decB5.{i}.model.1.bias"].expand(h.shape[1:])))
        y = torch.tanh(F.conv_transpose2d(h, sd["decB5.2.weight"], sd["decB5.2.bias"]))
        assert torch.allclose(m.decode(content, style=z), y, atol=1e-5)
