"""Pure functions of protocol ``paired-v1``: per-sample errors to the ground truth and their aggregation.

Nothing here reads files or runs a network: images are tensors in [-1, 1], boxes are ``N x 5``
``[cls, x1, y1, x2, y2]`` in pixels of the image (the dataset layer's), and every function
returns numbers. :mod:`initbench.evaluation.paired` collects the data and calls these.

Regions (pixel windows as :mod:`initbench.dataset.crops`: a box covers columns floor(x1) ..
ceil(x2)-1 and rows floor(y1) .. ceil(y2)-1): ``frame`` = every pixel, ``background`` = pixels no
box covers, ``objects`` = the union of boxes, ``car`` / ``sign`` / ``person`` = the union of that
class's boxes. A region without pixels has no value (None), never 0.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from initbench.dataset.crops import _pixel_window, background_mask
from initbench.dataset.release import CATEGORY_KEYS

#: Region names of the L1 metrics, in the order of :func:`region_masks`.
REGIONS = ("frame", "background", "objects") + tuple(CATEGORY_KEYS.values())


def region_masks(boxes: torch.Tensor, height: int, width: int) -> dict[str, torch.Tensor]:
    """``{region: H x W bool mask}`` for :data:`REGIONS`."""
    boxes = boxes.reshape(-1, 5)
    inside = background_mask(boxes, height, width)[0] == 0
    out = {"frame": torch.ones(height, width, dtype=torch.bool), "background": ~inside, "objects": inside}
    for cls, name in CATEGORY_KEYS.items():
        out[name] = background_mask(boxes[boxes[:, 0] == cls], height, width)[0] == 0
    return out


def l1_per_region(outputs: torch.Tensor, truth: torch.Tensor, masks: dict[str, torch.Tensor]) -> dict[str, list[float | None]]:
    """Mean absolute difference in [0, 1] pixel units of each output to ``truth``, per region.

    ``outputs``: ``K x 3 x H x W``; ``truth``: ``3 x H x W`` (both [-1, 1]); returns ``{region: K values}``
    (None for a region without pixels). ``|y - t| / 2`` is the difference of the images scaled to [0, 1].
    """
    diff = ((outputs.double() - truth.double()[None]).abs() / 2).mean(1)  # K x H x W
    out: dict[str, list[float | None]] = {}
    for name, m in masks.items():
        n = int(m.sum())
        out[name] = [None] * outputs.shape[0] if n == 0 else (diff[:, m].sum(1) / n).tolist()
    return out


def box_crops(images: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Each box's window of each image, resized to ``size`` x ``size``: ``(K * N) x 3 x size x size``.

    Ordered image-major (all boxes of image 0, then of image 1, ...). Antialiased bilinear, as the loaders' crops.
    """
    boxes = boxes.reshape(-1, 5)
    _, _, h, w = images.shape
    crops = []
    for img in images:
        for b in boxes:
            y1, x1, y2, x2 = _pixel_window(b, h, w)
            patch = img[None, :, y1:y2, x1:x2].float()
            crops.append(F.interpolate(patch, size=(size, size), mode="bilinear", align_corners=False, antialias=True))
    if not crops:
        return torch.zeros(0, 3, size, size)
    return torch.cat(crops).clamp(-1, 1)


def mean_or_none(values: Sequence[float | None]) -> float | None:
    """Mean of the numbers among ``values`` (math.fsum), None when there are none."""
    nums = [float(v) for v in values if v is not None]
    return math.fsum(nums) / len(nums) if nums else None


def min_or_none(values: Sequence[float | None]) -> float | None:
    nums = [float(v) for v in values if v is not None]
    return min(nums) if nums else None


def summarise(per_input_samples: Sequence[Sequence[float | None]]) -> tuple[float | None, float | None, list, list]:
    """``(mean, best, per_input_mean, per_input_best)`` of one metric given per input its K sample values.

    Per input: the mean of its samples and the best (smallest) sample; headline: the mean over inputs of
    each (inputs without a value left out).
    """
    means = [mean_or_none(row) for row in per_input_samples]
    bests = [min_or_none(row) for row in per_input_samples]
    return mean_or_none(means), mean_or_none(bests), means, bests


def share_in_target(logits: torch.Tensor, target_index: int) -> list[int]:
    """1 for each row whose argmax is ``target_index``, else 0."""
    return [int(v) for v in (logits.argmax(dim=1) == target_index).tolist()]
