"""``colour-transfer``: a global colour map from one domain to the other, the second floor.

The map is fitted on training images the caller hands over (methods never read data files):
``ColourTransfer().fit(a_batches, b_batches)`` fits both directions at once. It is the same
for every pixel of every image: it can change the light and the colour cast of a scene, never
one object differently from another. A model that cannot beat it is not translating instances.

The map (why this one): per-axis quantile matching in a decorrelated colour space.

1. Pixels of both domains are pooled; the eigenvectors of their 3 x 3 covariance (a PCA of
   RGB) give an orthogonal basis where the channels are uncorrelated (in RGB they are not:
   brightness moves all three together, so matching R, G and B separately would treat one
   change three times and distort hues).
2. Along each of the three axes, the source's quantiles are mapped to the target's
   (piecewise linear between ``quantiles`` levels, linear extension beyond the ends clamped to
   [-1, 1] in the end). That is the optimal 1-D transport per axis: it matches the whole
   distribution, not only mean and covariance, so non-linear tone changes (day to night: most
   pixels much darker, a few lights still bright) are reproduced, which a 3 x 3 + bias linear
   map cannot do.

Deterministic: fitting sees a fixed, strided subset of each image's pixels (at most
``pixels_per_image``) in the order given; quantiles are exact on that subset (sort, no
sampling). Save and load go through the native checkpoint format (:meth:`ColourTransfer.save`,
``initbench.training.checkpoints.load_translator``).
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Iterable

import torch

from initbench.errors import UsageError
from initbench.methods.base import MethodEntry, Translator, check_direction, register

TIE = 1e-5


@dataclass
class ColourTransferConfig:
    """How finely the map is fitted (stored in checkpoints)."""

    #: Quantile levels per axis (the map is piecewise linear between them).
    quantiles: int = 256
    #: Pixels kept per image when fitting (a fixed stride over the image; all when smaller).
    pixels_per_image: int = 4096


class ColourTransfer(Translator):
    """A fitted global colour map A -> B and B -> A (style_dim 0)."""

    name = "colour-transfer"
    style_dim = 0
    size_multiple = 1

    def __init__(self, config: ColourTransferConfig | None = None):
        super().__init__()
        self.config = config or ColourTransferConfig()
        k = self.config.quantiles
        if k < 2 or self.config.pixels_per_image < 1:
            raise UsageError(f"colour-transfer config: expected quantiles >= 2 and pixels_per_image >= 1; got {self.config}")
        self.register_buffer("mean", torch.zeros(3))
        self.register_buffer("basis", torch.eye(3))
        self.register_buffer("quantiles_a", torch.zeros(k, 3))  # per axis, in the decorrelated space
        self.register_buffer("quantiles_b", torch.zeros(k, 3))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    # -- fitting ---------------------------------------------------------------------------
    def _pixels(self, batches: Iterable[torch.Tensor], which: str) -> torch.Tensor:
        chunks = []
        for x in batches:
            if x.dim() != 4 or x.shape[1] != 3:
                raise UsageError(f"colour-transfer fit: expected {which} batches B x 3 x H x W; got shape {tuple(x.shape)}")
            flat = x.detach().to("cpu", torch.float64).flatten(2)  # B x 3 x HW
            stride = max(1, math.ceil(flat.shape[2] / self.config.pixels_per_image))
            chunks.append(flat[:, :, ::stride].permute(0, 2, 1).reshape(-1, 3))
        if not chunks:
            raise UsageError(f"colour-transfer fit: no {which} images given")
        return torch.cat(chunks)

    def fit(self, a_batches: Iterable[torch.Tensor], b_batches: Iterable[torch.Tensor]) -> "ColourTransfer":
        """Fit both directions from training images of A and of B (tensors ``B x 3 x H x W`` in [-1, 1]); returns self."""
        pa, pb = self._pixels(a_batches, "A"), self._pixels(b_batches, "B")
        pooled = torch.cat([pa, pb])
        mean = pooled.mean(0)
        cov = torch.cov((pooled - mean).T)
        _, vecs = torch.linalg.eigh(cov)  # ascending eigenvalues; columns are the axes
        vecs = vecs.flip(1)
        vecs = vecs * torch.where(vecs.sum(0) < 0, -1.0, 1.0)  # a fixed sign per axis: the same map on every machine
        levels = torch.linspace(0, 1, self.config.quantiles, dtype=torch.float64)
        with torch.no_grad():
            self.mean.copy_(mean.float())
            self.basis.copy_(vecs.float())
            self.quantiles_a.copy_(_quantiles((pa - mean) @ vecs, levels).float())
            self.quantiles_b.copy_(_quantiles((pb - mean) @ vecs, levels).float())
            self.fitted.fill_(True)
        return self

    # -- inference -------------------------------------------------------------------------
    def encode(self, images: torch.Tensor, *, direction: str = "a2b") -> torch.Tensor:
        check_direction(direction)
        return images

    def decode(self, content: torch.Tensor, *, direction: str = "a2b", style: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        check_direction(direction)
        if not bool(self.fitted):
            raise UsageError("colour-transfer: the map is not fitted; call fit(a_batches, b_batches) or load a checkpoint")
        src, dst = (self.quantiles_a, self.quantiles_b) if direction == "a2b" else (self.quantiles_b, self.quantiles_a)
        b, _, h, w = content.shape
        x = content.permute(0, 2, 3, 1).reshape(-1, 3).float()
        y = (x - self.mean) @ self.basis
        y = torch.stack([_interp(y[:, i], src[:, i], dst[:, i]) for i in range(3)], 1)
        out = y @ self.basis.T + self.mean
        return out.reshape(b, h, w, 3).permute(0, 3, 1, 2).clamp(-1, 1).to(content.dtype)

    def save(self, path: str | os.PathLike):
        """Write the fitted map as a native checkpoint (atomically); ``load_translator(path)`` reads it back."""
        from initbench.training.checkpoints import save_checkpoint

        return save_checkpoint(path, method=self.name, config=dataclasses.asdict(self.config), model_state=self.state_dict(), step=0)


def _quantiles(values: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Exact quantiles (linear between order statistics) of each column; ``len(levels) x columns``."""
    s, _ = torch.sort(values, dim=0)
    pos = levels * (s.shape[0] - 1)
    lo = pos.floor().long()
    hi = torch.clamp(lo + 1, max=s.shape[0] - 1)
    t = (pos - lo).unsqueeze(1)
    return s[lo] * (1 - t) + s[hi] * t


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear map through (xp, fp) (xp non-decreasing), extended linearly beyond the ends.

    A value equal to a run of tied levels (a flat colour shared by many source pixels) goes to
    the middle of the run's targets, not to its first one, so ties do not bias the map. Values
    within ``TIE`` count as tied (fitting and decoding round differently; an 8-bit step is 0.008).
    """
    n = xp.shape[0]
    xp, x = xp.contiguous(), x.contiguous()
    i = torch.clamp(torch.searchsorted(xp, x), 1, n - 1)
    x0, x1, f0, f1 = xp[i - 1], xp[i], fp[i - 1], fp[i]
    span = x1 - x0
    safe = torch.where(span > 1e-12, span, torch.ones_like(span))
    out = f0 + torch.where(span > 1e-12, (x - x0) / safe, torch.full_like(x, 0.5)) * (f1 - f0)
    left, right = torch.searchsorted(xp, x - TIE), torch.searchsorted(xp, x + TIE, right=True)
    tied = right - left > 1
    mid = (fp[left.clamp(max=n - 1)] + fp[(right - 1).clamp(min=0)]) / 2
    return torch.where(tied, mid, out)


# No presets: nothing is trained by the trainer; fit() is the whole training.
register(MethodEntry(name="colour-transfer", cls=ColourTransfer, config_cls=ColourTransferConfig))
