"""MUNIT (Huang et al. 2018) as a Translator, trainable in the shared trainer, loading the authors' files.

Configured by the authors' YAML (``configs/edges2shoes_folder.yaml`` ...): the ``gen:`` block
(``dim``, ``mlp_dim``, ``style_dim``, ``activ``, ``n_downsample``, ``n_res``, ``pad_type``), the
``dis:`` block and the top-level loss weights and optimiser options. ``AdaINGen`` is built from
:mod:`initbench.methods.blocks`, so its state dict has exactly the authors' 82 keys.

The forward pass is theirs: content from ``enc_content``, the style through the MLP to 4096 AdaIN
parameters assigned layer by layer in the decoder's module order (bias first, then weight), their
LayerNorm with the unbiased std. A style is ``B x style_dim`` or ``B x style_dim x 1 x 1``.

Released files: ``gen_XXXXXXXX.pt`` / ``edges2shoes.pt`` = ``{'a': AdaINGen state dict, 'b': ...}``;
the PyTorch-0.3 files also hold ``enc_content`` instance-norm running stats, which are dropped
exactly as the authors' ``pytorch03_to_pytorch04`` does (22 per generator at the default config).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from initbench.errors import UsageError
from initbench.methods.base import MethodEntry, register
from initbench.methods.blocks import MLP, ContentEncoder, Decoder, StyleEncoder, assign_adain_params, num_adain_params
from initbench.methods.nvlabs import (
    DisOptions,
    GeneratorPair,
    NVlabsConfig,
    check_style,
    export_generator_pair,
    load_generator_pair,
)
from initbench.methods.official import check_image_size


@dataclass
class MUNITGenOptions:
    """The YAML ``gen:`` block of MUNIT: ``AdaINGen``."""

    dim: int = 64
    mlp_dim: int = 256
    style_dim: int = 8
    activ: str = "relu"
    n_downsample: int = 2
    n_res: int = 4
    pad_type: str = "reflect"


@dataclass
class MUNITConfig(NVlabsConfig):
    """The authors' YAML options that shape the model or its training (other YAML keys are ignored)."""

    GEN_OPTIONS = MUNITGenOptions

    gen: MUNITGenOptions = field(default_factory=MUNITGenOptions)
    recon_s_w: float = 1.0
    recon_c_w: float = 1.0
    recon_x_cyc_w: float = 0.0


def munit_paper() -> MUNITConfig:
    """The authors' ``summer2winter_yosemite256_folder.yaml`` (their weather/season setting: ``recon_x_cyc_w`` 10)."""
    return MUNITConfig(recon_x_cyc_w=10.0)


def munit_tiny() -> MUNITConfig:
    return MUNITConfig(
        gen=MUNITGenOptions(dim=8, mlp_dim=32, n_res=2),
        dis=DisOptions(dim=8, n_layer=3, num_scales=2),
        recon_x_cyc_w=10.0,
        new_size=64,
        crop_image_height=64,
        crop_image_width=64,
        max_iter=2000,
    )


def munit_small() -> MUNITConfig:
    """The CPU recipe's MUNIT (trainer preset ``small``; why each value: ``initbench.training.config``)."""
    return MUNITConfig(
        gen=MUNITGenOptions(dim=16, mlp_dim=64, n_res=2),
        dis=DisOptions(dim=16, n_layer=3, num_scales=2),
        recon_x_cyc_w=10.0,
        lr=2e-4,
        new_size=160,
        crop_image_height=64,
        crop_image_width=64,
        max_iter=5000,
    )


def adain_decoder(content_dim: int, output_dim: int, g: MUNITGenOptions) -> tuple[Decoder, MLP]:
    """MUNIT's decoder (AdaIN residual blocks, upsampling) and the MLP that maps a style to its AdaIN parameters."""
    dec = Decoder(g.n_downsample, g.n_res, content_dim, output_dim, res_norm="adain", activ=g.activ, pad_type=g.pad_type)
    return dec, MLP(g.style_dim, num_adain_params(dec), g.mlp_dim, 3, norm="none", activ=g.activ)


def adain_decode(dec: Decoder, mlp: MLP, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """``dec(content)`` with its AdaIN parameters set from ``mlp(style)``."""
    assign_adain_params(mlp(style), dec)
    return dec(content)


class AdaINGen(nn.Module):
    """MUNIT's generator: ``enc_style``, ``enc_content``, ``dec`` (AdaIN residual blocks), ``mlp``."""

    def __init__(self, input_dim: int, g: MUNITGenOptions):
        super().__init__()
        self.enc_style = StyleEncoder(4, input_dim, g.dim, g.style_dim, norm="none", activ=g.activ, pad_type=g.pad_type)
        self.enc_content = ContentEncoder(g.n_downsample, g.n_res, input_dim, g.dim, "in", g.activ, pad_type=g.pad_type)
        self.dec, self.mlp = adain_decoder(self.enc_content.output_dim, input_dim, g)

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(content B x 4dim x H/4 x W/4, style B x style_dim x 1 x 1)``."""
        return self.enc_content(images), self.enc_style(images)

    def decode(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return adain_decode(self.dec, self.mlp, content, style)


class MUNIT(GeneratorPair):
    """``gen_a``/``gen_b`` (``AdaINGen``) and ``dis_a``/``dis_b`` (``MsImageDis``), as the authors' ``MUNIT_Trainer``."""

    name = "munit"

    def __init__(self, config: MUNITConfig | None = None, *, with_discriminators: bool = True):
        config = config or MUNITConfig()
        super().__init__(config, AdaINGen, with_discriminators)
        self.style_dim = config.gen.style_dim

    def encode(self, images: torch.Tensor, *, direction: str = "a2b") -> torch.Tensor:
        """Content code of the source domain: ``B x 4dim x H/4 x W/4`` (H, W multiples of 4)."""
        check_image_size(images, self.size_multiple, "munit")
        return self._gens(direction)[0].enc_content(images)

    def decode(self, content: torch.Tensor, *, direction: str = "a2b", style: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Target-domain images in [-1, 1] for ``style`` (``B x style_dim`` or ``B x style_dim x 1 x 1``; None:
        drawn from N(0, I) with ``generator``)."""
        style = self.style_or_sample(style, content.size(0), generator, content.device)
        s = check_style(style, content.size(0), self.style_dim, "munit")
        return self._gens(direction)[1].decode(content, s)

    def style_from_images(self, reference: torch.Tensor, *, direction: str = "a2b",
                          generator: torch.Generator | None = None) -> torch.Tensor:
        """Example-guided style: the target-domain style encoder on ``reference`` images -> ``B x style_dim``."""
        return self._gens(direction)[1].enc_style(reference).flatten(1)

    # -- training: MUNIT_Trainer.dis_update / gen_update -----------------------------------------

    def _random_style(self, x: torch.Tensor) -> torch.Tensor:
        return torch.randn(x.size(0), self.style_dim, 1, 1, device=x.device)

    def phase_losses(self, phase: str, batch: dict[str, Any], step: int, shared: dict[str, Any]) -> dict[str, torch.Tensor]:
        c, x_a, x_b = self.config, batch["a"], batch["b"]
        assert self.dis_a is not None and self.dis_b is not None
        s_a, s_b = self._random_style(x_a), self._random_style(x_b)
        if phase == "dis":
            with torch.no_grad():
                c_a, _ = self.gen_a.encode(x_a)
                c_b, _ = self.gen_b.encode(x_b)
                x_ba, x_ab = self.gen_a.decode(c_b, s_a), self.gen_b.decode(c_a, s_b)
            d_a, d_b = self.dis_a.dis_loss(x_ba, x_a), self.dis_b.dis_loss(x_ab, x_b)
            return {"dis_a": d_a, "dis_b": d_b, "total": c.gan_w * (d_a + d_b)}
        if phase == "gen":
            c_a, s_a_prime = self.gen_a.encode(x_a)
            c_b, s_b_prime = self.gen_b.encode(x_b)
            x_a_recon, x_b_recon = self.gen_a.decode(c_a, s_a_prime), self.gen_b.decode(c_b, s_b_prime)
            x_ba, x_ab = self.gen_a.decode(c_b, s_a), self.gen_b.decode(c_a, s_b)
            c_b_recon, s_a_recon = self.gen_a.encode(x_ba)
            c_a_recon, s_b_recon = self.gen_b.encode(x_ab)
            out = {
                "adv_a": self.dis_a.gen_loss(x_ba),
                "adv_b": self.dis_b.gen_loss(x_ab),
                "recon_x_a": F.l1_loss(x_a_recon, x_a),
                "recon_x_b": F.l1_loss(x_b_recon, x_b),
                "recon_s_a": F.l1_loss(s_a_recon, s_a),
                "recon_s_b": F.l1_loss(s_b_recon, s_b),
                "recon_c_a": F.l1_loss(c_a_recon, c_a),
                "recon_c_b": F.l1_loss(c_b_recon, c_b),
            }
            total = (
                c.gan_w * (out["adv_a"] + out["adv_b"])
                + c.recon_x_w * (out["recon_x_a"] + out["recon_x_b"])
                + c.recon_s_w * (out["recon_s_a"] + out["recon_s_b"])
                + c.recon_c_w * (out["recon_c_a"] + out["recon_c_b"])
            )
            if c.recon_x_cyc_w > 0:
                out["cyc_x_a"] = F.l1_loss(self.gen_a.decode(c_a_recon, s_a_prime), x_a)
                out["cyc_x_b"] = F.l1_loss(self.gen_b.decode(c_b_recon, s_b_prime), x_b)
                total = total + c.recon_x_cyc_w * (out["cyc_x_a"] + out["cyc_x_b"])
            out["total"] = total
            return out
        raise UsageError(f"munit: unknown phase {phase!r}; expected dis or gen")


def load_official(checkpoint: str | os.PathLike, config: Any = None) -> MUNIT:
    """Load the authors' ``gen_*.pt`` / ``edges2shoes.pt`` with their YAML (or a dict, or defaults)."""
    cfg = MUNITConfig.from_official(config)
    g = cfg.gen
    sizes = f"dim={g.dim}, mlp_dim={g.mlp_dim}, style_dim={g.style_dim}, n_downsample={g.n_downsample}, n_res={g.n_res}"
    what = f"MUNIT AdaINGen ({sizes})"
    return load_generator_pair(MUNIT, cfg, checkpoint, what)


def export_official(translator: MUNIT, out: str | os.PathLike) -> list:
    """Write ``{'a': gen_a.state_dict(), 'b': gen_b.state_dict()}`` as the authors' ``gen_XXXXXXXX.pt``."""
    return export_generator_pair(translator, MUNIT, out)


register(
    MethodEntry(
        name="munit",
        cls=MUNIT,
        config_cls=MUNITConfig,
        presets={"paper": munit_paper, "small": munit_small, "tiny": munit_tiny},
        load_official=load_official,
        export_official=export_official,
    )
)
