"""Exports of the annotations for other tools: COCO instances JSON, Pascal VOC XML, per-image box files.

Which images: every image under the root (annotated or not; an unannotated image has no
boxes), optionally only one split (from a manifest, or split v1 computed from the files) and
some domains. Boxes keep the official coordinates (0-based continuous pixels, x1 y1 x2 y2):

- COCO: ``images`` (``file_name`` = ``<domain>/<path>``, ``height``/``width`` from the PNG
  header, plus ``domain``), ``annotations`` (``bbox`` = [x, y, w, h], ``area`` = w * h,
  ``iscrowd`` 0), ``categories`` 1 car, 2 speed limit sign, 3 person. Loads in pycocotools.
- VOC: one XML per image at ``OUT/<domain>/<path>.xml`` (the release tree mirrored, so names
  stay unique), object names ``car``, ``speed limit sign``, ``person``; coordinates written
  as the official floats (not shifted to VOC's 1-based convention).
- boxes: one text file per image at ``OUT/<domain>/<path>.txt``, a line ``cls x1 y1 x2 y2`` per
  box with coordinates divided by the image width/height (normalised xyxy in [0, 1], 6
  decimals), as InstaFormer-style loaders expect. An image without boxes gets an empty file.

A root with annotation or image errors is refused (:class:`~initbench.errors.InvalidDataError`)
unless ``skip_invalid``; the images then left out are recorded in the summary, in the COCO
``info`` and, for the folder formats, in ``OUT/initbench-export.json``. A ``manifest`` must
list exactly the root's images of the chosen domains (one of another copy is an error, not an
export of nothing).
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterable

from initbench.dataset.annotations import format_number
from initbench.dataset.png import png_size
from initbench.dataset.index import ImageEntry, ReleaseIndex, index_root
from initbench.dataset.manifest import read_manifest
from initbench.dataset.release import CATEGORIES, DOMAINS, check_domain
from initbench.dataset.split import compute_split
from initbench.errors import UsageError
from initbench.files import write_atomic

FORMATS = ("coco", "voc", "boxes")


def manifest_assignment(manifest: str | os.PathLike, index: ReleaseIndex, domains: Iterable[str]) -> dict[str, str]:
    """key -> split from ``manifest``, which must list exactly the root's images of ``domains``."""
    assign = {r.key: r.split for r in read_manifest(manifest)}
    doms = set(domains)
    listed = {k for k in assign if k.split("/", 1)[0] in doms}
    on_disk = {k for k in index.image_keys if k.split("/", 1)[0] in doms}
    # a manifest built with --skip-invalid has no rows for the images left out
    absent, unlisted = sorted(listed - on_disk), sorted(on_disk - listed - set(index.dropped_images))
    if absent or unlisted:
        eg = f"e.g. {absent[0]!r} is not under ROOT" if absent else f"e.g. {unlisted[0]!r} is not in the manifest"
        raise UsageError(
            f"--manifest: expected a manifest of ROOT's images; {len(absent)} of its {len(listed)} rows name images not under ROOT "
            f"and {len(unlisted)} images under ROOT are not in it ({eg}); is it the manifest of another copy? "
            f"(`initbench manifest check ROOT {manifest}` lists the differences)"
        )
    return assign


def select_images(
    root: str | os.PathLike,
    split: str | None = None,
    domains: Iterable[str] | None = None,
    manifest: str | os.PathLike | None = None,
    skip_invalid: bool = False,
    index: ReleaseIndex | None = None,
) -> list[tuple[ImageEntry, int, int]]:
    """(entry, height, width) of the chosen images, sorted by key (``index``: a prebuilt :func:`index_root`)."""
    domains = [check_domain(d, "--domain") for d in domains] if domains else list(DOMAINS)
    if split not in (None, "all", "train", "test", "gap"):
        raise UsageError(f"--split: expected train, test, gap or all; got {split!r}")
    index = index if index is not None else index_root(root, skip_invalid=skip_invalid, check_images=True)
    assign = manifest_assignment(manifest, index, domains) if manifest else None
    if split in (None, "all"):
        assign = None
    elif assign is None:
        assign = compute_split(index.image_keys, "v1")  # every image on disk: skipping moves no other image
    out = []
    for k, e in sorted(index.items()):
        if e.domain in domains and (assign is None or assign.get(k) == split):
            h, w = png_size(e.path)
            out.append((e, h, w))
    return out


def coco_dict(images: list[tuple[ImageEntry, int, int]], dropped: dict | None = None) -> dict:
    """The COCO instances dict for these images; ``dropped`` (:meth:`ReleaseIndex.drop_report`) goes into ``info``."""
    imgs, anns = [], []
    for img_id, (e, h, w) in enumerate(images, 1):
        imgs.append({"id": img_id, "file_name": e.key, "height": h, "width": w, "domain": e.domain})
        for cls, x1, y1, x2, y2 in e.boxes:
            bw, bh = x2 - x1, y2 - y1
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": img_id,
                    "category_id": int(cls),
                    "bbox": [x1, y1, bw, bh],
                    "area": bw * bh,
                    "iscrowd": 0,
                }
            )
    cats = [{"id": i, "name": n, "supercategory": "street"} for i, n in sorted(CATEGORIES.items())]
    return {
        "info": {"description": "INIT annotations exported by initbench", "version": "init-v1",
                 **(dropped or {"images_left_out": [], "dropped": []})},
        "images": imgs,
        "annotations": anns,
        "categories": cats,
    }


def export_coco(images, out: str | os.PathLike, dropped: dict | None = None) -> dict:
    d = coco_dict(images, dropped)
    write_atomic(Path(out), json.dumps(d) + "\n")
    return {"format": "coco", "out": str(out), "images": len(d["images"]), "boxes": len(d["annotations"])}


def voc_xml(e: ImageEntry, h: int, w: int) -> str:
    ann = ET.Element("annotation")
    ET.SubElement(ann, "folder").text = e.domain
    ET.SubElement(ann, "filename").text = e.relpath
    ET.SubElement(ann, "path").text = e.key
    src = ET.SubElement(ann, "source")
    ET.SubElement(src, "database").text = "INIT"
    sz = ET.SubElement(ann, "size")
    ET.SubElement(sz, "width").text = str(w)
    ET.SubElement(sz, "height").text = str(h)
    ET.SubElement(sz, "depth").text = "3"
    ET.SubElement(ann, "segmented").text = "0"
    for cls, x1, y1, x2, y2 in e.boxes:
        obj = ET.SubElement(ann, "object")
        ET.SubElement(obj, "name").text = CATEGORIES.get(int(cls), str(cls))
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = "0"
        bb = ET.SubElement(obj, "bndbox")
        for tag, v in (("xmin", x1), ("ymin", y1), ("xmax", x2), ("ymax", y2)):
            ET.SubElement(bb, tag).text = format_number(v)
    ET.indent(ann)
    return ET.tostring(ann, encoding="unicode") + "\n"


def _export_per_image(images, out: str | os.PathLike, fmt: str, suffix: str, render) -> dict:
    """One file per image, ``OUT/<domain>/<relpath with suffix>``, holding ``render(entry, height, width)``."""
    out = Path(out)
    for e, h, w in images:
        write_atomic(out / e.domain / (e.relpath[: -len(".png")] + suffix), render(e, h, w))
    return {"format": fmt, "out": str(out), "images": len(images), "boxes": sum(len(e.boxes) for e, _, _ in images)}


def export_voc(images, out: str | os.PathLike, dropped: dict | None = None) -> dict:
    return _export_per_image(images, out, "voc", ".xml", voc_xml)


def boxes_text(e: ImageEntry, h: int, w: int) -> str:
    return "".join(f"{int(c)} {x1 / w:.6f} {y1 / h:.6f} {x2 / w:.6f} {y2 / h:.6f}\n" for c, x1, y1, x2, y2 in e.boxes)


def export_boxes(images, out: str | os.PathLike, dropped: dict | None = None) -> dict:
    return _export_per_image(images, out, "boxes", ".txt", boxes_text)


def read_boxes(path: str | os.PathLike) -> list[tuple[int, float, float, float, float]]:
    """Boxes of one file in the ``boxes`` format (:func:`boxes_text`): ``(cls, x1, y1, x2, y2)`` normalised to [0, 1].

    A line that is not ``cls x1 y1 x2 y2`` with a known class and 0 <= x1 < x2 <= 1, 0 <= y1 < y2 <= 1 is a
    :class:`~initbench.errors.DataFormatError` naming file and line; blank lines are skipped."""
    from initbench.errors import DataFormatError

    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"cannot read a boxes file ({exc.__class__.__name__}: {exc})", str(path)) from None
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            cls, x1, y1, x2, y2 = int(parts[0]), *map(float, parts[1:])
        except (ValueError, IndexError, TypeError):
            raise DataFormatError(f"expected 'cls x1 y1 x2 y2' (normalised corners); got {line.strip()!r}", str(path), n) from None
        if cls not in CATEGORIES or not (0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1):
            raise DataFormatError(f"expected a class in {sorted(CATEGORIES)} and 0 <= x1 < x2 <= 1, 0 <= y1 < y2 <= 1; "
                                  f"got {line.strip()!r}", str(path), n)
        out.append((cls, x1, y1, x2, y2))
    return out


def read_voc(path: str | os.PathLike) -> list[tuple[int, float, float, float, float]]:
    """Boxes of one VOC XML written by :func:`export_voc` (class ids from the names)."""
    ids = {n: i for i, n in CATEGORIES.items()}
    root = ET.parse(path).getroot()
    out = []
    for obj in root.iter("object"):
        bb = obj.find("bndbox")
        out.append((ids[obj.findtext("name")], *(float(bb.findtext(t)) for t in ("xmin", "ymin", "xmax", "ymax"))))
    return out


#: The summary a folder export leaves in its folder (what was exported, what was left out).
SUMMARY_NAME = "initbench-export.json"


def export(fmt: str, root, out, split=None, domains=None, manifest=None, skip_invalid: bool = False) -> dict:
    """Export ``root``'s annotations as ``fmt`` (coco, voc or boxes); return the summary: counts,
    ``skip_invalid``, ``images_left_out`` and ``dropped`` (see :mod:`initbench.dataset.index`)."""
    if fmt not in FORMATS:
        raise UsageError(f"format: expected one of {', '.join(FORMATS)}; got {fmt!r}")
    index = index_root(root, skip_invalid=skip_invalid, check_images=True)
    images = select_images(root, split, domains, manifest, index=index)
    report = index.drop_report()
    summary = {"coco": export_coco, "voc": export_voc, "boxes": export_boxes}[fmt](images, out, report)
    summary.update(root=str(root), split=split or "all", skip_invalid=bool(skip_invalid), **report)
    if fmt != "coco":
        write_atomic(Path(out) / SUMMARY_NAME, json.dumps(summary, indent=2) + "\n")
    return summary
