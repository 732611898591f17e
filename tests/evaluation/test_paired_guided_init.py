"""paired-v1's ``*_guided`` metrics for INIT: the truth's own styles (global, and per object from its crops), recorded
as such; the numbers are those of initbench.guided's output, and MUNIT's guided path is unchanged."""

from __future__ import annotations

import math

import torch

from initbench.evaluation.paired import collect_paired, evaluate_paired, load_pair
from initbench.evaluation.paired_metrics import l1_per_region, region_masks
from initbench.evaluation.protocol import PAIRED_V1
from initbench.evaluation.result import schema_problems
from initbench.guided import RULE, guided_translate
from initbench.methods.init import InitConfig, InitModel

SMALL = dict(dim=4, n_res=1, mlp_dim=16, dis_dim=4, dis_n_layer=2, dis_num_scales=2)
P = PAIRED_V1.with_overrides(samples_per_input=2, num_inputs=2)


def test_tiny_init_gets_finite_guided_numbers_made_with_the_truths_crops(mini_init_v2_root):
    torch.manual_seed(0)
    m = InitModel(InitConfig(**SMALL))
    m.object_size = 16
    r = evaluate_paired(m, mini_init_v2_root, "sunny2night", protocol=P, method="init", lpips_backbone="random")
    guided = ("l1_gt_frame_guided", "l1_gt_objects_guided", "lpips_gt_frame_guided")
    assert all(math.isfinite(r["metrics"][k]) for k in guided)
    assert "guided" not in r["skipped"] and schema_problems(r) == []
    assert r["method_settings"]["guided"] == {"rule": RULE, "min_iou": 0.5, "object_branch": True, "object_size": 16}
    # recomputed for the first input: the truth guides itself, its boxes are the input's
    data = collect_paired(mini_init_v2_root, "sunny2night", P)
    x, truth, boxes = load_pair(data.root, data.inputs[0], data.truths[0], data.boxes[0], None)
    assert len(boxes)
    with torch.no_grad():
        y, rec = guided_translate(m, x[None], truth[None], boxes=boxes, guide_boxes=boxes)
    assert rec["objects_styled_from_guide_crops"] == len(boxes)
    l1 = l1_per_region(y.clamp(-1, 1), truth, region_masks(boxes, *truth.shape[-2:]))
    assert r["per_input"]["l1_gt_frame_guided"][0] == l1["frame"][0]
    assert r["per_input"]["l1_gt_objects_guided"][0] == l1["objects"][0]


def test_munit_guided_numbers_are_still_its_decode_with_the_truths_style(mini_init_v2_root):
    from initbench.methods.base import get_method

    entry = get_method("munit")
    torch.manual_seed(0)
    m = entry.cls(entry.presets["tiny"]()).eval()
    p = P.with_overrides(num_inputs=1)
    r = evaluate_paired(m, mini_init_v2_root, "sunny2night", protocol=p, method="munit", lpips_backbone="random")
    assert r["method_settings"]["guided"]["object_branch"] is False
    data = collect_paired(mini_init_v2_root, "sunny2night", p)
    x, truth, boxes = load_pair(data.root, data.inputs[0], data.truths[0], data.boxes[0], None)
    with torch.no_grad():
        y = m.decode(m.encode(x[None]), style=m.style_from_images(truth[None])).clamp(-1, 1)
    l1 = l1_per_region(y, truth, region_masks(boxes, *truth.shape[-2:]))
    assert r["per_input"]["l1_gt_frame_guided"][0] == l1["frame"][0]
