"""``prepare``: a resized copy of the release for fast training (images and annotations).

Every image ``ROOT/<domain>/<path>`` becomes ``OUT/<domain>/<path>``, resized so its short
side is ``size`` (antialiased bilinear on uint8; 1208 x 1920 -> 360 x 572, the size several
INIT papers trained on) and saved as PNG (compression level 6: the same input always gives
the same bytes). Every annotation file ``ROOT/<rel>.txt`` becomes ``OUT/<rel>.txt`` in the
official text format, with the size line set to the new size and every box scaled by the
image's own factors (new width / old width, new height / old height, taken from the PNG
headers), rounded to 1/100 pixel.

Nothing is dropped silently: a source with annotation or image errors (what ``verify-dataset``
reports as errors) is refused before anything is written (:class:`~initbench.errors.InvalidDataError`,
exit code 1) unless ``skip_invalid``; then the images concerned are left out of the copy and
listed in the summary and in ``OUT/initbench-prepare.json``, and the copy is not called a
verified copy of its source.

``OUT/initbench-prepare.json`` records the settings (source, size, split, skip_invalid) and the
outcome. A rerun with other settings is refused (``redo=True`` rewrites every image instead);
a folder that is not empty and has no such file is refused too, since the size of what is in
it is unknown.

Resumable and safe to interrupt: files are written to a temporary name and renamed; a rerun
skips images already there whose PNG is complete (it ends with IEND) and of the expected
size, and redoes any other; it removes stale temporary files of an interrupted run and
rewrites the (small) annotation files. At the end the copy gets its own manifest,
``OUT/initbench-manifest.csv.gz`` (the source's split, sha256 included), and is checked
against it.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Callable

import torch

from initbench.dataset import transforms as T
from initbench.dataset.annotation_writer import write_file
from initbench.dataset.annotations import Box, Record
from initbench.dataset.index import index_root
from initbench.dataset.manifest import build_manifest, write_manifest
from initbench.dataset.png import PngError, png_size, read_png_header, read_rgb, write_png
from initbench.dataset.split import compute_split
from initbench.errors import UsageError
from initbench.files import TEMP_MARK, write_atomic

MANIFEST_NAME = "initbench-manifest.csv.gz"
#: Settings and outcome of the run that wrote the copy (see the module docstring).
SETTINGS_NAME = "initbench-prepare.json"
#: zlib level of prepared images: a prepared copy is long-lived and read many times, so smaller files are worth
#: the slower encode (the synthetic generator uses png.ZLIB_LEVEL = 1 for speed).
PREPARED_PNG_LEVEL = 6

Progress = Callable[[int, int], None]


def _complete(path: Path, hw: tuple[int, int]) -> bool:
    """Whether ``path`` is a whole PNG (IHDR, ends with IEND) of height x width ``hw``."""
    try:
        head = read_png_header(path)
    except (PngError, OSError):
        return False
    return (head.height, head.width) == hw


def _resize_one(src: str, dst: Path, size: int, redo: bool) -> bool:
    """Resize ``src`` into ``dst``; False when a complete ``dst`` of the right size is already there."""
    if not redo and dst.exists() and _complete(dst, T.short_side_size(*png_size(src), size)):
        return False
    img = read_rgb(src)
    h, w = img.shape[-2:]
    out, _ = T.resize(img, torch.zeros((0, 5)), T.short_side_size(h, w, size))
    write_png(dst, out, level=PREPARED_PNG_LEVEL)
    return True


def check_previous_run(out: Path, settings: dict, redo: bool) -> None:
    """Refuse to add to a copy made with other settings, or to a folder prepare did not write (unless ``redo``)."""
    if redo or not out.exists():
        return
    record = out / SETTINGS_NAME
    if not record.is_file():
        if any(not p.name.startswith(".") for p in out.iterdir()):
            raise UsageError(
                f"OUT: expected an empty folder or a copy written by prepare; {out} holds files but no {SETTINGS_NAME}, "
                "so the size of its images is unknown; choose another OUT or pass --redo to rewrite every image"
            )
        return
    try:
        before = json.loads(record.read_text(encoding="utf-8"))["settings"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"OUT: cannot read the settings of the earlier run in {record} ({exc}); "
                         "pass --redo to rewrite the copy") from exc
    # skip_invalid is recorded, not compared: it changes which images are in the copy (a rerun
    # removes those now left out), never how an image is written.
    for name, option in (("size", "--size"), ("root", "ROOT"), ("split", "--split")):
        if before.get(name) != settings[name]:
            raise UsageError(
                f"{option}: {out} was prepared with {name} = {before.get(name)!r}; got {settings[name]!r}; "
                "choose another OUT, or pass --redo to rewrite every image with the new settings"
            )


def _clean_stale_temps(out: Path) -> int:
    n = 0
    for dirpath, _, filenames in os.walk(out):
        for name in filenames:
            if name.startswith(".") and TEMP_MARK in name:
                os.remove(os.path.join(dirpath, name))
                n += 1
    return n


def _check_arguments(root: Path, out: Path, size: int, workers: int | None) -> None:
    """UsageError naming the option for a worker count, a size or an OUT that cannot be used."""
    if workers is not None and workers < 1:
        raise UsageError(f"--workers: expected an integer >= 1; got {workers}")
    if size < 8:
        raise UsageError(f"--size: expected a short side of at least 8 pixels; got {size}")
    if out == root or root in out.parents:
        raise UsageError(f"OUT: expected a folder outside ROOT ({root}); got {out}")


def _resize_all(entries: list, out: Path, size: int, redo: bool, workers: int, progress: Progress | None) -> tuple[int, int]:
    """Resize every image entry into ``out`` in ``workers`` threads; returns (written, skipped as already there)."""
    written = skipped = 0
    # torch ops (decode_png, the resize kernel, encode_png) release the GIL, so threads overlap.
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futs = pool.map(lambda e: _resize_one(e.path, out / e.domain / e.relpath, size, redo), entries)
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
    return written, skipped


def _remove_left_out(index, out: Path) -> int:
    """Delete the copies of images now left out (an earlier run may have copied them); returns how many."""
    removed = 0
    for key in index.dropped_images:
        if (out / key).is_file():
            (out / key).unlink()
            removed += 1
    return removed


def _scaled_record(rec: Record, dst: Path) -> Record:
    """``rec`` with the size of the resized image ``dst`` and every box scaled by its own factors (1/100 px)."""
    h0, w0 = rec.height, rec.width  # equal to the PNG header: the index checked it
    h1, w1 = png_size(dst)
    sx, sy = w1 / w0, h1 / h0
    boxes = tuple(Box(b.cls, round(b.x1 * sx, 2), round(b.y1 * sy, 2), round(b.x2 * sx, 2), round(b.y2 * sy, 2))
                  for b in rec.boxes)
    return replace(rec, height=h1, width=w1, boxes=boxes)


def _write_annotations(index, root: Path, out: Path) -> tuple[int, int]:
    """Write each source annotation file's records, rescaled, at the same place under ``out``;
    returns (files, records)."""
    by_file: dict[str, list[Record]] = {f: [] for f in index.annotation_files}
    for rec in index.records.values():
        by_file[rec.source].append(rec)
    n_records = 0
    for f, recs in by_file.items():
        new = [_scaled_record(rec, out / rec.domain / rec.relpath) for rec in sorted(recs, key=lambda r: r.line or 0)]
        write_file(out / Path(f).relative_to(root), new)
        n_records += len(new)
    return len(by_file), n_records


def _verify_copy(index, out: Path, split: str, workers: int) -> dict:
    """Write the copy's manifest and verify the copy against it: {manifest, findings (errors), warnings}."""
    # The source's split, computed from every source image (left-out ones too): the copy's
    # manifest assigns each image the side it has in the source.
    assign = compute_split(index.image_keys, split)
    rows = build_manifest(out, with_hash=True, assignment=assign, workers=workers)
    mpath = out / MANIFEST_NAME
    write_manifest(mpath, rows)
    from initbench.dataset.verify import verify_dataset

    report = verify_dataset(out, manifest=mpath, workers=workers)
    # warnings (e.g. small boxes) are the source's business; errors mean a broken copy
    return {
        "manifest": str(mpath),
        "findings": [f for f in report["findings"] if f["severity"] == "error"],
        "warnings": sum(1 for f in report["findings"] if f["severity"] != "error"),
    }


def _write_settings(out: Path, settings: dict, complete: bool, outcome: dict | None = None) -> None:
    """``OUT/initbench-prepare.json``: the settings, whether the copy is complete, and (at the end) the outcome."""
    record = {"settings": settings, "complete": complete, **(outcome or {})}
    write_atomic(out / SETTINGS_NAME, json.dumps(record, indent=2) + "\n")


def prepare(
    root: str | os.PathLike,
    out: str | os.PathLike,
    size: int = 360,
    split: str = "v1",
    workers: int | None = None,
    progress: Progress | None = None,
    verify: bool = True,
    skip_invalid: bool = False,
    redo: bool = False,
) -> dict:
    """Write the resized copy; return a summary (counts, seconds, manifest path, findings, what was left out).

    ``progress(done, total)`` is called after each image. Raises InvalidDataError on a source
    with errors unless ``skip_invalid``; UsageError on arguments, or on an OUT written with
    other settings unless ``redo``.
    """
    root, out = Path(root).resolve(), Path(out).resolve()
    _check_arguments(root, out, size, workers)
    t0 = time.perf_counter()
    settings = {"root": str(root), "size": size, "split": split, "skip_invalid": bool(skip_invalid)}
    check_previous_run(out, settings, redo)
    # Read and check the whole source before writing anything: a refused source leaves OUT untouched.
    index = index_root(root, skip_invalid=skip_invalid, check_images=True)
    out.mkdir(parents=True, exist_ok=True)
    stale = _clean_stale_temps(out)
    _write_settings(out, settings, complete=False)
    entries = list(index.values())
    workers = workers or min(8, os.cpu_count() or 1)
    written, skipped = _resize_all(entries, out, size, redo, workers, progress)
    removed = _remove_left_out(index, out)
    n_files, n_records = _write_annotations(index, root, out)
    outcome = {
        "images": len(entries),
        "annotation_files": n_files,
        "records": n_records,
        "source_clean": not index.dropped,
        **index.drop_report(),
    }
    summary = {
        "root": str(root),
        "out": str(out),
        "size": size,
        "settings": settings,
        "written": written,
        "skipped_existing": skipped,
        "stale_temp_files_removed": stale,
        "left_out_removed_from_out": removed,
        **outcome,
    }
    if verify:
        summary.update(_verify_copy(index, out, split, workers))
        outcome["copy_errors"] = len(summary["findings"])
    _write_settings(out, settings, complete=True, outcome=outcome)
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    return summary
