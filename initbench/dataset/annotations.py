"""The official INIT annotation text format: parse, with file:line positions (writing:
:mod:`initbench.dataset.annotation_writer`; finding the files under a folder: :mod:`initbench.dataset.annotation_files`).

A file is a sequence of records, each followed by two empty lines (as the documented sample
and public loaders of the release expect; the reader accepts any number of blank lines)::

    # 1
    /video_data_20180804/.../camera_2_center_fov60.h264/15_00404.png
    3 1208 1920 1
    0
    4
    1 745.1 620.9 955.2 719.8
    ...

that is: a ``# <index>`` header, the image path relative to the domain folder (it may start
with ``/``), the size line ``C H W N``, a ``0`` line, the box count, then one
``cls x1 y1 x2 y2`` line per box in absolute pixels (floats). Class ids: 1 car,
2 speed limit sign, 3 person.

The parser never guesses and never stops at the first problem: a line the format does not
allow becomes a :class:`~initbench.dataset.findings.Finding` with its file and line, and the
parser resynchronises on the next ``#`` header. Semantic checks (boxes inside the frame,
known class ids, duplicates) live in :mod:`initbench.dataset.validate`.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from initbench.dataset.findings import Finding, make_finding
from initbench.dataset.release import DOMAINS


@dataclass(frozen=True, slots=True)
class Box:
    """One box: category id and corners in absolute pixels of the original frame."""

    cls: int
    x1: float
    y1: float
    x2: float
    y2: float
    line: int | None = field(default=None, compare=False)

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    def as_tuple(self) -> tuple[int, float, float, float, float]:
        return (self.cls, self.x1, self.y1, self.x2, self.y2)


@dataclass(frozen=True, slots=True)
class Record:
    """One annotated image.

    ``path`` is the image path exactly as written in the annotation file (relative to the
    domain folder, possibly with a leading ``/``); :attr:`relpath` is the normalised form
    used as a key everywhere else. ``source`` and ``line`` say where the record came from
    (the line of its ``#`` header); they do not take part in equality.
    """

    domain: str
    index: int
    path: str
    channels: int
    height: int
    width: int
    num: int
    boxes: tuple[Box, ...]
    zero_field: int = 0
    source: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)

    @property
    def relpath(self) -> str:
        """Path relative to the domain folder, forward slashes, no leading slash."""
        return self.path.replace("\\", "/").lstrip("/")

    @property
    def key(self) -> str:
        """``<domain>/<relpath>``: the image's path relative to the release root."""
        return f"{self.domain}/{self.relpath}"

    def location(self) -> str:
        return f"{self.source}:{self.line}" if self.source else "<memory>"


@dataclass
class ParseResult:
    """Records and findings of a text. ``owners`` maps the position of a finding in ``findings``
    to the image path (as written) of the record it was found in, when the record's path line
    could be read; a stray line or an unreadable file belongs to no record."""

    records: list[Record]
    findings: list[Finding]
    owners: dict[int, str] = field(default_factory=dict)


#: A record's header line, ``# <index>``.
HEADER = re.compile(r"^#\s*(\S+)\s*$")
_DOMAIN_FROM_NAME = re.compile(r"^([a-z]+?)\d*$")


def domain_from_filename(path: str | os.PathLike) -> str | None:
    """Infer the domain of an annotation file from its name (``sunny1.txt`` -> ``sunny``).

    Returns None when the name does not start with a domain name.
    """
    stem = Path(path).stem.lower()
    m = _DOMAIN_FROM_NAME.match(stem)
    if m and m.group(1) in DOMAINS:
        return m.group(1)
    for d in DOMAINS:
        if stem.startswith(d):
            return d
    return None


def format_number(v: float) -> str:
    """Shortest text that reads back as the same float (``745.1``, ``1093.0``)."""
    if math.isfinite(v):
        return repr(float(v))
    return str(v)


def _parse_float(tok: str) -> float | None:
    try:
        return float(tok)
    except ValueError:
        return None


def _parse_int(tok: str) -> int | None:
    try:
        return int(tok)
    except ValueError:
        f = _parse_float(tok)
        if f is not None and math.isfinite(f) and f == int(f):
            return int(f)
        return None


def parse_text(text: str, *, domain: str, source: str = "<string>") -> ParseResult:
    """Parse annotation text into records and findings.

    Args:
        text: the whole file's content.
        domain: the domain of every record in this text (from the file name or the caller).
        source: the file name used in locations.

    A record whose lines are exactly in the official shape takes a fast path; anything else
    goes through the line-by-line parser, one record (or one stray line) at a time, so the
    findings are the same as a line-by-line parse of the whole file.
    """
    return parse_lines(text.splitlines(), domain=domain, source=source)


def parse_lines(lines: list[str], *, domain: str, source: str = "<string>", line_offset: int = 0) -> ParseResult:
    """:func:`parse_text` on lines (without line ends) that start at line ``line_offset + 1`` of
    ``source``. A piece cut by :func:`record_chunks` parses to exactly what the same lines give
    inside the whole file."""
    off = line_offset
    records: list[Record] = []
    findings: list[Finding] = []
    owners: dict[int, str] = {}
    n = len(lines)
    i = 0
    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.lstrip().startswith("#"):
            j = i + 1
            while j < n and lines[j].strip():
                j += 1
            rec = _parse_block_fast(lines, i, j, domain, source, off)
            if rec is not None:
                records.append(rec)
                i = j
                continue
        i = _parse_step(lines, i, domain, source, records, findings, off, owners)
    return ParseResult(records, findings, owners)


def record_chunks(lines: list[str], target: int) -> list[tuple[int, int]]:
    """Cut ``lines`` into pieces of about ``target`` lines, each ending with a blank line and the
    next starting with a record header, so that every piece parses on its own (in parallel) to
    the records and findings of the whole file: every parser state resets at such a point."""
    cuts = [0]
    k = target
    n = len(lines)
    while k < n:
        while k < n and not (not lines[k - 1].strip() and HEADER.match(lines[k].strip())):
            k += 1
        if k < n:
            cuts.append(k)
        k += target
    cuts.append(n)
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def _parse_block_fast(lines: list[str], i: int, j: int, domain: str, source: str, off: int = 0) -> Record | None:
    """The record of lines[i:j] if it is exactly in the official shape, else None."""
    if j - i < 5:
        return None
    try:
        head = lines[i].strip()
        if head[:1] != "#":
            return None
        itok = head[1:].strip()
        path = lines[i + 1].strip()
        size = lines[i + 2].split()
        if not itok or len(itok.split()) != 1 or len(path.split()) != 1 or not path.lower().endswith(".png") or len(size) != 4:
            return None
        if lines[i + 3].strip() != "0":
            return None
        count = int(lines[i + 4])
        if count < 0 or j - i != 5 + count:
            return None
        index = int(itok)
        channels, height, width, num = int(size[0]), int(size[1]), int(size[2]), int(size[3])
        boxes = []
        for k in range(i + 5, j):
            t = lines[k].split()
            if len(t) != 5:
                return None
            boxes.append(Box(int(t[0]), float(t[1]), float(t[2]), float(t[3]), float(t[4]), line=k + 1 + off))
    except ValueError:
        return None
    return Record(domain=domain, index=index, path=path, channels=channels, height=height, width=width, num=num,
                  boxes=tuple(boxes), zero_field=0, source=source, line=i + 1 + off)


def _parse_step(lines: list[str], i: int, domain: str, source: str, records: list[Record], findings: list[Finding], off: int = 0,
                owners: dict[int, str] | None = None) -> int:
    """Line-by-line parse of the record (or stray line) at non-blank line ``i``; returns the next index.

    Findings inside a record whose path line starts with a ``.png`` path are entered in ``owners``
    (finding position -> that path), so a reader can tell which image a broken record names.
    """

    def bad(rule: str, lineno: int, msg: str) -> None:
        findings.append(make_finding(rule, source, lineno + off, msg))

    raw = lines[i].strip()
    m = HEADER.match(raw)
    if not m:
        bad("malformed-record", i + 1, f"expected a record header '# <index>', found {raw[:80]!r}")
        return i + 1
    header_line = i + 1
    first = len(findings)
    index = _parse_int(m.group(1))
    if index is None:
        bad("non-numeric-value", header_line, f"record index must be an integer, found {m.group(1)!r}")
        index = -1
    rec, nxt = _parse_body(lines, i + 1, header_line, index, domain, source, bad, off)
    if rec is not None:
        records.append(rec)
    # The image a broken record names: the first word of its path line, when that is a .png path.
    words = lines[i + 1].split() if i + 1 < len(lines) else []
    if owners is not None and words and words[0].lower().endswith(".png") and not words[0].startswith("#"):
        for k in range(first, len(findings)):
            owners[k] = words[0]
    return nxt


def _parse_slow(lines: list[str], domain: str, source: str) -> ParseResult:
    """The line-by-line parser alone (reference for the fast path; used by tests)."""
    records: list[Record] = []
    findings: list[Finding] = []
    owners: dict[int, str] = {}
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        i = _parse_step(lines, i, domain, source, records, findings, 0, owners)
    return ParseResult(records, findings, owners)


def _next_record_start(lines: list[str], i: int) -> int:
    while i < len(lines) and not HEADER.match(lines[i].strip()):
        i += 1
    return i


def _expect_line(lines: list[str], j: int, what: str, index: int, bad) -> str | None:
    """The stripped line ``j`` of a record's head, or None (reported) when it is missing, blank or a header."""
    n = len(lines)
    if j >= n or not lines[j].strip() or HEADER.match(lines[j].strip()):
        found = "end of file" if j >= n else repr(lines[j].strip()[:80]) if lines[j].strip() else "a blank line"
        bad("malformed-record", min(j, n - 1) + 1 if n else 1, f"expected {what} of record '# {index}', found {found}")
        return None
    return lines[j].strip()


def _path_field(text: str, lineno: int, bad) -> str | None:
    if len(text.split()) != 1 or not text.lower().endswith(".png"):
        bad("malformed-record", lineno, f"expected an image path ending in .png, found {text[:80]!r}")
        return None
    return text


def _size_field(text: str, lineno: int, bad) -> list[int] | None:
    toks = text.split()
    if len(toks) != 4:
        bad("malformed-record", lineno, f"expected the size line 'C H W N' (4 integers), found {text[:80]!r}")
        return None
    ints = [_parse_int(t) for t in toks]
    if any(v is None for v in ints):
        bad("non-numeric-value", lineno, f"size line must hold 4 integers 'C H W N', found {text!r}")
        return None
    return ints  # type: ignore[return-value]


def _zero_field(text: str, lineno: int, bad) -> int | None:
    value = _parse_int(text)
    if value is None or len(text.split()) != 1:
        bad("malformed-record", lineno, f"expected the line '0', found {text[:80]!r}")
        return None
    return value


def _count_field(text: str, lineno: int, bad) -> int | None:
    count = _parse_int(text)
    if count is None or len(text.split()) != 1 or count < 0:
        bad("non-numeric-value", lineno, f"box count must be a non-negative integer, found {text[:80]!r}")
        return None
    return count


#: The four lines after a record header, in order: (what the finding calls it, checker of its text).
_HEAD_FIELDS = (
    ("the image path", _path_field),
    ("the size line 'C H W N'", _size_field),
    ("the '0' line", _zero_field),
    ("the box count", _count_field),
)


def _parse_head(lines: list[str], i: int, index: int, bad) -> tuple[list | None, int]:
    """The four head fields of the record whose header precedes line ``i``: (values, i + 4), or
    (None, where parsing resumes) after reporting the first bad field. A missing line resumes at
    the next header from itself, a wrong one from the line after it."""
    values = []
    for k, (what, check) in enumerate(_HEAD_FIELDS):
        text = _expect_line(lines, i + k, what, index, bad)
        if text is None:
            return None, _next_record_start(lines, i + k)
        value = check(text, i + k + 1, bad)
        if value is None:
            return None, _next_record_start(lines, i + k + 1)
        values.append(value)
    return values, i + 4


def _parse_box_lines(lines: list[str], j: int, bad, off: int) -> tuple[list[Box], bool, int]:
    """The box lines from ``j`` to the next blank line or header: (valid boxes, whether every line
    was valid, the index after the last one). Each bad line is reported and skipped."""
    n = len(lines)
    boxes: list[Box] = []
    ok = True
    while j < n and lines[j].strip() and not HEADER.match(lines[j].strip()):
        text = lines[j].strip()
        toks = lines[j].split()
        lineno = j + 1
        j += 1
        if len(toks) != 5:
            bad("malformed-record", lineno, f"expected a box line 'cls x1 y1 x2 y2', found {text[:80]!r}")
            ok = False
            continue
        cls = _parse_int(toks[0])
        coords = [_parse_float(t) for t in toks[1:]]
        if cls is None or any(c is None for c in coords):
            bad("non-numeric-value", lineno, f"box line must be 'cls x1 y1 x2 y2' with numbers, found {text!r}")
            ok = False
            continue
        boxes.append(Box(cls, *coords, line=lineno + off))  # type: ignore[arg-type]
    return boxes, ok, j


def _check_box_count(found: int, ok: bool, count: int, index: int, count_line: int, bad) -> None:
    """Report a box count that differs from the number of valid box lines."""
    if found == count:
        return
    if ok:
        bad("box-count-mismatch", count_line, f"record '# {index}' says {count} boxes but {found} box lines follow")
    else:
        # Bad lines were already reported; still tell that the count cannot be trusted.
        bad("box-count-mismatch", count_line, f"record '# {index}' says {count} boxes but only {found} valid box lines follow")


def _parse_body(lines, i, header_line, index, domain, source, bad, off=0):
    """Parse the lines after a header. Returns (record or None, next line index)."""
    head, nxt = _parse_head(lines, i, index, bad)
    if head is None:
        return None, nxt
    path, (channels, height, width, num), zero_v, count = head
    boxes, ok, j = _parse_box_lines(lines, nxt, bad, off)
    _check_box_count(len(boxes), ok, count, index, nxt, bad)  # nxt: the box count's 1-based line
    rec = Record(domain=domain, index=index, path=path, channels=channels, height=height, width=width, num=num,
                 boxes=tuple(boxes), zero_field=zero_v, source=source, line=header_line + off)
    return rec, j


def read_annotation_lines(path: str | os.PathLike, *, domain: str | None = None) -> tuple[str | None, list[str], list[Finding]]:
    """(domain, lines, findings) of one annotation file; on a problem: (None, [], [annotation-unreadable])."""
    path = Path(path)
    dom = domain or domain_from_filename(path)
    if dom is None:
        msg = (f"cannot tell the domain of this file from its name; expected a name starting with one of {', '.join(DOMAINS)} "
               "(e.g. sunny1.txt), or pass the domain explicitly")
        return None, [], [make_finding("annotation-unreadable", str(path), None, msg)]
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark, if any, is not part of the first line
    except (OSError, UnicodeDecodeError) as exc:
        return None, [], [make_finding("annotation-unreadable", str(path), None, f"cannot read as UTF-8 text: {exc}")]
    return dom, text.splitlines(), []


def parse_file(path: str | os.PathLike, *, domain: str | None = None) -> ParseResult:
    """Parse one annotation file. ``domain`` defaults to the one in the file name."""
    dom, lines, problems = read_annotation_lines(path, domain=domain)
    if dom is None:
        return ParseResult([], problems)
    return parse_lines(lines, domain=dom, source=str(path))
