"""The detectors ``detection-benchmark`` trains: torchvision's Faster R-CNN with a named backbone, and its fingerprint.

Architectures (:data:`ARCHS`):

- ``resnet50-fpn``: torchvision's ``fasterrcnn_resnet50_fpn`` layout (ResNet-50 + FPN, frozen batch norm, the
  last three stages trainable, as torchvision builds it with ImageNet weights), its backbone initialised from the
  ImageNet file ``resnet50-0676ba61.pth`` looked for in the torch hub cache (``<torch.hub.get_dir()>/checkpoints``)
  or ``weights_dir``, and checked by sha256 (:mod:`initbench.evaluation.weights`). Never downloaded here.
- ``mobilenet-v3-fpn``: torchvision's ``fasterrcnn_mobilenet_v3_large_fpn``, every weight random.
- ``small`` and ``tiny``: six conv layers with GroupNorm (stride 8, 32 or 8 channels at the first layer) under
  torchvision's ``FasterRCNN`` with one feature map and anchors of 8 to 64 px; random. For CPU experiments on
  the mini-INIT and for tests.
- ``auto``: ``resnet50-fpn`` when the ImageNet file is present and intact, else ``mobilenet-v3-fpn``.

The fingerprint records the architecture and the backbone's weights: the sha256 of the file it was initialised
from, or the word ``random``, so a from-scratch number is never mistaken for a pretrained one. Labels are the
COCO category ids (``num_classes`` = the largest id + 1, 0 is background), as torchvision's COCO models use them.
"""

from __future__ import annotations

import os
from functools import partial

import torch
from torch import nn

from initbench.errors import UsageError

ARCHS = ("auto", "resnet50-fpn", "mobilenet-v3-fpn", "small", "tiny")
#: Detections kept per image and the lowest score kept: COCO's maxDets and a threshold low enough that an
#: undertrained detector's precision-recall curve is measured rather than cut off.
DETECTIONS_PER_IMAGE = 100
SCORE_THRESHOLD = 0.001
#: The custom backbones' width of the first conv layer.
CUSTOM_WIDTH = {"small": 32, "tiny": 8}
#: The custom detectors' proposal and RoI-sample counts, sized for small frames with a few objects each (the
#: mini-INIT: 256 x 160, under 20 boxes). torchvision's defaults (2000 proposals kept per image in training, 512
#: RoIs sampled per image) are sized for 800 px COCO images; on a CPU, RoIAlign's backward over 512 RoIs took
#: 56 % of a training step of ``tiny`` and NMS over 2000 proposals another 16 % (``torch.profiler``). These counts
#: make a step take 3.2x less CPU time (batch 4 at 256 x 160: ``benchmarks/detector_step_speed.py``, its JSON in
#: ``benchmarks/results/``) and still leave more than ten proposals per box.
CUSTOM_SAMPLING = {"rpn_pre_nms_top_n_train": 600, "rpn_post_nms_top_n_train": 300, "rpn_pre_nms_top_n_test": 300,
                   "rpn_post_nms_top_n_test": 150, "box_batch_size_per_image": 128}


def size_limits(size: int) -> tuple[int, int]:
    """(min_size, max_size) of torchvision's resize for a short side of ``size`` (its 800/1333 ratio)."""
    if size < 16:
        raise UsageError(f"--size: expected a short side of at least 16 px; got {size}")
    return size, round(size * 1333 / 800)


def resnet50_state(weights_dir: str | os.PathLike | None = None) -> tuple[dict, str, str]:
    """The ImageNet ResNet-50 state dict, its file and sha256 (checked; a missing or corrupt file is an error)."""
    from initbench.evaluation import weights as W

    path, digest = W.resolve("resnet50", weights_dir, offline=True)
    return torch.load(path, map_location="cpu", weights_only=True), str(path), digest


def resolve_arch(arch: str, weights_dir: str | os.PathLike | None = None) -> str:
    """``auto`` -> ``resnet50-fpn`` if its ImageNet file is intact where it is looked for, else ``mobilenet-v3-fpn``."""
    if arch not in ARCHS:
        raise UsageError(f"--arch: unknown detector {arch!r}; available are: {', '.join(ARCHS)}")
    if arch != "auto":
        return arch
    from initbench.evaluation import weights as W

    return "resnet50-fpn" if W.inspect(W.get_weights("resnet50"), weights_dir)["status"] == "intact" else "mobilenet-v3-fpn"


def _custom(width: int, num_classes: int, min_size: int, max_size: int) -> nn.Module:
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.ops import Conv2dNormActivation, MultiScaleRoIAlign

    # GroupNorm: trained from scratch with a few images per step, batch statistics would be noise
    conv = partial(Conv2dNormActivation, kernel_size=3, norm_layer=partial(nn.GroupNorm, 4))
    body = nn.Sequential(conv(3, width, stride=2), conv(width, width), conv(width, 2 * width, stride=2),
                         conv(2 * width, 2 * width), conv(2 * width, 4 * width, stride=2), conv(4 * width, 4 * width))
    body.out_channels = 4 * width
    anchors = AnchorGenerator(sizes=((8, 16, 32, 64),), aspect_ratios=((0.5, 1.0, 2.0),))
    pool = MultiScaleRoIAlign(featmap_names=["0"], output_size=7, sampling_ratio=2)
    rep = 16 * width
    return FasterRCNN(body, rpn_anchor_generator=anchors, box_roi_pool=pool,
                      box_head=TwoMLPHead(body.out_channels * 7 * 7, rep), box_predictor=FastRCNNPredictor(rep, num_classes),
                      min_size=min_size, max_size=max_size, box_score_thresh=SCORE_THRESHOLD,
                      box_detections_per_img=DETECTIONS_PER_IMAGE, **CUSTOM_SAMPLING)


def build_detector(arch: str, num_classes: int, *, size: int, seed: int,
                   weights_dir: str | os.PathLike | None = None) -> tuple[nn.Module, dict]:
    """A Faster R-CNN for ``num_classes`` (background included) and its fingerprint.

    Random weights come from ``torch.manual_seed(seed)`` (the global generator is restored afterwards).
    Returns ``(model, fingerprint)``; the fingerprint holds ``arch``, ``backbone``, ``backbone_weights`` (a sha256
    or ``random``), ``backbone_weights_file``, ``num_classes``, ``min_size``, ``max_size``, ``score_threshold``,
    ``detections_per_image``, ``sampling`` (the custom detectors' proposal and RoI-sample counts) and ``params``.
    """
    from torchvision.models.detection import FasterRCNN, fasterrcnn_mobilenet_v3_large_fpn
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
    from torchvision.ops import FrozenBatchNorm2d

    arch = resolve_arch(arch, weights_dir)
    min_size, max_size = size_limits(size)
    common = dict(min_size=min_size, max_size=max_size, box_score_thresh=SCORE_THRESHOLD,
                  box_detections_per_img=DETECTIONS_PER_IMAGE)
    weights, weights_file, backbone, sampling = "random", None, arch, None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if arch == "resnet50-fpn":
            state, weights_file, weights = resnet50_state(weights_dir)
            fpn = resnet_fpn_backbone(backbone_name="resnet50", weights=None, norm_layer=FrozenBatchNorm2d, trainable_layers=3)
            missing, unexpected = fpn.body.load_state_dict(state, strict=False)
            if missing or set(unexpected) - {"fc.weight", "fc.bias"}:
                raise UsageError(f"{weights_file}: not a torchvision ResNet-50 state dict (missing {missing[:3]}, "
                                 f"unexpected {sorted(set(unexpected) - {'fc.weight', 'fc.bias'})[:3]})")
            model = FasterRCNN(fpn, num_classes=num_classes, **common)
            backbone = "resnet50 (ImageNet)"
        elif arch == "mobilenet-v3-fpn":
            model = fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None, num_classes=num_classes, **common)
            backbone = "mobilenet_v3_large (random)"
        else:
            model = _custom(CUSTOM_WIDTH[arch], num_classes, min_size, max_size)
            backbone = f"{arch} conv, width {CUSTOM_WIDTH[arch]} (random)"
            sampling = dict(CUSTOM_SAMPLING)
    fingerprint = {"arch": arch, "backbone": backbone, "backbone_weights": weights, "backbone_weights_file": weights_file,
                   "num_classes": num_classes, "min_size": min_size, "max_size": max_size,
                   "score_threshold": SCORE_THRESHOLD, "detections_per_image": DETECTIONS_PER_IMAGE,
                   "sampling": sampling or "torchvision defaults", "params": sum(p.numel() for p in model.parameters())}
    return model, fingerprint
