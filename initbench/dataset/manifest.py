"""Split manifests: one CSV row per image with its split, place in time, size, box counts and hash.

Columns, in this order: ``domain``, ``path`` (relative to the domain folder, forward slashes),
``split`` (``train``, ``test`` or ``gap``), ``drive``, ``frame`` (the frame index; with the
clip number from the file name it places the frame in time, see :mod:`initbench.dataset.split`),
``height``, ``width`` (from the PNG header), ``n_car``, ``n_sign``, ``n_person`` (boxes in the
image's annotation record; empty when no record names the image), ``bytes``, ``sha256``
(empty unless built with ``hash=True``). Rows are sorted by (domain, path). A name ending in
``.gz`` is gzip-compressed (with a zero timestamp, so the same rows give the same bytes).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

from initbench.dataset.findings import Finding
from initbench.dataset.png import png_size
from initbench.dataset.index import ImageEntry, ReleaseIndex, index_root
from initbench.dataset.release import CATEGORY_KEYS, DOMAINS
from initbench.dataset.split import SPLITS, compute_split, frame_key
from initbench.digests import sha256_file
from initbench.errors import DataFormatError, UsageError
from initbench.files import write_atomic

COLUMNS = ("domain", "path", "split", "drive", "frame", "height", "width", "n_car", "n_sign", "n_person", "bytes", "sha256")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ManifestRow:
    domain: str
    path: str
    split: str
    drive: str
    frame: int
    height: int
    width: int
    n_car: int | None
    n_sign: int | None
    n_person: int | None
    bytes: int
    sha256: str = ""
    line: int | None = None  # line in the manifest file it was read from (not written)

    @property
    def key(self) -> str:
        return f"{self.domain}/{self.path}"


def _row_for(entry: ImageEntry, split: str, with_hash: bool) -> ManifestRow:
    fk = frame_key(entry.relpath)
    h, w = png_size(entry.path)
    counts = {name: sum(1 for b in entry.boxes if b[0] == cid) for cid, name in CATEGORY_KEYS.items()}
    known = entry.annotated
    return ManifestRow(
        domain=entry.domain,
        path=entry.relpath,
        split=split,
        drive=fk.drive,
        frame=fk.index,
        height=h,
        width=w,
        n_car=counts["car"] if known else None,
        n_sign=counts["sign"] if known else None,
        n_person=counts["person"] if known else None,
        bytes=os.stat(entry.path).st_size,
        sha256=sha256_file(entry.path) if with_hash else "",
    )


def build_manifest(
    root: str | os.PathLike,
    split: str = "v1",
    with_hash: bool = False,
    seed: int = 0,
    assignment: dict[str, str] | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    index: ReleaseIndex | None = None,
    skip_invalid: bool = False,
) -> list[ManifestRow]:
    """One row per image of ``root``'s index, with the split ``split`` (``v1`` or ``paper``) or ``assignment``.

    ``index``: a prebuilt :func:`index_root` of ``root``; else it is read here (PNG headers
    checked too), refusing a root with errors unless ``skip_invalid`` (the images left out get no row; the split is
    still computed from every image on disk). ``progress(done, total)`` is called as rows
    complete. Hashing runs on ``workers`` threads (hashlib releases the GIL).
    """
    if workers is not None and workers < 1:
        raise UsageError(f"--workers: expected an integer >= 1; got {workers}")
    index = index if index is not None else index_root(root, skip_invalid=skip_invalid, check_images=True)
    assign = assignment if assignment is not None else compute_split(index.image_keys, split, seed=seed)
    entries = [e for k, e in index.items() if k in assign]
    total = len(entries)
    rows: list[ManifestRow] = []
    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for i, row in enumerate(pool.map(lambda e: _row_for(e, assign[e.key], with_hash), entries), 1):
            rows.append(row)
            if progress:
                progress(i, total)
    rows.sort(key=lambda r: (r.domain, r.path))
    return rows


def _fmt(v) -> str:
    return "" if v is None else str(v)


def manifest_text(rows: Iterable[ManifestRow]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        d = asdict(r)
        w.writerow([_fmt(d[c]) for c in COLUMNS])
    return buf.getvalue()


def write_manifest(path: str | os.PathLike, rows: Iterable[ManifestRow]) -> None:
    """Write rows as CSV (gzip when the name ends in ``.gz``) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = manifest_text(rows).encode("utf-8")
    if path.name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=9, mtime=0)
    write_atomic(path, data)


def _int(v: str, col: str, path: str, line: int, optional: bool = False) -> int | None:
    if v == "" and optional:
        return None
    try:
        return int(v)
    except ValueError:
        raise DataFormatError(f"column {col!r}: expected an integer{' or empty' if optional else ''}; found {v!r}", path, line) from None


def read_manifest(path: str | os.PathLike) -> list[ManifestRow]:
    """Read a manifest CSV (``.gz`` decompressed). Raises DataFormatError with file:line."""
    p = str(path)
    try:
        raw = Path(path).read_bytes()
        if p.endswith(".gz"):
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8")
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise DataFormatError(f"cannot read the manifest: {exc}", p) from exc
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(header) != COLUMNS:
        raise DataFormatError(f"expected the header {','.join(COLUMNS)}; found {','.join(header or []) or 'an empty file'}", p, 1)
    rows = []
    for line, rec in enumerate(reader, 2):
        if not rec:
            continue
        if len(rec) != len(COLUMNS):
            raise DataFormatError(f"expected {len(COLUMNS)} columns; found {len(rec)}", p, line)
        d = dict(zip(COLUMNS, rec))
        if d["domain"] not in DOMAINS:
            raise DataFormatError(f"column 'domain': expected one of {', '.join(DOMAINS)}; found {d['domain']!r}", p, line)
        if d["split"] not in SPLITS:
            raise DataFormatError(f"column 'split': expected one of {', '.join(SPLITS)}; found {d['split']!r}", p, line)
        rows.append(
            ManifestRow(
                domain=d["domain"],
                path=d["path"],
                split=d["split"],
                drive=d["drive"],
                frame=_int(d["frame"], "frame", p, line),
                height=_int(d["height"], "height", p, line),
                width=_int(d["width"], "width", p, line),
                n_car=_int(d["n_car"], "n_car", p, line, True),
                n_sign=_int(d["n_sign"], "n_sign", p, line, True),
                n_person=_int(d["n_person"], "n_person", p, line, True),
                bytes=_int(d["bytes"], "bytes", p, line),
                sha256=d["sha256"],
                line=line,
            )
        )
    return rows


def check_manifest(
    root: str | os.PathLike,
    manifest: str | os.PathLike,
    with_hash: bool | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> list[Finding]:
    """Compare a copy of the release with a manifest: missing, extra, resized or changed files.

    The comparison is ``verify-dataset --manifest``'s
    (:func:`initbench.dataset.verify_manifest.compare_manifest`): one code path for both
    commands. ``with_hash=None`` checks sha256 wherever the manifest
    has one. Findings of a row carry the manifest's file and line; an extra file its own path.
    The manifest is first read in full here, so a malformed one fails with file:line.
    """
    from initbench.dataset.verify_manifest import compare_manifest

    read_manifest(manifest)
    return compare_manifest(root, manifest, with_hash=with_hash, workers=workers, progress=progress)
