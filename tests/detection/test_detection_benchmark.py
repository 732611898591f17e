"""``initbench detection-benchmark`` end to end with a tiny detector: metrics in range, per-class AP, the saved
detections recompute the numbers with pycocotools alone, one seed gives one result, and DDP (2 gloo ranks) runs."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
from click.testing import CliRunner

from initbench.cli import main
from initbench.digests import results_digest

TINY = ["--arch", "tiny", "--epochs", "1", "--size", "40", "--batch-size", "2", "--lr", "0.01", "--threads", "1"]


def _run(tmp_path, spec, name="R.json", extra=()):
    out = tmp_path / name
    r = CliRunner().invoke(main, ["detection-benchmark", "--train", spec("sunny"), "--test", spec("night"),
                                  "--test", spec("sunny"), "--out", str(out), *TINY, *extra, "--json", "-"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc == json.loads(out.read_text())
    return out, doc


@pytest.fixture(scope="module")
def first(tmp_path_factory, coco_sets):
    spec = lambda d: f"{coco_sets[d]}:{coco_sets['root']}"  # noqa: E731
    return _run(tmp_path_factory.mktemp("det_run"), spec)


def test_writes_metrics_per_test_set_with_per_class_ap(first, coco_sets):
    out, doc = first
    assert doc["detector"]["arch"] == "tiny" and doc["detector"]["backbone_weights"] == "random"
    assert doc["categories"] == {"1": "car", "2": "speed limit sign", "3": "person"}
    assert [s["annotations"] for s in doc["tests"]] == [str(coco_sets["night"]), str(coco_sets["sunny"])]
    assert doc["train_sets"][0]["num_images"] == 4 and len(doc["train_sets"][0]["sha256"]) == 64
    for s in doc["tests"]:
        m = s["metrics"]
        for k in ("AP", "AP50", "AP75"):
            assert m[k] == -1.0 or 0.0 <= m[k] <= 1.0
        assert set(m["AP_per_class"]) == {"car", "speed limit sign", "person"}
        assert all(v == -1.0 or 0.0 <= v <= 1.0 for v in m["AP_per_class"].values())
        assert (out.parent / s["detections"]).is_file() and s["num_detections"] > 0
    assert len(doc["timings"]["epoch_seconds"]) == 1 and doc["timings"]["seconds_per_epoch"] > 0
    assert doc["seed"] == 0 and doc["epochs"] == 1 and doc["image_size"] == 40 and doc["world_size"] == 1


def test_saved_detections_recompute_the_numbers_with_pycocotools_alone(first, coco_sets):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    out, doc = first
    for s in doc["tests"]:
        with contextlib.redirect_stdout(io.StringIO()):
            gt = COCO(s["annotations"])
            ev = COCOeval(gt, gt.loadRes(str(out.parent / s["detections"])), "bbox")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        assert [s["metrics"][k] for k in ("AP", "AP50", "AP75")] == list(ev.stats[:3])


def test_same_seed_same_results_and_another_seed_other_weights(first, tmp_path, spec):
    out1, doc1 = first
    out2, doc2 = _run(tmp_path, spec)
    assert results_digest(doc1) == results_digest(doc2)  # everything but the timings
    for a, b in zip(doc1["tests"], doc2["tests"]):
        assert (out1.parent / a["detections"]).read_bytes() == (out2.parent / b["detections"]).read_bytes()
    _, doc3 = _run(tmp_path, spec, "R3.json", ("--seed", "1"))
    assert doc3["weights_sha256"] != doc1["weights_sha256"]


def test_two_gloo_ranks_train_with_ddp(tmp_path, spec):
    from initbench.detection.benchmark import run_detection_benchmark
    from initbench.training.distributed import launch_local

    out = tmp_path / "R.json"
    docs = launch_local(2, run_detection_benchmark, ([spec("sunny")], [spec("night")], str(out)), str(tmp_path / "ranks"),
                        kwargs=dict(arch="tiny", epochs=1, size=40, batch_size=1, device="cpu"))
    assert docs[1] is None and docs[0]["world_size"] == 2
    assert docs[0]["iterations_per_epoch"] == 2  # 4 images, 2 ranks, 1 image each per step
    assert json.loads(out.read_text())["weights_sha256"] == docs[0]["weights_sha256"]
