"""``verify-dataset``: is a copy of the release complete, uncorrupted, and are its annotations valid?

Quick mode reads every annotation file and, for every PNG under the domain folders, only its
first 33 and last 12 bytes (:func:`initbench.dataset.png.read_png_header`): the size from IHDR,
and truncation from the missing IEND chunk. Pixels are never decoded. ``with_hash=True``
streams every image through sha256 instead (one read per file, header checks from the same
bytes) and compares with a manifest when one is given (:mod:`.verify_manifest`).

With a worker pool, annotation files are parsed and validated in the workers, in pieces cut
at record boundaries (about 1,000 records a task), which send back one small tuple per record;
then image folders are checked in the workers too, a slice of a folder per task with its
records (:mod:`.dirscan`). Memory holds one tuple per annotated image and the findings, never
a list of every file. Results are consumed in submission order, so the report is the same
whatever the number of workers. Nothing here raises on a bad file: every problem becomes a
:class:`~initbench.dataset.findings.Finding`. Only an unusable root or argument raises
(:class:`~initbench.errors.UsageError`, exit code 2).
"""

from __future__ import annotations

import os
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, Sequence

from initbench.dataset.annotation_files import annotation_files_to_read
from initbench.dataset.annotations import parse_lines, read_annotation_lines, record_chunks
from initbench.dataset.dirscan import Ready, scan_tree, split_key
from initbench.dataset.findings import ERROR, RULES, WARNING, Finding
from initbench.dataset.release import CATEGORY_KEYS, DOMAINS, PAPER_COUNTS
from initbench.dataset.validate import BOX_TOLERANCE_PX, MIN_BOX_SIZE_PX, DuplicateTracker, validate_record
from initbench.dataset.verify_manifest import load_manifest_groups, pool_size
from initbench.digests import sha256_file
from initbench.errors import UsageError

Progress = Callable[[int, int], None]
#: Roughly how many bytes of annotation text one record takes (to size the pool before parsing).
_BYTES_PER_RECORD = 150
#: Lines of annotation text per parsing task (about 1,000 records).
ANNOTATION_CHUNK_LINES = 8000


def check_annotation_lines(source: str, domain: str, lines: list[str], offset: int, tolerance: float, min_size: float
                           ) -> tuple[list[Finding], list[tuple]]:
    """Parse and validate a piece of an annotation file (runs in a worker; see
    :func:`~initbench.dataset.annotations.record_chunks`).

    Returns the findings and, per record, ``(key, relpath, domain, channels, height, width,
    line, n_car, n_sign, n_person)``.
    """
    parsed = parse_lines(lines, domain=domain, source=source, line_offset=offset)
    findings = list(parsed.findings)
    rows = []
    for rec in parsed.records:
        findings += validate_record(rec, tolerance=tolerance, min_size=min_size)
        n = [0, 0, 0, 0]
        for b in rec.boxes:
            n[b.cls if b.cls in CATEGORY_KEYS else 0] += 1
        rows.append((rec.key, rec.relpath, rec.domain, rec.channels, rec.height, rec.width, rec.line, n[1], n[2], n[3]))
    return findings, rows


def _check_annotation_job(args) -> tuple[list[Finding], list[tuple]]:
    return check_annotation_lines(*args)


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
    """Check a copy of the release; returns the report dict.

    Keys: ``root``, ``annotation_files``, ``manifest``, ``domains`` (per domain: ``images`` on
    disk, ``records``, ``expected`` (paper Table 2), ``boxes`` per class key car/sign/person),
    ``findings`` (dicts with ``rule``, ``severity``, ``path``, ``line``, ``message``), ``counts``
    (findings per rule), ``errors``, ``warnings``, ``ok`` (no errors), ``files_checked``,
    ``bytes``, ``tree_digest`` (with_hash only: sum mod 2**256 of sha256(path, file sha256), so
    independent of order and workers), ``annotation_sha256`` (with_hash only: file -> sha256),
    ``settings``, ``timings``. Without ``with_hash`` a manifest is compared by file sizes only.
    """
    t0 = time.perf_counter()
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"ROOT: {root} is not a directory")
    files = annotation_files_to_read(root, annotations)
    est_records = sum(f.stat().st_size for f in files) // _BYTES_PER_RECORD
    n_workers = pool_size(workers, est_records)
    rows = load_manifest_groups(manifest) if manifest else None
    pool_cm = ProcessPoolExecutor(max_workers=n_workers) if n_workers > 1 else nullcontext(None)
    sources = [str(f) for f in files]
    with pool_cm as pool:
        findings, expected, domains = _read_annotations(files, pool, n_workers, tolerance, min_size)
        t_parse = time.perf_counter() - t0
        total = sum(len(g) for g in expected.values())
        scanned = scan_tree(root, expected, rows, sources, None if manifest is None else str(manifest), bool(with_hash),
                            n_workers, pool, progress, total)
    findings += scanned["findings"]
    for d, n in scanned["images"].items():
        domains[d]["images"] = n

    counts: dict[str, int] = {}
    for fd in findings:
        counts[fd.rule] = counts.get(fd.rule, 0) + 1
    errors = sum(n for r, n in counts.items() if RULES[r].severity == ERROR)
    warnings = sum(n for r, n in counts.items() if RULES[r].severity == WARNING)
    return {
        "root": str(root),
        "annotation_files": sources,
        "manifest": None if manifest is None else str(manifest),
        "domains": domains,
        "findings": [fd.to_dict() for fd in findings],
        "counts": counts,
        "errors": errors,
        "warnings": warnings,
        "ok": errors == 0,
        "files_checked": scanned["files"],
        "bytes": scanned["bytes"],
        "tree_digest": f"{scanned['digest']:064x}" if with_hash else None,
        "annotation_sha256": {str(f): _sha256(f) for f in files} if with_hash else None,
        "settings": {"hash": bool(with_hash), "workers": n_workers, "box_tolerance_px": tolerance, "min_box_size_px": min_size},
        "timings": {"annotations_s": round(t_parse, 4), "total_s": round(time.perf_counter() - t0, 4)},
    }


def _annotation_jobs(files: list[Path], tolerance: float, min_size: float):
    """(file index, job or unreadable-file findings), file by file, piece by piece."""
    for src, f in enumerate(files):
        dom, lines, problems = read_annotation_lines(f)
        if dom is None:
            yield src, problems
            continue
        for a, b in record_chunks(lines, ANNOTATION_CHUNK_LINES):
            yield src, (str(f), dom, lines[a:b], a, tolerance, min_size)


def _read_annotations(files: list[Path], pool, workers: int, tolerance: float, min_size: float):
    """Findings, records grouped by folder (``folder -> {name: (relpath, channels, height, width,
    file index, line)}``, see :mod:`.dirscan`) and per-domain counts. Pieces of the files are
    parsed in the pool (a bounded number in flight) and consumed in file order."""
    findings: list[Finding] = []
    expected: dict[str, dict[str, tuple]] = {}
    domains = {d: {"images": 0, "records": 0, "expected": PAPER_COUNTS[d].total, "boxes": {k: 0 for k in CATEGORY_KEYS.values()}} for d in DOMAINS}
    dups = DuplicateTracker()
    sources = [str(f) for f in files]

    def take(src: int, result) -> None:
        part_findings, rows = result
        findings.extend(part_findings)
        source = sources[src]
        for key, relpath, domain, c, h, w, line, n_car, n_sign, n_person in rows:
            first = key not in dups
            findings.extend(dups.add_fields(key, relpath, domain, source, line))
            if not first:
                continue
            folder, name = split_key(key)
            expected.setdefault(folder, {})[name] = (relpath, c, h, w, src, line)
            dom = domains[domain]
            dom["records"] += 1
            boxes = dom["boxes"]
            boxes["car"] += n_car
            boxes["sign"] += n_sign
            boxes["person"] += n_person

    pending: deque = deque()
    for src, job in _annotation_jobs(files, tolerance, min_size):
        if isinstance(job, list):  # the file could not be read: its findings, in file order
            pending.append((src, Ready((job, []))))
        else:
            pending.append((src, pool.submit(_check_annotation_job, job) if pool is not None else Ready(_check_annotation_job(job))))
        while len(pending) > 2 * workers:
            s, fut = pending.popleft()
            take(s, fut.result())
    while pending:
        s, fut = pending.popleft()
        take(s, fut.result())
    return findings, expected, domains


def _sha256(path: Path) -> str | None:
    """sha256 of an annotation file, None when it cannot be read (the reading step reports why)."""
    try:
        return sha256_file(path)
    except OSError:
        return None


