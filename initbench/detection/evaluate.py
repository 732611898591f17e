"""Score a detector with pycocotools' COCOeval (bbox): AP, AP50, AP75, the other nine COCO numbers, and AP per class.

:func:`detect` turns the detector's outputs into COCO's results format (one dict per box: ``image_id``,
``category_id``, ``bbox`` [x, y, w, h] in the image's own pixels, ``score``), the list that is saved beside the
results, so ``COCOeval`` on the saved file alone gives the same numbers (:func:`coco_metrics` is exactly that).
AP per class is read from COCOeval's accumulated precision (area ``all``, 100 detections, every IoU threshold
and recall point that has ground truth), which is what COCOeval's own AP is for a run restricted to that class.
A number COCOeval cannot define (no ground truth of that class) is -1, as COCOeval writes it.
"""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Callable

import torch
from torch import nn

from initbench.detection.coco_data import CocoDetectionSet, collate

#: COCOeval's ``stats`` in order (``summarize``'s twelve lines).
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


@torch.no_grad()
def detect(model: nn.Module, dataset: CocoDetectionSet, *, batch_size: int = 2, device: torch.device | str = "cpu",
           progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """COCO results-format detections of ``model`` (in eval mode) on every image of ``dataset``, in image order."""
    model.eval()
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate, num_workers=0)
    out, done = [], 0
    for images, targets in loader:
        preds = model([im.to(device) for im in images])
        for pred, target in zip(preds, targets):
            boxes = pred["boxes"].cpu()
            wh = boxes[:, 2:] - boxes[:, :2]
            for (x, y), (w, h), label, score in zip(boxes[:, :2].tolist(), wh.tolist(), pred["labels"].tolist(),
                                                     pred["scores"].tolist()):
                out.append({"image_id": target["image_id"], "category_id": int(label), "bbox": [x, y, w, h],
                            "score": score})
        done += len(images)
        if progress:
            progress(done, len(dataset))
    return out


def load_results(gt, detections: list[dict]):
    """pycocotools' results index for ``detections`` (``gt.loadRes`` on a copy; also for an empty list, which
    ``loadRes`` cannot take: then no image has a detection)."""
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        if detections:
            return gt.loadRes(copy.deepcopy(detections))
        res = COCO()
        res.dataset = {"images": list(gt.dataset["images"]), "categories": copy.deepcopy(gt.dataset["categories"]),
                       "annotations": []}
        res.createIndex()
        return res


def coco_metrics(gt, detections: list[dict], categories: dict[int, str]) -> dict:
    """COCOeval (bbox) of ``detections`` against ``gt`` (a pycocotools ``COCO``).

    Returns ``AP``, ``AP50``, ``AP75`` and the rest of :data:`STAT_NAMES` (each in [0, 1], or -1 where COCOeval
    gives -1), ``AP_per_class`` ({category name: AP}) and ``summary`` (COCOeval's own printed lines).
    """
    from pycocotools.cocoeval import COCOeval

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        ev = COCOeval(gt, load_results(gt, detections), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    metrics = {name: float(v) for name, v in zip(STAT_NAMES, ev.stats)}
    area_all = ev.params.areaRngLbl.index("all")
    last_dets = len(ev.params.maxDets) - 1
    per_class = {}
    for k, cat_id in enumerate(ev.params.catIds):
        p = ev.eval["precision"][:, :, k, area_all, last_dets]
        p = p[p > -1]
        per_class[categories.get(cat_id, str(cat_id))] = float(p.mean()) if p.size else -1.0
    metrics["AP_per_class"] = per_class
    metrics["summary"] = [line for line in buf.getvalue().splitlines() if line.startswith(" Average")]
    return metrics
