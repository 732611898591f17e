"""PyTorch datasets over a copy of the INIT release: single domains and unaligned domain pairs.

Batch-key contract (what the trainer and the evaluator code against)
--------------------------------------------------------------------
:class:`UnalignedPairs` items are dicts; with the default fixed padding torch's default
collate stacks them (B in front of every shape below)::

    "a", "b"                 float32 3 x H x W in [-1, 1]   a = source domain, b = target domain
    "a_boxes", "b_boxes"     float32 K x 5 [cls, x1, y1, x2, y2], pixels of the returned image,
                             K = max_boxes (default 40), padding rows have cls = -1 (coords 0)
    "a_nboxes", "b_nboxes"   int64 scalar: real rows in *_boxes
    "a_ndropped", ...        int64 scalar: boxes lost to the crop (cut below min_box_size) or the cap
    "a_path", "b_path"       str, absolute image path
    "a_key", "b_key"         str, "<domain>/<path inside the domain folder>"
    "a_orig_size", ...       int64 [2]: (height, width) of the file
  with crops=True:
    "a_crops", "b_crops"     float32 Kc x 3 x S x S in [-1, 1] (S = crop_size, 120 = the paper's;
                             Kc = max_crops, default 8; the largest boxes first, zero padding)
    "a_crop_cls", ...        int64 Kc, class id per crop, -1 padding
    "a_ncrops", ...          int64 scalar
    "a_bg_mask", ...         float32 1 x H x W, 1 = background (no box covers the pixel)
  with half_scale=True:
    "a_half", "b_half"       float32 3 x H/2 x W/2 in [-1, 1] (antialiased)

:class:`DomainImages` items use the same names without the ``a_`` prefix, and ``"image"`` in
place of ``"a"``: ``"image"``, ``"boxes"``, ``"nboxes"``, ``"ndropped"``, ``"path"``, ``"key"``,
``"orig_size"``, and ``"crops"``, ``"crop_cls"``, ``"ncrops"``, ``"bg_mask"``, ``"half"``.
With ``max_boxes=None`` boxes are not padded (N x 5 per item); batch them with
:func:`collate_padded`, which pads to the batch's largest count with cls = -1 rows.

Images: PNG decoded to uint8, resized so the short side is ``size`` (antialiased; 1208 x 1920
-> 360 x 572; ``size=None`` keeps the file's size), then, if ``crop`` is given, cropped to it
(random window when ``augment``, centred otherwise), then flipped left-right with
probability 1/2 when ``augment``. ``augment`` defaults to ``split == "train"``. Boxes follow
every step exactly (:mod:`initbench.dataset.transforms`).

Splits: ``split`` is ``"train"``, ``"test"`` or ``"all"`` (``gap`` frames are never served
except with ``"all"``). The split comes from ``manifest=`` (a manifest CSV), or
``split_map=`` (key -> split, e.g. from :func:`initbench.dataset.split.split_from_lists`),
or else is computed from the files by the split-v1 rule (:func:`split_for_root`; it looks at
every domain, since blocks hold frames of several domains).

Invalid annotations: a copy whose annotations have errors (what ``verify-dataset`` reports as
errors) is refused with :class:`~initbench.errors.InvalidDataError`; with ``skip_invalid=True``
the images concerned are left out and listed in the dataset's ``dropped`` (see
:mod:`initbench.dataset.index`).

Randomness and workers: every random choice of item ``i`` (crop window, flip, the paired
target image) comes from a generator seeded by ``(seed, epoch, i)``, never from global state.
So items do not depend on the number of DataLoader workers, on which worker loads them, or
on the rank under ``DistributedSampler``. Call :meth:`set_epoch` each epoch (as with
``DistributedSampler.set_epoch``); with ``persistent_workers=True`` the workers keep the epoch
they were started with. The datasets hold only paths and numbers (no open files), so they
pickle into worker processes.

Example::

    from torch.utils.data import DataLoader
    from initbench.dataset.loaders import UnalignedPairs

    ds = UnalignedPairs("/data/INIT", task="sunny2night", split="train", size=360, crop=360,
                        seed=0, crops=True)           # or prepared copy: initbench prepare
    for epoch in range(10):
        ds.set_epoch(epoch)
        for batch in DataLoader(ds, batch_size=4, shuffle=True, num_workers=4):
            a, boxes, n = batch["a"], batch["a_boxes"], batch["a_nboxes"]   # 4x3x360x360, 4x40x5, 4
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Mapping, Sequence

import torch
from torch.utils.data import Dataset, default_collate

from initbench.dataset import transforms as T
from initbench.dataset.crops import background_mask, crop_order, instance_crops
from initbench.dataset.png import read_rgb
from initbench.dataset.index import ImageEntry, index_root
from initbench.dataset.release import check_domain, parse_task
from initbench.dataset.shuffled_boxes import borrow_boxes, box_sources
from initbench.dataset.split import compute_split
from initbench.errors import DataFormatError, UsageError

SPLIT_CHOICES = ("train", "test", "all")


def split_for_root(root: str | os.PathLike, split: str = "v1", index: Mapping[str, ImageEntry] | None = None) -> dict[str, str]:
    """key -> ``train|test|gap`` for every image under ``root``, by the named split rule.

    Computed from every image on disk, those an index left out included, so that skipping an
    invalid image never moves another between train and test.
    """
    index = index if index is not None else index_root(root)
    return compute_split(all_image_keys(index), split)


def all_image_keys(index: Mapping[str, ImageEntry]) -> Sequence[str]:
    """Every image under the root: :attr:`ReleaseIndex.image_keys`, or the keys of a plain mapping."""
    return getattr(index, "image_keys", None) or list(index.keys())


def _item_generator(seed: int, epoch: int, i: int, tag: str) -> torch.Generator:
    h = hashlib.sha256(f"{seed}:{epoch}:{i}:{tag}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(h[:8], "little") & ((1 << 63) - 1))


class DomainImages(Dataset):
    """The images of one domain in one split, resized, with boxes. See the module docstring.

    Args:
        root: the release root (holds ``sunny/``, ``night/``, ...).
        domain: ``sunny``, ``night``, ``cloudy`` or ``rainy``.
        split: ``train``, ``test`` or ``all``.
        size: short side in pixels after resizing (None: keep).
        crop: int or (h, w) crop after resizing (None: no crop).
        augment: random crop window and random flip (default: ``split == "train"``).
        max_boxes: rows of the padded box tensor (None: no padding, use :func:`collate_padded`).
        min_box_size: a box cut by the crop below this width/height (pixels) is dropped.
        crops, crop_size, max_crops: instance crops and background mask.
        half_scale: also return the image at half size.
        seed: seed of every random choice.
        manifest, split_map: where the split comes from (default: split v1 computed).
        index: a prebuilt :func:`index_root` result (saves a walk when building several datasets).
        skip_invalid: leave out the images with annotation errors instead of refusing the copy
            (ignored with ``index``); what was left out is in :attr:`dropped`.
        shuffle_boxes: a control: each image gets the boxes of another image of the domain, by a
            permutation without fixed points drawn from ``(seed, epoch)``
            (:mod:`initbench.dataset.shuffled_boxes`); ``key`` and the image stay the item's own.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        domain: str,
        split: str = "train",
        size: int | None = 360,
        crop: int | tuple[int, int] | None = None,
        augment: bool | None = None,
        max_boxes: int | None = 40,
        min_box_size: float = 2.0,
        crops: bool = False,
        crop_size: int = 120,
        max_crops: int = 8,
        half_scale: bool = False,
        seed: int = 0,
        manifest: str | os.PathLike | None = None,
        split_map: Mapping[str, str] | None = None,
        index: Mapping[str, ImageEntry] | None = None,
        skip_invalid: bool = False,
        shuffle_boxes: bool = False,
    ):
        check_domain(domain)
        if split not in SPLIT_CHOICES:
            raise UsageError(f"split: expected one of {', '.join(SPLIT_CHOICES)}; got {split!r}")
        if max_boxes is not None and max_boxes < 0:
            raise UsageError(f"max_boxes: expected a non-negative int or None; got {max_boxes}")
        self.root = str(root)
        self.domain = domain
        self.split = split
        self.size = size
        self.crop = T.as_hw(crop)
        self.augment = (split == "train") if augment is None else bool(augment)
        self.max_boxes = max_boxes
        self.min_box_size = float(min_box_size)
        self.crops = crops
        self.crop_size = crop_size
        self.max_crops = max_crops
        self.half_scale = half_scale
        self.seed = int(seed)
        self.epoch = 0
        self.shuffle_boxes = bool(shuffle_boxes)
        self._box_sources: tuple[int, torch.Tensor] | None = None  # (epoch, lender of each image)
        index = index if index is not None else index_root(root, skip_invalid=skip_invalid)
        #: The errors skipped when the index was read (finding fields + ``images`` left out).
        self.dropped: list[dict] = list(getattr(index, "dropped", []))
        if split == "all":
            assign = None
        elif split_map is not None:
            assign = split_map
        elif manifest is not None:
            from initbench.dataset.manifest import read_manifest

            assign = {r.key: r.split for r in read_manifest(manifest)}
        else:
            assign = split_for_root(root, index=index)
        entries = [e for k, e in sorted(index.items()) if e.domain == domain and (assign is None or assign.get(k) == split)]
        if assign is not None:
            # A split that names images the copy lacks is a broken copy, not a smaller split.
            on_disk = set(all_image_keys(index))
            absent = sorted(k for k, s in assign.items() if s == split and k.startswith(domain + "/") and k not in on_disk)
            if absent:
                raise DataFormatError(
                    f"expected every {domain} image of the {split!r} split under the root; {len(absent)} are missing, "
                    f"e.g. {absent[0]!r} (run `initbench manifest check`)",
                    self.root,
                )
        if not entries:
            raise DataFormatError(f"expected images of domain {domain!r} in split {split!r}; found none", self.root)
        # Plain tuples only: cheap to pickle into workers, nothing open.
        self._paths = [e.path for e in entries]
        self._keys = [e.key for e in entries]
        self._boxes = [e.boxes for e in entries]
        self._sizes = [(e.height, e.width) for e in entries]

    def __len__(self) -> int:
        return len(self._paths)

    def set_epoch(self, epoch: int) -> None:
        """Make the random choices of the next pass differ (deterministically) from the last."""
        self.epoch = int(epoch)

    @property
    def keys(self) -> list[str]:
        return list(self._keys)

    def box_source(self, i: int) -> int:
        """The image whose boxes item ``i`` gets this epoch: ``i`` itself, or another with ``shuffle_boxes``."""
        if not self.shuffle_boxes:
            return i
        if self._box_sources is None or self._box_sources[0] != self.epoch:
            self._box_sources = (self.epoch, box_sources(len(self), self.seed, self.epoch, self.domain))
        return int(self._box_sources[1][i])

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} images")
        i = i % len(self)
        return self.load(i, _item_generator(self.seed, self.epoch, i, self.domain))

    def load(self, i: int, generator: torch.Generator) -> dict[str, Any]:
        """Item ``i`` with the random choices drawn from ``generator``."""
        img = read_rgb(self._paths[i])
        orig_h, orig_w = img.shape[-2:]
        lender = self.box_source(i)
        boxes = T.boxes_tensor(self._boxes[lender])
        if lender != i:
            boxes = borrow_boxes(boxes, self._sizes[lender], (orig_h, orig_w))
        if self.size is not None:
            img, boxes = T.resize_short_side(img, boxes, self.size)
        H, W = img.shape[-2:]
        if self.crop is not None:
            if self.augment:
                top, left = T.random_crop_window(H, W, self.crop, generator)
            else:
                top, left = T.center_crop_window(H, W, self.crop)
            img, boxes, dropped = T.crop(img, boxes, top, left, *self.crop, min_size=self.min_box_size)
        else:
            img, boxes, dropped = T.crop(img, boxes, 0, 0, H, W, min_size=self.min_box_size)
        if self.augment and bool(torch.rand((), generator=generator) < 0.5):
            img, boxes = T.hflip(img, boxes)
        H, W = img.shape[-2:]
        if self.max_boxes is not None and boxes.shape[0] > self.max_boxes:
            keep = crop_order(boxes)[: self.max_boxes].sort().values
            dropped += boxes.shape[0] - self.max_boxes
            boxes = boxes[keep]
        item: dict[str, Any] = {
            "image": T.to_unit_range(img),
            "boxes": T.pad_boxes(boxes, self.max_boxes) if self.max_boxes is not None else boxes,
            "nboxes": torch.tensor(boxes.shape[0], dtype=torch.int64),
            "ndropped": torch.tensor(dropped, dtype=torch.int64),
            "path": self._paths[i],
            "key": self._keys[i],
            "orig_size": torch.tensor([orig_h, orig_w], dtype=torch.int64),
        }
        if self.crops:
            crops, cls, n = instance_crops(img, boxes, self.crop_size, self.max_crops)
            item["crops"] = T.to_unit_range(crops)
            item["crop_cls"] = cls
            item["ncrops"] = torch.tensor(n, dtype=torch.int64)
            item["bg_mask"] = background_mask(boxes, H, W)
        if self.half_scale:
            item["half"] = T.to_unit_range(T.half_scale(img))
        return item


class UnalignedPairs(Dataset):
    """A source-domain image with an independently drawn target-domain image.

    Epoch length and drawing rule: an epoch has ``max(len(A), len(B))`` items
    (``epoch_length="max"``, CycleGAN's convention: every image of both domains is seen each
    epoch) or ``len(A)`` (``"source"``). Item ``i`` pairs source image ``i mod len(A)`` with
    target image ``perm[i mod len(B)]``, where ``perm`` is a permutation of the target images
    drawn from ``(seed, epoch, i // len(B))``: targets are drawn without replacement, a fresh
    order for each pass over them, independently of the source order (unaligned).

    Keyword arguments not named here go to both :class:`DomainImages`. Items: see the module
    docstring (``"a"``, ``"b"``, ``"a_boxes"``, ...).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        task: str = "sunny2night",
        split: str = "train",
        size: int | None = 360,
        crop: int | tuple[int, int] | None = None,
        seed: int = 0,
        epoch_length: str = "max",
        index: Mapping[str, ImageEntry] | None = None,
        manifest: str | os.PathLike | None = None,
        split_map: Mapping[str, str] | None = None,
        skip_invalid: bool = False,
        **kwargs: Any,
    ):
        src, dst = parse_task(task)
        if epoch_length not in ("max", "source"):
            raise UsageError(f"epoch_length: expected 'max' or 'source'; got {epoch_length!r}")
        index = index if index is not None else index_root(root, skip_invalid=skip_invalid)
        #: The errors skipped when the index was read (finding fields + ``images`` left out).
        self.dropped: list[dict] = list(getattr(index, "dropped", []))
        if split_map is None and manifest is None and split != "all":
            split_map = split_for_root(root, index=index)
        common = dict(split=split, size=size, crop=crop, seed=seed, index=index, manifest=manifest, split_map=split_map, **kwargs)
        self.task = task
        self.seed = int(seed)
        self.epoch = 0
        self.epoch_length = epoch_length
        self.a = DomainImages(root, src, **common)
        self.b = DomainImages(root, dst, **common)

    def __len__(self) -> int:
        return max(len(self.a), len(self.b)) if self.epoch_length == "max" else len(self.a)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self.a.set_epoch(epoch)
        self.b.set_epoch(epoch)

    def target_index(self, i: int) -> int:
        """Which target image item ``i`` of this epoch uses (see the class docstring)."""
        nb = len(self.b)
        g = _item_generator(self.seed, self.epoch, i // nb, "pairs")
        return int(torch.randperm(nb, generator=g)[i % nb])

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} pairs")
        ia = i % len(self.a)
        ib = self.target_index(i)
        a = self.a.load(ia, _item_generator(self.seed, self.epoch, i, "a"))
        b = self.b.load(ib, _item_generator(self.seed, self.epoch, i, "b"))
        out = {"a": a.pop("image"), "b": b.pop("image")}
        out.update({f"a_{k}": v for k, v in a.items()})
        out.update({f"b_{k}": v for k, v in b.items()})
        return out


def collate_padded(batch: Sequence[Mapping[str, Any]], pad_keys: Sequence[str] | None = None) -> dict[str, Any]:
    """Collate items whose box tensors have different row counts (``max_boxes=None``).

    Every key whose name ends in ``boxes`` (N x 5) is padded to the batch's largest N with
    rows ``[-1, 0, 0, 0, 0]``; everything else goes through torch's default collate.
    """
    pad_keys = list(pad_keys) if pad_keys is not None else [k for k in batch[0] if k.endswith("boxes") and torch.is_tensor(batch[0][k]) and batch[0][k].dim() == 2]
    out: dict[str, Any] = {}
    for k in pad_keys:
        n = max(1, max(int(item[k].shape[0]) for item in batch))
        out[k] = torch.stack([T.pad_boxes(item[k], n) for item in batch])
    rest = [{k: v for k, v in item.items() if k not in pad_keys} for item in batch]
    out.update(default_collate(rest))
    return out
