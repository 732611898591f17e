"""Reading a COCO instances file with its image folder, checked entry by entry before anyone uses it.

:func:`read_coco` returns the images with their boxes (:class:`CocoImage`) or raises on the first
problem, naming the file and the entry (``images[3] (id 4, file_name 'a.png')``,
``annotations[7] (id 8, image_id 4)``) and saying what was expected and what was found:

- the file: JSON (a syntax error gives its line), ``images``, ``annotations`` and ``categories`` lists;
- every image: an integer ``id`` (unique), a relative ``file_name`` (unique, no ``..``), positive
  integer ``width`` and ``height``;
- every annotation: an ``image_id`` of an image, a ``category_id`` of the file's ``categories`` and,
  unless ``known_categories`` is None, one of those (the INIT categories by default), and a ``bbox``
  ``[x, y, w, h]`` of four finite numbers with positive ``w`` and ``h`` inside its image (give or take the
  release rules' 2 px, :data:`~initbench.dataset.validate.BOX_TOLERANCE_PX`);
- the folder: it exists; at least one image of the file is in it (else: the wrong ``--images``); every
  image is there (``skip_missing``: the missing ones are left out, with their boxes, and listed); each
  file's size is the size the entry states (PNG from its header, other formats through PIL's lazy
  open: no pixels are decoded).

Boxes stay as the file gives them (COCO ``[x, y, w, h]`` in pixels); segmentation is not read. The
writer of COCO files from the release is :mod:`initbench.dataset.export`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

from initbench.dataset.png import PngError, read_png_header
from initbench.dataset.release import CATEGORIES
from initbench.dataset.validate import BOX_TOLERANCE_PX
from initbench.errors import DataFormatError, UsageError



@dataclass(frozen=True)
class CocoBox:
    """One annotation: ``bbox`` = (x, y, w, h) in pixels of its image; ``area`` as the file gives it (None: absent)."""

    category_id: int
    bbox: tuple[float, float, float, float]
    area: float | None = None
    iscrowd: int = 0


@dataclass(frozen=True)
class CocoImage:
    """One image entry: ``file_name`` relative to the image folder (``/``-separated), ``path`` the file itself."""

    id: int
    file_name: str
    path: str
    height: int
    width: int
    boxes: tuple[CocoBox, ...] = ()


@dataclass
class CocoSet:
    """The usable images of a COCO file (in the file's order), its ``categories`` as given, and the
    ``file_name`` of every image left out because its file is missing (``skip_missing``)."""

    images: list[CocoImage]
    categories: list[dict]
    missing: list[str] = field(default_factory=list)


def read_coco(annotations: str | os.PathLike, images_dir: str | os.PathLike, *, skip_missing: bool = False,
              known_categories: Mapping[int, str] | None = CATEGORIES) -> CocoSet:
    """Read and check the COCO file ``annotations`` whose ``file_name`` entries are relative to ``images_dir``
    (see the module docstring). Raises DataFormatError (the file and the entry) or UsageError (the option)."""
    where = str(annotations)
    try:
        text = Path(annotations).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--coco: expected a COCO annotation file; {where} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"cannot read the file: {exc}", where) from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"expected JSON; {exc.msg} (column {exc.colno})", where, exc.lineno) from None
    return parse_coco(doc, where, images_dir, skip_missing=skip_missing, known_categories=known_categories)


def parse_coco(doc: Any, where: str, images_dir: str | os.PathLike, *, skip_missing: bool = False,
               known_categories: Mapping[int, str] | None = CATEGORIES, check_files: bool = True) -> CocoSet:
    """:func:`read_coco` on an already parsed document (``where`` names it in messages). ``check_files=False``
    trusts the entries' sizes and the files' presence (a caller that has just checked them)."""
    if not isinstance(doc, dict):
        raise DataFormatError(f"expected a COCO object with images, annotations and categories; found a {type(doc).__name__}", where)
    for key in ("images", "annotations", "categories"):
        if not isinstance(doc.get(key), list):
            found = "none" if key not in doc else f"a {type(doc[key]).__name__}"
            raise DataFormatError(f"expected a list {key!r}; found {found}", where)
    images = [_image(e, i, where, images_dir) for i, e in enumerate(doc["images"])]
    by_id = _unique_images(images, where)
    categories = _categories(doc["categories"], where)
    boxes: dict[int, list[CocoBox]] = {img["id"]: [] for img in images}
    for j, a in enumerate(doc["annotations"]):
        image_id, box = _annotation(a, j, where, by_id, categories, known_categories)
        boxes[image_id].append(box)
    missing = _check_files(images, where, images_dir, skip_missing) if check_files else set()
    kept = [CocoImage(id=e["id"], file_name=e["file_name"], path=e["path"], height=e["height"], width=e["width"],
                      boxes=tuple(boxes[e["id"]])) for e in images if e["file_name"] not in missing]
    return CocoSet(images=kept, categories=list(doc["categories"]),
                   missing=[e["file_name"] for e in images if e["file_name"] in missing])


def _image_where(i: int, e: dict) -> str:
    return f"images[{i}] (id {e.get('id')!r}, file_name {e.get('file_name')!r})" if isinstance(e, dict) else f"images[{i}]"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _image(e: Any, i: int, where: str, images_dir) -> dict:
    at = _image_where(i, e)
    if not isinstance(e, dict):
        raise DataFormatError(f"{at}: expected an object with id, file_name, width and height; found {e!r}", where)
    for key in ("id", "width", "height"):
        if not _is_int(e.get(key)) or (key != "id" and e[key] < 1):
            raise DataFormatError(f"{at}: expected {'an integer' if key == 'id' else 'a positive integer'} {key}; "
                                  f"found {e.get(key)!r}", where)
    name = e.get("file_name")
    if not isinstance(name, str) or not name.strip():
        raise DataFormatError(f"{at}: expected a file_name; found {name!r}", where)
    rel = PurePosixPath(name.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts:
        raise DataFormatError(f"{at}: expected a file_name relative to the image folder; found {name!r}", where)
    return {"i": i, "id": e["id"], "file_name": rel.as_posix(), "path": str(Path(images_dir) / rel),
            "width": e["width"], "height": e["height"], "at": at}


def _unique_images(images: list[dict], where: str) -> dict[int, dict]:
    by_id: dict[int, dict] = {}
    by_name: dict[str, dict] = {}
    for e in images:
        if e["id"] in by_id:
            raise DataFormatError(f"{e['at']}: expected a unique image id; {by_id[e['id']]['at']} has it too", where)
        if e["file_name"] in by_name:
            raise DataFormatError(f"{e['at']}: expected a unique file_name; {by_name[e['file_name']]['at']} has it too", where)
        by_id[e["id"]] = by_name[e["file_name"]] = e
    return by_id


def _categories(cats: list, where: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for i, c in enumerate(cats):
        if not isinstance(c, dict) or not _is_int(c.get("id")):
            raise DataFormatError(f"categories[{i}]: expected an object with an integer id and a name; found {c!r}", where)
        out[c["id"]] = str(c.get("name", ""))
    return out


def _names(cats: Mapping[int, str]) -> str:
    return ", ".join(f"{i} {n}" for i, n in sorted(cats.items())) or "none"


def _annotation(a: Any, j: int, where: str, by_id: dict[int, dict], categories: dict[int, str],
                known: Mapping[int, str] | None) -> tuple[int, CocoBox]:
    if not isinstance(a, dict):
        raise DataFormatError(f"annotations[{j}]: expected an object with image_id, category_id and bbox; found {a!r}", where)
    at = f"annotations[{j}] (id {a.get('id')!r}, image_id {a.get('image_id')!r})"
    image = by_id.get(a.get("image_id")) if _is_int(a.get("image_id")) else None
    if image is None:
        raise DataFormatError(f"{at}: expected the image_id of an entry of images; found none with id {a.get('image_id')!r}", where)
    cat = a.get("category_id")
    if not _is_int(cat) or cat not in categories:
        raise DataFormatError(f"{at}: expected a category_id of the file's categories ({_names(categories)}); found {cat!r}", where)
    if known is not None and cat not in known:
        raise DataFormatError(f"{at}: expected a category the model's dataset knows ({_names(known)}); "
                              f"found category_id {cat} ({categories[cat]!r})", where)
    bbox = a.get("bbox")
    if (not isinstance(bbox, list) or len(bbox) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in bbox)):
        raise DataFormatError(f"{at}: expected a bbox [x, y, w, h] of four numbers; found {bbox!r}", where)
    x, y, w, h = (float(v) for v in bbox)
    W, H = image["width"], image["height"]
    if w <= 0 or h <= 0:
        raise DataFormatError(f"{at}: expected a bbox [x, y, w, h] with positive w and h; found {bbox!r}", where)
    t = BOX_TOLERANCE_PX
    if x < -t or y < -t or x + w > W + t or y + h > H + t:
        raise DataFormatError(f"{at}: expected a bbox [x, y, w, h] inside its image ({image['at']}, width {W}, "
                              f"height {H}; by at most {t:g} px); found {bbox!r}", where)
    area = a.get("area")
    area = float(area) if isinstance(area, (int, float)) and not isinstance(area, bool) and math.isfinite(area) else None
    crowd = a.get("iscrowd", 0)
    return image["id"], CocoBox(category_id=cat, bbox=(x, y, w, h), area=area, iscrowd=int(crowd) if _is_int(crowd) else 0)


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(height, width) of an image file without decoding its pixels (PNG header; other formats: PIL's lazy open)."""
    try:
        head = read_png_header(path)
        return head.height, head.width
    except PngError:
        pass
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.height, im.width
    except (UnidentifiedImageError, OSError) as exc:
        raise DataFormatError(f"expected a PNG or JPEG image; cannot read it: {exc}", str(path)) from None


def _check_files(images: list[dict], where: str, images_dir, skip_missing: bool) -> set[str]:
    """The file_names whose file is missing (an error unless ``skip_missing``); checks every present file's size."""
    folder = Path(images_dir)
    if not folder.is_dir():
        raise UsageError(f"--images: expected the folder of the images of {where}; {folder} is not a folder")
    missing = [e for e in images if not os.path.isfile(e["path"])]
    if images and len(missing) == len(images):
        e = images[0]
        raise UsageError(f"--images: expected the folder that {where}'s file_name entries are relative to; none of its "
                         f"{len(images)} images is in {folder} (e.g. {e['at']}: no file {e['path']})")
    if missing and not skip_missing:
        e = missing[0]
        raise DataFormatError(f"{e['at']}: expected the image file {e['path']}; it does not exist ({len(missing)} of "
                              f"{len(images)} images are missing; --skip-missing leaves them out)", where)
    gone = {e["file_name"] for e in missing}
    for e in images:
        if e["file_name"] in gone:
            continue
        h, w = image_size(e["path"])
        if (h, w) != (e["height"], e["width"]):
            raise DataFormatError(f"{e['at']}: expected an image of width {e['width']} and height {e['height']}, as the "
                                  f"entry says; the file {e['path']} is {w} x {h}", where)
    return gone
