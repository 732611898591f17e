"""``identity``: the floor every translator must beat. It returns its input unchanged.

On paired ground truth (``initbench synth --paired``) identity measures how far apart the two
domains are to begin with; a method whose error to the ground truth is not below identity's
has not translated anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from initbench.methods.base import MethodEntry, Translator, check_direction, register


@dataclass
class IdentityConfig:
    """Identity has nothing to configure (the dataclass keeps checkpoints and results uniform)."""


class Identity(Translator):
    """Deterministic (style_dim 0), no parameters: ``translate(x) is x``'s values, in both directions."""

    name = "identity"
    style_dim = 0
    size_multiple = 1  # any image size: nothing is downsampled

    def __init__(self, config: IdentityConfig | None = None):
        super().__init__()
        self.config = config or IdentityConfig()

    def encode(self, images: torch.Tensor, *, direction: str = "a2b") -> torch.Tensor:
        check_direction(direction)
        return images

    def decode(self, content: torch.Tensor, *, direction: str = "a2b", style: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        check_direction(direction)
        return content


# No presets: there is nothing to train.
register(MethodEntry(name="identity", cls=Identity, config_cls=IdentityConfig))
