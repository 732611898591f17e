"""Pictures for reports without matplotlib: image grids as PNG bytes (PIL), loss curves as inline SVG."""

from __future__ import annotations

import base64
import csv
import html
import io
import math
import os
from typing import Sequence

import torch
from PIL import Image

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")


def to_uint8_hwc(image: torch.Tensor):
    """``3 x H x W`` in [-1, 1] -> ``H x W x 3`` uint8 numpy array (clamped, rounded; no min-max stretch)."""
    x = ((image.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(1, 2, 0).numpy()


def image_grid_png(cells: Sequence[Sequence[torch.Tensor]], pad: int = 2, background=(255, 255, 255)) -> bytes:
    """PNG bytes of a grid: ``cells[r][c]`` is a ``3 x H x W`` image in [-1, 1]; cells of a column share
    its widest width, cells of a row its tallest height; smaller images are centred."""
    if not cells or not any(cells):
        raise ValueError("image_grid_png: expected at least one image")
    ncol = max(len(r) for r in cells)
    widths = [max((r[c].shape[-1] for r in cells if c < len(r)), default=0) for c in range(ncol)]
    heights = [max(im.shape[-2] for im in r) if r else 0 for r in cells]
    W = sum(widths) + pad * (ncol + 1)
    H = sum(heights) + pad * (len(cells) + 1)
    canvas = Image.new("RGB", (W, H), background)
    y = pad
    for r, row in enumerate(cells):
        x = pad
        for c in range(ncol):
            if c < len(row):
                im = row[c]
                tile = Image.fromarray(to_uint8_hwc(im))
                canvas.paste(tile, (x + (widths[c] - im.shape[-1]) // 2, y + (heights[r] - im.shape[-2]) // 2))
            x += widths[c] + pad
        y += heights[r] + pad
    buf = io.BytesIO()
    canvas.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


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


def _nice(lo: float, hi: float) -> tuple[float, float]:
    if hi <= lo:
        return lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


def line_chart_svg(curves: dict[str, list[tuple[float, float]]], title: str = "", width: int = 640,
                   height: int = 260) -> str:
    """An inline SVG line chart: one polyline per curve, axes with min/max ticks, a legend."""
    left, right, top, bottom = 56, 150, 24, 30
    pw, ph = width - left - right, height - top - bottom
    pts = [p for c in curves.values() for p in c]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<text x="{left}" y="15" font-weight="bold">{html.escape(title)}</text>']
    if not pts:
        out.append(f'<text x="{left}" y="{top + ph / 2}">no values</text></svg>')
        return "".join(out)
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    y0, y1 = _nice(min(p[1] for p in pts), max(p[1] for p in pts))

    def sx(x):
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y):
        return top + ph - (y - y0) / (y1 - y0) * ph

    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    for y in (y0, (y0 + y1) / 2, y1):
        out.append(f'<text x="{left - 4}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.3g}</text>')
    for x in (x0, x1):
        out.append(f'<text x="{sx(x):.1f}" y="{top + ph + 14}" text-anchor="middle">{x:.0f}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 2}" text-anchor="middle">step</text>')
    for i, (name, c) in enumerate(sorted(curves.items())):
        colour = PALETTE[i % len(PALETTE)]
        poly = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in c)
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.3" points="{poly}"/>')
        ly = top + 12 + 14 * i
        out.append(f'<line x1="{left + pw + 8}" y1="{ly - 4}" x2="{left + pw + 24}" y2="{ly - 4}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{left + pw + 28}" y="{ly}">{html.escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)
