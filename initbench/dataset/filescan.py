"""Reading many image files fast: PNG header probes and sha256, in a process pool, streaming.

A *probe* is ``(bytes, width, height, color_type, sha256 or None, error or None)``. Quick
probes read 45 bytes of a file (:func:`initbench.dataset.png.read_png_header`); hash probes
read the whole file once and take the header checks from the same bytes. Files are probed in
chunks by worker processes, fed from a lazy directory walk with a bounded number of chunks in
flight, so memory does not grow with the number of files. Nothing here raises on a bad file.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from initbench.dataset.png import PngError, parse_png_header, read_png_header
from initbench.dataset.release import DOMAINS

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
            data = os.read(fd, expected + 1)
            if len(data) != expected:  # the file changed size under us, or a short read: read to the end
                parts = [data]
                while True:
                    more = os.read(fd, _BLOCK)
                    if not more:
                        break
                    parts.append(more)
                data = b"".join(parts)
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


def scan(items: Iterable, path_of: Callable, with_hash: bool, workers: int, pool: Executor | None = None) -> Iterator[tuple[object, Probe]]:
    """Probe files in order, in a process pool when ``workers > 1`` (``pool`` if given, else a
    new one); yields (item, probe) in the order of ``items``."""
    if workers <= 1 and pool is None:
        for it in items:
            yield it, probe_file(path_of(it), with_hash)
        return
    if pool is None:
        with ProcessPoolExecutor(max_workers=workers) as own:
            yield from scan(items, path_of, with_hash, workers, own)
        return
    chunk = 64 if with_hash else 256
    window = 4 * max(workers, 1)
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


