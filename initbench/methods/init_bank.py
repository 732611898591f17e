"""INIT's object branch inputs, style code bank and the coarse-to-fine association rule.

Granularity levels, coarse to fine: ``global`` (the whole image) < ``background`` (the image
outside the boxes) < ``object`` (one box). A style may drive a content of its own level or a
finer one, never a coarser one (paper Fig. 3: "the reversal of processing flow is not allowed").
:func:`check_association` is called by every decode of the INIT model, so a forbidden pairing
is an error, not a silent mistake.

Objects of a batch are flattened into one tensor ``N x 3 x S x S`` with ``image_index`` (``N``,
int64) naming the batch row each object comes from; rows may have no object.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from initbench.errors import UsageError

#: Granularity levels, coarse to fine.
LEVELS = {"global": 0, "background": 1, "object": 2}


def association_allowed(style_level: str, content_level: str) -> bool:
    """True when a style of ``style_level`` may be combined with a content of ``content_level``."""
    for name in (style_level, content_level):
        if name not in LEVELS:
            raise ValueError(f"granularity: expected one of {', '.join(LEVELS)}; got {name!r}")
    return LEVELS[style_level] <= LEVELS[content_level]


def check_association(style_level: str, content_level: str) -> None:
    """Raise ``ValueError`` for a fine style on a coarse content (object style -> global content, ...)."""
    if not association_allowed(style_level, content_level):
        raise ValueError(
            f"content-style association: a {style_level} style cannot drive {content_level} content "
            "(INIT associates coarse styles with fine contents only)"
        )


@dataclass
class Objects:
    """The object branch's inputs for one domain of a batch."""

    #: ``N x 3 x S x S`` in [-1, 1] (crops), or ``B x 3 x H/2 x W/2`` (half-scale images).
    images: torch.Tensor
    #: ``N`` int64: the batch row of each object.
    image_index: torch.Tensor

    @property
    def count(self) -> int:
        return int(self.images.shape[0])


def require_views(batch: dict, side: str, views: tuple[str, ...], loader_option: str) -> list[torch.Tensor]:
    """``batch[f"{side}_{view}"]`` for each view, or :class:`~initbench.errors.UsageError` naming the loader option.

    Crops, background masks and half-scale images come from the data layer only
    (:mod:`initbench.dataset.crops`, :func:`initbench.dataset.transforms.half_scale`): a method that re-derived them
    would train on other pixels than the loader's (another box-to-pixel rule, another resize).
    """
    missing = [f"{side}_{v}" for v in views if batch.get(f"{side}_{v}") is None]
    if missing:
        raise UsageError(
            f"batch: expected {', '.join(repr(k) for k in missing)} (a loader built with {loader_option}); "
            f"got keys {sorted(batch)}"
        )
    return [batch[f"{side}_{v}"] for v in views]


def gather_crops(batch: dict, side: str, max_objects: int) -> Objects:
    """Flatten ``batch[f"{side}_crops"]`` (``B x Kc x 3 x S x S``, ``{side}_ncrops`` valid per row) into :class:`Objects`,
    keeping at most ``max_objects`` per image (the first ones, in the loader's order)."""
    crops, ncrops = require_views(batch, side, ("crops", "ncrops"), "crops=True")
    b, kc = crops.shape[:2]
    k = min(kc, max_objects)
    valid = torch.arange(k, device=crops.device)[None, :] < ncrops.to(crops.device).view(b, 1)
    rows = torch.arange(b, device=crops.device)[:, None].expand(b, k)
    return Objects(images=crops[:, :k][valid], image_index=rows[valid])


def half_scale(batch: dict, side: str) -> Objects:
    """The multi-scale branch: the loader's ``batch[f"{side}_half"]`` (``B x 3 x H/2 x W/2``), one per image."""
    (half,) = require_views(batch, side, ("half",), "half_scale=True")
    return Objects(images=half, image_index=torch.arange(half.shape[0], device=half.device))


def background_mask(batch: dict, side: str) -> torch.Tensor:
    """``B x 1 x H x W``, 1 on background pixels: the loader's ``batch[f"{side}_bg_mask"]`` in the image's dtype and device."""
    (mask,) = require_views(batch, side, ("bg_mask",), "crops=True")
    x = batch[side]
    return mask.to(dtype=x.dtype, device=x.device)


@dataclass
class StyleBank:
    """Style codes of one domain's images: global ``B x d x 1 x 1``, background ``B x d x 1 x 1`` (or None in the
    multi-scale variant) and object ``N x d x 1 x 1`` with ``image_index``."""

    global_: torch.Tensor
    background: torch.Tensor | None
    objects: torch.Tensor
    image_index: torch.Tensor

    def levels(self) -> list[str]:
        return ["global"] + (["background"] if self.background is not None else []) + ["object"]

    def pick_for_objects(self, rows: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, list[str]]:
        """One style per requested row (``rows``: image rows, ``M``) drawn uniformly from that image's bank
        (global, background, or one of its objects when it has any). Returns ``M x d x 1 x 1`` and the levels."""
        styles, levels = [], []
        for r in rows.tolist():
            own = (self.image_index == r).nonzero().flatten()
            options = ["global"] + (["background"] if self.background is not None else []) + (["object"] if own.numel() else [])
            level = options[int(torch.randint(len(options), (1,), generator=generator))]
            if level == "global":
                styles.append(self.global_[r])
            elif level == "background":
                styles.append(self.background[r])
            else:
                j = own[int(torch.randint(own.numel(), (1,), generator=generator))]
                styles.append(self.objects[j])
            levels.append(level)
        if not styles:
            return self.global_[:0], levels
        return torch.stack(styles), levels
