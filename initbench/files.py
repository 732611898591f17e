"""Writing files so that a reader never sees half of one: a temporary sibling, then ``os.replace``; and reading
a JSON file with one typed error for every way it can be unreadable.

Usable from every layer (like ``errors.py`` and ``digests.py``). The temporary file is
``.<name>.tmp-<pid>-<thread>`` in the target's folder (same file system, so the rename is atomic;
a leading dot, so tree walkers skip it; ``prepare`` removes stale ones). It is removed when the
write fails, whatever the failure (a full disk, an exception of the caller, Ctrl-C).
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

from initbench.errors import DataFormatError

TEMP_MARK = ".tmp-"


def temp_name(path: Path) -> Path:
    """The temporary sibling of ``path`` that this process and thread write first."""
    return path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}-{threading.get_ident()}")


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None, *,
                 exclusive: bool = False) -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; on a clean exit it replaces ``path``, else it is removed.

    ``mode`` is ``"wb"`` or ``"w"`` (text: ``encoding`` defaults to UTF-8, newlines are written as given).
    The parent folder is created. ``exclusive=True`` never replaces an existing ``path``: the finished file
    is hard-linked in (``FileExistsError`` when the name exists), so two concurrent writers cannot overwrite
    each other; the data is flushed to disk first.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: expected mode 'wb' or 'w'; got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    text = dict(encoding=encoding or "utf-8", newline="") if mode == "w" else {}
    try:
        with open(tmp, mode, **text) as fh:
            yield fh
            if exclusive:
                fh.flush()
                os.fsync(fh.fileno())
        if exclusive:
            os.link(tmp, path)  # FileExistsError when the name exists
            tmp.unlink()
        else:
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: bytes | str, encoding: str = "utf-8") -> int:
    """Write ``data`` (bytes, or text encoded with ``encoding``) to ``path`` atomically; returns the byte count."""
    raw = data.encode(encoding) if isinstance(data, str) else bytes(data)
    with atomic_write(path, "wb") as fh:
        fh.write(raw)
    return len(raw)


def read_json(path: str | os.PathLike, what: str) -> Any:
    """The JSON document at ``path``; a missing, undecodable or malformed file is a
    :class:`~initbench.errors.DataFormatError` ``PATH: WHAT (why)``, e.g. ``what`` = "not a readable results JSON"."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFormatError(f"{what} ({exc})", str(path)) from None
