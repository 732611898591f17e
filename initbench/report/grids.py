"""Qualitative grids: for each of a few evaluated inputs, the input, its ground truth (when the data
has ``ground_truth/``) and K translations per method, each tile a PNG at least 256 px wide.

The inputs are the first ones a results file scored (``per_input.keys``); the styles of input ``i``
are drawn as the evaluator drew them (``style_seed + i``), so the tiles are the first samples that
were scored. Small images are enlarged by a whole factor (nearest neighbour, no smoothing) to
:data:`MIN_TILE_WIDTH`; the pixels themselves are never changed.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from PIL import Image

from initbench.report.figures import to_uint8_hwc
from initbench.report.results_set import Section
from initbench.report.translations import Sources

#: Narrowest tile a grid shows (px).
MIN_TILE_WIDTH = 256


def tile_png(image: torch.Tensor, min_width: int = MIN_TILE_WIDTH) -> bytes:
    """PNG bytes of ``image`` (``3 x H x W`` in [-1, 1]) enlarged by ``ceil(min_width / W)`` (nearest) when narrower."""
    tile = Image.fromarray(to_uint8_hwc(image))
    f = max(1, math.ceil(min_width / tile.width))
    if f > 1:
        tile = tile.resize((tile.width * f, tile.height * f), Image.NEAREST)
    buf = io.BytesIO()
    tile.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


@dataclass
class MethodTiles:
    """One method's translations of an input (PNG bytes), or why there are none."""

    method: str
    tiles: list[bytes] = field(default_factory=list)
    missing: str = ""
    description: str = ""


@dataclass
class GridRow:
    key: str
    input: bytes
    truth: bytes | None
    methods: list[MethodTiles]


@dataclass
class Grid:
    """A section's grid: its rows, and the notes (no data, no truth)."""

    task: str
    protocol: str
    rows: list[GridRow] = field(default_factory=list)
    note: str = ""

    def summary(self) -> dict:
        methods: dict[str, str] = {}
        for row in self.rows:
            for m in row.methods:
                methods.setdefault(m.method, m.missing or f"{len(m.tiles)} translation(s) per input")
        return {"task": self.task, "protocol": self.protocol, "inputs": len(self.rows), "methods": methods,
                "note": self.note}


def _truth_path(root: Path, task: str, key: str) -> Path:
    from initbench.dataset.release import parse_task
    from initbench.dataset.synthetic_v2 import ground_truth_path

    source, target = parse_task(task)
    return root / ground_truth_path(source, target, key.split("/", 1)[1])


def section_grid(section: Section, sources: Sources, root: str | Path | None, *, n_inputs: int = 3, k: int = 3,
                 progress: Callable[[int, int], None] | None = None) -> Grid:
    """The grid of one section: the first ``n_inputs`` inputs of its first result, every method of the section
    (each method once, in row order) with ``k`` styles. Without ``root`` the grid is empty and says why."""
    from initbench.evaluation.images import load_image

    grid = Grid(section.task, section.protocol)
    if root is None:
        grid.note = "no --data given: the grid needs the images the results were computed on"
        return grid
    root = Path(root)
    first = section.results[0]
    keys = first.input_keys[:n_inputs]
    spec = first.doc.get("protocol_spec", {})
    short_side = spec.get("short_side")
    style_seed = first.doc.get("seed", {}).get("style_seed") or 0
    missing = [key for key in keys if not (root / key).is_file()]
    if missing:
        grid.note = f"--data {root}: {missing[0]} (an input of {first.path.name}) is not there; is it the tree the results were computed on?"
        return grid
    methods = list(dict.fromkeys(r.subject for r in section.results))
    scored = {m: frozenset(r.doc.get("checkpoint_sha256") for r in section.results if r.subject == m) - {None}
              for m in methods}
    found = {m: sources.find(m, section.task, scored[m]) for m in methods}
    truth_seen = False
    for i, key in enumerate(keys):
        x = load_image(root / key, short_side)
        tp = _truth_path(root, section.task, key)
        truth = load_image(tp, short_side) if tp.is_file() else None
        truth_seen |= truth is not None
        row = GridRow(key, tile_png(x), tile_png(truth) if truth is not None else None, [])
        for m in methods:
            src, why = found[m]
            if src is None:
                row.methods.append(MethodTiles(m, missing=why))
                continue
            ys = src.outputs(x, section.task, k, style_seed + i)
            row.methods.append(MethodTiles(m, [tile_png(y) for y in ys], description=src.description))
        grid.rows.append(row)
        if progress is not None:
            progress(i + 1, len(keys))
    if not truth_seen:
        grid.note = f"no ground truth under {root}/ground_truth for {section.task} (make it with `initbench synth --paired`)"
    return grid
