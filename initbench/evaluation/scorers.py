"""The networks one evaluation run scores with (LPIPS, the domain classifier, FID features), built once.

Shared by every protocol's collect step (:mod:`initbench.evaluation.collect`, ``real``): what each
network is (``fingerprint``), why a metric family is null (``skipped``) and the classifier's
provenance (``classifier_info``, read by :mod:`initbench.evaluation.conformance`) are decided here.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import torch

from initbench.errors import WeightsMissingError
from initbench.evaluation.classifier import load_classifier
from initbench.evaluation.fast_inference import speed_up
from initbench.evaluation.fid_kid import DEFAULT_EXTRACTOR, FeatureStream
from initbench.evaluation.lpips_diversity import LpipsScorer


class Scorers:
    """LPIPS, the classifier (or None) and the FID feature stream (or None) of one run.

    ``classifier``: a classifier file (None: IS/CIS are skipped, with the reason); ``fid``: whether
    FID/KID are wanted (weights missing offline: skipped, with the reason, not an error).
    ``lpips_backbone``/``lpips_seed`` are kept for the result's seeds and conformance. ``inference``: how the
    classifier runs when :mod:`initbench.evaluation.fast_inference` changed it (None: as loaded).
    """

    def __init__(self, *, classifier=None, lpips_backbone: str = "pretrained", lpips_seed: int = 0,
                 device: str | torch.device = "cpu", weights_dir=None, offline: bool = True, fid: bool = True,
                 fid_extractor: str = DEFAULT_EXTRACTOR):
        self.lpips_backbone, self.lpips_seed = lpips_backbone, lpips_seed
        self.fingerprint: dict[str, Any] = {}
        self.skipped: dict[str, str] = {}
        self.lpips = LpipsScorer(lpips_backbone, seed=lpips_seed, device=device, weights_dir=weights_dir, offline=offline)
        self.fingerprint.update(self.lpips.fingerprint)
        self.classifier = None
        self.classifier_info: dict | None = None  # arch, init, recipe: what conformance reads
        self.inference: str | None = None
        if classifier is None:
            self.skipped["is_cis"] = "no --classifier given"
            self.fingerprint["classifier"] = None
        else:
            clf, info = load_classifier(classifier, device)
            self.classifier, self.inference = speed_up(clf, device)
            self.classifier_info = info
            self.fingerprint["classifier"] = info["sha256"]
            self.fingerprint["classifier_arch"] = info["arch"]
        self.fid = None
        self.fingerprint["fid_features"] = None
        if fid:
            try:
                self.fid = FeatureStream(fid_extractor, device=device, weights_dir=weights_dir, offline=offline)
                self.fingerprint["fid_features"] = self.fid.sha256
            except WeightsMissingError as exc:
                self.skipped["fid_kid"] = str(exc)
        else:
            self.skipped["fid_kid"] = "FID/KID not requested"


@contextmanager
def exact_fp32():
    """Convolutions and matrix products in full fp32 while evaluating (TF32 off; restored after).

    cuDNN's default TF32 convolutions move LPIPS values by ~1e-4 and make them depend on the batch
    size; the protocol's numbers are fp32.
    """
    old = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old
