"""Box-aware transforms against boxes computed by hand; instance crops and background masks."""

from __future__ import annotations

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from initbench.dataset import transforms as T
from initbench.dataset.crops import background_mask, instance_crops
from initbench.errors import UsageError


def _boxes(*rows):
    return torch.tensor(rows, dtype=torch.float32)


def test_short_side_size_matches_the_papers_360_by_572():
    assert T.short_side_size(1208, 1920, 360) == (360, 572)
    assert T.short_side_size(1920, 1208, 360) == (572, 360)
    assert T.short_side_size(40, 64, 20) == (20, 32)
    with pytest.raises(UsageError, match="size: expected a positive short side"):
        T.short_side_size(10, 10, 0)


def test_resize_scales_boxes_by_the_image_factors():
    img = torch.zeros(3, 1208, 1920, dtype=torch.uint8)
    out, b = T.resize_short_side(img, _boxes([1, 745.1, 620.9, 955.2, 719.8]), 360)
    assert out.shape == (3, 360, 572)
    sx, sy = 572 / 1920, 360 / 1208
    assert torch.allclose(b, _boxes([1, 745.1 * sx, 620.9 * sy, 955.2 * sx, 719.8 * sy]))


def test_resize_is_antialiased():
    # a 1-pixel checkerboard averages to grey under an antialiased 4x reduction
    img = ((torch.arange(64)[:, None] + torch.arange(64)[None]) % 2 * 255).to(torch.uint8).expand(3, 64, 64).contiguous()
    out, _ = T.resize(img, torch.zeros(0, 5), (16, 16))
    assert (out.float() - 127.5).abs().max() <= 2


def test_crop_shifts_clips_and_drops_cut_boxes():
    img = torch.arange(3 * 10 * 20, dtype=torch.float32).reshape(3, 10, 20)
    boxes = _boxes(
        [1, 5, 2, 9, 6],  # inside the crop: shifted only
        [1, 2, 2, 6, 6],  # cut on the left to exactly 2 wide: kept
        [2, 0, 0, 5.5, 3],  # cut on the left: 5.5 - 4 = 1.5 wide < 2: dropped
        [3, 10, 1, 30, 9],  # cut on the right (x 6..26 -> 6..12): kept
        [1, 18, 0, 20, 2],  # entirely outside: dropped
        [3, 5, 5, 5.5, 5.5],  # tiny but not cut: kept
    )
    out, b, dropped = T.crop(img, boxes, top=1, left=4, height=8, width=12, min_size=2)
    assert torch.equal(out, img[:, 1:9, 4:16])
    assert dropped == 2
    assert torch.allclose(b, _boxes([1, 1, 1, 5, 5], [1, 0, 1, 2, 5], [3, 6, 0, 12, 8], [3, 1, 4, 1.5, 4.5]))
    with pytest.raises(UsageError, match="crop: expected a window inside the 10 x 20 image"):
        T.crop(img, boxes, 5, 0, 8, 20)


def test_hflip_mirrors_boxes():
    img = torch.arange(2 * 3 * 5, dtype=torch.float32).reshape(2, 3, 5)
    out, b = T.hflip(img, _boxes([1, 0, 0, 2, 3], [2, 1.5, 1, 5, 2]))
    assert torch.equal(out[..., 0], img[..., 4])
    assert torch.allclose(b, _boxes([1, 3, 0, 5, 3], [2, 0, 1, 3.5, 2]))
    # flipping twice is the identity
    back, bb = T.hflip(out, b)
    assert torch.equal(back, img) and torch.allclose(bb, _boxes([1, 0, 0, 2, 3], [2, 1.5, 1, 5, 2]))


def test_random_crop_window_is_seeded_and_in_range():
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    wins = [T.random_crop_window(10, 30, (10, 12), g1) for _ in range(50)]
    assert wins == [T.random_crop_window(10, 30, (10, 12), g2) for _ in range(50)]
    assert all(t == 0 and 0 <= l <= 18 for t, l in wins) and len({l for _, l in wins}) > 5
    with pytest.raises(UsageError, match="crop: expected at most the image size 10 x 30"):
        T.random_crop_window(10, 30, (11, 12), g1)


def test_half_scale_and_unit_range():
    img = torch.full((3, 10, 16), 255, dtype=torch.uint8)
    assert T.half_scale(img).shape == (3, 5, 8)
    u = T.to_unit_range(torch.tensor([0, 255], dtype=torch.uint8))
    assert u.dtype == torch.float32 and u.tolist() == [-1.0, 1.0]


def test_pad_boxes():
    p = T.pad_boxes(_boxes([1, 1, 2, 3, 4]), 3)
    assert p.tolist() == [[1, 1, 2, 3, 4], [-1, 0, 0, 0, 0], [-1, 0, 0, 0, 0]]


def test_instance_crops_cut_and_resize_the_largest_boxes():
    img = torch.rand(3, 40, 60)
    boxes = _boxes([1, 10, 5, 30.5, 20], [3, 0, 0, 4, 4], [2, 40, 10, 60, 40])
    crops, cls, n = instance_crops(img, boxes, size=16, max_crops=2)
    assert crops.shape == (2, 3, 16, 16) and n == 2
    assert cls.tolist() == [2, 1]  # by area: 20x30 then 20.5x15; the 4x4 box is over the cap
    want = TF.resize(img[:, 10:40, 40:60], [16, 16], antialias=True)
    assert torch.allclose(crops[0], want)
    want = TF.resize(img[:, 5:20, 10:31], [16, 16], antialias=True)  # x2 = 30.5 covers column 30
    assert torch.allclose(crops[1], want)
    crops, cls, n = instance_crops(img, boxes[:0], size=16, max_crops=3)
    assert n == 0 and cls.tolist() == [-1, -1, -1] and not crops.any()


def test_background_mask_is_zero_exactly_on_boxes():
    m = background_mask(_boxes([1, 1, 1, 3, 2], [-1, 0, 0, 0, 0]), 4, 5)
    assert m.shape == (1, 4, 5)
    assert m[0].tolist() == [[1, 1, 1, 1, 1], [1, 0, 0, 1, 1], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1]]
