"""``prepare``: a resized copy of the release for fast training (images and annotations).

Every image ``ROOT/<domain>/<path>`` becomes ``OUT/<domain>/<path>``, resized so its short
side is ``size`` (antialiased bilinear on uint8; 1208 x 1920 -> 360 x 572, the size several
INIT papers trained on) and saved as PNG (compression level 6: the same input always gives
the same bytes). Every annotation file ``ROOT/<rel>.txt`` becomes ``OUT/<rel>.txt`` in the
official text format, with the size line set to the new size and every box scaled by the
image's own factors (new width / old width, new height / old height, taken from the PNG
headers), rounded to 1/100 pixel.

Resumable and safe to interrupt: files are written to a temporary name and renamed, so a
file under its final name is complete; a rerun skips images already there, removes stale
temporary files of an interrupted run, and rewrites the (small) annotation files. At the end
the copy gets its own manifest, ``OUT/initbench-manifest.csv.gz`` (same split as the source,
sha256 included), and is checked against it.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Callable

import torch

from initbench.dataset import transforms as T
from initbench.dataset.annotations import Box, looks_like_annotation_file, parse_file, write_file
from initbench.dataset.imageio import png_size, read_rgb, write_png
from initbench.dataset.index import _walk, index_root
from initbench.dataset.manifest import build_manifest, write_manifest
from initbench.dataset.split import compute_split
from initbench.errors import UsageError

MANIFEST_NAME = "initbench-manifest.csv.gz"

Progress = Callable[[int, int], None]


def _resize_one(src: str, dst: Path, size: int) -> bool:
    """Resize ``src`` into ``dst``; False when ``dst`` already exists (finished earlier)."""
    if dst.exists():
        return False
    img = read_rgb(src)
    h, w = img.shape[-2:]
    out, _ = T.resize(img, torch.zeros((0, 5)), T.short_side_size(h, w, size))
    write_png(dst, out)
    return True


def _clean_stale_temps(out: Path) -> int:
    n = 0
    for dirpath, _, filenames in os.walk(out):
        for name in filenames:
            if name.startswith(".") and ".tmp-" in name:
                os.remove(os.path.join(dirpath, name))
                n += 1
    return n


def prepare(
    root: str | os.PathLike,
    out: str | os.PathLike,
    size: int = 360,
    split: str = "v1",
    workers: int | None = None,
    progress: Progress | None = None,
    verify: bool = True,
) -> dict:
    """Write the resized copy; return a summary (counts, seconds, manifest path, findings).

    ``progress(done, total)`` is called after each image.
    """
    root, out = Path(root).resolve(), Path(out).resolve()
    if workers is not None and workers < 1:
        raise UsageError(f"--workers: expected an integer >= 1; got {workers}")
    if size < 8:
        raise UsageError(f"--size: expected a short side of at least 8 pixels; got {size}")
    if out == root or root in out.parents:
        raise UsageError(f"OUT: expected a folder outside ROOT ({root}); got {out}")
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    stale = _clean_stale_temps(out)
    index = index_root(root)
    entries = list(index.values())
    written = skipped = 0
    workers = workers or min(8, os.cpu_count() or 1)
    # torch ops (decode_png, the resize kernel, encode_png) release the GIL, so threads overlap.
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futs = pool.map(lambda e: _resize_one(e.path, out / e.domain / e.relpath, size), entries)
        for i, did in enumerate(futs, 1):
            written += did
            skipped += not did
            if progress:
                progress(i, len(entries))
    except BaseException:
        # Interrupted (Ctrl-C, an error): finish the files in flight, start no new one.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()

    _, texts = _walk(root)
    anno_files = [p for p in texts if looks_like_annotation_file(p)]
    n_records = 0
    for f in anno_files:
        res = parse_file(f)
        new = []
        for rec in res.records:
            src = root / rec.domain / rec.relpath
            dst = out / rec.domain / rec.relpath
            h0, w0 = png_size(src) if src.exists() else (rec.height, rec.width)
            h1, w1 = png_size(dst) if dst.exists() else T.short_side_size(h0, w0, size)
            sx, sy = w1 / w0, h1 / h0
            boxes = tuple(
                Box(b.cls, round(b.x1 * sx, 2), round(b.y1 * sy, 2), round(b.x2 * sx, 2), round(b.y2 * sy, 2)) for b in rec.boxes
            )
            new.append(replace(rec, height=h1, width=w1, boxes=boxes))
        write_file(out / f.relative_to(root), new)
        n_records += len(new)

    summary = {
        "root": str(root),
        "out": str(out),
        "size": size,
        "images": len(entries),
        "written": written,
        "skipped_existing": skipped,
        "stale_temp_files_removed": stale,
        "annotation_files": len(anno_files),
        "records": n_records,
    }
    if verify:
        assign = compute_split(index.keys(), split)
        rows = build_manifest(out, with_hash=True, assignment=assign, workers=workers)
        mpath = out / MANIFEST_NAME
        write_manifest(mpath, rows)
        from initbench.dataset.verify import verify_dataset

        report = verify_dataset(out, manifest=mpath, workers=workers)
        summary["manifest"] = str(mpath)
        # warnings (e.g. small boxes) are the source's business; errors mean a broken copy
        summary["findings"] = [f for f in report["findings"] if f["severity"] == "error"]
        summary["warnings"] = sum(1 for f in report["findings"] if f["severity"] != "error")
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    return summary
