"""Random pairs in the loaders' batch format, for tests, benchmarks and smoke runs without a dataset.

Item ``i`` is a pure function of ``(seed, i)``: smooth random images (a coarse random grid,
bilinearly upsampled) with up to ``max_boxes`` coloured boxes, plus pixel noise, their crops resized to
``crop_size``, the background mask and the half-scale view. Keys as
:mod:`initbench.dataset.loaders` (``a``, ``a_boxes``, ``a_nboxes``, ``a_crops``, ``a_crop_cls``,
``a_ncrops``, ``a_bg_mask``, ``a_half``, and the same for ``b``; no paths).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset


class RandomPairs(Dataset):
    def __init__(self, n: int = 8, size: int | tuple[int, int] = 64, crop_size: int = 32, max_boxes: int = 3, seed: int = 0, min_boxes: int = 0):
        self.n = n
        self.h, self.w = (size, size) if isinstance(size, int) else tuple(size)
        self.crop_size = crop_size
        self.max_boxes = max_boxes
        self.seed = seed
        self.min_boxes = min(min_boxes, max_boxes)

    def __len__(self) -> int:
        return self.n

    def _domain(self, g: torch.Generator, shift: float) -> dict[str, torch.Tensor]:
        h, w, k, s = self.h, self.w, self.max_boxes, self.crop_size
        coarse = torch.rand(1, 3, 4, 4, generator=g) * 1.2 - 0.6 + shift
        img = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)[0].clamp(-1, 1)
        boxes = torch.full((k, 5), 0.0)
        boxes[:, 0] = -1
        crops = torch.zeros(k, 3, s, s)
        cls = torch.full((k,), -1, dtype=torch.int64)
        mask = torch.ones(1, h, w)
        nb = int(torch.randint(self.min_boxes, k + 1, (1,), generator=g))
        for j in range(nb):
            bh, bw = int(torch.randint(h // 6, h // 2, (1,), generator=g)), int(torch.randint(w // 6, w // 2, (1,), generator=g))
            y1, x1 = int(torch.randint(0, h - bh, (1,), generator=g)), int(torch.randint(0, w - bw, (1,), generator=g))
            c = int(torch.randint(1, 4, (1,), generator=g))
            img[:, y1 : y1 + bh, x1 : x1 + bw] = torch.rand(3, 1, 1, generator=g) * 2 - 1
            boxes[j] = torch.tensor([c, x1, y1, x1 + bw, y1 + bh], dtype=torch.float32)
            cls[j] = c
            mask[:, y1 : y1 + bh, x1 : x1 + bw] = 0
        # texture: perfectly flat regions make instance norm's backward explode (variance ~0)
        img = (img + 0.1 * torch.randn(img.shape, generator=g)).clamp(-1, 1)
        for j in range(nb):
            _, x1, y1, x2, y2 = boxes[j].int().tolist()
            crops[j] = F.interpolate(img[None, :, y1:y2, x1:x2], size=(s, s), mode="bilinear", align_corners=False)[0]
        half = F.interpolate(img[None], size=(h // 2, w // 2), mode="area")[0]
        return {"": img, "_boxes": boxes, "_nboxes": torch.tensor(nb), "_crops": crops, "_crop_cls": cls,
                "_ncrops": torch.tensor(nb), "_bg_mask": mask, "_half": half}

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + i)
        out = {}
        for side, shift in (("a", 0.3), ("b", -0.3)):
            out.update({side + k: v for k, v in self._domain(g, shift).items()})
        return out
