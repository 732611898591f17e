"""Protocol paired-v1: numbers recomputed by hand from the PNGs, the floors, guided and best-of-K, conformance."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from initbench.evaluation.result import schema_problems
from initbench.cli import main
from initbench.errors import CheckpointError, UsageError
from initbench.evaluation import paired_metrics as M
from initbench.evaluation.floors import build_floor
from initbench.evaluation.paired import METRIC_KEYS, collect_paired, evaluate_paired
from initbench.evaluation.protocol import PAIRED_V1, get_protocol

RANDOM = dict(lpips_backbone="random")


@pytest.fixture(scope="module")
def identity_result(mini_init_v2_root):
    from initbench.methods.identity import Identity

    return evaluate_paired(Identity(), mini_init_v2_root, "sunny2night", method="identity", **RANDOM)


def _png(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0


def test_identity_numbers_match_a_recomputation_from_the_pngs(mini_init_v2_root, identity_result):
    # Boxes from latents.jsonl (the generator's own record), not from the annotations the evaluator read.
    boxes = {r["path"]: [o["box"] for o in r["objects"]] for r in map(json.loads, open(mini_init_v2_root / "latents.jsonl"))}
    frame, objects, background = [], [], []
    for key, truth in zip(identity_result["data"]["inputs"], identity_result["data"]["reference"]):
        diff = np.abs(_png(mini_init_v2_root / key) - _png(mini_init_v2_root / truth)).mean(axis=2)
        inside = np.zeros(diff.shape, bool)
        for x1, y1, x2, y2 in boxes[key]:
            inside[int(np.floor(y1)):int(np.ceil(y2)), int(np.floor(x1)):int(np.ceil(x2))] = True
        frame.append(diff.mean())
        background.append(diff[~inside].mean())
        if inside.any():
            objects.append(diff[inside].mean())
    m = identity_result["metrics"]
    assert len(frame) == identity_result["num_inputs"] >= 3
    assert m["l1_gt_frame"] == pytest.approx(np.mean(frame), abs=1e-6)  # images are float32 in [-1, 1]
    assert m["l1_gt_background"] == pytest.approx(np.mean(background), abs=1e-6)
    assert m["l1_gt_objects"] == pytest.approx(np.mean(objects), abs=1e-6)
    assert identity_result["per_input"]["l1_gt_frame"] == pytest.approx(frame, abs=1e-6)
    # one deterministic output: best of K is the mean, and its diversity is 0
    assert m["l1_gt_frame_best"] == m["l1_gt_frame"] and m["lpips_diversity"] == 0.0


def test_result_has_exactly_the_protocol_keys_and_says_why_values_are_null(identity_result):
    r = identity_result
    assert tuple(r["metrics"]) == METRIC_KEYS
    assert r["protocol"] == "paired-v1" and r["data"]["split"] == "drives"
    assert r["conformant"] is False
    assert r["nonconformant_reasons"] == ["lpips backbone is random (protocol: pretrained AlexNet)"]
    assert r["metrics"]["domain_accuracy"] is None and r["skipped"]["domain_accuracy"] == "no --classifier given"
    assert r["metrics"]["l1_gt_frame_guided"] is None and "cannot take its style from an image" in r["skipped"]["guided"]
    assert all(t.startswith("ground_truth/sunny2night/") for t in r["data"]["reference"])
    assert r["params"] == 0 and r["checkpoint_sha256"] is None
    assert schema_problems(r) == []
    assert schema_problems({**r, "metrics": {**r["metrics"], "fid": 1.0}}) == [
        "$.metrics: 'fid' is not one of " + repr(list(METRIC_KEYS))]


def test_colour_transfer_beats_identity_on_sunny2night(mini_init_v2_root, identity_result):
    ct, settings = build_floor("colour-transfer", mini_init_v2_root, "sunny2night", split="drives", short_side=None)
    r = evaluate_paired(ct, mini_init_v2_root, "sunny2night", method="colour-transfer", method_settings=settings, **RANDOM)
    assert r["metrics"]["l1_gt_frame"] < identity_result["metrics"]["l1_gt_frame"] / 2
    assert r["method_settings"]["train_images"] == {"sunny": 20, "night": 16}
    assert schema_problems(r) == []
    assert r["data_fingerprint"] == identity_result["data_fingerprint"]


def test_colour_transfer_fit_is_deterministic_and_reads_only_the_train_split(mini_init_v2_root, tmp_path):
    _, first = build_floor("colour-transfer", mini_init_v2_root, "sunny2night", split="drives", short_side=None)
    copy = tmp_path / "init"
    shutil.copytree(mini_init_v2_root, copy)
    for key in collect_paired(copy, "sunny2night").inputs:  # scribble over the test inputs: the map must not move
        Image.new("RGB", Image.open(copy / key).size, (255, 0, 0)).save(copy / key)
    _, second = build_floor("colour-transfer", copy, "sunny2night", split="drives", short_side=None)
    assert first["fitted_sha256"] == second["fitted_sha256"]


def test_multimodal_method_gets_guided_and_best_of_k(mini_init_v2_root):
    from initbench.methods.base import get_method

    entry = get_method("munit")
    torch.manual_seed(0)
    model = entry.cls(entry.presets["tiny"]())
    p = PAIRED_V1.with_overrides(samples_per_input=4)
    r = evaluate_paired(model, mini_init_v2_root, "sunny2night", protocol=p, method="munit", **RANDOM)
    m = r["metrics"]
    assert all(m[k] is not None for k in ("l1_gt_frame_guided", "l1_gt_objects_guided", "lpips_gt_frame_guided"))
    assert "guided" not in r["skipped"]
    for k in ("l1_gt_frame", "l1_gt_background", "l1_gt_objects", "lpips_gt_frame", "lpips_gt_objects"):
        assert m[k + "_best"] <= m[k]
        assert all(b <= a + 1e-12 for a, b in zip(r["per_input"][k], r["per_input"][k + "_best"]))
    assert m["lpips_diversity"] > 0 and len(r["per_input"]["lpips_pairs"][0]) == 2
    assert "protocol overridden: samples_per_input=4" in r["nonconformant_reasons"]
    assert schema_problems(r) == []


def test_inputs_without_ground_truth_are_left_out_and_make_the_result_not_conformant(mini_init_v2_root, tmp_path):
    from initbench.methods.identity import Identity

    copy = tmp_path / "init"
    shutil.copytree(mini_init_v2_root, copy)
    data = collect_paired(copy, "sunny2night")
    (copy / data.truths[0]).unlink()
    r = evaluate_paired(Identity(), copy, "sunny2night", **RANDOM)
    assert r["num_inputs"] == len(data.inputs) - 1 and data.inputs[0] not in r["data"]["inputs"]
    assert "1 test inputs have no ground truth" in r["nonconformant_reasons"]
    assert r["data"]["inputs_without_ground_truth"] == [data.inputs[0]]


def test_a_tree_without_ground_truth_is_refused(mini_init_root):
    with pytest.raises(UsageError, match=r"^--data: expected ground truth under .*make it with `initbench synth --paired`"):
        collect_paired(mini_init_root, "sunny2night")


# -- the pure metric functions ----------------------------------------------------------------------

def test_regions_and_l1_by_hand():
    boxes = torch.tensor([[1, 0.5, 0.0, 2.0, 1.0], [3, 3.0, 2.0, 4.0, 4.0]], dtype=torch.float64)
    masks = M.region_masks(boxes, 4, 5)
    assert masks["car"].sum() == 2 and masks["person"].sum() == 2 and masks["sign"].sum() == 0
    assert masks["objects"].sum() == 4 and masks["background"].sum() == 16
    truth = torch.zeros(3, 4, 5)
    out = torch.zeros(2, 3, 4, 5)
    out[1, :, 0, 0:2] = 1.0  # the car's two pixels off by 1 in [-1, 1] units: 0.5 in [0, 1]
    l1 = M.l1_per_region(out, truth, masks)
    assert l1["car"] == [0.0, 0.5] and l1["person"] == [0.0, 0.0] and l1["sign"] == [None, None]
    assert l1["frame"] == pytest.approx([0.0, 1.0 / 20]) and l1["background"] == [0.0, 0.0]
    assert M.summarise([[0.2, 0.4], [None, None], [0.1, 0.1]]) == (pytest.approx(0.2), pytest.approx(0.15),
                                                                   [pytest.approx(0.3), None, 0.1], [0.2, None, 0.1])


def test_box_crops_are_the_box_window_resized():
    img = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8) / 384 - 1
    crops = M.box_crops(img, torch.tensor([[1, 2, 2, 4, 4]], dtype=torch.float64), 2)
    assert crops.shape == (2, 3, 2, 2)
    assert torch.equal(crops[1], img[1, :, 2:4, 2:4])  # same size: the window itself


# -- protocol, object classifier, command line ----------------------------------------------------

def test_paired_protocol_is_published_and_fixed_fields_are_refused():
    assert get_protocol("paired-v1") is PAIRED_V1
    assert PAIRED_V1.short_side is None and PAIRED_V1.samples_per_input == 10 and PAIRED_V1.lpips_pairs() == 5
    with pytest.raises(UsageError, match="object_crop are fixed by protocol paired-v1"):
        PAIRED_V1.with_overrides(object_crop=32)
    from dataclasses import fields

    from initbench.evaluation.protocol import FIXED, OVERRIDABLE, PAIRED_FIXED

    assert {f.name for f in fields(PAIRED_V1)} == set(OVERRIDABLE) | set(FIXED) | set(PAIRED_FIXED)


def test_object_classifier_trains_on_crops_and_is_told_apart(mini_init_v2_root, tmp_path, classifier_file):
    from initbench.evaluation.classifier import load_classifier, train_classifier
    from initbench.methods.identity import Identity

    out = tmp_path / "obj.pt"
    rep = train_classifier(mini_init_v2_root, out, small=True, objects=True, split="drives", epochs=1, batch_size=4)
    assert rep["kind"] == "objects" and sum(rep["test_counts"].values()) > 0
    with pytest.raises(CheckpointError, match=r"^--object-classifier: expected a classifier of objects .* classifies images$"):
        load_classifier(classifier_file, kind="objects")
    with pytest.raises(CheckpointError, match=r"^--classifier: expected a classifier of images .* classifies objects$"):
        load_classifier(out, kind="images")
    r = evaluate_paired(Identity(), mini_init_v2_root, "sunny2night", classifier=classifier_file, object_classifier=out,
                        **RANDOM)
    assert r["fingerprint"]["object_classifier"] == rep["sha256"]
    for k in ("domain_accuracy", "object_domain_accuracy"):
        assert 0.0 <= r["metrics"][k] <= 1.0 and k not in r["skipped"]


def test_cli_floors_run_without_ckpt_and_other_methods_need_one(mini_init_v2_root, tmp_path):
    base = ["evaluate", "--data", str(mini_init_v2_root), "--task", "sunny2night", "--lpips-backbone", "random"]
    r = CliRunner().invoke(main, [*base, "--method", "identity", "--protocol", "paired-v1", "--json", "-"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["metrics"]["l1_gt_frame"] > 0
    r = CliRunner().invoke(main, [*base, "--method", "munit", "--protocol", "paired-v1"])
    assert r.exit_code == 2 and "--ckpt / --official-ckpt: expected exactly one of them" in r.output
    r = CliRunner().invoke(main, [*base, "--method", "identity", "--object-classifier", __file__])
    assert r.exit_code == 2 and "--object-classifier: only with --protocol paired-v1; got --protocol v1" in r.output


def test_cli_v1_runs_the_colour_transfer_floor_without_ckpt(mini_init_v2_root):
    argv = ["evaluate", "--data", str(mini_init_v2_root), "--task", "sunny2night", "--lpips-backbone", "random",
            "--method", "colour-transfer", "--no-fid", "--num-inputs", "2", "--samples-per-input", "2",
            "--short-side", "40", "--json", "-"]
    r = CliRunner().invoke(main, argv)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["protocol"] == "v1" and doc["method_settings"]["split"] == "v1"
    assert doc["method_settings"]["short_side"] == 40 and doc["weights_sha256"] == doc["method_settings"]["fitted_sha256"]


def test_cli_ground_truth_row_checks_the_synth_parameters(mini_init_v2_root):
    base = ["evaluate", "--data", str(mini_init_v2_root), "--task", "sunny2night", "--lpips-backbone", "random",
            "--method", "ground-truth", "--protocol", "paired-v1", "--samples-per-input", "2"]
    r = CliRunner().invoke(main, [*base, "--synth-params", "24,0,64x40", "--json", "-"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["method"] == "ground-truth" and doc["metrics"]["l1_gt_frame"] == 0.0 and doc["metrics"]["lpips_gt_frame"] == 0.0
    assert doc["metrics"]["lpips_diversity"] > 0 and doc["method_settings"]["truth_styles"]["per_domain"] == 24
    r = CliRunner().invoke(main, [*base, "--synth-params", "24,1,64x40"])
    assert r.exit_code == 2 and "--synth-params: expected the parameters the tree was drawn with" in r.output
