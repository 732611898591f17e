"""``initbench translate-dataset``: a translated copy of a detection dataset, with a COCO file of the same boxes.

The paper's second experiment translates a whole detection dataset and trains a detector on the copy. The
source is a COCO instances file and its image folder (:func:`plan_from_coco`, every entry checked by
:func:`initbench.dataset.coco.read_coco` before any work) or the images of one domain of an INIT copy
(:func:`plan_from_data`: the release index, checked as ``export`` checks it, and a split side under a
split rule). Under ``OUT``:

- ``images/<file_name without its suffix>_s<k>.png`` for each source image and style ``k`` < K: the exact
  generator outputs (:mod:`initbench.translate`'s pixel rule, no min-max stretching). With ``size`` the
  image is first resized so its short side is ``size``; then (also without ``size``) each side is brought
  down to a multiple of the model's ``size_multiple`` by resizing, not cropping, so no box is cut;
- ``annotations.json`` (COCO): per output image ``source_image_id``, ``source_file_name``, ``style_index``
  and ``style_seed``; the source's boxes, scaled by the image's own factors (new width / old width, new
  height / old height; areas by their product, coordinates then rounded to 1/10,000 px), with their
  category and ``iscrowd``; the source's categories; ``info``: the settings, the source, what was left
  out (``skipped_missing``; with ``--data --skip-invalid``, ``skipped_invalid``) and ``world_size``. ``file_name`` is relative to ``OUT/images``, so the copy
  can be read back with ``--coco OUT/annotations.json --images OUT/images``;
- ``translate-dataset.json``: the settings. A rerun with other settings is refused.

Seeds. Style ``k`` of the image whose source ``file_name`` is F is drawn (``sample_style``) from a generator
seeded with :func:`style_seed` ``(seed, F, k)``. The K styles of an image are decoded as one batch of K from
one encoding, always all K (also when only one file is redone), so an image's bytes depend on nothing but
the image, the model and those seeds: not on the order of the images, on which others are translated, or
on the number of processes.

Resume. An image is done when its K files are whole PNGs (signature, IHDR, ending in IEND:
:func:`initbench.dataset.png.read_png_header`, 45 bytes read) of the expected size; a rerun skips it and
redoes the others (only the files that are not whole are rewritten). Files are written atomically
(:mod:`initbench.files`); stale temporary files of an interrupted run are removed; ``annotations.json`` is
written last, so its presence means every image is there.

Several processes. Under ``torchrun`` the images are dealt to the ranks in runs of :data:`SHARD_STEP_IMAGES`
(image ``i`` on rank ``(i // 8) % N``) and the ranks agree after each run (:mod:`initbench.evaluation.sharding`:
a failing rank stops every rank, named; rank 0's bar counts every rank's images); rank 0 prepares ``OUT`` and
writes ``annotations.json``, which differs from one process's only in ``info.world_size``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

import torch

from initbench import __version__
from initbench.dataset import transforms as T
from initbench.dataset.coco import CocoImage, parse_coco, read_coco
from initbench.dataset.png import PngError, read_png_header, write_png
from initbench.digests import sha256_file
from initbench.errors import DataFormatError, UsageError
from initbench.evaluation import sharding
from initbench.files import TEMP_MARK, write_atomic
from initbench.training.logs import to_uint8
from initbench.translate import check_options, decode_input

IMAGES_DIR = "images"
ANNOTATIONS_NAME = "annotations.json"
SETTINGS_NAME = "translate-dataset.json"
#: How :func:`style_seed` derives a seed (recorded in the COCO file's ``info``).
STYLE_SEED_RULE = "first 8 bytes (little-endian, top bit cleared) of sha256('<seed>\\n<source file_name>\\n<k>')"

#: Images a rank translates between two agreements of the ranks: each agreement is a collective and a wait for the
#: slowest rank (with one per image, two processes on a busy 2-core machine measured 0.80x two independent
#: ``translate`` commands, benchmarks/translate_dataset_throughput.py); runs of 8 spread those waits over 8 images.
SHARD_STEP_IMAGES = 8

#: ``progress(stage, done, total)``, as :func:`initbench.evaluation.sharding.run_inputs` calls it.
Progress = Callable[[str, int, int], None]


@dataclass
class DatasetPlan:
    """What to translate: the source images (in source order) with their boxes, the categories to write,
    the source as recorded (``source``), and the ``file_name`` of each image left out as missing."""

    images: list[CocoImage]
    categories: list[dict]
    source: dict
    missing: list[str] = field(default_factory=list)
    skip_missing: bool = False
    #: --data: what ``skip_invalid`` left out (:meth:`~initbench.dataset.index.ReleaseIndex.drop_report`), else None
    invalid: dict | None = None
    skip_invalid: bool = False


def plan_from_coco(annotations: str | os.PathLike, images_dir: str | os.PathLike, skip_missing: bool = False) -> DatasetPlan:
    """The images of a COCO file (checked entry by entry: :func:`initbench.dataset.coco.read_coco`)."""
    coco = read_coco(annotations, images_dir, skip_missing=skip_missing)
    if not coco.images:
        raise UsageError(f"--coco: expected at least one image to translate; {annotations} lists none")
    source = {"coco": os.path.abspath(annotations), "images": os.path.abspath(images_dir)}
    return DatasetPlan(images=coco.images, categories=coco.categories, source=source, missing=coco.missing,
                       skip_missing=bool(skip_missing))


def plan_from_data(root: str | os.PathLike, domain: str, split: str = "all", split_rule: str = "v1",
                   skip_invalid: bool = False) -> DatasetPlan:
    """The images of ``domain`` on side ``split`` (train, test, gap, all) of split rule ``split_rule`` (v1 or
    drives) of an INIT copy, read and checked by the release index (annotation errors: InvalidDataError, unless
    ``skip_invalid``: the images concerned are left out and recorded)."""
    from initbench.dataset.export import coco_dict, select_images
    from initbench.dataset.index import index_root
    from initbench.dataset.release import check_domain

    check_domain(domain, "--domain")
    if split_rule not in ("v1", "drives"):
        raise UsageError(f"--split-rule: expected v1 or drives; got {split_rule!r}")
    index = index_root(root, skip_invalid=skip_invalid, check_images=True)
    selected = select_images(root, split, [domain], index=index, split_rule=split_rule)
    if not selected:
        raise UsageError(f"--data: expected {domain} images on the {split} side of split {split_rule} under {root}; found none")
    coco = parse_coco(coco_dict(selected), str(root), root, check_files=False)  # the index has just checked the files
    source = {"data": os.path.abspath(root), "domain": domain, "split": split, "split_rule": split_rule}
    return DatasetPlan(images=coco.images, categories=coco.categories, source=source, invalid=index.drop_report(),
                       skip_invalid=bool(skip_invalid))


def style_seed(seed: int, file_name: str, k: int) -> int:
    """The seed of style ``k`` of the source image ``file_name`` (see :data:`STYLE_SEED_RULE`)."""
    digest = hashlib.sha256(f"{seed}\n{file_name}\n{k}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def output_name(file_name: str, k: int) -> str:
    """``a/b.jpg``, style 2 -> ``a/b_s2.png`` (relative to ``OUT/images``)."""
    p = PurePosixPath(file_name)
    return str(p.with_name(f"{p.stem}_s{k}.png")) if p.suffix else f"{file_name}_s{k}.png"


def output_size(height: int, width: int, size: int | None, multiple: int) -> tuple[int, int]:
    """(h, w) of an output: short side ``size`` (None: kept), then each side down to a multiple of ``multiple``."""
    h, w = T.short_side_size(height, width, size) if size is not None else (height, width)
    return h - h % multiple, w - w % multiple


def check_plan(plan: DatasetPlan, size: int | None, multiple: int) -> list[tuple[int, int]]:
    """Every output's (h, w), refusing an image too small for the model and two images with one output name."""
    sizes, owner = [], {}
    for img in plan.images:
        hw = output_size(img.height, img.width, size, multiple)
        if 0 in hw:
            raise DataFormatError(f"image id {img.id} ({img.file_name!r}) is {img.width} x {img.height}; the model needs at "
                                  f"least {multiple} x {multiple}" + (f" after the resize to --size {size}" if size else ""),
                                  plan.source.get("coco") or plan.source.get("data"))
        name = output_name(img.file_name, 0).lower()  # lower: clashes on case-insensitive file systems too
        if name in owner:
            raise UsageError(f"--coco: image id {owner[name].id} ({owner[name].file_name!r}) and image id {img.id} "
                             f"({img.file_name!r}) would both be written as {output_name(img.file_name, 0)}; expected "
                             "file names that differ in more than their suffix")
        owner[name] = img
        sizes.append(hw)
    return sizes


def settings_of(translator, checkpoint: str | os.PathLike, plan: DatasetPlan, *, num_styles: int, seed: int,
                direction: str, task: str | None, size: int | None) -> dict:
    """What decides every output's pixels and names (compared on a rerun), and ``skip_missing``/``skip_invalid``
    (recorded, not compared: they change which images are in the copy, never how one is written). All go into ``info``."""
    return {"method": translator.name, "checkpoint_sha256": sha256_file(checkpoint), "model_task": translator.task,
            "direction": direction, "task": task, "num_styles": num_styles, "seed": seed, "size": size,
            "source": plan.source, "skip_missing": plan.skip_missing, "skip_invalid": plan.skip_invalid}


#: The option that changes each setting (named when a rerun's settings differ).
_OPTION_OF = {"method": "--method", "checkpoint_sha256": "--ckpt", "model_task": "--ckpt", "direction": "--direction",
              "task": "--direction", "num_styles": "--num-styles", "seed": "--seed", "size": "--size",
              "source": "--coco/--images/--data/--split/--domain"}


def check_previous_run(out: Path, settings: dict) -> None:
    """Refuse to add to a translation made with other settings, or to a folder this command did not write."""
    record = out / SETTINGS_NAME
    if not record.is_file():
        if out.is_dir() and any(not p.name.startswith(".") for p in out.iterdir()):
            raise UsageError(f"--out: expected an empty folder or one written by translate-dataset; {out} holds files "
                             f"but no {SETTINGS_NAME}; choose another --out")
        return
    try:
        before = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--out: cannot read the settings of the earlier run in {record} ({exc}); choose another --out") from None
    for key, option in _OPTION_OF.items():
        if before.get(key) != settings[key]:
            raise UsageError(f"{option}: {out} holds a translation made with {key} = {before.get(key)!r}; got "
                             f"{settings[key]!r}; choose another --out (or remove it to start again)")


def _prepare_out(out: Path, settings: dict) -> None:
    check_previous_run(out, settings)
    for dirpath, _, names in os.walk(out / IMAGES_DIR):  # what an interrupted run was writing
        for name in names:
            if name.startswith(".") and TEMP_MARK in name:
                os.remove(os.path.join(dirpath, name))
    write_atomic(out / SETTINGS_NAME, json.dumps(settings, indent=2) + "\n")


def _whole(path: Path, hw: tuple[int, int]) -> bool:
    """Whether ``path`` is a whole PNG of ``hw`` (45 bytes read, no pixels decoded)."""
    try:
        head = read_png_header(path)
    except (PngError, OSError):
        return False
    return (head.height, head.width) == hw


@torch.no_grad()
def translate_image(translator, img: CocoImage, hw: tuple[int, int], *, num_styles: int, seed: int,
                    direction: str) -> torch.Tensor:
    """The ``num_styles`` translations of one source image as uint8 ``K x 3 x h x w`` (one encoding, one batch of K)."""
    x = decode_input(img.path)
    if tuple(x.shape[-2:]) != (img.height, img.width):
        raise DataFormatError(f"expected an image of width {img.width} and height {img.height}, as its entry says; "
                              f"decoded {x.shape[-1]} x {x.shape[-2]}", img.path)
    x, _ = T.resize(x, torch.zeros(0, 5), hw)
    x = (x.float() / 127.5 - 1.0).unsqueeze(0).to(translator.device)
    content = translator.repeat_content(translator.encode(x, direction=direction), num_styles)
    styles = None
    if translator.is_multimodal:
        styles = torch.cat([translator.sample_style(1, generator=torch.Generator().manual_seed(style_seed(seed, img.file_name, k)),
                                                    device=translator.device) for k in range(num_styles)])
    return to_uint8(translator.decode(content, direction=direction, style=styles))


def translate_dataset(translator, checkpoint: str | os.PathLike, plan: DatasetPlan, out: str | os.PathLike, *,
                      num_styles: int = 1, seed: int = 0, direction: str = "a2b", task: str | None = None,
                      size: int | None = None, shard: sharding.Shard = sharding.SINGLE,
                      progress: Progress | None = None) -> dict | None:
    """Translate every image of ``plan`` into ``out`` (see the module docstring); returns, on rank 0, the summary:
    ``out``, ``annotations``, ``images`` (source), ``outputs``, ``written`` (files this run), ``reused`` (images
    already done), ``skipped_missing`` (a count), ``skipped_invalid`` (the skipped errors), ``world_size``,
    ``seconds``; None on the other ranks."""
    start = time.perf_counter()
    check_options(translator, num_styles, size)
    if num_styles > 1 and not translator.is_multimodal:
        raise UsageError(f"--num-styles: {translator.name} is deterministic (one output per image); expected 1; got {num_styles}")
    multiple = int(translator.size_multiple)
    sizes = check_plan(plan, size, multiple)
    out = Path(out)
    settings = settings_of(translator, checkpoint, plan, num_styles=num_styles, seed=seed, direction=direction, task=task,
                           size=size)
    sharding.run_inputs(1, lambda _: _prepare_out(out, settings), shard)  # rank 0 alone; a failure stops every rank
    images_dir = out / IMAGES_DIR
    counts = {"written": 0, "reused": 0}

    def work(i: int) -> None:
        img = plan.images[i]
        targets = [images_dir / output_name(img.file_name, k) for k in range(num_styles)]
        todo = [k for k, t in enumerate(targets) if not _whole(t, sizes[i])]
        if not todo:
            counts["reused"] += 1
            return
        y = translate_image(translator, img, sizes[i], num_styles=num_styles, seed=seed, direction=direction)
        for k in todo:
            write_png(targets[k], y[k])
        counts["written"] += len(todo)

    n, step = len(plan.images), SHARD_STEP_IMAGES if shard.enabled else 1
    runs = [range(j, min(j + step, n)) for j in range(0, n, step)]
    # in lock step the runs done are always the first ones, so done * step (at most n) counts their images exactly
    count = (lambda stage, done, total: progress(stage, min(done * step, n), n)) if progress else None
    sharding.run_inputs(len(runs), lambda j: [work(i) for i in runs[j]], shard, count, stage="images")
    parts = sharding.gather_to_main(counts, shard)
    if not shard.is_main:
        return None
    doc = translated_coco(plan, settings, sizes, world_size=shard.world_size, multimodal=translator.is_multimodal)
    write_atomic(out / ANNOTATIONS_NAME, json.dumps(doc, indent=1) + "\n")
    return {"out": str(out), "annotations": str(out / ANNOTATIONS_NAME), "images": len(plan.images),
            "outputs": len(doc["images"]), "boxes": len(doc["annotations"]),
            "written": sum(p["written"] for p in parts), "reused": sum(p["reused"] for p in parts),
            "skipped_missing": len(plan.missing), "skipped_invalid": (plan.invalid or {}).get("dropped", []),
            "world_size": shard.world_size,
            "seconds": round(time.perf_counter() - start, 3)}


def _scaled(v: float, factor: float) -> float:
    return v if factor == 1.0 else round(v * factor, 4)


def translated_coco(plan: DatasetPlan, settings: dict, sizes: list[tuple[int, int]], *, world_size: int = 1,
                    multimodal: bool = True) -> dict:
    """The COCO document of the translated copy: output ``i * K + k + 1`` is style ``k`` of source image ``i``."""
    K = settings["num_styles"]
    images, anns = [], []
    for i, (img, (h, w)) in enumerate(zip(plan.images, sizes)):
        sx, sy = w / img.width, h / img.height
        for k in range(K):
            out_id = i * K + k + 1
            images.append({"id": out_id, "file_name": output_name(img.file_name, k), "height": h, "width": w,
                           "source_image_id": img.id, "source_file_name": img.file_name, "style_index": k,
                           "style_seed": style_seed(settings["seed"], img.file_name, k) if multimodal else None})
            for b in img.boxes:
                x, y, bw, bh = b.bbox
                bbox = [_scaled(x, sx), _scaled(y, sy), _scaled(bw, sx), _scaled(bh, sy)]
                area = bbox[2] * bbox[3] if b.area is None else _scaled(b.area, sx * sy)
                anns.append({"id": len(anns) + 1, "image_id": out_id, "category_id": b.category_id, "bbox": bbox,
                             "area": area, "iscrowd": b.iscrowd})
    info = {"description": "a translated copy written by initbench translate-dataset", "initbench_version": __version__,
            **settings, "style_seed_rule": STYLE_SEED_RULE if multimodal else None,
            "source_images": len(plan.images) + len(plan.missing), "translated_images": len(plan.images),
            "skipped_missing": {"count": len(plan.missing), "file_names": list(plan.missing)},
            **({"skipped_invalid": plan.invalid} if plan.invalid is not None else {}), "world_size": world_size}
    return {"info": info, "images": images, "annotations": anns, "categories": plan.categories}


def direction_for_domain(translator, domain: str, direction: str | None) -> str:
    """The direction that takes ``domain`` images through a model trained for ``translator.task``
    (``direction`` or ``a2b`` when the model records no task); a domain outside the model's pair is refused."""
    from initbench.dataset.release import parse_task

    if translator.task is None:
        return direction or "a2b"
    a, b = parse_task(translator.task)
    if domain not in (a, b):
        raise UsageError(f"--domain {domain}: the model was trained for {translator.task} (a = {a}, b = {b}); "
                         f"it translates {a} images (a2b) or {b} images (b2a)")
    want = "a2b" if domain == a else "b2a"
    if direction is not None and direction != want:
        raise UsageError(f"--direction {direction}: {domain} images are the model's domain {'a' if want == 'a2b' else 'b'} "
                         f"(it was trained for {translator.task}), so they go through {want}")
    return want
