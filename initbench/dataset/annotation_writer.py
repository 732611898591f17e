"""Write records in the official INIT annotation text format (:mod:`initbench.dataset.annotations` reads it)."""

from __future__ import annotations

import os
from typing import Iterable

from initbench.dataset.annotations import Record, format_number
from initbench.files import write_atomic


def format_record(rec: Record) -> str:
    """The record in the official text format, without the empty lines that end it."""
    out = [
        f"# {rec.index}",
        rec.path,
        f"{rec.channels} {rec.height} {rec.width} {rec.num}",
        str(rec.zero_field),
        str(len(rec.boxes)),
    ]
    for b in rec.boxes:
        out.append(f"{b.cls} {format_number(b.x1)} {format_number(b.y1)} {format_number(b.x2)} {format_number(b.y2)}")
    return "\n".join(out)


#: What ends every record: its last line's newline and two empty lines. Loaders of the release
#: read a fixed two lines after the boxes (one blank line makes them take the next header as
#: blank and crash); the reader here accepts one or more.
RECORD_END = "\n\n\n"


def format_records(records: Iterable[Record]) -> str:
    """Each record followed by two empty lines (:data:`RECORD_END`)."""
    return "".join(format_record(r) + RECORD_END for r in records)


def write_file(path: str | os.PathLike, records: Iterable[Record]) -> None:
    """Write records atomically (temporary name, then rename)."""
    write_atomic(path, format_records(records))
