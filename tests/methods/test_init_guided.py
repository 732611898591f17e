"""Example-guided INIT (initbench.guided + InitModel.style_from_images / object branch): the output follows the
guide, each matched object follows the guide's own crop of it, the box matching rule, and the fallbacks."""

from __future__ import annotations

import pytest
import torch

from initbench.errors import UsageError
from initbench.guided import guided_translate, match_boxes, paste_objects
from initbench.methods.base import get_method, style_guided_method_names
from initbench.methods.init import InitConfig, InitModel

SMALL = dict(dim=4, n_res=1, mlp_dim=16, dis_dim=4, dis_n_layer=2, dis_num_scales=2)
H, W = 32, 48
#: Two disjoint boxes (a car and a person) in pixels of an H x W image.
BOXES = torch.tensor([[1, 2.0, 3.0, 18.0, 21.0], [3, 26.0, 6.0, 44.0, 30.0]])


def make(variant="ds", object_size=16):
    torch.manual_seed(0)
    m = InitModel(InitConfig(variant=variant, **SMALL)).eval()
    m.object_size = object_size
    return m


def rand(seed, h=H, w=W):
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def masks():
    """``(box 0 window, box 1 window, outside both)`` as H x W bool masks (the boxes sit on whole pixels)."""
    out = []
    for b in BOXES:
        m = torch.zeros(H, W, dtype=torch.bool)
        m[int(b[2]):int(b[4]), int(b[1]):int(b[3])] = True
        out.append(m)
    return out[0], out[1], ~(out[0] | out[1])


@torch.no_grad()
def run(m, x, guide, **kw):
    return guided_translate(m, x, guide, **kw)


def test_init_now_takes_its_style_from_images_and_only_crops_variants_have_object_styles():
    assert set(style_guided_method_names()) == {"drit", "init", "munit"}
    assert make().takes_style_from_images and make().takes_object_styles
    assert not make("multiscale").takes_object_styles
    assert not get_method("munit").cls(get_method("munit").presets["tiny"]()).takes_object_styles


def test_the_guide_decides_the_output_and_the_same_guide_gives_the_same_output():
    m, x = make(), rand(0)
    y1, _ = run(m, x, rand(1))
    y1_again, _ = run(m, x, rand(1))
    y2, _ = run(m, x, rand(2))
    assert torch.equal(y1, y1_again)
    assert (y1 - y2).abs().mean() > 1e-3
    # without boxes it is the paper's inference: the guide's global style through the global branch
    s = m.style_from_images(rand(1), direction="a2b")
    assert s.shape == (1, m.style_dim)
    with torch.no_grad():
        assert torch.equal(y1, m.translate(x, style=s))


def test_a_guide_of_another_size_is_accepted_and_its_boxes_are_matched_in_relative_coordinates():
    m, x = make(), rand(0)
    big = torch.nn.functional.interpolate(rand(1), size=(2 * H, 2 * W), mode="nearest")
    gb = BOXES.clone()
    gb[:, 1:] *= 2
    y, rec = run(m, x, big, boxes=BOXES, guide_boxes=gb)
    assert rec["objects_styled_from_guide_crops"] == 2 and y.shape == x.shape


def test_each_object_takes_the_style_of_the_guides_own_crop_of_it():
    m, x, guide = make(), rand(0), rand(1)
    in0, in1, outside = masks()
    base, rec = run(m, x, guide, boxes=BOXES, guide_boxes=BOXES)
    assert rec["objects"] == 2 and rec["objects_styled_from_guide_crops"] == 2 and rec["object_size"] == 16
    # the guide changed inside box 1 only: box 0's pixels are exactly as before (its style is its own crop's),
    # box 1's change
    g1 = guide.clone()
    g1[..., in1] = rand(5)[..., in1]
    y, _ = run(m, x, g1, boxes=BOXES, guide_boxes=BOXES)
    d = (y - base).abs()[0].amax(0)
    assert torch.equal(y[..., in0], base[..., in0])
    assert d[in1].mean() > 1e-3
    # the guide changed outside the boxes only: every object keeps its pixels, the background follows the guide
    g2 = guide.clone()
    g2[..., outside] = rand(6)[..., outside]
    y, _ = run(m, x, g2, boxes=BOXES, guide_boxes=BOXES)
    d = (y - base).abs()[0].amax(0)
    assert torch.equal(y[..., ~outside], base[..., ~outside])
    assert d[outside].mean() > 1e-3
    # and each object is rendered from the input's own crop of it: the input changed inside box 1 only
    x1 = x.clone()
    x1[..., in1] = rand(7)[..., in1]
    y, _ = run(m, x1, guide, boxes=BOXES, guide_boxes=BOXES)
    assert torch.equal(y[..., in0], base[..., in0])
    assert (y - base).abs()[0].amax(0)[in1].mean() > 1e-3


def test_boxes_change_only_the_objects_and_without_a_match_everything_stays_global():
    m, x, guide = make(), rand(0), rand(1)
    _, _, outside = masks()
    plain, rec = run(m, x, guide)
    assert rec["objects_styled_from_guide_crops"] == 0 and rec["why_global"] == "no guide boxes"
    boxed, _ = run(m, x, guide, guide_boxes=BOXES)  # no input boxes: the guide's are the input's
    assert torch.equal(boxed[..., outside], plain[..., outside])
    assert (boxed - plain)[..., ~outside].abs().mean() > 1e-3
    other = BOXES.clone()
    other[:, 0] = 2  # the guide's objects are signs: no input object matches one
    y, rec = run(m, x, guide, boxes=BOXES, guide_boxes=other)
    assert torch.equal(y, plain) and "no input box matches" in rec["why_global"]


@pytest.mark.parametrize("variant, object_size, why", [("multiscale", 16, "no object branch"), ("ds", None, "object crop size is unknown")])
def test_without_an_object_branch_or_crop_size_the_objects_keep_the_global_style(variant, object_size, why):
    m, x, guide = make(variant, object_size), rand(0), rand(1)
    y, rec = run(m, x, guide, boxes=BOXES, guide_boxes=BOXES)
    plain, _ = run(m, x, guide)
    assert torch.equal(y, plain) and why in rec["why_global"] and rec["objects"] == 2


def test_methods_without_a_style_encoder_are_refused_with_the_ones_that_can():
    entry = get_method("cyclegan")
    m = entry.cls(entry.presets["tiny"]())
    with pytest.raises(UsageError, match="cyclegan: cannot take its style from an image; methods that can: drit, init, munit"):
        guided_translate(m, rand(0), rand(1))
    with pytest.raises(UsageError, match="no object branch"):
        m.translate_objects(torch.zeros(1, 3, 16, 16), torch.zeros(1, 8))


def test_box_matching_same_category_iou_threshold_and_one_to_one():
    b = lambda *rows: torch.tensor(rows, dtype=torch.float64)  # noqa: E731
    src = b([1, 0, 0, 10, 10], [1, 20, 0, 30, 10], [3, 0, 20, 10, 30])
    # guide: a car on src 0 shifted by 1 px (IoU 0.82), a car half over src 1 (IoU 1/3), a sign where src 2 is
    guide = b([1, 1, 0, 11, 10], [1, 25, 0, 35, 10], [2, 0, 20, 10, 30])
    assert match_boxes(src, guide) == [(0, 0)]
    assert match_boxes(src, guide, min_iou=0.3) == [(0, 0), (1, 1)]
    # two input cars over one guide car: the closer one gets it, once
    assert match_boxes(b([1, 0, 0, 10, 10], [1, 1, 0, 11, 10]), b([1, 1, 0, 11, 10])) == [(1, 0)]
    assert match_boxes(src, torch.zeros(0, 5)) == []


def test_paste_puts_each_patch_on_its_window_smaller_boxes_on_top():
    img = torch.zeros(3, 10, 10)
    boxes = torch.tensor([[1, 0.0, 0.0, 8.0, 8.0], [1, 2.0, 2.0, 4.0, 4.0]])
    patches = torch.stack([torch.full((3, 4, 4), 0.5), torch.full((3, 4, 4), -0.5)])
    out = paste_objects(img, patches, boxes)
    assert torch.equal(out[:, 2:4, 2:4], torch.full((3, 2, 2), -0.5))
    assert torch.allclose(out[:, 0:2, 0:8], torch.full((3, 2, 8), 0.5)) and out[:, 8:].abs().sum() == 0


def test_a_native_checkpoint_gives_init_the_crop_size_it_was_trained_on(tmp_path):
    from initbench.training.checkpoints import load_translator, save_checkpoint

    m = make(object_size=None)
    ckpt = save_checkpoint(tmp_path / "c.pt", method="init", config=m.config_dict(), model_state=m.state_dict(), step=0,
                           train_config={"task": "sunny2night", "crop_size": 24})
    assert load_translator(ckpt).object_size == 24
    bare = save_checkpoint(tmp_path / "d.pt", method="init", config=m.config_dict(), model_state=m.state_dict(), step=0)
    assert load_translator(bare).object_size is None
