"""The detectors: the ImageNet ResNet-50 file is required, checked and loaded into the backbone (never downloaded),
``auto`` falls back to a random backbone when it is absent, and the fingerprint says which."""

from __future__ import annotations

import pytest
import torch

from initbench.detection import detector as D
from initbench.errors import WeightsMissingError


def test_cli_offers_exactly_the_archs():
    from initbench.cli.detection_cmds import detection_benchmark_cmd

    opt = next(p for p in detection_benchmark_cmd.params if p.name == "arch")
    assert tuple(opt.type.choices) == D.ARCHS


def test_resnet50_fpn_without_its_file_names_file_and_place(tmp_path):
    with pytest.raises(WeightsMissingError) as exc:
        D.build_detector("resnet50-fpn", 4, size=64, seed=0, weights_dir=tmp_path)
    assert f"resnet50-0676ba61.pth (detection-benchmark backbone (torchvision ResNet-50, ImageNet)) is missing: expected it at " \
           f"{tmp_path / 'resnet50-0676ba61.pth'}" in str(exc.value)
    assert D.resolve_arch("auto", tmp_path) == "mobilenet-v3-fpn"


def test_a_corrupt_file_is_refused_and_auto_does_not_use_it(tmp_path):
    (tmp_path / "resnet50-0676ba61.pth").write_bytes(b"not the weights")
    with pytest.raises(WeightsMissingError, match="is corrupt"):
        D.build_detector("resnet50-fpn", 4, size=64, seed=0, weights_dir=tmp_path)
    assert D.resolve_arch("auto", tmp_path) == "mobilenet-v3-fpn"


def test_resnet50_backbone_is_loaded_from_the_checked_file(tmp_path, monkeypatch):
    from torchvision.models import resnet50

    from initbench.evaluation import weights as W

    torch.manual_seed(123)
    state = resnet50().state_dict()
    path = tmp_path / "resnet50-0676ba61.pth"
    torch.save(state, path)
    monkeypatch.setattr(W, "resolve", lambda key, d=None, offline=True: (path, "f" * 64))  # stands in for the intact file
    model, fp = D.build_detector("resnet50-fpn", 4, size=64, seed=0, weights_dir=tmp_path)
    body = model.backbone.body.state_dict()
    assert torch.equal(body["layer4.2.conv3.weight"], state["layer4.2.conv3.weight"])
    assert torch.equal(body["bn1.running_var"], state["bn1.running_var"])
    assert fp["arch"] == "resnet50-fpn" and fp["backbone_weights"] == "f" * 64 and fp["backbone_weights_file"] == str(path)
    assert not model.backbone.body.conv1.weight.requires_grad  # torchvision's 3 trainable stages with ImageNet weights


def test_random_backbones_are_recorded_as_random_and_seeded():
    a, fp = D.build_detector("tiny", 4, size=64, seed=5)
    b, _ = D.build_detector("tiny", 4, size=64, seed=5)
    c, _ = D.build_detector("tiny", 4, size=64, seed=6)
    assert fp["backbone_weights"] == "random" and fp["num_classes"] == 4 and (fp["min_size"], fp["max_size"]) == (64, 107)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa) and not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_custom_detectors_use_and_record_their_cpu_sampling():
    model, fp = D.build_detector("tiny", 4, size=64, seed=0)
    assert fp["sampling"] == D.CUSTOM_SAMPLING
    assert model.rpn._pre_nms_top_n == {"training": 600, "testing": 300}
    assert model.rpn._post_nms_top_n == {"training": 300, "testing": 150}
    assert model.roi_heads.fg_bg_sampler.batch_size_per_image == 128
    _, fp_mobile = D.build_detector("mobilenet-v3-fpn", 4, size=64, seed=0)
    assert fp_mobile["sampling"] == "torchvision defaults"
