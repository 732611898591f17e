"""UNIT (Liu et al. 2017), the authors' 2018 re-release (mingyuliutw/UNIT master), as a Translator.

Configured by the authors' YAML (``configs/unit_gta2city_list.yaml`` ...): the ``gen:`` block
(``dim``, ``activ``, ``n_downsample``, ``n_res``, ``pad_type``), ``dis:`` and the loss weights.
``VAEGen`` = ``enc`` (content encoder with instance norm) and ``dec`` (instance-norm residual
blocks, then upsampling with their LayerNorm); 48 keys at the default config.

Test-time forward as in their ``test.py``: ``gen_tgt.decode(gen_src.encode(x)[0])``, i.e. the
hidden code *without* the encoder's noise. Training adds unit-variance Gaussian noise to the hidden
code (their ``encode`` returns it) and uses the KL term ``mean(h^2)``. ``style`` is ignored.

Released file ``unit_gta2city.pt`` = ``{'a': VAEGen state dict, 'b': ...}``; PyTorch-0.3 files
may hold the ``enc``/``dec`` instance-norm running stats, which are dropped exactly as their
``pytorch03_to_pytorch04`` does (38 per generator at the default config). The NIPS'17
``version_02`` files (``*_gen_00500000.pkl``, a single ``COCOResGen``) are a different network
and are rejected with a message saying so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from initbench.errors import CheckpointError, UsageError
from initbench.methods.base import MethodEntry, register
from initbench.methods.blocks import ContentEncoder, Decoder
from initbench.methods.nvlabs import DisOptions, GeneratorPair, NVlabsConfig, export_generator_pair, load_generator_pair
from initbench.methods.official import check_image_size, read_checkpoint


@dataclass
class UNITGenOptions:
    """The YAML ``gen:`` block of UNIT: ``VAEGen``."""

    dim: int = 64
    activ: str = "relu"
    n_downsample: int = 2
    n_res: int = 4
    pad_type: str = "reflect"


@dataclass
class UNITConfig(NVlabsConfig):
    """The authors' YAML options that shape the model or its training (other YAML keys are ignored)."""

    GEN_OPTIONS = UNITGenOptions

    gen: UNITGenOptions = field(default_factory=UNITGenOptions)
    recon_h_w: float = 0.0
    recon_kl_w: float = 0.01
    recon_x_cyc_w: float = 10.0
    recon_kl_cyc_w: float = 0.01


def unit_tiny() -> UNITConfig:
    return UNITConfig(
        gen=UNITGenOptions(dim=8, n_res=2),
        dis=DisOptions(dim=8, n_layer=3, num_scales=2),
        new_size=64,
        crop_image_height=64,
        crop_image_width=64,
        max_iter=2000,
    )


class VAEGen(nn.Module):
    """UNIT's generator for one domain: ``enc`` (image -> hidden code) and ``dec`` (hidden code -> image)."""

    def __init__(self, input_dim: int, g: UNITGenOptions):
        super().__init__()
        self.enc = ContentEncoder(g.n_downsample, g.n_res, input_dim, g.dim, "in", g.activ, pad_type=g.pad_type)
        self.dec = Decoder(
            g.n_downsample, g.n_res, self.enc.output_dim, input_dim, res_norm="in", activ=g.activ, pad_type=g.pad_type
        )

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(hidden B x 4dim x H/4 x W/4, noise of the same shape drawn from N(0, 1))``."""
        hiddens = self.enc(images)
        return hiddens, torch.randn_like(hiddens)

    def decode(self, hiddens: torch.Tensor) -> torch.Tensor:
        return self.dec(hiddens)


def _kl(mu: torch.Tensor) -> torch.Tensor:
    return torch.mean(mu.pow(2))


class UNIT(GeneratorPair):
    """``gen_a``/``gen_b`` (``VAEGen``, separate per domain as in the re-release) and ``dis_a``/``dis_b``."""

    name = "unit"
    style_dim = 0

    def __init__(self, config: UNITConfig | None = None, *, with_discriminators: bool = True):
        super().__init__(config or UNITConfig(), VAEGen, with_discriminators)

    def encode(self, images: torch.Tensor, *, direction: str = "a2b") -> torch.Tensor:
        """Hidden code of the source domain (no noise): ``B x 4dim x H/4 x W/4``."""
        check_image_size(images, self.size_multiple, "unit")
        return self._gens(direction)[0].enc(images)

    def decode(self, content: torch.Tensor, *, direction: str = "a2b", style: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Target-domain images in [-1, 1]; ``style`` and ``generator`` are ignored."""
        return self._gens(direction)[1].decode(content)

    # -- training: UNIT_Trainer.dis_update / gen_update ------------------------------------------

    def phase_losses(self, phase: str, batch: dict[str, Any], step: int, shared: dict[str, Any]) -> dict[str, torch.Tensor]:
        c, x_a, x_b = self.config, batch["a"], batch["b"]
        assert self.dis_a is not None and self.dis_b is not None
        if phase == "dis":
            with torch.no_grad():
                h_a, n_a = self.gen_a.encode(x_a)
                h_b, n_b = self.gen_b.encode(x_b)
                x_ba, x_ab = self.gen_a.decode(h_b + n_b), self.gen_b.decode(h_a + n_a)
            d_a, d_b = self.dis_a.dis_loss(x_ba, x_a), self.dis_b.dis_loss(x_ab, x_b)
            return {"dis_a": d_a, "dis_b": d_b, "total": c.gan_w * (d_a + d_b)}
        if phase == "gen":
            h_a, n_a = self.gen_a.encode(x_a)
            h_b, n_b = self.gen_b.encode(x_b)
            x_a_recon, x_b_recon = self.gen_a.decode(h_a + n_a), self.gen_b.decode(h_b + n_b)
            x_ba, x_ab = self.gen_a.decode(h_b + n_b), self.gen_b.decode(h_a + n_a)
            h_b_recon, n_b_recon = self.gen_a.encode(x_ba)
            h_a_recon, n_a_recon = self.gen_b.encode(x_ab)
            out = {
                "adv_a": self.dis_a.gen_loss(x_ba),
                "adv_b": self.dis_b.gen_loss(x_ab),
                "recon_x_a": F.l1_loss(x_a_recon, x_a),
                "recon_x_b": F.l1_loss(x_b_recon, x_b),
                "kl_a": _kl(h_a),
                "kl_b": _kl(h_b),
                "kl_cyc_aba": _kl(h_a_recon),
                "kl_cyc_bab": _kl(h_b_recon),
            }
            total = (
                c.gan_w * (out["adv_a"] + out["adv_b"])
                + c.recon_x_w * (out["recon_x_a"] + out["recon_x_b"])
                + c.recon_kl_w * (out["kl_a"] + out["kl_b"])
                + c.recon_kl_cyc_w * (out["kl_cyc_aba"] + out["kl_cyc_bab"])
            )
            if c.recon_x_cyc_w > 0:
                out["cyc_x_a"] = F.l1_loss(self.gen_a.decode(h_a_recon + n_a_recon), x_a)
                out["cyc_x_b"] = F.l1_loss(self.gen_b.decode(h_b_recon + n_b_recon), x_b)
                total = total + c.recon_x_cyc_w * (out["cyc_x_a"] + out["cyc_x_b"])
            out["total"] = total
            return out
        raise UsageError(f"unit: unknown phase {phase!r}; expected dis or gen")


def load_official(checkpoint: str | os.PathLike, config: Any = None) -> UNIT:
    """Load the authors' ``gen_*.pt`` / ``unit_gta2city.pt`` with their YAML (or a dict, or defaults)."""
    cfg = UNITConfig.from_official(config)
    obj = read_checkpoint(checkpoint)
    if isinstance(obj, Mapping) and any(str(k).startswith(("encode_A.", "enc_shared.")) for k in obj):
        raise CheckpointError(
            f"checkpoint {checkpoint}: this is a UNIT version_02 (NIPS'17) COCOResGen file (keys encode_A.*, enc_shared.*); "
            "initbench loads the authors' 2018 re-release (VAEGen pairs {'a', 'b'}), a different network"
        )
    g = cfg.gen
    what = f"UNIT VAEGen (dim={g.dim}, n_downsample={g.n_downsample}, n_res={g.n_res})"
    return load_generator_pair(UNIT, cfg, checkpoint, what, obj=obj)


def export_official(translator: UNIT, out: str | os.PathLike) -> list:
    """Write ``{'a': gen_a.state_dict(), 'b': gen_b.state_dict()}`` as the authors' ``gen_XXXXXXXX.pt``."""
    return export_generator_pair(translator, UNIT, out)


register(
    MethodEntry(
        name="unit",
        cls=UNIT,
        config_cls=UNITConfig,
        presets={"paper": UNITConfig, "tiny": unit_tiny},
        load_official=load_official,
        export_official=export_official,
    )
)
