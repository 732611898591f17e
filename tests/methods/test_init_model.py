"""INIT (methods/init.py): every path's shapes and ranges, the coarse-to-fine rule, each loss term's
gradients, the variants, and inference without boxes."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import default_collate

from initbench.methods.base import get_method
from initbench.errors import UsageError
from initbench.methods.init import DecodeJob, InitConfig, InitModel
from initbench.methods.init_bank import association_allowed, check_association

SMALL = dict(dim=4, n_res=1, mlp_dim=16, dis_dim=4, dis_n_layer=2, dis_num_scales=2)


def make(variant="ds", **kw):
    torch.manual_seed(0)
    return InitModel(InitConfig(variant=variant, **{**SMALL, **kw}))


@pytest.fixture(scope="module")
def batch():
    from initbench.training.toy_data import RandomPairs

    ds = RandomPairs(n=3, size=(32, 48), crop_size=16, max_boxes=3, seed=1)
    b = default_collate([ds[i] for i in range(3)])
    assert b["a_ncrops"].sum() > 0 and b["b_ncrops"].sum() > 0
    return b


def test_image_object_and_half_scale_paths(batch):
    m = make()
    for x in (batch["a"], batch["a_crops"][:, 0], batch["a_half"]):  # 32x48 images, 16x16 crops, 16x24 halves
        c, s = m.gen_a.encode(x)
        assert c.shape == (x.shape[0], 16, x.shape[2] // 4, x.shape[3] // 4)
        assert s.shape == (x.shape[0], 8, 1, 1)
        for branch in ("global", "object"):
            y = m.gen_b.decode(c, s, branch=branch)
            assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1
    separate = make(share_decoder=False)
    assert hasattr(separate.gen_a, "dec_obj")
    assert not torch.equal(separate.gen_a.decode(c, s, branch="object"), separate.gen_a.decode(c, s, branch="global"))


def test_inference_needs_no_boxes_and_is_seeded(batch):
    m = make().eval()
    x = batch["a"]
    y1 = m.translate(x, generator=torch.Generator().manual_seed(5))
    y2 = m.translate(x, generator=torch.Generator().manual_seed(5))
    assert y1.shape == x.shape and torch.equal(y1, y2)
    style = torch.randn(3, m.style_dim)
    assert torch.equal(m.translate(x, style=style), m.decode(m.encode(x), style=style))
    assert not torch.equal(m.translate(x, direction="b2a", style=style), m.translate(x, style=style))


def test_association_rule_table():
    allowed = {(s, c) for s in ("global", "background", "object") for c in ("global", "background", "object") if association_allowed(s, c)}
    assert allowed == {("global", "global"), ("global", "background"), ("global", "object"),
                       ("background", "background"), ("background", "object"), ("object", "object")}
    with pytest.raises(ValueError, match="a object style cannot drive global content"):
        check_association("object", "global")
    m = make()
    c, s = m.gen_a.encode(torch.zeros(1, 3, 16, 16))
    with pytest.raises(ValueError, match="background style cannot drive global content"):
        m._decode(m.gen_a, c, "global", s, "background", "global")


def test_training_uses_only_coarse_to_fine_pairs(batch):
    m = make()
    m.association_trace = []
    m.gen_losses(batch)
    pairs = set(m.association_trace)
    assert all(association_allowed(s, c) for s, c in pairs)
    assert {("global", "global"), ("global", "object"), ("object", "object"), ("background", "object")} <= pairs


def test_fine_styles_cannot_reach_coarse_content(batch):
    """No image-level output depends on the object crops or on the background mask (the only inputs of the
    object and background styles), while the object-level terms do."""
    m = make()
    b = dict(batch)
    b["a_crops"] = batch["a_crops"].clone().requires_grad_(True)
    b["a_bg_mask"] = batch["a_bg_mask"].clone().requires_grad_(True)
    losses = m.gen_losses(b)
    image_level = losses["x_g"] + losses["c_g"] + losses["s_g"] + losses["cyc_g"] + losses["gan_g"]
    g = torch.autograd.grad(image_level, [b["a_crops"], b["a_bg_mask"]], allow_unused=True, retain_graph=True)
    assert all(t is None or not t.abs().sum() for t in g)
    g_obj = torch.autograd.grad(losses["c_assoc"] + losses["s_o"], [b["a_crops"], b["a_bg_mask"]], allow_unused=True)
    assert g_obj[0] is not None and g_obj[0].abs().sum() > 0
    assert g_obj[1] is not None and g_obj[1].abs().sum() > 0  # background styles drive object content


def _touched(model, loss):
    names = [n for n, p in model.named_parameters()]
    grads = torch.autograd.grad(loss, [p for _, p in model.named_parameters()], allow_unused=True, retain_graph=True)
    out = set()
    for n, g in zip(names, grads):
        if g is not None:
            assert torch.isfinite(g).all(), n
            if g.abs().sum() > 0:
                parts = n.split(".")
                out.add(parts[0] if parts[0].startswith("dis") else ".".join(parts[:2]))
    return out


GEN_CORE = {f"gen_{d}.{p}" for d in "ab" for p in ("enc_content", "dec", "mlp")}
DIS = {"dis_a", "dis_b"}


@pytest.mark.parametrize("variant", ["ds", "no-ds", "multiscale"])
def test_every_loss_is_finite_and_reaches_the_right_parameters(batch, variant):
    m = make(variant)
    shared: dict = {}
    losses = m.gen_losses(batch, shared)
    assert set(losses) == {"total", "x_g", "x_o", "c_g", "s_g", "c_o", "s_o", "c_assoc", "s_assoc", "cyc_g", "cyc_o", "cyc_gran",
                           "gan_g", "gan_o"}
    touched = {k: _touched(m, v) for k, v in losses.items()}
    for k, v in losses.items():
        assert torch.isfinite(v) and v > 0, k
    enc_style = {"gen_a.enc_style", "gen_b.enc_style"}
    for k in ("x_g", "x_o", "cyc_g", "cyc_o", "cyc_gran", "c_assoc", "s_assoc", "c_o", "s_o"):
        assert GEN_CORE | enc_style <= touched[k] and not touched[k] & (DIS | {"dis_a_obj", "dis_b_obj"}), k
    assert GEN_CORE <= touched["c_g"] and not touched["c_g"] & enc_style  # content recon needs no style encoder
    assert enc_style <= touched["s_g"]
    obj_dis = DIS if variant != "no-ds" else {"dis_a_obj", "dis_b_obj"}
    assert DIS <= touched["gan_g"] and obj_dis <= touched["gan_o"]
    assert not touched["gan_o"] & (DIS - obj_dis) and not touched["gan_g"] & {"dis_a_obj", "dis_b_obj"}
    d = m.dis_losses(batch, shared)
    dt = {k: _touched(m, v) for k, v in d.items()}
    assert dt["d_g"] == DIS and dt["d_o"] == obj_dis
    assert torch.isfinite(d["total"])


def test_variants_and_registry():
    entry = get_method("init")
    assert entry.variants == ("ds", "no-ds", "multiscale")
    assert set(entry.presets) == {"tiny", "small", "paper"}
    assert not any(n.startswith("dis_a_obj") for n, _ in make("ds").named_parameters())
    assert any(n.startswith("dis_a_obj") for n, _ in make("no-ds").named_parameters())
    ms = make("multiscale")
    assert ms.needs_half_scale and not ms.needs_crops
    # the global generator is MUNIT's AdaINGen: the same state_dict keys and shapes at the paper sizes
    munit = get_method("munit")
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        paper = entry.cls(entry.presets["paper"]())
        ref = munit.cls(munit.presets["paper"]()).gen_a.state_dict()
    assert {k: v.shape for k, v in paper.gen_a.state_dict().items()} == {k: v.shape for k, v in ref.items()}


def test_batches_without_objects(batch):
    m = make()
    b = dict(batch)
    b["a_ncrops"] = torch.zeros_like(batch["a_ncrops"])
    b["b_ncrops"] = torch.zeros_like(batch["b_ncrops"])
    shared: dict = {}
    losses = m.gen_losses(b, shared)
    assert losses["x_o"].item() == 0 and losses["gan_o"].item() == 0 and torch.isfinite(losses["total"])
    d = m.dis_losses(b, shared)
    assert d["d_o"].item() == 0
    with pytest.raises(RuntimeError, match="needs the fakes of a generator phase"):
        m.dis_losses(b, shared)  # the discriminator phase took the fakes out of the step's dict


def test_multiscale_needs_no_boxes_but_takes_the_half_view_from_the_batch(batch):
    m = make("multiscale")
    b = {k: batch[k] for k in ("a", "b", "a_half", "b_half")}  # no boxes or crops
    losses = m.gen_losses(b)
    assert losses["x_o"].item() > 0 and torch.isfinite(losses["total"])
    with pytest.raises(UsageError, match="a loader built with crops=True"):
        make("ds").gen_losses(b)
    with pytest.raises(UsageError, match=r"expected 'a_half' \(a loader built with half_scale=True\)"):
        m.gen_losses({k: batch[k] for k in ("a", "b")})


def test_fused_decoding_equals_separate_calls(batch):
    m = make()
    c, s = m.gen_a.encode(batch["a_crops"][:, 0])
    s2 = torch.randn_like(s)
    jobs = {"own": DecodeJob(c, "object", s, "object"), "other": DecodeJob(c, "object", s2, "global")}
    fused = m._decode_together(m.gen_a, "object", jobs)
    assert list(fused) == ["own", "other"]
    for out, style in zip(fused.values(), (s, s2)):
        torch.testing.assert_close(out, m.gen_a.decode(c, style, branch="object"), rtol=1e-5, atol=1e-5)
    forbidden = {"own": DecodeJob(c, "global", s, "global"), "fine_on_coarse": DecodeJob(c, "global", s, "object")}
    with pytest.raises(ValueError, match="a object style cannot drive global content"):
        m._decode_together(m.gen_a, "global", forbidden)


# Each term's weight field. The prime values make any swapped, dropped or shared weight change the total.
WEIGHT_OF = {
    "x_g": "lambda_x_g", "x_o": "lambda_x_o", "c_g": "lambda_c_g", "s_g": "lambda_s_g", "c_o": "lambda_c_o",
    "s_o": "lambda_s_o", "c_assoc": "lambda_c_assoc", "s_assoc": "lambda_s_assoc", "cyc_g": "lambda_cyc_g",
    "cyc_o": "lambda_cyc_o", "cyc_gran": "lambda_cyc_gran", "gan_g": "lambda_gan_g", "gan_o": "lambda_gan_o",
}  # fmt: skip
PRIMES = dict(zip(WEIGHT_OF.values(), (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41), strict=True))


@pytest.mark.parametrize("variant", ["ds", "multiscale"])
def test_every_term_enters_the_total_with_its_own_weight(batch, variant):
    defaults = make(variant)
    torch.manual_seed(1)
    unit = defaults.gen_losses(batch)
    m = make(variant, **PRIMES)
    torch.manual_seed(1)
    shared: dict = {}
    losses = m.gen_losses(batch, shared)
    for k in WEIGHT_OF:  # the logged terms are unweighted: the same draws give the same values
        assert torch.equal(losses[k], unit[k]), k
    expected = sum(PRIMES[WEIGHT_OF[k]] * losses[k].item() for k in WEIGHT_OF)
    assert losses["total"].item() == pytest.approx(expected, rel=1e-5)
    d = m.dis_losses(batch, shared)
    weighted = PRIMES["lambda_gan_g"] * d["d_g"].item() + PRIMES["lambda_gan_o"] * d["d_o"].item()
    assert d["total"].item() == pytest.approx(weighted, rel=1e-6)


@pytest.mark.parametrize("src,tgt", [("a", "b"), ("b", "a")])
def test_swapped_object_style_comes_from_the_target_bank_and_the_association_style_from_its_own(batch, src, tgt):
    """Objects in ``src`` rows 0 and 2 only. The cross-domain object terms (c_o, s_o) depend on the target
    images of the same rows (their bank: global or background style) and on no source image; the association
    terms on the source images of the same rows and on no target image."""
    m = make()
    b = dict(batch)
    b[f"{tgt}_ncrops"] = torch.zeros_like(batch[f"{tgt}_ncrops"])
    b[f"{src}_ncrops"] = batch[f"{src}_ncrops"].clone()
    b[f"{src}_ncrops"][1] = 0
    assert b[f"{src}_ncrops"][0] > 0 and b[f"{src}_ncrops"][2] > 0
    for side in "ab":
        b[side] = batch[side].clone().requires_grad_(True)
        b[f"{side}_bg_mask"] = batch[f"{side}_bg_mask"].clone().requires_grad_(True)
    losses = m.gen_losses(b)
    inputs = [b[src], b[f"{src}_bg_mask"], b[tgt], b[f"{tgt}_bg_mask"]]

    def rows_reached(loss) -> list[set[int]]:
        """Per input, the batch rows whose pixels the loss depends on."""
        grads = torch.autograd.grad(loss, inputs, allow_unused=True, retain_graph=True)
        return [set() if g is None else {i for i in range(g.shape[0]) if g[i].abs().sum() > 0} for g in grads]

    src_img, src_bg, tgt_img, tgt_bg = rows_reached(losses["c_o"] + losses["s_o"])
    assert (src_img, src_bg, tgt_img) == (set(), set(), {0, 2}) and tgt_bg <= {0, 2}
    src_img, src_bg, tgt_img, tgt_bg = rows_reached(losses["c_assoc"] + losses["s_assoc"])
    assert (src_img, tgt_img, tgt_bg) == ({0, 2}, set(), set()) and src_bg <= {0, 2}


def test_domain_generator_is_munits_generator_and_configs_stored_before_the_assoc_weights_rebuild():
    import dataclasses

    from initbench.methods.munit import MUNIT, MUNITConfig, MUNITGenOptions
    from initbench.training.config import config_from_dict

    m = make()
    torch.manual_seed(1)
    munit = MUNIT(MUNITConfig(gen=MUNITGenOptions(dim=4, n_res=1, mlp_dim=16)), with_discriminators=False)
    m.gen_b.load_state_dict(munit.gen_a.state_dict())  # strict: a MUNIT generator warm-starts INIT's
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    c, s = munit.gen_a.encode(x)
    assert torch.equal(m.gen_b.decode(c, s), munit.gen_a.decode(c, s))
    assert torch.equal(m.gen_b.decode(c, s, branch="object"), munit.gen_a.decode(c, s))  # shared decoder
    stored = {k: v for k, v in dataclasses.asdict(m.config).items() if k not in ("lambda_c_assoc", "lambda_s_assoc")}
    assert config_from_dict("init", stored) == m.config  # default 1: what they had with the default lambda_c_o/s_o


def test_init_refuses_sizes_that_are_not_multiples_of_4_as_the_baselines_do():

    model = make().eval()
    assert model.size_multiple == 4
    with pytest.raises(UsageError) as err:  # it used to return 64 x 100 for 64 x 102
        model.translate(torch.zeros(1, 3, 64, 102), style=torch.zeros(1, model.style_dim))
    assert str(err.value) == ("init: image height and width must be multiples of 4 (the generator down- and up-samples); "
                              "got 64 x 102. Resize or crop first.")
    assert model.translate(torch.zeros(1, 3, 64, 100), style=torch.zeros(1, model.style_dim)).shape == (1, 3, 64, 100)
