"""Example-guided translation: the style of a target-domain guide image, per object where boxes are known.

Used by ``initbench translate --style-from`` and by protocol ``paired-v1``'s ``*_guided`` metrics (where the guide
is the input's own ground truth). A top-level module like :mod:`initbench.translate`: it cuts object crops with the
data layer's pixel rule and hands tensors to a :class:`~initbench.methods.base.Translator`, which knows no boxes.

The rule (:data:`RULE`, recorded with every guided output):

* **Global.** ``decode(encode(x), style=style_from_images(guide))`` for every method that
  ``takes_style_from_images`` (MUNIT, DRIT, INIT). For INIT that is the guide's global style ``E_g^s``,
  which drives the whole frame, background included (the paper's inference with a reference image).
* **Objects** (methods that ``takes_object_styles``: INIT on crops), when the guide's boxes are given and
  the model's object crop size S is known (:attr:`~initbench.methods.base.Translator.object_size`):
  the input's objects are its own boxes, or the guide's when none are given (a guide that shows the same
  scene, as paired-v1's ground truth). Each input box is matched to at most one guide box of the same
  category: pairs by decreasing IoU (boxes normalised by their image's size, so guide and input may
  differ in size), IoU >= :data:`MIN_IOU`, each box used once. A matched object's input crop (the box's
  pixel window resized to S x S, antialiased bilinear, as the loader's instance crops) is translated by
  the object branch with the style ``E_o^s`` of the guide's crop, resized back to its window and pasted
  over the global output, larger boxes first so that smaller ones end on top.
* **Fallback.** Objects without a match, and every object when no guide boxes (or no S) are known, keep the
  global output: their style is the guide's global style (a coarse style may drive object content, Fig. 3).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from initbench.dataset.crops import _pixel_window, crop_order
from initbench.errors import UsageError
from initbench.evaluation.paired_metrics import box_crops

#: Least IoU for an input box to take the style of a guide box (the usual detection threshold).
MIN_IOU = 0.5

RULE = ("global: style_from_images(guide) drives the frame; objects (methods with an object branch, guide boxes "
        f"known): each input box matched to a guide box of its category (greedy by IoU >= {MIN_IOU}) is rendered by "
        "the object branch with the style of the guide's crop and pasted over its window; unmatched objects and "
        "runs without boxes keep the guide's global style")


def normalised(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``N x 5`` ``[cls, x1, y1, x2, y2]`` in pixels -> corners divided by ``width`` / ``height``."""
    b = boxes.reshape(-1, 5).double().clone()
    b[:, [1, 3]] /= width
    b[:, [2, 4]] /= height
    return b


def _area(boxes: torch.Tensor) -> torch.Tensor:
    return (boxes[:, 3] - boxes[:, 1]).clamp(min=0) * (boxes[:, 4] - boxes[:, 2]).clamp(min=0)


def match_boxes(source: torch.Tensor, guide: torch.Tensor, min_iou: float = MIN_IOU) -> list[tuple[int, int]]:
    """``(source index, guide index)`` pairs: same category, IoU >= ``min_iou``, greedy by decreasing IoU (ties:
    source then guide order), each box in one pair at most. Boxes ``N x 5`` in one coordinate frame."""
    s, g = source.reshape(-1, 5).double(), guide.reshape(-1, 5).double()
    if not len(s) or not len(g):
        return []
    lt = torch.maximum(s[:, None, 1:3], g[None, :, 1:3])
    rb = torch.minimum(s[:, None, 3:5], g[None, :, 3:5])
    inter = (rb - lt).clamp(min=0).prod(-1)
    iou = inter / (_area(s)[:, None] + _area(g)[None, :] - inter).clamp(min=1e-12)
    iou[s[:, None, 0] != g[None, :, 0]] = -1.0
    candidates = sorted(((-float(iou[i, j]), i, j) for i in range(len(s)) for j in range(len(g))
                         if float(iou[i, j]) >= min_iou))
    pairs, used_s, used_g = [], set(), set()
    for _, i, j in candidates:
        if i not in used_s and j not in used_g:
            pairs.append((i, j))
            used_s.add(i)
            used_g.add(j)
    return sorted(pairs)


def paste_objects(image: torch.Tensor, patches: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """``image`` (``3 x H x W``) with each patch (``N x 3 x S x S``) resized to its box's pixel window and pasted
    there, larger boxes first (smaller ones end on top); returns a new tensor."""
    out = image.clone()
    boxes = boxes.reshape(-1, 5)
    h, w = image.shape[-2:]
    for i in crop_order(boxes).tolist():
        y1, x1, y2, x2 = _pixel_window(boxes[i], h, w)
        patch = F.interpolate(patches[i : i + 1].float(), size=(y2 - y1, x2 - x1), mode="bilinear",
                              align_corners=False, antialias=True)
        out[:, y1:y2, x1:x2] = patch[0].to(out.dtype)
    return out


def guided_translate(translator, images: torch.Tensor, guide: torch.Tensor, *, direction: str = "a2b",
                     generator: torch.Generator | None = None, boxes: torch.Tensor | None = None,
                     guide_boxes: torch.Tensor | None = None, object_size: int | None = None,
                     content=None) -> tuple[torch.Tensor, dict]:
    """Translate one image with the style of a guide (see the module docstring for the rule).

    ``images``: ``1 x 3 x H x W`` and ``guide``: ``1 x 3 x H' x W'`` in [-1, 1] (the guide in the target domain;
    any size); ``boxes`` / ``guide_boxes``: ``N x 5`` ``[cls, x1, y1, x2, y2]`` in pixels of their own image, or
    None; ``object_size``: the crop side S (default: ``translator.object_size``); ``content``: ``encode(images)``
    when the caller has it; ``generator`` serves encoders that sample (DRIT's concat attribute).
    Returns ``(output 1 x 3 x H x W in [-1, 1], record)``; the record says where each style came from.
    """
    if not translator.takes_style_from_images:
        from initbench.methods.base import style_guided_method_names

        raise UsageError(f"{translator.name or type(translator).__name__}: cannot take its style from an image; methods "
                         f"that can: {', '.join(style_guided_method_names())}")
    if images.shape[0] != 1 or guide.shape[0] != 1:
        raise UsageError(f"guided translation: expected one image and one guide; got batches of {images.shape[0]} "
                         f"and {guide.shape[0]}")
    if content is None:
        content = translator.encode(images, direction=direction)
    style = translator.style_from_images(guide, direction=direction, generator=generator)
    out = translator.decode(content, direction=direction, style=style)
    size = object_size if object_size is not None else translator.object_size
    record = {"style": "guide: style_from_images", "objects": 0, "objects_styled_from_guide_crops": 0,
              "object_styles": "guide's global style"}
    if guide_boxes is None:
        return out, {**record, "why_global": "no guide boxes"}
    h, w = images.shape[-2:]
    gh, gw = guide.shape[-2:]
    guide_boxes = guide_boxes.reshape(-1, 5).float()
    if boxes is None:  # the guide shows the same scene: its boxes, in the input's pixels
        boxes = normalised(guide_boxes, gh, gw)
        boxes[:, [1, 3]] *= w
        boxes[:, [2, 4]] *= h
    boxes = boxes.reshape(-1, 5).float()
    record["objects"] = len(boxes)
    if not translator.takes_object_styles:
        return out, {**record, "why_global": f"{translator.name} has no object branch"}
    if size is None:
        return out, {**record, "why_global": "the model's object crop size is unknown (object_size)"}
    pairs = match_boxes(normalised(boxes, h, w), normalised(guide_boxes, gh, gw))
    if not pairs:
        return out, {**record, "why_global": f"no input box matches a guide box (same category, IoU >= {MIN_IOU})"}
    src_idx, guide_idx = (list(t) for t in zip(*pairs))
    crops = box_crops(images, boxes[src_idx], size).to(images.device, images.dtype)
    guide_crops = box_crops(guide, guide_boxes[guide_idx], size).to(guide.device, guide.dtype)
    styles = translator.object_styles_from_crops(guide_crops, direction=direction)
    patches = translator.translate_objects(crops, styles, direction=direction)
    out = paste_objects(out[0], patches, boxes[src_idx])[None]
    return out, {**record, "objects_styled_from_guide_crops": len(pairs), "object_size": int(size),
                 "object_styles": "guide crops (matched objects); guide's global style (the others)"}


def guided_settings(translator) -> dict:
    """What a results file records about its guided outputs: the rule and what this model could use of it."""
    return {"rule": RULE, "min_iou": MIN_IOU, "object_branch": bool(translator.takes_object_styles),
            "object_size": translator.object_size if translator.takes_object_styles else None}
