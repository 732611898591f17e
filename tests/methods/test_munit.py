"""MUNIT: the authors' layout, YAML config, released files (PyTorch-0.3 entries), exact forward, training."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from initbench.errors import CheckpointError, UsageError
from initbench.methods import get_method
from initbench.methods.munit import MUNIT, MUNITConfig, MUNITGenOptions, export_official, load_official
from initbench.methods.nvlabs import DisOptions
from initbench.methods.official import load_official as official_load

LAYOUTS = json.loads(Path(__file__).with_name("baseline_layouts.json").read_text())["networks"]



# The authors' edges2shoes_folder.yaml, abridged, with the generator narrowed to dim 16 (reduced width).
YAML_DIM16 = """\
# logger options
image_save_iter: 10000
snapshot_save_iter: 10000
display_size: 16
max_iter: 1000000
batch_size: 1
weight_decay: 0.0001
beta1: 0.5
beta2: 0.999
init: kaiming
lr: 0.0001
lr_policy: step
step_size: 100000
gamma: 0.5
gan_w: 1
recon_x_w: 10
recon_s_w: 1
recon_c_w: 1
recon_x_cyc_w: 0
vgg_w: 0
gen:
  dim: 16
  mlp_dim: 32
  style_dim: 8
  activ: relu
  n_downsample: 2
  n_res: 4
  pad_type: reflect
dis:
  dim: 64
  norm: none
  activ: lrelu
  n_layer: 4
  gan_type: lsgan
  num_scales: 3
  pad_type: reflect
input_dim_a: 1
input_dim_b: 3
num_workers: 8
new_size: 256
crop_image_height: 256
crop_image_width: 256
data_root: ./datasets/edges2shoes/
"""


def keys_shapes(module: torch.nn.Module) -> list:
    return [[k, list(v.shape)] for k, v in module.state_dict().items()]


def random_state(name: str, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=g) for k, shape in LAYOUTS[name]["keys"]}


def authors_legacy_keys() -> list[str]:
    """The 22 keys the authors' ``pytorch03_to_pytorch04(..., 'MUNIT')`` deletes from each generator."""
    norms = [f"enc_content.model.{i}.norm" for i in range(3)]
    norms += [f"enc_content.model.3.model.{i}.model.{j}.norm" for i in range(4) for j in range(2)]
    return [f"{n}.{s}" for n in norms for s in ("running_mean", "running_var")]


def small_config(**gen) -> MUNITConfig:
    return MUNITConfig(gen=MUNITGenOptions(**{"dim": 4, "mlp_dim": 8, "n_res": 1, **gen}), dis=DisOptions(dim=4, n_layer=2, num_scales=2))


def test_default_networks_have_the_reference_keys_and_shapes():
    with torch.device("meta"):
        m = MUNIT()
    assert keys_shapes(m.gen_a) == LAYOUTS["munit.gen"]["keys"]
    assert keys_shapes(m.dis_b) == LAYOUTS["munit.dis"]["keys"]
    assert sum(p.numel() for p in m.gen_a.parameters()) == LAYOUTS["munit.gen"]["params"] == 15_026_187
    assert m.style_dim == 8


def test_released_file_with_pytorch03_entries_loads_strictly_and_exports_back(tmp_path):
    sd = {"a": random_state("munit.gen", 1), "b": random_state("munit.gen", 2)}
    legacy = authors_legacy_keys()
    stored = {d: {**sd[d], **{k: torch.rand(int(256 if ".model.3." in k else 64 * 2 ** int(k.split(".")[2]))) for k in legacy}} for d in "ab"}
    assert len(stored["a"]) == 82 + 22
    path = tmp_path / "edges2shoes.pt"
    torch.save(stored, path, _use_new_zipfile_serialization=False)

    model = load_official(path)
    assert model.dropped_legacy_keys == {"a": legacy, "b": legacy}
    for d, gen in (("a", model.gen_a), ("b", model.gen_b)):
        own = gen.state_dict()
        assert list(own) == [k for k, _ in LAYOUTS["munit.gen"]["keys"]]
        assert all(torch.equal(own[k], v) for k, v in sd[d].items())
    out = tmp_path / "gen_00000001.pt"
    export_official(model, out)
    back = torch.load(out, weights_only=True)
    assert set(back) == {"a", "b"}
    for d in "ab":
        assert list(back[d]) == list(sd[d]) and all(torch.equal(back[d][k], v) for k, v in sd[d].items())


def test_yaml_config_by_the_authors_option_names(tmp_path):
    cfg_path = tmp_path / "edges2shoes_dim16.yaml"
    cfg_path.write_text(YAML_DIM16)
    src = MUNIT(MUNITConfig(gen=MUNITGenOptions(dim=16, mlp_dim=32), input_dim_a=1), with_discriminators=False)
    torch.save({"a": src.gen_a.state_dict(), "b": src.gen_b.state_dict()}, tmp_path / "gen.pt")
    m = load_official(tmp_path / "gen.pt", str(cfg_path))
    assert m.config.gen == MUNITGenOptions(dim=16, mlp_dim=32) and m.config.input_dim_a == 1 and m.config.recon_x_cyc_w == 0
    assert m.gen_a.enc_content.model[0].conv.weight.shape == (16, 1, 7, 7)
    bad = tmp_path / "bad.yaml"
    bad.write_text(YAML_DIM16.replace("  n_res: 4", "  n_res: 4\n  n_resblocks: 4"))
    with pytest.raises(UsageError, match=r"bad.yaml: gen: unknown option 'n_resblocks'; known options are: dim, mlp_dim"):
        load_official(tmp_path / "gen.pt", str(bad))
    bad.write_text(YAML_DIM16.replace("  dim: 16", "  dim: sixteen"))
    with pytest.raises(UsageError, match=r"option 'dim': expected an integer; found 'sixteen'"):
        load_official(tmp_path / "gen.pt", str(bad))


def _reference_decode(gen, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """MUNIT's decoder written out: MLP -> per AdaIN layer [bias C, weight C], IN, LN with unbiased std."""
    sd = gen.state_dict()
    h = style.flatten(1)
    h = F.relu(F.linear(h, sd["mlp.model.0.fc.weight"], sd["mlp.model.0.fc.bias"]))
    h = F.relu(F.linear(h, sd["mlp.model.1.fc.weight"], sd["mlp.model.1.fc.bias"]))
    params = F.linear(h, sd["mlp.model.2.fc.weight"], sd["mlp.model.2.fc.bias"])
    c = content.size(1)

    def conv(x, name, pad):
        return F.conv2d(F.pad(x, (pad,) * 4, mode="reflect"), sd[f"{name}.conv.weight"], sd[f"{name}.conv.bias"])

    def adain(x, k):
        bias, weight = params[:, 2 * c * k : 2 * c * k + c], params[:, 2 * c * k + c : 2 * c * (k + 1)]
        return F.instance_norm(x) * weight[:, :, None, None] + bias[:, :, None, None]

    def layer_norm(x, name):
        flat = x.flatten(1)
        x = (x - flat.mean(1).view(-1, 1, 1, 1)) / (flat.std(1, unbiased=True).view(-1, 1, 1, 1) + 1e-5)
        return x * sd[f"{name}.norm.gamma"].view(1, -1, 1, 1) + sd[f"{name}.norm.beta"].view(1, -1, 1, 1)

    x, k = content, 0
    n_res = len({key.split(".")[4] for key in sd if key.startswith("dec.model.0.model.")})
    for i in range(n_res):
        r = F.relu(adain(conv(x, f"dec.model.0.model.{i}.model.0", 1), k))
        x = x + adain(conv(r, f"dec.model.0.model.{i}.model.1", 1), k + 1)
        k += 2
    for idx in (2, 4):
        x = F.relu(layer_norm(conv(F.interpolate(x, scale_factor=2, mode="nearest"), f"dec.model.{idx}", 2), f"dec.model.{idx}"))
    return torch.tanh(conv(x, "dec.model.5", 3))


def test_decode_equals_the_authors_adain_order_and_layer_norm():
    torch.manual_seed(0)
    m = MUNIT(MUNITConfig(gen=MUNITGenOptions(dim=16, mlp_dim=32, n_res=2)), with_discriminators=False).eval()
    x = torch.rand(2, 3, 16, 20) * 2 - 1
    s = torch.randn(2, 8)
    with torch.no_grad():
        content = m.encode(x)
        y = m.decode(content, style=s)
        assert torch.allclose(y, _reference_decode(m.gen_b, content, s), atol=1e-5)
        assert torch.equal(m.translate(x, style=s.view(2, 8, 1, 1)), y)  # B x 8 x 1 x 1 is the same style
        assert torch.equal(m.decode(content, style=s), y)  # deterministic for a given style
        assert not torch.allclose(m.decode(content, style=torch.randn(2, 8)), y)
        one = m.decode(content, style=s[:1])  # one style for the whole batch
        assert torch.equal(one[0], y[0]) and one.shape == y.shape
        ref_style = m.style_from_images(x, direction="b2a")
        assert ref_style.shape == (2, 8)
    assert y.shape == x.shape and y.abs().max() <= 1
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    with torch.no_grad():
        assert torch.equal(m.translate(x, generator=g1), m.translate(x, generator=g2))
    with pytest.raises(UsageError, match=r"style: expected 2 x 8"):
        m.decode(content, style=torch.randn(2, 4))


def test_mismatches_name_the_likely_cause(tmp_path):
    src = MUNIT(small_config(), with_discriminators=False)
    torch.save({"a": src.gen_a.state_dict(), "b": src.gen_b.state_dict()}, tmp_path / "gen.pt")
    with pytest.raises(CheckpointError) as err:
        load_official(tmp_path / "gen.pt", {"gen": {"dim": 8, "mlp_dim": 8, "n_res": 1}})
    msg = str(err.value)
    assert "gen.pt['a'] does not match MUNIT AdaINGen (dim=8" in msg and "shape mismatches" in msg and "gen.dim is 4 in the file" in msg
    with pytest.raises(CheckpointError, match=r"(?s)missing keys \(12\).*likely cause: the file has 1 residual blocks per encoder: gen.n_res=1"):
        load_official(tmp_path / "gen.pt", {"gen": {"dim": 4, "mlp_dim": 8, "n_res": 2}})
    unit = get_method("unit").cls(get_method("unit").presets["tiny"](), with_discriminators=False)
    torch.save({"a": unit.gen_a.state_dict(), "b": unit.gen_b.state_dict()}, tmp_path / "unit.pt")
    with pytest.raises(CheckpointError, match="this is a UNIT VAEGen file .*use --method unit"):
        load_official(tmp_path / "unit.pt")
    torch.save(src.gen_a.state_dict(), tmp_path / "bare.pt")
    with pytest.raises(CheckpointError, match=r"expected the authors' generator file .*found a bare state dict"):
        load_official(tmp_path / "bare.pt")
    data = (tmp_path / "gen.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[:1000])
    with pytest.raises(CheckpointError, match="cannot be read as a PyTorch file"):
        load_official(tmp_path / "cut.pt", small_config())


def test_training_steps_with_the_cycle_term():
    torch.manual_seed(0)
    cfg = small_config()
    cfg.recon_x_cyc_w = 10.0
    m = MUNIT(cfg)
    specs = m.optimizer_specs()
    assert specs["gen"].schedule == "step" and specs["gen"].step_size == 100_000 and specs["gen"].weight_decay == 1e-4
    opts = {k: torch.optim.Adam(s.params, lr=s.lr, betas=s.betas, weight_decay=s.weight_decay) for k, s in specs.items()}
    batch = {"a": torch.rand(1, 3, 16, 16) * 2 - 1, "b": torch.rand(1, 3, 16, 16) * 2 - 1}
    before = m.gen_a.mlp.model[0].fc.weight.clone()
    for step in range(2):
        shared: dict = {}  # one per step, as the trainer
        for phase in m.phases(step):
            opts[phase].zero_grad()
            losses = m.phase_losses(phase, batch, step, shared)
            losses["total"].backward()
            opts[phase].step()
            assert torch.isfinite(losses["total"])
    assert set(losses) == {f"{t}_{d}" for t in ("adv", "recon_x", "recon_s", "recon_c", "cyc_x") for d in "ab"} | {"total"}
    assert not torch.equal(before, m.gen_a.mlp.model[0].fc.weight)
    vgg = small_config()
    vgg.vgg_w = 1.0
    with pytest.raises(UsageError, match="vgg_w"):
        MUNIT(vgg).optimizer_specs()


# Each option's loss group (the authors' names); distinct primes make a swapped or dropped weight change the total.
WEIGHT_OF = {"adv": "gan_w", "recon_x": "recon_x_w", "recon_s": "recon_s_w", "recon_c": "recon_c_w", "cyc_x": "recon_x_cyc_w"}
PRIMES = {"gan_w": 2.0, "recon_x_w": 3.0, "recon_s_w": 5.0, "recon_c_w": 7.0, "recon_x_cyc_w": 11.0}


def test_each_weight_scales_its_own_loss_group(check_each_weight_scales_its_group):
    check_each_weight_scales_its_group(MUNIT, small_config(), WEIGHT_OF, PRIMES)


def test_registered_with_presets_and_the_registry_round_trips_the_authors_file(tmp_path):
    entry = get_method("munit")
    assert set(entry.presets) == {"tiny", "small", "paper"} and entry.presets["paper"]() == MUNITConfig(recon_x_cyc_w=10.0)
    torch.manual_seed(0)
    src = MUNIT(small_config(), with_discriminators=False).eval()
    entry.export_official(src, tmp_path / "gen.pt")
    back = official_load("munit", tmp_path / "gen.pt", small_config())
    x, s = torch.rand(2, 3, 16, 16) * 2 - 1, torch.randn(2, 8)
    with torch.no_grad():
        assert torch.equal(back.translate(x, style=s), src.translate(x, style=s))
    tiny = entry.presets["tiny"]()
    assert entry.config_cls(**dataclasses.asdict(tiny)) == tiny  # a stored config rebuilds (nested gen/dis)


def test_a_training_step_under_bf16_autocast():
    # AdaIN's batch_norm used to mix bf16 activations with float32 buffers and fail in backward
    torch.manual_seed(0)
    m = MUNIT(small_config())
    batch = {"a": torch.rand(1, 3, 16, 16) * 2 - 1, "b": torch.rand(1, 3, 16, 16) * 2 - 1}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = m.phase_losses("gen", batch, 0, {})
    losses["total"].backward()
    assert torch.isfinite(losses["total"]) and m.gen_a.mlp.model[2].fc.weight.grad.abs().sum() > 0
