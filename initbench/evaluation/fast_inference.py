"""Faster CPU forwards of the domain classifier, with the same metrics (to 1e-6).

On a CPU nearly all of an evaluation's time is the classifier's Inception-v3 forwards (100 x 100 of
them under protocol v1), which a MUNIT-style loop runs too; so the evaluator's other savings barely
show there. What this module changes, each measured in ``benchmarks/results/evaluator_throughput_cpu.json``
(``tried``):

* **channels-last** memory format for the weights and the mapped input: oneDNN's convolutions then
  run on NHWC tensors without a layout reorder around every one of Inception's 94 convolutions;
* **batch norm folded** into the convolution before it (eval mode only: ``w * g / sqrt(v + eps)``,
  a bias), which removes one pass over every activation.

Both change float rounding, not arithmetic: the logits of a from-scratch Inception-v3 move by about
5e-6 of their scale, IS/CIS by under 1e-6 (checked by ``tests/evaluation/test_fast_inference.py`` and by
the benchmark on every run). The classifier's batch size (``choose_batch_sizes``) changes speed only.

Only CPU runs are changed (a GPU already runs these convolutions in its own layouts). Setting
``INITBENCH_EAGER=1`` turns it off, for debugging; the result's ``precision`` says which was used.
"""

from __future__ import annotations

import os

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

#: Environment variable: ``1`` keeps the classifier as loaded (eager, NCHW, batch norm separate).
SWITCH = "INITBENCH_EAGER"
#: What the result's ``precision`` adds when the classifier was changed here.
DESCRIPTION = "classifier channels-last, batch norm folded (INITBENCH_EAGER=1 for eager)"


def wanted(device: str | torch.device) -> bool:
    """Whether the classifier on ``device`` is sped up: a CPU, and ``INITBENCH_EAGER`` not ``1``."""
    return torch.device(device).type == "cpu" and os.environ.get(SWITCH, "").strip() != "1"


def fold_batch_norms(net: nn.Module) -> int:
    """Fold each eval-mode ``BatchNorm2d`` that directly follows a ``Conv2d`` in one module into that conv, in place.

    A pair is a module with attributes ``conv`` (``nn.Conv2d``) and ``bn`` (``nn.BatchNorm2d``) and a forward
    ``bn(conv(x))`` (torchvision's ``BasicConv2d``), or consecutive entries of an ``nn.Sequential``. The batch norm
    becomes ``nn.Identity``. Returns the number of pairs folded. Raises ``ValueError`` on a module in training mode.
    """
    if net.training:
        raise ValueError("fold_batch_norms: expected a network in eval mode (running statistics); got training mode")
    n = 0
    for mod in list(net.modules()):
        if isinstance(getattr(mod, "conv", None), nn.Conv2d) and isinstance(getattr(mod, "bn", None), nn.BatchNorm2d):
            mod.conv = fuse_conv_bn_eval(mod.conv, mod.bn)
            mod.bn = nn.Identity()
            n += 1
        elif isinstance(mod, nn.Sequential):
            names = list(mod._modules)
            for a, b in zip(names, names[1:]):
                conv, bn = mod._modules[a], mod._modules[b]
                if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                    mod._modules[a] = fuse_conv_bn_eval(conv, bn)
                    mod._modules[b] = nn.Identity()
                    n += 1
    return n


class ChannelsLast(nn.Module):
    """``forward(images)`` = ``classifier`` on its mapped input in channels-last layout; the classifier's
    ``input_size``, ``domains`` and ``arch`` are read through."""

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier.to(memory_format=torch.channels_last)

    def __getattr__(self, name):
        if name in ("input_size", "domains", "arch"):
            return getattr(self._modules["classifier"], name)
        return super().__getattr__(name)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        c = self.classifier
        return c.net(c.prepare(images).contiguous(memory_format=torch.channels_last))


def speed_up(classifier: nn.Module, device: str | torch.device) -> tuple[nn.Module, str | None]:
    """``(classifier to call, description)``: on a CPU (unless ``INITBENCH_EAGER=1``) ``classifier`` with its batch
    norms folded (in place: it is changed) wrapped in :class:`ChannelsLast`, and :data:`DESCRIPTION`; else
    ``(classifier, None)`` unchanged. ``classifier``: a :class:`initbench.evaluation.classifier.DomainClassifier`
    in eval mode."""
    if not wanted(device):
        return classifier, None
    fold_batch_norms(classifier)
    return ChannelsLast(classifier), DESCRIPTION
