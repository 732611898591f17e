"""Which files of a folder are INIT annotation files: found by their content, not their names."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from initbench.dataset.annotations import HEADER
from initbench.errors import UsageError


def looks_like_annotation_file(path: str | os.PathLike, probe_bytes: int = 4096) -> bool:
    """True when the file starts (after blank lines) with a ``# <index>`` header and a .png path."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(probe_bytes).decode("utf-8-sig", errors="replace")
    except OSError:
        return False
    lines = [l.strip() for l in head.splitlines() if l.strip()]
    return len(lines) >= 2 and bool(HEADER.match(lines[0])) and lines[1].lower().endswith(".png")


def find_annotation_files(root: str | os.PathLike) -> list[Path]:
    """Every ``*.txt`` under ``root`` whose content is in the official format, sorted."""
    root = Path(root)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.lower().endswith(".txt"):
                p = Path(dirpath) / name
                if looks_like_annotation_file(p):
                    found.append(p)
    return found


def annotation_files_to_read(root: str | os.PathLike, annotations: Sequence[str | os.PathLike] | None) -> list[Path]:
    """The annotation files a command reads: ``annotations`` when given (each must be a file), else every file in
    the official format under the folder ``root``. UsageError (naming ``--annotations`` or ``ROOT``) otherwise."""
    if annotations:
        files = [Path(a) for a in annotations]
        for f in files:
            if not f.is_file():
                raise UsageError(f"--annotations: {f} is not a file")
        return files
    if not Path(root).is_dir():
        raise UsageError(f"ROOT: {root} is not a directory")
    files = find_annotation_files(root)
    if not files:
        raise UsageError(
            f"ROOT: no annotation files under {root}; expected text files in the official format "
            "(e.g. batch1_anno/sunny1.txt), or name them with --annotations"
        )
    return files
