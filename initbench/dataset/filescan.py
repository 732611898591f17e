"""Reading image files fast: PNG header probes and sha256 (the per-file work of verify-dataset).

A *probe* is ``(bytes, width, height, color_type, sha256 or None, error or None)``. Quick
probes read 45 bytes of a file (:func:`initbench.dataset.png.read_png_header`); hash probes
read the whole file once and take the header checks from the same bytes. Nothing here raises
on a bad file. :mod:`.dirscan` runs probes folder by folder in worker processes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Iterator

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


def is_image_name(name: str) -> bool:
    """A file name the tree walkers count as an image: ``*.png`` (any case), not hidden (temporaries are hidden)."""
    return name.lower().endswith(".png") and not name.startswith(".")


def iter_image_folders(
    root: str | os.PathLike, onerror: Callable[[OSError], None] | None = None
) -> Iterator[tuple[str, str, str, list[str]]]:
    """Every folder under the domain folders of ``root`` that holds images, in sorted order:
    (domain, folder relative to the domain ("" for the domain folder itself), absolute folder, sorted image names).

    The one walk of an image tree: hidden folders are skipped, names follow :func:`is_image_name`.
    """
    root = Path(root)
    for d in DOMAINS:
        base = root / d
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base, onerror=onerror):
            dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
            names = sorted(n for n in filenames if is_image_name(n))
            if names:
                reldir = os.path.relpath(dirpath, base).replace(os.sep, "/")
                yield d, "" if reldir == "." else reldir, dirpath, names


def iter_disk_images(root: str | os.PathLike, onerror: Callable[[OSError], None] | None = None) -> Iterator[tuple[str, str, str]]:
    """Every image under the domain folders, sorted: (domain, relpath, absolute path)."""
    for d, reldir, dirpath, names in iter_image_folders(root, onerror):
        for name in names:
            yield d, f"{reldir}/{name}" if reldir else name, os.path.join(dirpath, name)
