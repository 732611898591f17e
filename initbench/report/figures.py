"""What reports share: images as uint8 arrays (no min-max stretch), PNG data URIs, loss CSVs read as curves."""

from __future__ import annotations

import base64
import csv
import math
import os

import torch



def to_uint8_hwc(image: torch.Tensor):
    """``3 x H x W`` in [-1, 1] -> ``H x W x 3`` uint8 numpy array (clamped, rounded; no min-max stretch)."""
    x = ((image.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(1, 2, 0).numpy()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def read_loss_csv(path: str | os.PathLike) -> dict[str, list[tuple[float, float]]]:
    """``losses.csv`` (columns: step, losses..., seconds) -> ``{column: [(step, value), ...]}``;
    non-numeric cells (empty for a phase that did not run) are left out."""
    curves: dict[str, list[tuple[float, float]]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            try:
                step = float(row["step"])
            except (KeyError, TypeError, ValueError):
                continue
            for k, v in row.items():
                if k in ("step", "seconds") or k is None:
                    continue
                try:
                    val = float(v)
                except (TypeError, ValueError):
                    continue
                if math.isfinite(val):
                    curves.setdefault(k, []).append((step, val))
    return curves
