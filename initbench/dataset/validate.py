"""Record and image rules: one annotation record (or its PNG header) in, a list of findings out.

The parser (:mod:`.annotations`) reports what breaks the text format (``malformed-record``,
``non-numeric-value``, ``box-count-mismatch``); this module checks what a well-formed record
says. Every finding names the annotation file and the line of the offending text: a box's own
line, the size line (header + 2) or the record header.

Two thresholds, both in pixels of the frame the record's size line describes:

- :data:`BOX_TOLERANCE_PX` (2.0): a box may reach this far beyond the image border before it
  is ``box-outside-image``. Annotation tools round corners and often put an edge at -0.5 or
  at W + 0.5; anything past 2 px is a real error, not rounding.
- :data:`MIN_BOX_SIZE_PX` (2.0): a box narrower or lower than this is a ``small-box`` warning
  (a click, not an object). Degenerate boxes (x2 <= x1 or y2 <= y1) are errors of their own.
"""

from __future__ import annotations

import math

from initbench.dataset.annotations import Record
from initbench.dataset.findings import Finding, make_finding
from initbench.dataset.png import PngHeader
from initbench.dataset.release import CATEGORIES

BOX_TOLERANCE_PX = 2.0
MIN_BOX_SIZE_PX = 2.0


def size_line(rec: Record) -> int | None:
    """Line number of the record's size line ``C H W N``."""
    return None if rec.line is None else rec.line + 2


def validate_record(rec: Record, *, tolerance: float = BOX_TOLERANCE_PX, min_size: float = MIN_BOX_SIZE_PX) -> list[Finding]:
    """Rules on one record alone: values, classes, geometry, duplicates inside the record."""
    out: list[Finding] = []
    src = rec.source or "<memory>"

    def add(rule: str, line: int | None, msg: str) -> None:
        out.append(make_finding(rule, src, line, f"{rec.relpath}: {msg}"))

    if rec.zero_field != 0:
        add("malformed-record", None if rec.line is None else rec.line + 3, f"expected the line '0' after the size line, found '{rec.zero_field}'")
    if rec.channels != 3 or rec.height <= 0 or rec.width <= 0:
        add("malformed-record", size_line(rec), f"size line must be '3 H W N' with H, W > 0, found '{rec.channels} {rec.height} {rec.width} {rec.num}'")
    W, H = rec.width, rec.height
    seen: dict[tuple, int | None] = {}
    for b in rec.boxes:
        coords = (b.x1, b.y1, b.x2, b.y2)
        if not all(math.isfinite(v) for v in coords):
            add("non-finite-value", b.line, f"box coordinates must be finite numbers, found {b.x1} {b.y1} {b.x2} {b.y2}")
            continue
        if b.cls not in CATEGORIES:
            add("unknown-class", b.line, f"class id {b.cls} is not one of 1 (car), 2 (speed limit sign), 3 (person)")
        if b.x2 <= b.x1 or b.y2 <= b.y1:
            add("degenerate-box", b.line, f"expected x1 < x2 and y1 < y2, found x1={b.x1} y1={b.y1} x2={b.x2} y2={b.y2}")
        elif b.width < min_size or b.height < min_size:
            add("small-box", b.line, f"box of {b.width:g} x {b.height:g} px is below the minimum size {min_size:g} px")
        if W > 0 and H > 0 and (b.x1 < -tolerance or b.y1 < -tolerance or b.x2 > W + tolerance or b.y2 > H + tolerance):
            add(
                "box-outside-image",
                b.line,
                f"box {b.x1:g} {b.y1:g} {b.x2:g} {b.y2:g} extends beyond the {W} x {H} image by more than {tolerance:g} px",
            )
        key = b.as_tuple()
        if key in seen:
            first = seen[key]
            add("duplicate-box", b.line, f"the same box as on line {first}: {b.cls} {b.x1:g} {b.y1:g} {b.x2:g} {b.y2:g}")
        else:
            seen[key] = b.line
    return out


class DuplicateTracker:
    """Across records and files: two records for one image, one image in two domains.

    Holds one small tuple per image seen (the records are in memory anyway).
    """

    def __init__(self) -> None:
        self._by_key: dict[str, tuple[str | None, int | None]] = {}
        self._by_relpath: dict[str, tuple[str, str | None, int | None]] = {}

    def __contains__(self, key: str) -> bool:
        """Whether a record for this key (``domain/relpath``) was added."""
        return key in self._by_key

    def add(self, rec: Record) -> list[Finding]:
        return self.add_fields(rec.key, rec.relpath, rec.domain, rec.source, rec.line)

    def add_fields(self, key: str, relpath: str, domain: str, source: str | None, line: int | None) -> list[Finding]:
        """:meth:`add` from the record's key, relpath, domain and location alone."""
        out: list[Finding] = []
        src = source or "<memory>"
        first = self._by_key.get(key)
        if first is not None:
            out.append(make_finding("duplicate-record", src, line, f"{key}: a second record for this image; the first is at {_where(*first)}"))
        else:
            self._by_key[key] = (source, line)
        other = self._by_relpath.get(relpath)
        if other is None:
            self._by_relpath[relpath] = (domain, source, line)
        elif other[0] != domain:
            out.append(
                make_finding(
                    "cross-domain-duplicate",
                    src,
                    line,
                    f"{relpath}: annotated as {domain} here and as {other[0]} at {_where(other[1], other[2])}; a frame has one domain",
                )
            )
        return out


def _where(source: str | None, line: int | None) -> str:
    if source is None:
        return "<memory>"
    return f"{source}:{line}" if line is not None else source


def check_image_header(rec: Record, header: PngHeader) -> list[Finding]:
    """``size-mismatch`` when the size line's C H W disagree with the PNG header."""
    return size_mismatch(rec.source, rec.line, rec.relpath, rec.channels, rec.height, rec.width, header)


def size_mismatch(source: str | None, header_line: int | None, relpath: str, channels: int, height: int, width: int,
                  header: PngHeader) -> list[Finding]:
    """:func:`check_image_header` from the record's fields (``header_line`` is its ``#`` line)."""
    if (height, width, channels) == (header.height, header.width, header.channels):
        return []
    return [
        make_finding(
            "size-mismatch",
            source or "<memory>",
            None if header_line is None else header_line + 2,
            f"{relpath}: size line says {channels} x {height} x {width} (C H W), "
            f"the PNG header says {header.channels} x {header.height} x {header.width}",
        )
    ]
