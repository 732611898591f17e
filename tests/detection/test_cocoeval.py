"""coco_metrics against pycocotools itself: known-good detections score 1, known-bad score lower, per-class AP
equals COCOeval restricted to that class, and an empty detection list is scored rather than refused."""

from __future__ import annotations

import contextlib
import io

import pytest

from initbench.detection.coco_data import load_set, parse_spec
from initbench.detection.evaluate import coco_metrics, load_results


def _cocoeval_stats(gt, dets, cat_ids=None):
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(gt, gt.loadRes([dict(d) for d in dets]), "bbox")
        if cat_ids is not None:
            ev.params.catIds = cat_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


@pytest.fixture
def sunny(spec):
    return load_set(parse_spec(spec("sunny"), "--test"))


def _truth_as_detections(data, shift=0.0, drop_category=None):
    return [{"image_id": a["image_id"], "category_id": a["category_id"], "score": 0.9 - 0.01 * i,
             "bbox": [a["bbox"][0] + shift, a["bbox"][1], a["bbox"][2], a["bbox"][3]]}
            for i, a in enumerate(data.coco.dataset["annotations"]) if a["category_id"] != drop_category]


def test_ground_truth_as_detections_scores_one_and_a_shift_scores_less(sunny):
    perfect = coco_metrics(sunny.coco, _truth_as_detections(sunny), sunny.categories)
    assert perfect["AP"] == pytest.approx(1.0) and perfect["AP50"] == pytest.approx(1.0)
    shifted = coco_metrics(sunny.coco, _truth_as_detections(sunny, shift=2.0), sunny.categories)
    assert 0.0 <= shifted["AP"] < perfect["AP"]


def test_metrics_and_per_class_ap_equal_cocoeval_runs(sunny):
    present = sorted({a["category_id"] for a in sunny.coco.dataset["annotations"]})
    assert len(present) >= 2, "the fixture needs two classes with boxes"
    # one class detected exactly, another shifted, a third (if any) not at all: the classes' APs differ
    dets = [d for d in _truth_as_detections(sunny) if d["category_id"] == present[0]]
    dets += [d for d in _truth_as_detections(sunny, shift=1.5) if d["category_id"] == present[1]]
    m = coco_metrics(sunny.coco, dets, sunny.categories)
    stats = _cocoeval_stats(sunny.coco, dets)
    assert [m[k] for k in ("AP", "AP50", "AP75")] == pytest.approx(list(stats[:3]), abs=0)
    for cat_id, name in sunny.categories.items():
        alone = _cocoeval_stats(sunny.coco, dets, [cat_id])[0]
        assert m["AP_per_class"][name] == pytest.approx(alone, abs=1e-12), name
    assert m["AP_per_class"][sunny.categories[present[0]]] == pytest.approx(1.0)
    assert m["AP_per_class"][sunny.categories[present[1]]] < 1.0


def test_no_detections_scores_zero_where_there_is_truth(sunny):
    m = coco_metrics(sunny.coco, [], sunny.categories)
    assert m["AP"] == 0.0
    res = load_results(sunny.coco, [])
    assert res.getImgIds() == sunny.coco.getImgIds() and not res.anns
