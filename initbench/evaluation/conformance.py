"""Is a result comparable with the published protocol's? One function decides, and says why not.

:func:`conformance` reads everything that changes comparability: the protocol's overrides, the task,
how many test images there were, the LPIPS backbone, the domain classifier's provenance and whether the
data is identified. It returns ``(conformant, reasons)``; the reasons are short stable sentences, the same
for the translator path (:mod:`initbench.evaluation.evaluator`) and ``--method real``
(:mod:`initbench.evaluation.real`).

:func:`data_fingerprint` identifies the data a result used: the sha256 of the canonical JSON of the split
version and the sorted test keys (the inputs and the FID reference).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Sequence

from initbench.evaluation.protocol import Protocol

#: The classifier the protocol names: Inception-v3 fine-tuned from ImageNet by the unmodified recipe.
PROTOCOL_CLASSIFIER_ARCH = "inception_v3"


def data_fingerprint(split: str, inputs: Sequence[str], reference: Sequence[str]) -> str:
    """sha256 (hex) of ``{"split", "inputs", "reference"}`` with the keys sorted, as canonical JSON."""
    doc = {"split": split, "inputs": sorted(inputs), "reference": sorted(reference)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def classifier_reasons(info: dict | None) -> list[str]:
    """Why a classifier file (``load_classifier``'s info) is not the protocol's; [] when it is, or when none is used."""
    if info is None:
        return []  # IS/CIS are then null (recorded in ``skipped``); nothing was scored by another network
    from initbench.evaluation.classifier import RECIPES

    out = []
    arch, init, recipe = info.get("arch"), info.get("init"), info.get("recipe")
    if arch != PROTOCOL_CLASSIFIER_ARCH:
        out.append(f"classifier is {arch} (protocol: {PROTOCOL_CLASSIFIER_ARCH})")
    if not init or not isinstance(recipe, dict) or not recipe:
        out.append("classifier provenance is unknown (no init or recipe recorded)")
        return out
    if init == "scratch":
        out.append("classifier was trained from scratch (protocol: fine-tuned from ImageNet)")
    elif not str(init).startswith("imagenet:"):
        out.append(f"classifier init {init!r} is unknown (protocol: fine-tuned from ImageNet)")
    if arch == PROTOCOL_CLASSIFIER_ARCH:
        want = asdict(RECIPES[PROTOCOL_CLASSIFIER_ARCH])
        changed = sorted(k for k in set(want) | set(recipe) if recipe.get(k) != want.get(k))
        if changed:
            out.append(f"classifier recipe overridden: {', '.join(changed)}")
    return out


def conformance(
    protocol: Protocol,
    *,
    task: str,
    test_images: int,
    lpips_backbone: str,
    classifier_info: dict | None,
    data_fingerprint: str | None,
    missing_ground_truth: int = 0,
) -> tuple[bool, list[str]]:
    """``(conformant, reasons)`` of a result.

    ``test_images``: how many test images the protocol's draw could choose from (the source domain's for a
    translator, the target domain's for ``real``); ``lpips_backbone``: ``pretrained`` or ``random``;
    ``classifier_info``: ``load_classifier``'s info dict, or None when no classifier was used;
    ``data_fingerprint``: None when the data cannot be identified; ``missing_ground_truth``: how many
    test inputs a paired protocol had to leave out for want of a ground-truth file. A protocol whose
    ``num_inputs`` is 0 takes every test input, so no count is too small for it.
    """
    reasons = []
    if protocol.overrides:
        reasons.append("protocol overridden: " + ", ".join(f"{k}={v}" for k, v in protocol.overrides))
    if task not in protocol.tasks:
        reasons.append(f"task {task} is not one of protocol {protocol.version}'s tasks")
    if protocol.num_inputs and test_images < protocol.num_inputs:
        reasons.append(f"{test_images} test images, fewer than num_inputs {protocol.num_inputs}")
    if lpips_backbone != "pretrained":
        reasons.append(f"lpips backbone is {lpips_backbone} (protocol: pretrained AlexNet)")
    reasons += classifier_reasons(classifier_info)
    if missing_ground_truth:
        reasons.append(f"{missing_ground_truth} test inputs have no ground truth")
    if not data_fingerprint:
        reasons.append("the data cannot be identified (no data_fingerprint)")
    return (not reasons, reasons)
