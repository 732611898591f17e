"""Counts and box statistics of a release (or the mini-INIT), from the annotation files alone.

Images per domain, boxes per class and domain, boxes per image (mean, quantiles, histogram) and
box-size quantiles (width, height in pixels, and the square root of the area) per class.
Records are parsed one file at a time; only per-box sizes are kept (three floats a box).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from initbench.dataset.annotation_files import annotation_files_to_read
from initbench.dataset.annotations import Record, parse_file
from initbench.dataset.release import CATEGORY_KEYS, DOMAINS, PAPER_COUNTS

QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
#: Boxes-per-image histogram bins: 0, 1, ..., 9, and 10 or more.
HIST_MAX = 10


def _quantiles(values: np.ndarray) -> dict[str, float] | None:
    if values.size == 0:
        return None
    q = np.quantile(values, QUANTILES)
    return {f"q{int(round(p * 100)):02d}": round(float(v), 3) for p, v in zip(QUANTILES, q)}


@dataclass
class _Tally:
    """Running counts per domain: boxes per image, box counts and (width, height) chunks per class."""

    per_image: dict = field(default_factory=lambda: {d: [] for d in DOMAINS})
    sizes: dict = field(default_factory=lambda: {d: {c: [] for c in CATEGORY_KEYS} for d in DOMAINS})
    boxes: dict = field(default_factory=lambda: {d: {k: 0 for k in CATEGORY_KEYS.values()} for d in DOMAINS})
    other: dict = field(default_factory=lambda: {d: 0 for d in DOMAINS})
    seen: set = field(default_factory=set)
    findings: int = 0

    def add(self, rec: Record) -> None:
        """Count one record (a key already counted, from another file, is ignored)."""
        if rec.key in self.seen:
            return
        self.seen.add(rec.key)
        self.per_image[rec.domain].append(len(rec.boxes))
        if not rec.boxes:
            return
        arr = np.array([b.as_tuple() for b in rec.boxes], dtype=np.float64)
        for c in CATEGORY_KEYS:
            sel = arr[arr[:, 0] == c]
            if len(sel):
                self.boxes[rec.domain][CATEGORY_KEYS[c]] += len(sel)
                self.sizes[rec.domain][c].append(np.stack([sel[:, 3] - sel[:, 1], sel[:, 4] - sel[:, 2]], 1))
        self.other[rec.domain] += int(np.sum(~np.isin(arr[:, 0], list(CATEGORY_KEYS))))

    def domain_summary(self, d: str) -> dict:
        """Images, boxes per class and boxes per image (mean, quantiles, histogram) of domain ``d``."""
        counts = np.array(self.per_image[d], dtype=np.int64)
        hist = np.bincount(np.minimum(counts, HIST_MAX), minlength=HIST_MAX + 1) if counts.size else np.zeros(HIST_MAX + 1, int)
        return {
            "images": int(counts.size),
            "expected": PAPER_COUNTS[d].total,
            "boxes": self.boxes[d],
            "boxes_unknown_class": self.other[d],
            "boxes_per_image": {
                "mean": round(float(counts.mean()), 4) if counts.size else None,
                **(_quantiles(counts.astype(float)) or {}),
                "histogram": [int(v) for v in hist],
            },
        }


def _size_summary(chunks: list[np.ndarray]) -> dict | None:
    """Count and width / height / sqrt(area) quantiles of (width, height) chunks; None for no box."""
    if not chunks:
        return None
    wh = np.concatenate(chunks)
    return {
        "count": int(len(wh)),
        "width": _quantiles(wh[:, 0]),
        "height": _quantiles(wh[:, 1]),
        "sqrt_area": _quantiles(np.sqrt(np.clip(wh[:, 0], 0, None) * np.clip(wh[:, 1], 0, None))),
    }


def dataset_stats(root: str | os.PathLike, annotations: Sequence[str | os.PathLike] | None = None) -> dict:
    """Statistics of the records under ``root`` (or in ``annotations``).

    Returns ``{"root", "annotation_files", "domains": {d: {"images", "expected", "boxes": {car, sign,
    person}, "boxes_per_image": {"mean", quantiles, "histogram"}}}, "box_sizes": {class: {"width",
    "height", "sqrt_area": quantiles}}, "box_sizes_by_domain": {d: {class: {...}}}, "parse_findings"}``.
    Records that fail to parse are counted in ``parse_findings`` (``verify-dataset`` lists them).
    """
    root = Path(root)
    files = annotation_files_to_read(root, annotations)
    tally = _Tally()
    for f in files:
        parsed = parse_file(f)
        tally.findings += len(parsed.findings)
        for rec in parsed.records:
            tally.add(rec)
    sizes = tally.sizes
    return {
        "root": str(root),
        "annotation_files": [str(f) for f in files],
        "domains": {d: tally.domain_summary(d) for d in DOMAINS},
        "box_sizes": {CATEGORY_KEYS[c]: _size_summary([x for d in DOMAINS for x in sizes[d][c]]) for c in CATEGORY_KEYS},
        "box_sizes_by_domain": {d: {CATEGORY_KEYS[c]: _size_summary(sizes[d][c]) for c in CATEGORY_KEYS} for d in DOMAINS},
        "parse_findings": tally.findings,
        "histogram_bins": [str(i) for i in range(HIST_MAX)] + [f"{HIST_MAX}+"],
    }
