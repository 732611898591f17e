"""The evaluator's view of a dataset root: test keys per domain, the seeded input draw, image reading.

Keys are ``<domain>/<relpath>`` (the image's path relative to the release root), assigned to
``train``/``test``/``gap`` by the split of :func:`initbench.dataset.loaders.split_for_root`
(split v1, from the root's manifest or computed from its files).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from initbench.dataset import transforms as T
from initbench.dataset.png import read_rgb

from initbench.dataset.release import check_domain
from initbench.errors import UsageError


def split_of_root(root: str | os.PathLike, split: str = "v1") -> dict[str, str]:
    """``{key: split}`` for every image under ``root`` by the split rule ``split`` (the protocol's), from the dataset package."""
    try:
        from initbench.dataset.loaders import split_for_root
    except ImportError:  # the contract names loaders; accept the split module too
        from initbench.dataset.split import split_for_root  # type: ignore[attr-defined,no-redef]
    return split_for_root(root, split)


def domain_keys(assignment: dict[str, str], domain: str, split: str = "test") -> list[str]:
    """Sorted keys of ``domain`` assigned to ``split``."""
    check_domain(domain)
    return sorted(k for k, s in assignment.items() if s == split and k.split("/", 1)[0] == domain)


def draw(keys: list[str], n: int, seed: int) -> list[str]:
    """``n`` of ``keys`` (all if fewer) by ``torch.randperm`` with a generator seeded ``seed``,
    returned in sorted order (so an input's index, and its style seed, depend only on the draw)."""
    keys = sorted(keys)
    if n >= len(keys):
        return keys
    idx = torch.randperm(len(keys), generator=torch.Generator().manual_seed(seed))[:n]
    return sorted(keys[i] for i in idx.tolist())


def load_image(path: str | os.PathLike, short_side: int | None) -> torch.Tensor:
    """An image as a float tensor ``3 x H x W`` in [-1, 1], exactly as the dataset loaders serve a
    test image without crop: PNG decoded to uint8, resized so the short side is ``short_side``
    (antialiased bilinear, :func:`initbench.dataset.transforms.resize_short_side`), then
    ``x / 127.5 - 1``. ``short_side`` None keeps the file's size."""
    image = read_rgb(path)
    if short_side is not None:
        image, _ = T.resize_short_side(image, torch.zeros(0, 5), short_side)
    return T.to_unit_range(image)


def key_path(root: str | os.PathLike, key: str) -> Path:
    return Path(root) / key


def require(keys: list[str], what: str, root) -> list[str]:
    if not keys:
        raise UsageError(f"--data: no {what} under {root} (expected at least one image)")
    return keys


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float images to uint8 ``round((x + 1) * 127.5)`` clamped to [0, 255]."""
    return ((images.detach().float() + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8)
