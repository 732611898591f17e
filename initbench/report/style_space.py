"""Style space against the truth (INIT paper, Fig. 11): style codes of real images of both domains of a
model, projected to 2-D, coloured by domain and by a latent factor the generator recorded.

The codes come from the model's own style encoders (:data:`STYLE_ENCODERS`): the global code of each
image, and for INIT, whose encoder also encodes objects (``E_o`` shares ``E_g``'s weights), the code of
each box crop. Images are a seeded draw of each domain's test images. The projection is PCA (SVD of the
centred codes, each axis signed so that its largest loading is positive), so a seed fixes the figure.
Beside it: the cross-validated R^2 of a linear fit of the factor from the full codes, over both domains
and within each domain (the second is the harder question: does the code follow the light inside a domain).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from initbench.errors import DataFormatError


def _generator(model, side: str):
    return model.gen_a if side == "a" else model.gen_b


#: method -> (model, images B x 3 x H x W in [-1, 1], side "a"|"b") -> B x style_dim codes of that domain's encoder.
STYLE_ENCODERS: dict[str, Callable] = {
    "init": lambda model, x, side: _generator(model, side).encode_style(x).flatten(1),
    "munit": lambda model, x, side: _generator(model, side).enc_style(x).flatten(1),
}
#: Methods whose style encoder is also the object style encoder (object codes are drawn for these).
OBJECT_STYLE_METHODS = frozenset({"init"})

DOMAIN_COLOURS = {"sunny": "#f28e2b", "night": "#1f3b73", "cloudy": "#8c8c8c", "rainy": "#3fa7a0"}
#: viridis at 0, .25, .5, .75, 1
RAMP = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))


@dataclass
class Codes:
    """Codes of one kind (``global`` or ``objects``): ``N x D``, each row's domain, image key and factor value."""

    kind: str
    codes: np.ndarray
    domains: list[str]
    keys: list[str]
    factor: list[float | None]
    coords: np.ndarray | None = None
    explained: tuple[float, float] = (0.0, 0.0)
    r2: dict[str, float | None] = field(default_factory=dict)


@dataclass
class StyleSpace:
    method: str
    domains: tuple[str, str]
    factor: str
    kinds: list[Codes]
    note: str = ""

    def summary(self) -> dict:
        return {"method": self.method, "domains": list(self.domains), "factor": self.factor, "note": self.note,
                "codes": {c.kind: {"n": int(c.codes.shape[0]), "dim": int(c.codes.shape[1]),
                                   "explained_variance": [round(v, 4) for v in c.explained],
                                   "r2_cv": {k: (None if v is None else round(v, 4)) for k, v in c.r2.items()}}
                          for c in self.kinds}}


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """``(N x 2 coordinates, explained variance ratios)`` of the centred rows of ``x``; each axis is signed so
    that its largest absolute loading is positive (SVD's sign is otherwise arbitrary)."""
    xc = x - x.mean(0, keepdims=True)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    vt = vt[:2]
    signs = np.sign(vt[np.arange(vt.shape[0]), np.abs(vt).argmax(1)])
    vt = vt * signs[:, None]
    coords = xc @ vt.T
    if coords.shape[1] < 2:
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    var = s**2
    tot = var.sum() or 1.0
    ex = [float(v / tot) for v in var[:2]] + [0.0, 0.0]
    return coords, (ex[0], ex[1])


def cv_r2(x: np.ndarray, y: np.ndarray, *, seed: int = 0, folds: int = 5) -> float | None:
    """R^2 of a least-squares linear fit (with intercept) of ``y`` from ``x``, predicted fold by fold
    (``folds`` seeded folds); None with fewer than ``2 * folds`` rows or a constant ``y``."""
    n = x.shape[0]
    if n < 2 * folds or np.ptp(y) == 0:
        return None
    order = np.random.default_rng(seed).permutation(n)
    pred = np.empty(n)
    a = np.hstack([x, np.ones((n, 1))])
    for f in range(folds):
        test = order[f::folds]
        train = np.setdiff1d(order, test)
        coef, *_ = np.linalg.lstsq(a[train], y[train], rcond=None)
        pred[test] = a[test] @ coef
    return float(1.0 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def read_factor(root: Path, factor: str) -> dict[str, float]:
    """``{image key: frame factor}`` from ``root/latents.jsonl`` (released frames only); {} without the file."""
    from initbench.dataset.synthetic_v2 import LATENTS_FILE, read_latents

    path = root / LATENTS_FILE
    if not path.is_file():
        return {}
    out = {}
    for i, rec in enumerate(read_latents(path), 1):
        if rec.get("source") is None:
            fl = rec.get("frame_latents") or {}
            if factor not in fl:
                raise DataFormatError(f"expected frame factor {factor!r} (--factor); the record of {rec.get('path')} has "
                                      f"{', '.join(sorted(fl))}", str(path), i)
            out[rec["path"]] = float(fl[factor])
    return out


@torch.inference_mode()
def encode_codes(source, root: str | Path, *, split: str = "v1", n_per_domain: int = 24, seed: int = 0,
                 factor: str = "ambient", max_objects: int = 4) -> StyleSpace | None:
    """The :class:`StyleSpace` of a model (:class:`initbench.report.translations.ModelSource`); None when its
    method has no style encoder here. Images: ``n_per_domain`` drawn (seeded) from each domain's test images,
    resized as the model was trained (``image_size``); objects: up to ``max_objects`` boxes per image, cropped
    at the training ``crop_size``."""
    from initbench.dataset import transforms as T
    from initbench.dataset.index import index_root
    from initbench.dataset.png import read_rgb
    from initbench.dataset.release import parse_task
    from initbench.evaluation import images as I
    from initbench.evaluation.paired_metrics import box_crops

    enc = STYLE_ENCODERS.get(source.method)
    model = source.translator
    if enc is None or not model.task:
        return None
    root = Path(root)
    a, b = parse_task(model.task)
    size = source.train_config.get("image_size")
    crop = int(source.train_config.get("crop_size") or 32)
    m = model.size_multiple
    values = read_factor(root, factor)
    assignment = I.split_of_root(root, split)
    g_rows, o_rows = [], []
    for side, domain in (("a", a), ("b", b)):
        keys = I.draw(I.domain_keys(assignment, domain, "test"), n_per_domain, seed)
        index = index_root(root, domains=[domain]) if source.method in OBJECT_STYLE_METHODS else None
        for key in keys:
            img = read_rgb(root / key)
            boxes = torch.tensor([list(bx) for bx in index[key].boxes], dtype=torch.float32).reshape(-1, 5) \
                if index is not None and key in index else torch.zeros(0, 5)
            if size:
                img, boxes = T.resize_short_side(img, boxes, size)
            x = T.to_unit_range(img)
            h, w = x.shape[-2:]
            x = x[:, : h - h % m, : w - w % m][None].to(model.device)
            g_rows.append((enc(model, x, side)[0].double().cpu().numpy(), domain, key))
            if index is not None and boxes.shape[0]:
                area = (boxes[:, 3] - boxes[:, 1]) * (boxes[:, 4] - boxes[:, 2])
                keep = boxes[area.argsort(descending=True)[:max_objects]]
                crops = box_crops(x, keep, crop)
                for code in enc(model, crops, side).double().cpu().numpy():
                    o_rows.append((code, domain, key))
    kinds = []
    for kind, rows in (("global", g_rows), ("objects", o_rows)):
        if len(rows) < 3:
            continue
        c = Codes(kind, np.stack([r[0] for r in rows]), [r[1] for r in rows], [r[2] for r in rows],
                  [values.get(r[2]) for r in rows])
        c.coords, c.explained = pca_2d(c.codes)
        if all(v is not None for v in c.factor):
            y = np.asarray(c.factor, dtype=np.float64)
            c.r2 = {"both domains": cv_r2(c.codes, y, seed=seed)}
            for d in (a, b):
                sel = np.asarray([dd == d for dd in c.domains])
                c.r2[d] = cv_r2(c.codes[sel], y[sel], seed=seed)
        kinds.append(c)
    note = "" if values else f"no {root}/latents.jsonl: coloured by domain only (the truth comes with `initbench synth`)"
    return StyleSpace(source.method, (a, b), factor, kinds, note)


def _ramp(t: float) -> str:
    t = min(max(t, 0.0), 1.0) * (len(RAMP) - 1)
    i = min(int(t), len(RAMP) - 2)
    f = t - i
    c = [round(RAMP[i][k] * (1 - f) + RAMP[i + 1][k] * f) for k in range(3)]
    return "#%02x%02x%02x" % tuple(c)


def scatter_svg(c: Codes, by: str, factor: str, width: int = 360, height: int = 320) -> str:
    """One panel of ``c``'s projection, coloured ``by`` ``"domain"`` or ``"factor"`` (with a colour bar)."""
    left, top, pw, ph = 40, 24, width - 60, height - 70
    xy = c.coords
    x0, x1 = float(xy[:, 0].min()), float(xy[:, 0].max())
    y0, y1 = float(xy[:, 1].min()), float(xy[:, 1].max())
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
    title = f"{c.kind} codes by {'domain' if by == 'domain' else factor}"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="scatter" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<text x="{left}" y="14" font-weight="bold">{html.escape(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#bbb"/>',
           f'<text x="{left + pw / 2}" y="{top + ph + 14}" text-anchor="middle">PC1 ({c.explained[0]:.0%})</text>',
           f'<text x="{left - 8}" y="{top + ph / 2}" text-anchor="middle" transform="rotate(-90 {left - 8} '
           f'{top + ph / 2})">PC2 ({c.explained[1]:.0%})</text>']
    vals = [v for v in c.factor if v is not None]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    for (px, py), d, v in zip(xy, c.domains, c.factor):
        sx = left + 4 + (px - x0) / (x1 - x0) * (pw - 8)
        sy = top + ph - 4 - (py - y0) / (y1 - y0) * (ph - 8)
        if by == "domain":
            colour = DOMAIN_COLOURS.get(d, "#000")
        else:
            colour = "#ccc" if v is None else _ramp((v - lo) / (hi - lo) if hi > lo else 0.5)
        shape = "circle" if d == c.domains[0] else "rect"
        if shape == "circle":
            out.append(f'<circle cx="{sx:.1f}" cy="{sy:.1f}" r="3.2" fill="{colour}" fill-opacity="0.85"/>')
        else:
            out.append(f'<rect x="{sx - 3:.1f}" y="{sy - 3:.1f}" width="6" height="6" fill="{colour}" fill-opacity="0.85"/>')
    ly = top + ph + 34
    if by == "domain":
        for i, d in enumerate(dict.fromkeys(c.domains)):
            mark = (f'<circle cx="{left + 5 + 110 * i}" cy="{ly - 4}" r="4" fill="{DOMAIN_COLOURS.get(d, "#000")}"/>' if i == 0
                    else f'<rect x="{left + 1 + 110 * i}" y="{ly - 8}" width="8" height="8" fill="{DOMAIN_COLOURS.get(d, "#000")}"/>')
            out.append(mark + f'<text x="{left + 14 + 110 * i}" y="{ly}">{html.escape(d)}</text>')
    elif vals:
        for i in range(50):
            out.append(f'<rect x="{left + 40 + i * 3}" y="{ly - 9}" width="3" height="10" fill="{_ramp(i / 49)}"/>')
        out.append(f'<text x="{left + 36}" y="{ly}" text-anchor="end">{lo:.3g}</text>'
                   f'<text x="{left + 194}" y="{ly}">{hi:.3g} {html.escape(factor)}</text>')
    else:
        out.append(f'<text x="{left}" y="{ly}">no latents.jsonl: factor unknown</text>')
    out.append("</svg>")
    return "".join(out)


def r2_text(c: Codes, factor: str) -> str:
    if not c.r2:
        return ""
    parts = [f"{k}: {'n/a (too few codes)' if v is None else f'{v:.2f}'}" for k, v in c.r2.items()]
    return f"cross-validated R² of {factor} from the {c.codes.shape[1]}-d {c.kind} codes (linear, 5 folds): " + "; ".join(parts)


def coords_json(space: StyleSpace) -> str:
    """The projected coordinates as JSON (rounded), for tests and readers who want the numbers."""
    return json.dumps({c.kind: np.round(c.coords, 6).tolist() for c in space.kinds})
