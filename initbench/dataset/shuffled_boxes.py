"""Shuffled boxes: a control that gives every image the boxes of another image of its domain.

INIT learns from its boxes (instance crops, the background mask). Whether the boxes matter is
tested by training on the same images with boxes that belong elsewhere: image ``i`` gets the
boxes of image ``perm[i]``, where ``perm`` is a permutation of the domain's images without fixed
points (a derangement; with a single image there is none, and it keeps its own). ``perm`` is drawn
from ``(seed, epoch, domain)``, so it is the same in every DataLoader worker and rank and after a
resume, and a new one each epoch. The borrowed boxes are scaled from the lending image's size to
the borrowing image's (a no-op when all images have one size, as in the release).
"""

from __future__ import annotations

import hashlib

import torch


def derangement(n: int, generator: torch.Generator) -> torch.Tensor:
    """A uniformly drawn permutation of ``range(n)`` with no fixed point (int64, length ``n``).

    Drawn by rejection (a uniform permutation is a derangement with probability ~1/e, so ~2.7 draws
    on average); ``n`` = 1 has no derangement and gives ``[0]``, ``n`` = 0 an empty tensor.
    """
    if n < 0:
        raise ValueError(f"n: expected a non-negative count; got {n}")
    if n < 2:
        return torch.arange(n)
    idx = torch.arange(n)
    while True:
        perm = torch.randperm(n, generator=generator)
        if not bool((perm == idx).any()):
            return perm


def box_sources(n: int, seed: int, epoch: int, domain: str) -> torch.Tensor:
    """Which image lends its boxes to each of a domain's ``n`` images in ``epoch``: a derangement drawn from
    ``(seed, epoch, domain)`` (see the module docstring)."""
    digest = hashlib.sha256(f"shuffled-boxes:{seed}:{epoch}:{domain}".encode()).digest()
    g = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))
    return derangement(n, g)


def borrow_boxes(boxes: torch.Tensor, lender_hw: tuple[int | None, int | None], own_hw: tuple[int, int]) -> torch.Tensor:
    """``boxes`` (N x 5: cls, x1, y1, x2, y2, pixels of the lending image of size ``lender_hw``) in pixels of an
    image of size ``own_hw``; unchanged when the lender's size is unknown (no annotation record) or equal."""
    lh, lw = lender_hw
    oh, ow = own_hw
    if lh is None or lw is None or (lh, lw) == (oh, ow) or boxes.numel() == 0:
        return boxes
    scale = torch.tensor([1.0, ow / lw, oh / lh, ow / lw, oh / lh], dtype=boxes.dtype)
    return boxes * scale
