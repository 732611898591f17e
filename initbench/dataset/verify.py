"""``verify-dataset``: is a copy of the release complete, uncorrupted, and are its annotations valid?

Quick mode reads every annotation file and, for every PNG under the domain folders, only its
first 33 and last 12 bytes (:func:`initbench.dataset.png.read_png_header`): the size from IHDR,
and truncation from the missing IEND chunk. Pixels are never decoded. ``with_hash=True``
streams every image through sha256 instead (one read per file, header checks from the same
bytes) and compares with a manifest when one is given.

Files are checked by a pool of worker processes fed in chunks from a streaming directory walk,
with a bounded number of chunks in flight, so memory holds the records (one per annotated
image) and the findings, never a list of every file. Nothing here raises on a bad file: every
problem becomes a :class:`~initbench.dataset.findings.Finding`. Only an unusable root or
argument raises (:class:`~initbench.errors.UsageError`, exit code 2).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from initbench.dataset.annotations import Record, find_annotation_files, parse_file
from initbench.dataset.findings import ERROR, RULES, WARNING, Finding, make_finding
from initbench.dataset.png import CHANNELS, PngError, PngHeader, parse_png_header, read_png_header
from initbench.dataset.release import CATEGORY_KEYS, DOMAINS, PAPER_COUNTS
from initbench.dataset.validate import BOX_TOLERANCE_PX, MIN_BOX_SIZE_PX, DuplicateTracker, check_image_header, validate_record
from initbench.errors import DataFormatError, UsageError

Progress = Callable[[int, int], None]
#: Below this many files a worker pool costs more than it saves.
POOL_THRESHOLD = 2000
MANIFEST_COLUMNS = ("domain", "path", "bytes", "sha256")

# One probe result: (bytes, width, height, color_type, sha256 or None, error or None)
Probe = tuple


def probe_file(path: str, with_hash: bool = False) -> Probe:
    """Header (and optionally sha256) of one file; never raises."""
    try:
        if not with_hash:
            h = read_png_header(path)
            return (h.nbytes, h.width, h.height, h.color_type, None, None)
        size, head, tail, digest = _hash_file(path)
        try:
            h = parse_png_header(head, tail if size >= 45 else b"", size)
        except PngError as exc:
            return (size, 0, 0, -1, digest, str(exc))
        return (h.nbytes, h.width, h.height, h.color_type, digest, None)
    except PngError as exc:
        return (_size_or_zero(path), 0, 0, -1, None, str(exc))
    except OSError as exc:
        return (_size_or_zero(path), 0, 0, -1, None, f"cannot read: {exc.strerror or exc}")


_BLOCK = 1 << 20


def _hash_file(path: str) -> tuple[int, bytes, bytes, str]:
    """(bytes read, first 33 bytes, last 12 bytes, sha256 hex) in one pass over the file."""
    sha = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY)
    try:
        expected = os.fstat(fd).st_size
        if expected <= 4 * _BLOCK:  # the common case: one read, one update
            parts = []
            got = 0
            while True:
                b = os.read(fd, max(expected - got, 0) + 1)
                if not b:
                    break
                parts.append(b)
                got += len(b)
            data = parts[0] if len(parts) == 1 else b"".join(parts)
            sha.update(data)
            return len(data), data[:33], data[-12:], sha.hexdigest()
        buf = bytearray(_BLOCK)
        view = memoryview(buf)
        head = b""
        tail = b""
        size = 0
        while True:
            n = os.readv(fd, [buf])
            if not n:
                break
            sha.update(view[:n])
            if len(head) < 33:
                head += bytes(view[: 33 - len(head)])
            tail = (tail + bytes(view[max(0, n - 12):n]))[-12:]
            size += n
        return size, head, tail, sha.hexdigest()
    finally:
        os.close(fd)


def _size_or_zero(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def probe_chunk(paths: Sequence[str], with_hash: bool) -> list[Probe]:
    return [probe_file(p, with_hash) for p in paths]


def iter_disk_images(root: str | os.PathLike, onerror: Callable[[OSError], None] | None = None) -> Iterator[tuple[str, str, str]]:
    """Every ``*.png`` under the domain folders, sorted: (domain, relpath, absolute path)."""
    root = Path(root)
    for d in DOMAINS:
        base = root / d
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base, onerror=onerror):
            dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
            rel_dir = os.path.relpath(dirpath, base).replace(os.sep, "/")
            for name in sorted(filenames):
                if name.lower().endswith(".png") and not name.startswith("."):
                    rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                    yield d, rel, os.path.join(dirpath, name)


def scan(items: Iterable, path_of: Callable, with_hash: bool, workers: int) -> Iterator[tuple[object, Probe]]:
    """Probe files in order, in a process pool when ``workers > 1``; yields (item, probe)."""
    if workers <= 1:
        for it in items:
            yield it, probe_file(path_of(it), with_hash)
        return
    chunk = 64 if with_hash else 256
    window = 4 * workers
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: deque = deque()
        batch: list = []

        def drain(limit: int):
            while len(pending) > limit:
                its, fut = pending.popleft()
                yield from zip(its, fut.result())

        for it in items:
            batch.append(it)
            if len(batch) == chunk:
                pending.append((batch, pool.submit(probe_chunk, [path_of(b) for b in batch], with_hash)))
                batch = []
                yield from drain(window)
        if batch:
            pending.append((batch, pool.submit(probe_chunk, [path_of(b) for b in batch], with_hash)))
        yield from drain(0)


def read_manifest_rows(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """Rows of a manifest CSV (gzip when the name ends in .gz) as (line, row dict)."""
    path = Path(path)
    try:
        raw = gzip.open(path, "rt", encoding="utf-8", newline="") if path.suffix == ".gz" else open(path, encoding="utf-8", newline="")
    except OSError as exc:
        raise UsageError(f"--manifest: cannot open {path}: {exc.strerror or exc}") from exc
    with raw as fh:
        try:
            reader = csv.DictReader(fh)
            missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DataFormatError(
                    f"manifest header must have the columns {', '.join(MANIFEST_COLUMNS)}; missing {', '.join(missing)}", str(path), 1
                )
            for row in reader:
                yield reader.line_num, row
        except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
            raise DataFormatError(f"cannot read the manifest: {exc}", str(path)) from exc


def load_manifest(path: str | os.PathLike) -> dict[str, tuple[int, int, str]]:
    """key -> (line, bytes, sha256 or '') for every manifest row."""
    out = {}
    for line, row in read_manifest_rows(path):
        try:
            nbytes = int(row["bytes"])
        except (TypeError, ValueError):
            raise DataFormatError(f"column 'bytes' must be an integer, found {row.get('bytes')!r}", str(path), line) from None
        if not row.get("domain") or not row.get("path"):
            raise DataFormatError("every row needs a domain and a path", str(path), line)
        out[f"{row['domain']}/{row['path'].lstrip('/')}"] = (line, nbytes, (row.get("sha256") or "").strip().lower())
    return out


class _ManifestCheck:
    def __init__(self, manifest: str | os.PathLike, with_hash: bool | None):
        self.path = str(manifest)
        self.rows = load_manifest(manifest)
        self.with_hash = with_hash

    def wants_hash(self) -> bool:
        return bool(self.with_hash) or (self.with_hash is None and any(r[2] for r in self.rows.values()))

    def check(self, key: str, abspath: str, probe: Probe) -> list[Finding]:
        row = self.rows.pop(key, None)
        if row is None:
            return [make_finding("manifest-extra-file", abspath, None, f"{key}: on disk, not listed in the manifest {self.path}")]
        line, nbytes, sha = row
        out = []
        if probe[0] != nbytes:
            out.append(make_finding("manifest-size-mismatch", self.path, line, f"{key}: the manifest says {nbytes} bytes, the file has {probe[0]}"))
        if sha and probe[4] is not None and probe[4] != sha:
            out.append(make_finding("hash-mismatch", self.path, line, f"{key}: the manifest says sha256 {sha}, the file has {probe[4]}"))
        return out

    def leftovers(self, root: Path) -> list[Finding]:
        return [
            make_finding("manifest-missing-file", self.path, line, f"{key}: listed in the manifest, not found at {root / key}")
            for key, (line, _, _) in sorted(self.rows.items(), key=lambda kv: kv[1][0])
        ]


def _workers(workers: int | None, expected_files: int) -> int:
    if workers is not None:
        if workers < 1:
            raise UsageError(f"--workers: expected an integer >= 1, got {workers}")
        return workers
    return 1 if expected_files < POOL_THRESHOLD else min(8, os.cpu_count() or 1)


def compare_manifest(
    root: str | os.PathLike,
    manifest: str | os.PathLike,
    with_hash: bool | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> list[Finding]:
    """Compare the images under ``root`` with a manifest CSV: ``manifest-missing-file``,
    ``manifest-extra-file``, ``manifest-size-mismatch``, and ``hash-mismatch`` (sha256 is
    computed when ``with_hash`` is true, or when None and the manifest has sha256 values)."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"ROOT: {root} is not a directory")
    mc = _ManifestCheck(manifest, with_hash)
    total = len(mc.rows)
    hashing = mc.wants_hash()
    findings: list[Finding] = []
    for n, ((d, rel, abspath), probe) in enumerate(scan(iter_disk_images(root), lambda it: it[2], hashing, _workers(workers, total)), 1):
        findings += mc.check(f"{d}/{rel}", abspath, probe)
        if progress:
            progress(n, max(total, n))
    return findings + mc.leftovers(root)


def verify_dataset(
    root: str | os.PathLike,
    annotations: Sequence[str | os.PathLike] | None = None,
    manifest: str | os.PathLike | None = None,
    with_hash: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
    tolerance: float = BOX_TOLERANCE_PX,
    min_size: float = MIN_BOX_SIZE_PX,
) -> dict:
    """Check a copy of the release; returns the report dict (see the module docstring).

    Keys: ``root``, ``annotation_files``, ``domains`` (per domain ``images`` on disk,
    ``records``, ``expected`` (paper Table 2), ``boxes`` per class key car/sign/person),
    ``findings`` (dicts with ``rule``, ``severity``, ``path``, ``line``, ``message``),
    ``counts`` (findings per rule), ``errors``, ``warnings``, ``ok``, ``files_checked``,
    ``bytes``, ``tree_digest`` (with_hash only: order-independent digest of (path, sha256)
    pairs), ``settings``, ``timings``.
    """
    t0 = time.perf_counter()
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"ROOT: {root} is not a directory")
    if annotations:
        files = [Path(a) for a in annotations]
        for f in files:
            if not f.is_file():
                raise UsageError(f"--annotations: {f} is not a file")
    else:
        files = find_annotation_files(root)
        if not files:
            raise UsageError(
                f"ROOT: no annotation files under {root}; expected text files in the official format "
                "(e.g. batch1_anno/sunny1.txt), or name them with --annotations"
            )
    findings: list[Finding] = []
    expected: dict[str, Record] = {}
    dups = DuplicateTracker()
    domains = {d: {"images": 0, "records": 0, "expected": PAPER_COUNTS[d].total, "boxes": {k: 0 for k in CATEGORY_KEYS.values()}} for d in DOMAINS}
    for f in files:
        parsed = parse_file(f)
        findings += parsed.findings
        for rec in parsed.records:
            findings += validate_record(rec, tolerance=tolerance, min_size=min_size)
            dup = dups.add(rec)
            findings += dup
            if rec.key in expected:
                continue
            expected[rec.key] = rec
            dom = domains[rec.domain]
            dom["records"] += 1
            for b in rec.boxes:
                if b.cls in CATEGORY_KEYS:
                    dom["boxes"][CATEGORY_KEYS[b.cls]] += 1
    t_parse = time.perf_counter() - t0

    mc = _ManifestCheck(manifest, with_hash or None) if manifest else None
    hashing = bool(with_hash)
    n_workers = _workers(workers, len(expected))
    total = len(expected)
    n_files = n_bytes = 0
    digest = 0

    def walk_error(exc: OSError) -> None:
        findings.append(make_finding("image-unreadable", getattr(exc, "filename", "") or str(root), None, f"cannot list this folder: {exc.strerror or exc}"))

    items = iter_disk_images(root, onerror=walk_error)
    for (d, rel, abspath), probe in scan(items, lambda it: it[2], hashing, n_workers):
        key = f"{d}/{rel}"
        n_files += 1
        n_bytes += probe[0]
        domains[d]["images"] += 1
        err = probe[5]
        if err is not None:
            findings.append(make_finding("image-unreadable", abspath, None, f"{key}: {err}"))
        rec = expected.pop(key, None)  # what is left at the end is missing; memory shrinks as we go
        if rec is not None:
            if err is None and (rec.width != probe[1] or rec.height != probe[2] or rec.channels != CHANNELS.get(probe[3], 0)):
                findings += check_image_header(rec, PngHeader(probe[1], probe[2], 8, probe[3], probe[0]))
        else:
            findings.append(make_finding("image-unannotated", abspath, None, f"{key}: an image that no annotation file names"))
        if mc is not None:
            findings += mc.check(key, abspath, probe)
        if probe[4] is not None:
            digest = (digest + int.from_bytes(hashlib.sha256(f"{key}\0{probe[4]}".encode()).digest(), "big")) % (1 << 256)
        if progress is not None:
            total = max(total, n_files)
            progress(n_files, total)
    for key, rec in expected.items():
        findings.append(make_finding("image-missing", rec.source or str(root), rec.line, f"{key}: no such file {root / key}"))
    if mc is not None:
        findings += mc.leftovers(root)
    if progress is not None:
        progress(n_files, n_files)

    counts: dict[str, int] = {}
    for fd in findings:
        counts[fd.rule] = counts.get(fd.rule, 0) + 1
    errors = sum(n for r, n in counts.items() if RULES[r].severity == ERROR)
    warnings = sum(n for r, n in counts.items() if RULES[r].severity == WARNING)
    return {
        "root": str(root),
        "annotation_files": [str(f) for f in files],
        "manifest": None if manifest is None else str(manifest),
        "domains": domains,
        "findings": [fd.to_dict() for fd in findings],
        "counts": counts,
        "errors": errors,
        "warnings": warnings,
        "ok": errors == 0,
        "files_checked": n_files,
        "bytes": n_bytes,
        "tree_digest": f"{digest:064x}" if hashing else None,
        "settings": {"hash": hashing, "workers": n_workers, "box_tolerance_px": tolerance, "min_box_size_px": min_size},
        "timings": {"annotations_s": round(t_parse, 4), "total_s": round(time.perf_counter() - t0, 4)},
    }
