"""Compare a copy of the release with a manifest CSV (the columns of :mod:`initbench.dataset.manifest`:
``domain, path, split, drive, frame, height, width, n_car, n_sign, n_person, bytes, sha256``;
gzip when the name ends in ``.gz``). Only ``domain``, ``path``, ``bytes`` and ``sha256`` are used.

Rules: ``manifest-missing-file`` (a row whose file is not there; at the manifest's line),
``manifest-extra-file`` (an image on disk the manifest does not list; at the image),
``manifest-size-mismatch`` and ``hash-mismatch`` (at the manifest's line).
"""

from __future__ import annotations

import csv
import gzip
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, Iterator

from initbench.dataset.dirscan import scan_tree, split_key
from initbench.dataset.findings import Finding
from initbench.errors import DataFormatError, UsageError

Progress = Callable[[int, int], None]
MANIFEST_COLUMNS = ("domain", "path", "bytes", "sha256")
#: Below this many files a worker pool costs more than it saves.
POOL_THRESHOLD = 2000


def pool_size(workers: int | None, expected_files: int) -> int:
    """``workers`` checked (the ``--workers`` option), or a default for this many files."""
    if workers is not None:
        if workers < 1:
            raise UsageError(f"--workers: expected an integer >= 1, got {workers}")
        return workers
    return 1 if expected_files < POOL_THRESHOLD else min(8, os.cpu_count() or 1)


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


def load_manifest_groups(path: str | os.PathLike) -> dict[str, dict[str, tuple[int, int, str]]]:
    """Manifest rows grouped by folder (see :mod:`.dirscan`): folder -> {file name: (line, bytes, sha256 or '')}."""
    groups: dict[str, dict[str, tuple[int, int, str]]] = {}
    for key, row in load_manifest(path).items():
        folder, name = split_key(key)
        groups.setdefault(folder, {})[name] = row
    return groups


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
    groups = load_manifest_groups(manifest)
    total = sum(len(g) for g in groups.values())
    hashing = bool(with_hash) or (with_hash is None and any(r[2] for g in groups.values() for r in g.values()))
    n = pool_size(workers, total)
    with (ProcessPoolExecutor(max_workers=n) if n > 1 else nullcontext(None)) as pool:
        res = scan_tree(root, None, groups, [], str(manifest), hashing, n, pool, progress, total)
    return res["findings"]
