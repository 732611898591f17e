"""Box-aware image transforms: short-side resize, crop, horizontal flip, half scale.

Images are tensors C x H x W (uint8 0..255 or float); boxes are float tensors N x 5 rows
``[cls, x1, y1, x2, y2]`` in pixels of the image they come with (x to the right, y down,
corners on the pixel grid: a box covering pixel columns 0..9 has x1 = 0, x2 = 10).
Every function returns the new image and the boxes in the new image's pixels, exactly:

- resize to (h', w'): x * w'/w, y * h'/h (the same factors the image gets);
- crop at (top, left) of size (h', w'): x - left, y - top, then clipped to the crop; a box that
  the crop cut (its clipped extent differs from its full extent) and whose clipped width or
  height is below ``min_size`` pixels (a box entirely outside the crop has zero size) is
  dropped and counted;
- horizontal flip of width w: (x1, x2) -> (w - x2, w - x1).

Resizing is antialiased bilinear (torch's ``antialias=True``), on uint8 when given uint8.
"""

from __future__ import annotations

import torch
import torchvision.transforms.v2.functional as TF

from initbench.errors import UsageError


def short_side_size(height: int, width: int, size: int) -> tuple[int, int]:
    """(h', w') with the short side = ``size`` and the long side scaled and rounded.

    1208 x 1920 at 360 -> 360 x 572 (the size several INIT papers trained on).
    """
    if size < 1:
        raise UsageError(f"size: expected a positive short side in pixels; got {size}")
    if height <= width:
        return size, max(1, int(round(width * size / height)))
    return max(1, int(round(height * size / width))), size


def resize(image: torch.Tensor, boxes: torch.Tensor, out_hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Resize ``image`` (C x H x W) to ``out_hw`` (antialiased bilinear); scale the boxes."""
    h, w = image.shape[-2:]
    oh, ow = out_hw
    if (oh, ow) != (h, w):
        image = TF.resize(image, [oh, ow], antialias=True)
    if boxes.numel():
        boxes = boxes.clone()
        boxes[:, [1, 3]] *= ow / w
        boxes[:, [2, 4]] *= oh / h
    return image, boxes


def resize_short_side(image: torch.Tensor, boxes: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Resize so that the short side is ``size`` (see :func:`short_side_size`)."""
    h, w = image.shape[-2:]
    return resize(image, boxes, short_side_size(h, w, size))


def crop(
    image: torch.Tensor, boxes: torch.Tensor, top: int, left: int, height: int, width: int, min_size: float = 2.0
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Crop ``image`` to rows top..top+height, columns left..left+width.

    Returns (image, boxes, number of boxes dropped). See the module docstring for the rule.
    """
    H, W = image.shape[-2:]
    if top < 0 or left < 0 or top + height > H or left + width > W:
        raise UsageError(f"crop: expected a window inside the {H} x {W} image; got top={top} left={left} {height} x {width}")
    image = image[..., top : top + height, left : left + width]
    if not boxes.numel():
        return image, boxes, 0
    b = boxes.clone()
    b[:, [1, 3]] -= left
    b[:, [2, 4]] -= top
    full = b.clone()
    b[:, [1, 3]] = b[:, [1, 3]].clamp(0, width)
    b[:, [2, 4]] = b[:, [2, 4]].clamp(0, height)
    cut = (b[:, 1:] != full[:, 1:]).any(dim=1)
    small = ((b[:, 3] - b[:, 1]) < min_size) | ((b[:, 4] - b[:, 2]) < min_size)
    drop = cut & small
    return image, b[~drop], int(drop.sum())


def hflip(image: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror left-right; boxes follow: (x1, x2) -> (W - x2, W - x1)."""
    W = image.shape[-1]
    image = image.flip(-1)
    if boxes.numel():
        boxes = boxes.clone()
        x1 = boxes[:, 1].clone()
        boxes[:, 1] = W - boxes[:, 3]
        boxes[:, 3] = W - x1
    return image, boxes


def random_crop_window(
    height: int, width: int, crop_hw: tuple[int, int], generator: torch.Generator
) -> tuple[int, int]:
    """(top, left) drawn uniformly with ``generator``; raises UsageError if the crop is too large."""
    ch, cw = crop_hw
    if ch > height or cw > width:
        raise UsageError(f"crop: expected at most the image size {height} x {width} after resizing; got {ch} x {cw}")
    top = int(torch.randint(0, height - ch + 1, (1,), generator=generator))
    left = int(torch.randint(0, width - cw + 1, (1,), generator=generator))
    return top, left


def center_crop_window(height: int, width: int, crop_hw: tuple[int, int]) -> tuple[int, int]:
    ch, cw = crop_hw
    if ch > height or cw > width:
        raise UsageError(f"crop: expected at most the image size {height} x {width} after resizing; got {ch} x {cw}")
    return (height - ch) // 2, (width - cw) // 2


def half_scale(image: torch.Tensor) -> torch.Tensor:
    """The image at half size (antialiased), C x H//2 x W//2, for INIT's multi-scale training."""
    h, w = image.shape[-2:]
    return TF.resize(image, [max(1, h // 2), max(1, w // 2)], antialias=True)


def to_unit_range(image: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 -> float32 in [-1, 1]."""
    return image.to(torch.float32).div_(127.5).sub_(1.0)


def as_hw(value: int | tuple[int, int] | None, option: str = "crop") -> tuple[int, int] | None:
    """An int or (h, w) pair as (h, w); None stays None."""
    if value is None:
        return None
    if isinstance(value, int):
        value = (value, value)
    if len(value) != 2 or any((not isinstance(v, int)) or v < 1 for v in value):
        raise UsageError(f"{option}: expected a positive int or a (height, width) pair; got {value!r}")
    return (int(value[0]), int(value[1]))


def boxes_tensor(boxes) -> torch.Tensor:
    """A sequence of (cls, x1, y1, x2, y2) as a float32 N x 5 tensor (0 x 5 when empty)."""
    if not boxes:
        return torch.zeros((0, 5), dtype=torch.float32)
    return torch.tensor([list(b) for b in boxes], dtype=torch.float32)


def pad_boxes(boxes: torch.Tensor, k: int) -> torch.Tensor:
    """N x 5 -> k x 5, padding rows ``[-1, 0, 0, 0, 0]``; N must be <= k."""
    out = torch.zeros((k, 5), dtype=torch.float32)
    out[:, 0] = -1
    n = min(k, boxes.shape[0])
    out[:n] = boxes[:n]
    return out
