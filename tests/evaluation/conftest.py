"""Fixtures of the evaluator's tests: a mini-INIT with test images in every domain, a tiny
translator class, a classifier file, and a tiny torch-fidelity feature extractor."""

from __future__ import annotations

import pytest
import torch
from torch import nn


@pytest.fixture(scope="session")
def eval_root(tmp_path_factory):
    """A synthetic mini-INIT, 40 images per domain at 64 x 40 px (every domain has test images under split v1)."""
    from initbench.dataset.synthetic import synthesize

    root = tmp_path_factory.mktemp("eval_mini") / "init"
    synthesize(root, per_domain=40, size=(64, 40), seed=0, generator="v1")
    return root


@pytest.fixture(scope="session")
def tiny_translator_cls():
    """A tiny Translator: conv encoder, style-modulated conv decoder, tanh. ``style_dim=0`` is deterministic."""
    from initbench.methods.base import Translator

    class TinyTranslator(Translator):
        name = "tiny"

        def __init__(self, style_dim: int = 4, seed: int = 0):
            super().__init__()
            self.style_dim = style_dim
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.enc = nn.Conv2d(3, 8, 3, padding=1)
                self.dec = nn.Conv2d(8, 3, 3, padding=1)
                self.mod = nn.Linear(max(style_dim, 1), 8)

        def encode(self, images, *, direction="a2b"):
            return torch.relu(self.enc(images))

        def decode(self, content, *, direction="a2b", style=None):
            h = content
            if self.style_dim:
                h = h * (1 + 2 * self.mod(style)[:, :, None, None])
            return torch.tanh(self.dec(h))

    return TinyTranslator


@pytest.fixture(scope="session")
def classifier_file(tmp_path_factory):
    """An untrained small domain classifier saved in the classifier file format (seeded)."""
    from initbench.evaluation.classifier import build_classifier, save_classifier

    clf, init = build_classifier("small", from_scratch=True, seed=3)
    path = tmp_path_factory.mktemp("clf") / "clf.pt"
    save_classifier(clf.eval(), path, init=init)
    return path


@pytest.fixture(scope="session")
def tiny_extractor():
    """Name of a registered torch-fidelity feature extractor: a seeded random 3 -> 16 conv + pooling on uint8."""
    import torch_fidelity
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    name = "initbench-test-tiny"
    if name in FEATURE_EXTRACTORS_REGISTRY:
        return name

    class Tiny(torch_fidelity.FeatureExtractorBase):
        def __init__(self, name, features_list, **kwargs):
            super().__init__(name, features_list)
            g = torch.Generator().manual_seed(0)
            self.w = nn.Parameter(torch.randn(16, 3, 3, 3, generator=g) * 0.1, requires_grad=False)

        @staticmethod
        def get_provided_features_list():
            return ("feat",)

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return "feat"

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return torch.zeros(1, 3, 8, 8, dtype=torch.uint8)

        def forward(self, x):
            assert x.dtype == torch.uint8
            h = torch.nn.functional.conv2d(x.float() / 127.5 - 1, self.w, padding=1)
            return (torch.cat([h.mean(dim=(2, 3)), h.abs().amax(dim=(2, 3))], dim=1),)

    torch_fidelity.register_feature_extractor(name, Tiny)
    return name
