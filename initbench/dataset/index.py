"""One walk over a copy of the release: every image of every domain with its boxes, and what could not be used.

The loaders, ``manifest build``, ``prepare`` and the exports all start from :func:`index_root`.
It lists ``<root>/<domain>/**/*.png``, reads every annotation file under the root (any
``*.txt`` in the official format, wherever it lies) and checks what it read by the rules of
``verify-dataset`` that concern the annotations: the parser's, :func:`~initbench.dataset.validate.validate_record`,
two records for one image or one frame in two domains, a record whose image is missing; with
``check_images=True`` also the PNG header of every image (``image-unreadable``,
``size-mismatch``).

Nothing is dropped silently. When any of these findings is an error, :func:`index_root` raises
:class:`~initbench.errors.InvalidDataError` with all of them (exit code 1, as ``verify-dataset``),
unless ``skip_invalid=True``: then every image an error concerns is left out, and the index's
:attr:`ReleaseIndex.dropped` lists each error with the images it cost (none for a stray line or
an unreadable file). A left-out image still counts for the split (:attr:`ReleaseIndex.image_keys`),
so skipping never moves another image between train and test. An image without a record has
no boxes (``verify-dataset`` warns about it); warnings (e.g. a small box) change nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from initbench.dataset.annotation_files import looks_like_annotation_file
from initbench.dataset.annotations import Record, domain_from_filename, parse_file
from initbench.dataset.filescan import is_image_name
from initbench.dataset.findings import ERROR, Finding, make_finding
from initbench.dataset.png import PngError, read_png_header
from initbench.dataset.release import DOMAINS
from initbench.dataset.validate import DuplicateTracker, size_mismatch, validate_record
from initbench.errors import DataFormatError, InvalidDataError, UsageError

#: A box as plain numbers: (class id, x1, y1, x2, y2) in pixels of the original image.
BoxTuple = tuple[int, float, float, float, float]


@dataclass(frozen=True)
class ImageEntry:
    """One image of the release. ``key`` = ``<domain>/<relpath>``; ``path`` is absolute.

    ``height``/``width`` come from the annotation record (None without one); ``boxes`` are
    in pixels of the original image.
    """

    domain: str
    relpath: str
    path: str
    boxes: tuple[BoxTuple, ...] = ()
    height: int | None = None
    width: int | None = None
    annotated: bool = False

    @property
    def key(self) -> str:
        return f"{self.domain}/{self.relpath}"


def _walk(root: Path) -> tuple[list[tuple[str, str]], list[Path]]:
    """(domain, relpath) of every image and every ``*.txt`` under ``root``, in one pass: annotation files may lie
    outside the domain folders, so this walks the whole root (images as :func:`~.filescan.iter_image_folders`)."""
    images: list[tuple[str, str]] = []
    texts: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = Path(dirpath).relative_to(root)
        top = rel_dir.parts[0] if rel_dir.parts else None
        for name in sorted(filenames):
            low = name.lower()
            if top in DOMAINS and is_image_name(name):
                images.append((top, (rel_dir / name).relative_to(top).as_posix()))
            elif low.endswith(".txt"):
                texts.append(Path(dirpath) / name)
    return images, texts


class ReleaseIndex(dict):
    """key -> :class:`ImageEntry` (sorted by key) of the images a command may use, and what was left out.

    Attributes:
        image_keys: every image under the domain folders, left-out ones included (sorted); splits
            are computed from these.
        records: key -> the annotation record of each kept annotated image.
        annotation_files: the annotation files read (sorted).
        findings: every finding about what was read (errors and warnings).
        dropped: one dict per error finding when errors were skipped: the finding's fields
            (``rule``, ``severity``, ``path``, ``line``, ``message``) and ``images``, the keys it
            cost (empty for a stray line or an unreadable file). Empty for a clean copy.
    """

    def __init__(self, entries: dict[str, ImageEntry], *, image_keys: tuple[str, ...] = (),
                 records: dict[str, Record] | None = None, annotation_files: tuple[str, ...] = (),
                 findings: list[Finding] | None = None, dropped: list[dict] | None = None):
        super().__init__(entries)
        self.image_keys = tuple(image_keys)
        self.records = dict(records or {})
        self.annotation_files = tuple(annotation_files)
        self.findings = list(findings or [])
        self.dropped = list(dropped or [])

    @property
    def dropped_images(self) -> list[str]:
        """Keys of the images on disk that were left out (sorted)."""
        on_disk = set(self.image_keys)
        return sorted({k for d in self.dropped for k in d["images"] if k in on_disk})

    def drop_report(self) -> dict:
        """What a command records in its outputs: ``images_left_out`` and every skipped error."""
        return {"images_left_out": self.dropped_images, "dropped": list(self.dropped)}


#: A finding and the keys of the images it concerns.
Owned = tuple[Finding, tuple[str, ...]]


def _key(domain: str | None, path: str) -> str | None:
    return None if domain is None else f"{domain}/{path.replace(chr(92), '/').lstrip('/')}"


def read_annotations(files: Iterable[Path], image_set: set[str], root: Path) -> tuple[dict[str, Record], list[Owned]]:
    """key -> first record, and every finding of the files with the images it concerns."""
    records: dict[str, Record] = {}
    owned: list[Owned] = []
    dups = DuplicateTracker()
    first_of_frame: dict[str, str] = {}  # relpath -> key of its first record (cross-domain duplicates)
    for f in sorted(Path(x) for x in files):
        res = parse_file(f)
        domain = domain_from_filename(f)
        for i, fd in enumerate(res.findings):
            key = _key(domain, res.owners[i]) if i in res.owners else None
            owned.append((fd, (key,) if key else ()))
        for rec in res.records:
            owned += [(fd, (rec.key,)) for fd in validate_record(rec)]
            for fd in dups.add(rec):
                other = first_of_frame[rec.relpath] if fd.rule == "cross-domain-duplicate" else rec.key
                owned.append((fd, tuple(dict.fromkeys((rec.key, other)))))
            first_of_frame.setdefault(rec.relpath, rec.key)
            records.setdefault(rec.key, rec)
    for key, rec in records.items():
        if key not in image_set:
            missing = make_finding("image-missing", rec.source or "<memory>", rec.line, f"{key}: no such file {root / key}")
            owned.append((missing, (key,)))
    return records, owned


def check_image_headers(root: Path, keys: Iterable[str], records: dict[str, Record]) -> list[Owned]:
    """``image-unreadable`` (not a PNG, truncated) and ``size-mismatch`` from each image's PNG header."""
    owned: list[Owned] = []
    for key in keys:
        path = root / key
        try:
            header = read_png_header(path)
        except (PngError, OSError) as exc:
            owned.append((make_finding("image-unreadable", str(path), None, f"{key}: {exc}"), (key,)))
            continue
        rec = records.get(key)
        if rec is not None:
            found = size_mismatch(rec.source, rec.line, rec.relpath, rec.channels, rec.height, rec.width, header)
            owned += [(fd, (key,)) for fd in found]
    return owned


def require_valid(owned: list[Owned], skip_invalid: bool, root: str | os.PathLike) -> list[dict]:
    """The one decision on annotation errors: raise :class:`InvalidDataError` with every error, or,
    with ``skip_invalid``, return them as ``dropped`` entries (finding fields + ``images``)."""
    errors = [(fd, keys) for fd, keys in owned if fd.severity == ERROR]
    if errors and not skip_invalid:
        n_images = len({k for _, keys in errors for k in keys})
        first = errors[0][0]
        raise InvalidDataError(
            f"{root}: expected a copy without annotation errors; found {len(errors)} error(s) concerning {n_images} image(s), "
            f"first {first.location()}: {first.rule}: {first.message}; run `initbench verify-dataset` on it for all, "
            "or pass --skip-invalid (skip_invalid=True) to leave those images out and record them",
            [fd for fd, _ in errors],
        )
    return [{**fd.to_dict(), "images": list(keys)} for fd, keys in errors]


def index_root(
    root: str | os.PathLike,
    annotations: Iterable[str | os.PathLike] | None = None,
    domains: Iterable[str] | None = None,
    skip_invalid: bool = False,
    check_images: bool = False,
) -> ReleaseIndex:
    """The images under ``root`` with their boxes (see the module docstring).

    Raises UsageError when ``root`` is not a folder, DataFormatError when it holds no domain
    folder, InvalidDataError on annotation (or, with ``check_images``, image) errors unless
    ``skip_invalid``.
    """
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"root: expected a folder holding {', '.join(DOMAINS)}/; {str(root)!r} is not a folder")
    images, texts = _walk(root)
    if not any((root / d).is_dir() for d in DOMAINS):
        raise DataFormatError(f"expected domain folders {', '.join(d + '/' for d in DOMAINS)} in the root; found none", str(root))
    files = sorted(Path(a) for a in annotations) if annotations is not None else [p for p in texts if looks_like_annotation_file(p)]
    image_keys = sorted(f"{d}/{rel}" for d, rel in images)
    recs, owned = read_annotations(files, set(image_keys), root)
    if check_images:
        owned += check_image_headers(root, image_keys, recs)
    dropped = require_valid(owned, skip_invalid, root)
    gone = {k for d in dropped for k in d["images"]}
    want = set(domains) if domains is not None else None
    out: dict[str, ImageEntry] = {}
    for domain, rel in sorted(images):
        key = f"{domain}/{rel}"
        if key in gone or (want is not None and domain not in want):
            continue
        rec = recs.get(key)
        out[key] = ImageEntry(
            domain=domain,
            relpath=rel,
            path=str(root / domain / rel),
            boxes=tuple(b.as_tuple() for b in rec.boxes) if rec else (),
            height=rec.height if rec else None,
            width=rec.width if rec else None,
            annotated=rec is not None,
        )
    kept = {k: r for k, r in recs.items() if k in out}
    return ReleaseIndex(out, image_keys=tuple(image_keys), records=kept, annotation_files=tuple(str(f) for f in files),
                        findings=[fd for fd, _ in owned], dropped=dropped)
