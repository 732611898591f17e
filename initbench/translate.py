"""`initbench translate`: inference. Translate image files with any :class:`~initbench.methods.base.Translator` and
write the exact outputs as PNG. (A top-level module like :mod:`initbench.quickstart`: it uses a trained model and image
files, so it belongs to neither ``training`` nor ``methods``, which know nothing of files.)

Pixels: ``round((y + 1) / 2 * 255)`` clamped to 0..255 of the generator output ``y`` in [-1, 1]:
no min-max stretching (the original MUNIT/DRIT scripts stretch each image to its own range,
which changes every metric computed from the files).

Inputs are PNG or JPEG, mapped to [-1, 1] as ``x / 127.5 - 1``; optionally resized to a short
side of ``size`` (antialiased, as the loaders), then centre-cropped to multiples of the model's
``size_multiple`` (4 for two downsamplings) so that the output has the input's size.
Styles: ``num_styles`` codes are drawn once from ``seed`` and style ``k`` is used for every input,
so ``<stem>_s<k>.png`` of different inputs share a style. With a guide (``style_from``, a target-domain
image) each input gets one ``<stem>_guided.png`` with the guide's style instead (:mod:`initbench.guided`;
the guide is resized to each input's size when it differs, and its record says so); ``style_boxes``
(a file of the ``boxes`` export format) gives the guide's objects, which the inputs are taken to share.
Every record names its style source: ``prior`` (drawn from N(0, I)), ``guide``, or ``none`` (deterministic methods).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from initbench.dataset.png import write_png
from initbench.errors import DataFormatError, UsageError
from initbench.training.logs import to_uint8

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def list_inputs(path: str | os.PathLike) -> list[Path]:
    """One image file, or the images of a folder (sorted, not recursive)."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise UsageError(f"--input: {p} holds no .png/.jpg images")
        return files
    raise UsageError(f"--input: expected an image file or a folder; {p} does not exist")


def read_input(path: Path, size: int | None, multiple: int) -> torch.Tensor:
    """``3 x H x W`` float in [-1, 1]."""
    from torchvision.io import ImageReadMode, decode_image, read_file
    from torchvision.transforms.v2.functional import center_crop, resize

    try:
        with warnings.catch_warnings():  # torchvision 0.29 flags its codecs as deprecated on every call
            warnings.simplefilter("ignore", DeprecationWarning)
            img = decode_image(read_file(str(path)), mode=ImageReadMode.RGB)
    except RuntimeError as exc:
        raise DataFormatError(f"cannot decode the image: {exc}", str(path)) from exc
    if size is not None:
        img = resize(img, [size], antialias=True)
    h, w = img.shape[-2:]
    hh, ww = h - h % multiple, w - w % multiple
    if hh == 0 or ww == 0:
        raise DataFormatError(f"image is {h} x {w}; the model needs at least {multiple} x {multiple}", str(path))
    if (hh, ww) != (h, w):
        img = center_crop(img, [hh, ww])
    return img.float() / 127.5 - 1.0


def check_options(translator, num_styles: int, size: int | None, style_from=None, style_boxes=None) -> None:
    """Refuse ``--num-styles`` below 1, a ``--size`` below the model's size multiple, and a guide the method or
    the options cannot use (before any work)."""
    if num_styles < 1:
        raise UsageError(f"--num-styles: expected at least 1; got {num_styles}")
    multiple = int(translator.size_multiple)
    if size is not None and size < multiple:
        raise UsageError(f"--size: expected a short side of at least {multiple} pixels (the model's size multiple); got {size}")
    if style_boxes is not None and style_from is None:
        raise UsageError("--style-boxes: the boxes of a guide image; give the guide with --style-from")
    if style_from is None:
        return
    if not translator.takes_style_from_images:
        from initbench.methods.base import style_guided_method_names

        raise UsageError(f"--style-from: method {translator.name!r} cannot take its style from an image; methods that "
                         f"can: {', '.join(style_guided_method_names())}")
    if num_styles != 1:
        raise UsageError(f"--num-styles: with --style-from each input gets one output, in the guide's style; got {num_styles}")


@torch.no_grad()
def translate_files(
    translator,
    inputs: list[Path],
    out_dir: str | os.PathLike,
    *,
    num_styles: int = 1,
    seed: int = 0,
    direction: str = "a2b",
    size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict]:
    """Write ``<stem>_s<k>.png`` per input and style; returns one record per written file."""
    check_options(translator, num_styles, size)
    multiple = int(translator.size_multiple)
    k = num_styles if translator.is_multimodal else 1
    g = torch.Generator().manual_seed(seed)
    device = translator.device
    styles = translator.sample_style(k, generator=g, device=device) if translator.is_multimodal else None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for i, (path, stem) in enumerate(zip(inputs, output_stems(inputs))):
        x = read_input(path, size, multiple).unsqueeze(0).to(device)
        content = translator.encode(x, direction=direction)
        for j in range(k):
            style = styles[j : j + 1] if styles is not None else None
            y = translator.decode(content, direction=direction, style=style)[0]
            target = out / f"{stem}_s{j}.png"
            write_png(target, to_uint8(y))
            records.append({"input": str(path), "output": str(target), "style_source": "prior" if styles is not None else "none",
                            "style_index": j, "height": int(y.shape[1]), "width": int(y.shape[2])})
        if progress is not None:
            progress(i + 1, len(inputs))
    return records


@dataclass(frozen=True)
class Guide:
    """A guide image read for ``--style-from``: ``image`` ``3 x H x W`` in [-1, 1], its boxes normalised to [0, 1]
    (``N x 5``, None without ``--style-boxes``) and the files they came from."""

    image: torch.Tensor
    boxes: torch.Tensor | None
    path: str
    boxes_path: str | None


def read_guide(style_from: str | os.PathLike, style_boxes: str | os.PathLike | None = None) -> Guide:
    """Read a guide image and its optional boxes file (the ``boxes`` export format); bad files raise typed errors."""
    from initbench.dataset.export import read_boxes

    for option, path in (("--style-from", style_from), ("--style-boxes", style_boxes)):
        if path is not None and not Path(path).is_file():
            raise UsageError(f"{option}: expected a file; {path} does not exist")
    image = read_input(Path(style_from), None, 1)
    boxes = torch.tensor(read_boxes(style_boxes), dtype=torch.float64).reshape(-1, 5) if style_boxes is not None else None
    return Guide(image, boxes, str(style_from), str(style_boxes) if style_boxes is not None else None)


@torch.no_grad()
def translate_files_guided(
    translator,
    inputs: list[Path],
    out_dir: str | os.PathLike,
    guide: Guide,
    *,
    seed: int = 0,
    direction: str = "a2b",
    size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict]:
    """Write ``<stem>_guided.png`` per input in the style of ``guide`` (:func:`read_guide`); one record per file.

    The guide is resized to each input's size where it differs (its boxes are normalised, so they follow), and the
    inputs are taken to show the guide's objects (see :func:`initbench.guided.guided_translate`)."""
    from initbench.dataset import transforms as T
    from initbench.guided import guided_translate

    check_options(translator, 1, size, guide.path, guide.boxes_path)
    multiple = int(translator.size_multiple)
    device = translator.device
    gh, gw = guide.image.shape[-2:]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for i, (path, stem) in enumerate(zip(inputs, output_stems(inputs))):
        x = read_input(path, size, multiple).unsqueeze(0).to(device)
        h, w = x.shape[-2:]
        g_img, _ = T.resize(guide.image, torch.zeros(0, 5), (h, w))
        g_boxes = None
        if guide.boxes is not None:
            g_boxes = guide.boxes.clone()
            g_boxes[:, [1, 3]] *= w
            g_boxes[:, [2, 4]] *= h
        g = torch.Generator().manual_seed(seed)  # every input gets the same draw where the style encoder samples
        y, info = guided_translate(translator, x, g_img[None].to(device), direction=direction, generator=g,
                                   guide_boxes=g_boxes)
        target = out / f"{stem}_guided.png"
        write_png(target, to_uint8(y[0]))
        records.append({"input": str(path), "output": str(target), "style_source": "guide", "style_from": guide.path,
                        "guide_resized_from": [int(gh), int(gw)] if (gh, gw) != (h, w) else None,
                        "style_boxes": guide.boxes_path, "height": int(h), "width": int(w), **info})
        if progress is not None:
            progress(i + 1, len(inputs))
    return records


def output_stems(inputs: list[Path]) -> list[str]:
    """One distinct output stem per input: the file's stem, or ``<stem>_<suffix>`` where stems clash
    (``a.png`` and ``a.jpg`` -> ``a_png``, ``a_jpg``), then ``-2``, ``-3``... for any clash left."""
    from collections import Counter

    clashing = {s for s, n in Counter(p.stem for p in inputs).items() if n > 1}
    stems, used = [], set()
    for p in inputs:
        stem = f"{p.stem}_{p.suffix.lstrip('.')}" if p.stem in clashing else p.stem
        base, k = stem, 1
        while stem.lower() in used:  # lower: clashes on case-insensitive file systems too
            k += 1
            stem = f"{base}-{k}"
        used.add(stem.lower())
        stems.append(stem)
    return stems
