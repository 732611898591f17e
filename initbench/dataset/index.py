"""One walk over a copy of the release: every image of every domain with its boxes.

The loaders, ``manifest build``, ``prepare`` and the exports all start from
:func:`index_root`. It lists ``<root>/<domain>/**/*.png`` and reads every annotation file
under the root (any ``*.txt`` in the official format, wherever it lies). An image without a
record has no boxes; a record without an image is ignored here (``verify-dataset`` reports
both). When several records name the same image, the first one (in sorted file order) wins.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from initbench.dataset.annotations import Record, looks_like_annotation_file, parse_file
from initbench.dataset.release import DOMAINS
from initbench.errors import DataFormatError, UsageError

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
    images: list[tuple[str, str]] = []
    texts: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = Path(dirpath).relative_to(root)
        top = rel_dir.parts[0] if rel_dir.parts else None
        for name in sorted(filenames):
            low = name.lower()
            if low.endswith(".png") and top in DOMAINS and not name.startswith("."):
                images.append((top, (rel_dir / name).relative_to(top).as_posix()))
            elif low.endswith(".txt"):
                texts.append(Path(dirpath) / name)
    return images, texts


def annotation_records(root: str | os.PathLike, files: Iterable[str | os.PathLike] | None = None) -> dict[str, Record]:
    """key -> the first record naming it, from ``files`` or every annotation file under ``root``."""
    root = Path(root)
    if files is None:
        _, texts = _walk(root)
        files = [p for p in texts if looks_like_annotation_file(p)]
    out: dict[str, Record] = {}
    for f in sorted(Path(x) for x in files):
        for rec in parse_file(f).records:
            out.setdefault(rec.key, rec)
    return out


def index_root(
    root: str | os.PathLike,
    annotations: Iterable[str | os.PathLike] | None = None,
    domains: Iterable[str] | None = None,
) -> dict[str, ImageEntry]:
    """key -> :class:`ImageEntry` for every image under ``root`` (sorted by key).

    Raises DataFormatError when ``root`` holds no domain folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"root: expected a folder holding {', '.join(DOMAINS)}/; {str(root)!r} is not a folder")
    images, texts = _walk(root)
    if not any((root / d).is_dir() for d in DOMAINS):
        raise DataFormatError(f"expected domain folders {', '.join(d + '/' for d in DOMAINS)} in the root; found none", str(root))
    if annotations is None:
        annotations = [p for p in texts if looks_like_annotation_file(p)]
    recs = annotation_records(root, annotations)
    want = set(domains) if domains is not None else None
    out: dict[str, ImageEntry] = {}
    for domain, rel in sorted(images):
        if want is not None and domain not in want:
            continue
        key = f"{domain}/{rel}"
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
    return out
