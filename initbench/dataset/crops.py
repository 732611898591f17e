"""Instance crops (each box cut out and resized to S x S, the paper's 120 x 120) and background masks.

Works on C x H x W tensors (uint8 or float) and N x 5 boxes ``[cls, x1, y1, x2, y2]`` in
pixels of that image. A box covers the pixel columns floor(x1) .. ceil(x2)-1 and rows
floor(y1) .. ceil(y2)-1 (at least one pixel each way).
"""

from __future__ import annotations

import math

import torch
import torchvision.transforms.v2.functional as TF


def _pixel_window(b: torch.Tensor, H: int, W: int) -> tuple[int, int, int, int]:
    x1 = min(max(int(math.floor(float(b[1]))), 0), W - 1)
    y1 = min(max(int(math.floor(float(b[2]))), 0), H - 1)
    x2 = max(min(int(math.ceil(float(b[3]))), W), x1 + 1)
    y2 = max(min(int(math.ceil(float(b[4]))), H), y1 + 1)
    return y1, x1, y2, x2


def crop_order(boxes: torch.Tensor) -> torch.Tensor:
    """Indices of boxes by decreasing area (ties: original order): the ones kept under a cap."""
    if not boxes.numel():
        return torch.zeros(0, dtype=torch.long)
    area = (boxes[:, 3] - boxes[:, 1]).clamp(min=0) * (boxes[:, 4] - boxes[:, 2]).clamp(min=0)
    return torch.tensor(sorted(range(len(area)), key=lambda i: (-float(area[i]), i)), dtype=torch.long)


def instance_crops(
    image: torch.Tensor, boxes: torch.Tensor, size: int = 120, max_crops: int = 8
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Cut out the ``max_crops`` largest boxes and resize each to ``size`` x ``size``.

    Returns (crops ``max_crops x C x size x size`` in the image's dtype, zero-padded;
    classes ``max_crops`` int64 with -1 padding; number of real crops).
    """
    C, H, W = image.shape
    crops = torch.zeros((max_crops, C, size, size), dtype=image.dtype)
    cls = torch.full((max_crops,), -1, dtype=torch.int64)
    n = 0
    for i in crop_order(boxes)[:max_crops].tolist():
        y1, x1, y2, x2 = _pixel_window(boxes[i], H, W)
        patch = image[:, y1:y2, x1:x2]
        crops[n] = TF.resize(patch, [size, size], antialias=True)
        cls[n] = int(boxes[i, 0])
        n += 1
    return crops, cls, n


def background_mask(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """1 x H x W float mask: 1 on background, 0 on pixels that any box covers."""
    mask = torch.ones((1, height, width), dtype=torch.float32)
    for b in boxes:
        if int(b[0]) < 0:
            continue
        y1, x1, y2, x2 = _pixel_window(b, height, width)
        mask[:, y1:y2, x1:x2] = 0
    return mask
