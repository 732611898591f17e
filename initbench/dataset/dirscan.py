"""Check the image folders of a tree against records and a manifest, folder by folder, in workers.

The main process only lists folders. Each folder's PNG names (in slices of at most
:data:`MAX_BATCH`), with the records and manifest rows of exactly those names, go to a worker,
which probes every file (:func:`initbench.dataset.filescan.probe_file`), compares, and sends
back findings, byte counts and a partial tree digest. So per-file Python work in the main
process is nil, and the pool scales with the number of workers even on tiny files. Batches are
consumed in submission order with a bounded number in flight: results and findings come out
in the same order whatever the number of workers, and memory does not grow with the number of
files (the record and manifest groups are popped as their folders are reached).

Groups are keyed by folder: ``"<domain>/<folder relative to the domain>"`` -> ``{file name: row}``
where a record row is ``(relpath, channels, height, width, source index, header line)`` and a
manifest row is ``(line, bytes, sha256 or "")``.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from pathlib import Path
from typing import Callable

from initbench.dataset.filescan import iter_image_folders, probe_file
from initbench.dataset.findings import Finding, make_finding
from initbench.dataset.png import CHANNELS, PngHeader
from initbench.dataset.release import DOMAINS
from initbench.dataset.validate import size_mismatch

#: A batch is closed at a folder boundary once it holds MIN_BATCH files; a folder is sliced at MAX_BATCH.
MIN_BATCH, MAX_BATCH = 256, 512

Groups = dict[str, dict[str, tuple]]


def split_key(key: str) -> tuple[str, str]:
    """``"sunny/a/b/1_00001.png"`` -> (``"sunny/a/b"``, ``"1_00001.png"``)."""
    folder, _, name = key.rpartition("/")
    return folder, name


def file_digest_term(key: str, sha: str) -> int:
    """One file's term of the tree digest (the digest is the sum of terms mod 2**256)."""
    return int.from_bytes(hashlib.sha256(f"{key}\0{sha}".encode()).digest(), "big")


def check_units(units: list, sources: list[str], manifest: str | None, with_hash: bool, annotated: bool):
    """Probe and check the files of some folder slices (runs in a worker).

    ``annotated``: records were given (image rules apply); without, only manifest rules are
    reported. Returns (findings, bytes, digest sum mod 2**256).
    """
    findings: list[Finding] = []
    n_bytes = digest = 0
    for d, reldir, dirpath, names, records, rows in units:
        prefix = f"{d}/{reldir}/" if reldir else f"{d}/"
        for name in names:
            key = prefix + name
            abspath = os.path.join(dirpath, name)
            probe = probe_file(abspath, with_hash)
            size, width, height, ctype, sha, err = probe
            n_bytes += size
            if err is not None and annotated:  # a manifest-only comparison reports manifest rules only
                findings.append(make_finding("image-unreadable", abspath, None, f"{key}: {err}"))
            if annotated:
                rec = records.pop(name, None)
                if rec is None:
                    findings.append(make_finding("image-unannotated", abspath, None, f"{key}: an image that no annotation file names"))
                elif err is None and (rec[3] != width or rec[2] != height or rec[1] != CHANNELS.get(ctype, 0)):
                    relpath, c, h, w, src, line = rec
                    findings += size_mismatch(sources[src], line, relpath, c, h, w, PngHeader(width, height, 8, ctype, size))
            if rows is not None:
                row = rows.pop(name, None)
                if row is None:
                    findings.append(make_finding("manifest-extra-file", abspath, None, f"{key}: on disk, not listed in the manifest {manifest}"))
                else:
                    line, nbytes, want = row
                    if size != nbytes:
                        findings.append(make_finding("manifest-size-mismatch", manifest, line, f"{key}: the manifest says {nbytes} bytes, the file has {size}"))
                    if want and sha is not None and sha != want:
                        findings.append(make_finding("hash-mismatch", manifest, line, f"{key}: the manifest says sha256 {want}, the file has {sha}"))
            if sha is not None:
                digest = (digest + file_digest_term(key, sha)) % (1 << 256)
    return findings, n_bytes, digest


def _check_job(args):
    return check_units(*args)


class Ready:
    """A finished result with the `.result()` of a future (the in-process path of a pool)."""

    def __init__(self, value):
        self._value = value

    def result(self):
        return self._value


def missing_findings(root: Path, folder: str, records: dict | None, rows: dict | None, sources: list[str], manifest: str | None) -> list[Finding]:
    """image-missing for records, manifest-missing-file for rows, of files not found in ``folder``."""
    out = []
    for name, (_, _, _, _, src, line) in (records or {}).items():
        key = f"{folder}/{name}"
        out.append(make_finding("image-missing", sources[src], line, f"{key}: no such file {root / key}"))
    for name, (line, _, _) in (rows or {}).items():
        key = f"{folder}/{name}"
        out.append(make_finding("manifest-missing-file", manifest, line, f"{key}: listed in the manifest, not found at {root / key}"))
    return out


class _Scan:
    """The state of one :func:`scan_tree`: the open batch, the batches in flight, the totals.

    Batches go to ``pool`` (or run in process) in submission order; at most ``window`` wait for
    their result, which is consumed in that same order, so findings do not depend on the workers.
    """

    def __init__(self, root: Path, sources: list[str], manifest: str | None, with_hash: bool, annotated: bool,
                 workers: int, pool, progress: Callable[[int, int], None] | None, total_hint: int):
        self.root, self.pool, self.progress, self.total_hint = root, pool, progress, total_hint
        self.sources, self.manifest = sources, manifest
        self.job_args = (sources, manifest, with_hash, annotated)
        self.window = 2 * max(workers, 1)
        self.pending: deque = deque()
        self.batch: list = []
        self.batch_files = 0
        self.after: list[Finding] = []  # findings that follow the open batch's (missing files, unlistable folders)
        self.findings: list[Finding] = []
        self.images = {d: 0 for d in DOMAINS}
        self.n_files = self.n_bytes = self.digest = 0

    def submit(self) -> None:
        """Send the open batch (with the findings that follow it) off; start a new one."""
        if not self.batch and not self.after:
            return
        args = (self.batch, *self.job_args)
        fut = self.pool.submit(_check_job, args) if self.pool is not None else Ready(_check_job(args))
        self.pending.append((fut, self.batch_files, self.after))
        self.batch, self.batch_files, self.after = [], 0, []

    def drain(self, limit: int) -> None:
        """Consume the oldest results until at most ``limit`` batches are in flight."""
        while len(self.pending) > limit:
            fut, nf, extra = self.pending.popleft()
            fs, nb, dg = fut.result()
            self.findings.extend(fs)
            self.findings.extend(extra)
            self.n_files += nf
            self.n_bytes += nb
            self.digest = (self.digest + dg) % (1 << 256)
            if self.progress is not None:
                self.progress(self.n_files, max(self.total_hint, self.n_files))

    def walk_error(self, exc: OSError) -> None:
        """A folder that cannot be listed: one image-unreadable finding, in walk order."""
        where = getattr(exc, "filename", "") or str(self.root)
        self.after.append(make_finding("image-unreadable", where, None, f"cannot list this folder: {exc.strerror or exc}"))

    def add_folder(self, d: str, reldir: str, dirpath: str, names: list[str], rec_group: dict | None,
                   row_group: dict | None) -> None:
        """Queue one folder's files in slices of at most MAX_BATCH, each with its records and rows;
        what is left of the groups afterwards names files that are not there."""
        self.images[d] += len(names)
        for i in range(0, len(names), MAX_BATCH):
            chunk = names[i:i + MAX_BATCH]
            if self.batch and self.batch_files + len(chunk) > MAX_BATCH:
                self.submit()
                self.drain(self.window)
            rec_sub = {n: rec_group.pop(n) for n in chunk if n in rec_group} if rec_group is not None else None
            row_sub = {n: row_group.pop(n) for n in chunk if n in row_group} if row_group is not None else None
            self.batch.append((d, reldir, dirpath, chunk, rec_sub, row_sub))
            self.batch_files += len(chunk)
        folder = f"{d}/{reldir}" if reldir else d
        self.after += missing_findings(self.root, folder, rec_group, row_group, self.sources, self.manifest)
        if self.batch_files >= MIN_BATCH:
            self.submit()
            self.drain(self.window)


def scan_tree(
    root: Path,
    records: Groups | None,
    rows: Groups | None,
    sources: list[str],
    manifest: str | None,
    with_hash: bool,
    workers: int,
    pool=None,
    progress: Callable[[int, int], None] | None = None,
    total_hint: int = 0,
) -> dict:
    """Check every PNG under the domain folders of ``root``; pops ``records`` and ``rows`` empty.

    Returns ``{"findings", "files", "bytes", "digest", "images": {domain: n}}``. Records and rows
    whose files are not on disk become ``image-missing`` / ``manifest-missing-file``.
    """
    scan = _Scan(root, sources, manifest, with_hash, records is not None, workers, pool, progress, total_hint)
    for d, reldir, dirpath, names in iter_image_folders(root, onerror=scan.walk_error):
        folder = f"{d}/{reldir}" if reldir else d
        rec_group = records.pop(folder, {}) if records is not None else None
        row_group = rows.pop(folder, {}) if rows is not None else None
        scan.add_folder(d, reldir, dirpath, names, rec_group, row_group)
    scan.submit()
    scan.drain(0)
    findings = scan.findings
    for folder in list(records or {}):
        findings += missing_findings(root, folder, records.pop(folder), None, sources, manifest)
    for folder in list(rows or {}):
        findings += missing_findings(root, folder, None, rows.pop(folder), sources, manifest)
    return {"findings": findings, "files": scan.n_files, "bytes": scan.n_bytes, "digest": scan.digest, "images": scan.images}
