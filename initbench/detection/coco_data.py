"""COCO detection sets given as ``ANN.json:IMAGES``: parse the spec, check the set, read it as a torch Dataset.

Everything is checked before any work starts, and each problem is one line that names the option, the file and
the entry: a malformed spec, a missing annotation file or image folder, a folder that holds none of the file's
images (the wrong ``IMAGES``), a missing image, an image whose size is not the one the file declares, a box that
reaches outside its image, an annotation whose category the file does not declare, and sets whose categories
differ (the detector is built for the first training set's categories; every other set must declare the same).

The annotation file is read with pycocotools' ``COCO`` (the same reader COCOeval uses), so what is checked here
is what is scored later.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from initbench.digests import sha256_file
from initbench.errors import DataFormatError, UsageError

#: Boxes may overshoot the image by this much (pixels) before they are called outside it: annotation tools
#: round, and a box ending exactly on the border is inside.
BOX_TOLERANCE = 1e-3


@dataclass(frozen=True)
class SetSpec:
    """One ``ANN.json:IMAGES`` argument: the option it came from, the COCO file and the image folder."""

    option: str
    ann: Path
    images: Path

    def __str__(self) -> str:
        return f"{self.option} {self.ann}:{self.images}"


def parse_spec(text: str, option: str) -> SetSpec:
    """``ANN.json:IMAGES`` -> :class:`SetSpec` (split after ``.json``, so folder names may hold colons).

    The file and the folder must exist; otherwise a :class:`UsageError` naming ``option``.
    """
    cut = text.find(".json:")
    if cut < 0 or cut + len(".json:") == len(text):
        raise UsageError(f"{option}: expected ANN.json:IMAGES (a COCO annotation file, a colon, its image folder); got {text!r}")
    ann, images = Path(text[: cut + len(".json")]), Path(text[cut + len(".json:"):])
    if not ann.is_file():
        raise UsageError(f"{option}: annotation file {ann} does not exist (from {text!r})")
    if not images.is_dir():
        raise UsageError(f"{option}: image folder {images} does not exist or is not a folder (from {text!r})")
    return SetSpec(option, ann, images)


def read_coco(ann: str | os.PathLike):
    """pycocotools' ``COCO`` of ``ann`` (its progress lines kept off stdout); a file it cannot read is a DataFormatError."""
    from pycocotools.coco import COCO

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return COCO(str(ann))
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"expected COCO instances JSON; {exc.msg}", str(ann), exc.lineno) from None
    except (KeyError, TypeError, AssertionError, AttributeError) as exc:
        raise DataFormatError(f"expected COCO instances JSON with images, annotations and categories; got {exc!r}",
                              str(ann)) from None


@dataclass
class CocoSet:
    """A checked COCO set: its spec, pycocotools index, categories ``{id: name}``, sha256 and sizes."""

    spec: SetSpec
    coco: object
    categories: dict[int, str]
    sha256: str

    @property
    def image_ids(self) -> list[int]:
        return sorted(self.coco.imgs)

    def summary(self) -> dict:
        return {"option": self.spec.option, "annotations": str(self.spec.ann), "images": str(self.spec.images),
                "sha256": self.sha256, "num_images": len(self.coco.imgs), "num_boxes": len(self.coco.anns)}


def _entry(kind: str, index: int, item: dict) -> str:
    return f"{kind}[{index}] (id {item.get('id')!r})"


def load_set(spec: SetSpec) -> CocoSet:
    """Read ``spec``'s COCO file and check its images and boxes (see the module docstring); returns a :class:`CocoSet`."""
    coco = read_coco(spec.ann)
    ds, where = coco.dataset, f"{spec.option} {spec.ann}"
    for key in ("images", "annotations", "categories"):
        if not isinstance(ds.get(key), list):
            raise DataFormatError(f"expected a list {key!r} (COCO instances JSON); got {type(ds.get(key)).__name__}", where)
    categories = {int(c["id"]): str(c.get("name", c["id"])) for c in ds["categories"]}
    images = ds["images"]
    if images and not any((spec.images / im["file_name"]).is_file() for im in images):
        raise UsageError(f"{spec.option}: none of the {len(images)} images of {spec.ann} is under the image folder "
                         f"{spec.images} (e.g. {images[0]['file_name']!r}); is IMAGES the right folder?")
    sizes = {}
    for i, im in enumerate(images):
        if not isinstance(im.get("file_name"), str) or "id" not in im:
            raise DataFormatError(f"{_entry('images', i, im)}: expected an image with 'id' and 'file_name'; got {im}", where)
        path = spec.images / im["file_name"]
        if not path.is_file():
            raise DataFormatError(f"{_entry('images', i, im)}: image {path} does not exist", where)
        with Image.open(path) as pil:
            w, h = pil.size
        if (w, h) != (im.get("width"), im.get("height")):
            raise DataFormatError(f"{_entry('images', i, im)}: {path} is {w}x{h}; the file says "
                                  f"{im.get('width')}x{im.get('height')}", where)
        sizes[im["id"]] = (w, h)
    for i, a in enumerate(ds["annotations"]):
        if a.get("category_id") not in categories:
            raise DataFormatError(f"{_entry('annotations', i, a)}: category_id {a.get('category_id')!r} is not among the "
                                  f"file's categories {_names(categories)}", where)
        if a.get("image_id") not in sizes:
            raise DataFormatError(f"{_entry('annotations', i, a)}: image_id {a.get('image_id')!r} is not among the file's "
                                  "images", where)
        box = a.get("bbox")
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)):
            raise DataFormatError(f"{_entry('annotations', i, a)}: expected bbox [x, y, w, h] (4 numbers); got {box!r}", where)
        x, y, bw, bh = box
        w, h = sizes[a["image_id"]]
        if bw <= 0 or bh <= 0 or x < -BOX_TOLERANCE or y < -BOX_TOLERANCE or x + bw > w + BOX_TOLERANCE \
                or y + bh > h + BOX_TOLERANCE:
            raise DataFormatError(f"{_entry('annotations', i, a)}: bbox [x, y, w, h] = {a['bbox']} is empty or reaches "
                                  f"outside its {w}x{h} image {coco.imgs[a['image_id']]['file_name']!r}", where)
    return CocoSet(spec, coco, categories, sha256_file(spec.ann))


def _names(categories: dict[int, str]) -> str:
    return ", ".join(f"{i} {n!r}" for i, n in sorted(categories.items())) or "(none)"


def check_categories(sets: list[CocoSet]) -> dict[int, str]:
    """The categories every set agrees on (the first set's); a set that declares others is a UsageError naming both."""
    first = sets[0]
    for s in sets[1:]:
        if s.categories != first.categories:
            only_s = {i: n for i, n in s.categories.items() if first.categories.get(i) != n}
            only_f = {i: n for i, n in first.categories.items() if s.categories.get(i) != n}
            raise UsageError(
                f"{s.spec.option} {s.spec.ann}: categories differ from {first.spec.option} {first.spec.ann}, which the "
                f"detector is built for: only in {s.spec.ann.name}: {_names(only_s)}; only in {first.spec.ann.name}: "
                f"{_names(only_f)}")
    if not first.categories:
        raise UsageError(f"{first.spec.option} {first.spec.ann}: declares no categories; a detector needs at least one")
    return dict(first.categories)


class CocoDetectionSet(torch.utils.data.Dataset):
    """A :class:`CocoSet` as torchvision detection inputs: ``(image, target)`` per image, in image-id order.

    ``image``: float 3 x H x W in [0, 1] at the file's own size (the detector resizes); ``target``: ``boxes``
    N x 4 (x1, y1, x2, y2, absolute pixels), ``labels`` N (the COCO category ids: the detector predicts them
    directly, as torchvision's COCO models do), ``image_id``. Crowd boxes are left out of training, as COCOeval
    ignores them.
    """

    def __init__(self, data: CocoSet):
        self.data = data
        self.ids = data.image_ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int):
        from torchvision.transforms.functional import pil_to_tensor

        coco, img_id = self.data.coco, self.ids[i]
        info = coco.imgs[img_id]
        with Image.open(self.data.spec.images / info["file_name"]) as pil:
            image = pil_to_tensor(pil.convert("RGB")).float() / 255.0
        anns = [a for a in coco.imgToAnns.get(img_id, []) if not a.get("iscrowd", 0)]
        boxes = torch.tensor([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                              for a in anns], dtype=torch.float32).reshape(-1, 4)
        labels = torch.tensor([a["category_id"] for a in anns], dtype=torch.int64)
        return image, {"boxes": boxes, "labels": labels, "image_id": img_id}


def collate(batch):
    """Detection batches are lists (images differ in size): ``(images, targets)``."""
    return tuple(zip(*batch))
