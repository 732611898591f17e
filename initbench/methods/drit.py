"""DRIT / DRIT++ (Lee et al. 2018, 2020) as a Translator, trainable in the shared trainer, loading the authors' files.

Options keep the authors' names: ``concat`` (1: ``E_attr_concat`` + ``G_concat``, z tiled into
every decoder stage; 0: ``E_attr`` + ``G`` with feature-wise MLP codes), ``nz`` (8),
``dis_scale``, ``no_ms`` (mode seeking on by default), ``d_iter``. Two options are initbench's:
``dim`` (their hard-coded 64; smaller for tests and the tiny preset) and ``content_dis_layers``
(their 3 stride-2 7x7 layers need content maps of at least ~54 px, i.e. 216 px crops).

Inference is their ``test.py``: ``gen.forward_b(enc_c.forward_a(x), z)`` with ``z ~ N(0, I)``,
``B x nz``; the content encoder's noise layer is off in eval mode. Training is their
``update_D_content`` / ``update_D`` / ``update_EG`` (see :mod:`initbench.methods.drit_train`).

Released files (``example.pth``, ``ysmt_DRIT_1200.pth``, ``<ep>.pth``, ``last.pth``) are one dict
with ``enc_c``, ``enc_a``, ``gen`` (loaded strictly; nothing is dropped, as in their ``resume``) and
discriminators, optimisers, ``ep``, ``total_it`` (ignored). Three key layouts exist in their
history; :func:`detect_layout` tells them apart: layout 3 (HEAD, since 2018-08-05) and layout 2
(2018-07-31..08-05, LayerNorm ``gamma``/``beta`` of shape C with the MUNIT-style formula) load;
layout 1 (before 2018-07-31, zero padding inside the convs) is rejected with a message.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from typing import Any, Mapping

import torch
from torch import nn

from initbench.errors import CheckpointError, UsageError
from initbench.methods.base import MethodEntry, OptimizerSpec, TrainableTranslator, check_direction, register
from initbench.methods.drit_nets import (
    G,
    Dis_content,
    E_attr,
    E_attr_concat,
    E_content,
    G_concat,
    MultiScaleDis,
    gaussian_weights_init,
)
from initbench.methods.drit_train import drit_phase_losses
from initbench.methods.nvlabs import check_style
from initbench.methods.official import (
    as_state_dict,
    check_choice,
    check_image_size,
    describe_top_level,
    load_strict,
    options_to_dataclass,
    read_checkpoint,
    official_options,
    save_atomic,
    tensors_of,
)

LAYOUTS = {
    1: "layout 1 (DRIT code before 2018-07-31: zero padding inside the convs, keys like convA.0.model.0.weight)",
    2: "layout 2 (DRIT code of 2018-07-31..2018-08-05: LayerNorm gamma/beta of shape C, MUNIT-style formula)",
    3: "layout 3 (DRIT HEAD since 2018-08-05: LayerNorm weight/bias of shape C x 1 x 1, F.layer_norm)",
}


@dataclass
class DRITConfig:
    """The authors' options (``src/options.py`` defaults) plus initbench's ``dim``, ``content_dis_layers``, ``layer_norm``."""

    concat: int = 1
    nz: int = 8
    input_dim_a: int = 3
    input_dim_b: int = 3
    dis_scale: int = 3
    dis_norm: str = "None"
    dis_spectral_norm: bool = False
    no_ms: bool = False
    d_iter: int = 3
    lr: float = 0.0001
    weight_decay: float = 0.0001
    batch_size: int = 2
    resize_size: int = 256
    crop_size: int = 216
    #: Their lambda schedule (constant for n_ep_decay epochs, then linear to 0 at n_ep), in steps here.
    lr_constant_steps: int = 250_000
    lr_total_steps: int = 500_000
    dim: int = 64
    content_dis_layers: int = 3
    #: "head" (layout 3) or "munit" (layout 2): which LayerNorm the decoder uses.
    layer_norm: str = "head"

    def __post_init__(self) -> None:
        check_choice("concat", self.concat, (0, 1))
        check_choice("dis_norm", self.dis_norm, ("None",))
        check_choice("dis_spectral_norm", self.dis_spectral_norm, (False,))
        check_choice("layer_norm", self.layer_norm, ("head", "munit"))
        if self.dis_scale < 1:
            raise UsageError(
                f"config: option 'dis_scale': expected >= 1 (initbench builds MultiScaleDis); found {self.dis_scale}"
            )


def drit_tiny() -> DRITConfig:
    return DRITConfig(
        dim=8, content_dis_layers=1, dis_scale=2, resize_size=72, crop_size=64, lr_constant_steps=1000, lr_total_steps=2000
    )


class DRIT(TrainableTranslator):
    """``enc_c``, ``enc_a``, ``gen`` and the discriminators ``disA``, ``disA2``, ``disB``, ``disB2``, ``disContent``."""

    name = "drit"

    def __init__(self, config: DRITConfig | None = None, *, with_discriminators: bool = True):
        super().__init__()
        self.config = c = config or DRITConfig()
        self.style_dim = c.nz
        self.enc_c = E_content(c.input_dim_a, c.input_dim_b, c.dim)
        if c.concat:
            self.enc_a: nn.Module = E_attr_concat(c.input_dim_a, c.input_dim_b, c.nz, c.dim)
            self.gen: nn.Module = G_concat(c.input_dim_a, c.input_dim_b, c.nz, c.dim, c.layer_norm)
        else:
            self.enc_a = E_attr(c.input_dim_a, c.input_dim_b, c.nz, c.dim)
            self.gen = G(c.input_dim_a, c.input_dim_b, c.nz, c.dim, c.layer_norm)
        self.dis_names: tuple[str, ...] = ()
        if with_discriminators:
            self.disA = MultiScaleDis(c.input_dim_a, c.dis_scale, ch=c.dim)
            self.disB = MultiScaleDis(c.input_dim_b, c.dis_scale, ch=c.dim)
            self.disA2 = MultiScaleDis(c.input_dim_a, c.dis_scale, ch=c.dim)
            self.disB2 = MultiScaleDis(c.input_dim_b, c.dis_scale, ch=c.dim)
            self.disContent = Dis_content(c.dim, c.content_dis_layers)
            self.dis_names = ("disA", "disA2", "disB", "disB2", "disContent")
        self.apply(gaussian_weights_init)

    @property
    def size_multiple(self) -> int:
        """Input height and width must be multiples of this (two stride-2 convs, two x2 transposed convs)."""
        return 4

    def encode(self, images: torch.Tensor, *, direction: str = "a2b") -> torch.Tensor:
        """Content of the source domain, ``B x 4dim x H/4 x W/4`` (H, W multiples of 4)."""
        check_direction(direction)
        check_image_size(images, self.size_multiple, "drit")
        return self.enc_c.forward_a(images) if direction == "a2b" else self.enc_c.forward_b(images)

    def decode(self, content: torch.Tensor, *, direction: str = "a2b", style: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Target-domain images in [-1, 1] for attribute codes ``style`` (``B x nz``; None: drawn from N(0, I) with
        ``generator``)."""
        check_direction(direction)
        style = self.style_or_sample(style, content.size(0), generator, content.device)
        z = check_style(style, content.size(0), self.style_dim, "drit")
        return self.gen.forward_b(content, z) if direction == "a2b" else self.gen.forward_a(content, z)

    def style_from_images(
        self, reference: torch.Tensor, *, direction: str = "a2b", generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Attribute of target-domain ``reference`` images, as their ``test_transfer.py``: with ``concat``
        a sample ``mu + eps * exp(logvar / 2)`` (``eps`` from ``generator``), else the encoder output."""
        check_direction(direction)
        out = self.enc_a.forward_b(reference) if direction == "a2b" else self.enc_a.forward_a(reference)
        if not self.config.concat:
            return out
        mu, logvar = out
        draw_on = generator.device if generator is not None else mu.device
        eps = torch.randn(mu.shape, generator=generator, device=draw_on).to(mu.device)
        return eps * logvar.mul(0.5).exp() + mu

    def generator_modules(self) -> list[nn.Module]:
        return [self.enc_c, self.enc_a, self.gen]

    # -- training -----------------------------------------------------------------------------

    def optimizer_specs(self) -> dict[str, OptimizerSpec]:
        if not self.dis_names:
            raise UsageError("drit: this model was built without discriminators (inference only); it cannot be trained")
        c = self.config
        common = dict(
            betas=(0.5, 0.999),
            weight_decay=c.weight_decay,
            schedule="linear",
            constant_steps=c.lr_constant_steps,
            total_steps=c.lr_total_steps,
        )
        dis = [p for n in ("disA", "disA2", "disB", "disB2") for p in getattr(self, n).parameters()]
        return {
            "dis": OptimizerSpec(params=dis, lr=c.lr, **common),
            "dis_content": OptimizerSpec(params=list(self.disContent.parameters()), lr=c.lr / 2.5, clip_grad_norm=5.0, **common),
            "gen": OptimizerSpec(params=[p for m in self.generator_modules() for p in m.parameters()], lr=c.lr, **common),
        }

    def phases(self, step: int) -> list[str]:
        """Their loop: ``d_iter - 1`` of every ``d_iter`` steps update only the content discriminator."""
        if (step + 1) % self.config.d_iter != 0:
            return ["dis_content"]
        return ["dis", "dis_content", "gen"]

    def phase_losses(self, phase: str, batch: dict[str, Any], step: int, shared: dict[str, Any]) -> dict[str, torch.Tensor]:
        return drit_phase_losses(self, phase, batch, shared)

    def phase_grad_groups(self, phase: str) -> set[str]:
        """``dis`` runs the authors' forward pass (with the generators' graph) that ``gen`` back-propagates
        later in the step, so the generator group stays trainable during ``dis``."""
        return {"dis", "gen"} if phase == "dis" else {phase}


# ---------------------------------------------------------------------------------------------
# The authors' files

def detect_layout(enc_c: Mapping[str, Any], enc_a: Mapping[str, Any], gen: Mapping[str, Any]) -> int:
    """Which of DRIT's three historical key layouts a checkpoint uses (1, 2 or 3; see :data:`LAYOUTS`)."""
    zero_padded_convs = any(re.search(r"\.model\.3\.weight$", k) for k in enc_c)
    if "convA.0.model.0.weight" in enc_c or "conv_A.0.weight" in enc_a or zero_padded_convs:
        return 1
    if any(k.endswith((".gamma", ".beta")) for k in gen):
        return 2
    return 3


def infer_options(enc_a: Mapping[str, torch.Tensor], gen: Mapping[str, torch.Tensor]) -> dict[str, int]:
    """``concat``, ``nz`` and ``dim`` read off a (layout 2 or 3) checkpoint's keys and shapes."""
    out: dict[str, int] = {}
    if "fc_A.0.weight" in enc_a:
        out["concat"], out["nz"], out["dim"] = 1, enc_a["fc_A.0.weight"].shape[0], enc_a["fc_A.0.weight"].shape[1] // 4
    elif "model_a.16.weight" in enc_a:
        out["concat"], out["nz"], out["dim"] = 0, enc_a["model_a.16.weight"].shape[0], enc_a["model_a.16.weight"].shape[1] // 4
    return out


def config_from_official(config: Any) -> tuple[DRITConfig, bool]:
    """``(config, explicit)`` from None, a :class:`DRITConfig`, a dict of option names or a YAML/JSON file."""
    if config is None:
        return DRITConfig(), False
    if isinstance(config, DRITConfig):
        return config, True
    config, source = official_options(config, "drit")
    return options_to_dataclass(DRITConfig, config, source=source), True


def _diagnose(name: str, config: DRITConfig, found: dict[str, int]):
    def diagnose(missing: list[str], unexpected: list[str], shapes: list) -> str | None:
        causes = []
        if "concat" in found and found["concat"] != config.concat:
            causes.append(f"the file is a concat={found['concat']} model: pass concat: {found['concat']}")
        elif "nz" in found and found["nz"] != config.nz:
            causes.append(f"the file has nz={found['nz']}: pass nz: {found['nz']}")
        elif "dim" in found and found["dim"] != config.dim:
            causes.append(f"the file's base width is {found['dim']} (dim: {found['dim']}), not {config.dim}")
        return "; ".join(causes) or None

    return diagnose


def load_official(checkpoint: str | os.PathLike, config: Any = None) -> DRIT:
    """Load ``enc_c``, ``enc_a`` and ``gen`` of the authors' checkpoint strictly (layouts 2 and 3).

    Without ``config``, ``concat`` and ``nz`` are read off the file; with one, a file that does
    not match it is an error that lists the differing keys and names the option to change.
    """
    obj = read_checkpoint(checkpoint)
    if not isinstance(obj, Mapping) or not {"enc_c", "enc_a", "gen"} <= set(obj):
        raise CheckpointError(
            f"checkpoint {checkpoint}: expected the authors' DRIT checkpoint dict with enc_c, enc_a and gen; "
            f"found {describe_top_level(obj)}"
        )
    if {"dis1", "dis2"} <= set(obj):
        raise CheckpointError(
            f"checkpoint {checkpoint}: this is a multi-domain DRIT++ (HsinYingLee/MDMM) checkpoint (dis1, dis2, "
            "domain-conditioned MD_* networks); initbench loads the two-domain DRIT/DRIT++ of HsinYingLee/DRIT"
        )
    parts = {k: as_state_dict(obj[k], checkpoint, f"['{k}']") for k in ("enc_c", "enc_a", "gen")}
    layout = detect_layout(parts["enc_c"], parts["enc_a"], parts["gen"])
    if layout == 1:
        raise CheckpointError(
            f"checkpoint {checkpoint}: found DRIT key {LAYOUTS[1]}. initbench loads {LAYOUTS[2]} and {LAYOUTS[3]}; "
            "layout 1 has different padding and attribute-encoder shapes, so it only runs in the DRIT code of before "
            "2018-07-31 (the parent of commit 43f8a18)"
        )
    cfg, explicit = config_from_official(config)
    found = infer_options(parts["enc_a"], parts["gen"])
    if not explicit:
        cfg = replace(cfg, **found)
    cfg = replace(cfg, layer_norm="munit" if layout == 2 else "head")
    with torch.device("meta"):  # every tensor comes from the file
        model = DRIT(cfg, with_discriminators=False)
    for name in ("enc_c", "enc_a", "gen"):
        what = f"DRIT {name} ({LAYOUTS[layout].split(' (')[0]}, concat={cfg.concat}, nz={cfg.nz}, dim={cfg.dim})"
        diagnose = _diagnose(name, cfg, found)
        where = f"['{name}']"
        load_strict(getattr(model, name), parts[name], path=checkpoint, where=where, what=what, diagnose=diagnose, assign=True)
    model.layout = layout
    model.official_meta = {k: obj[k] for k in ("ep", "total_it") if k in obj and isinstance(obj[k], (int, float))}
    return model.eval()


def export_official(translator: DRIT, out: str | os.PathLike) -> list:
    """Write the authors' checkpoint dict: ``enc_c``, ``enc_a``, ``gen`` (+ the discriminators when the model
    has them), ``ep`` and ``total_it``; their ``test.py`` (``resume(train=False)``) runs it."""
    if not isinstance(translator, DRIT):
        raise UsageError(f"export: expected a drit model; got {type(translator).__name__}")
    names = (*translator.dis_names, "enc_c", "enc_a", "gen")
    obj: dict[str, Any] = {name: tensors_of(getattr(translator, name)) for name in names}
    meta = getattr(translator, "official_meta", {})
    obj["ep"], obj["total_it"] = int(meta.get("ep", 0)), int(meta.get("total_it", 0))
    return [save_atomic(obj, out)]


register(
    MethodEntry(
        name="drit",
        cls=DRIT,
        config_cls=DRITConfig,
        presets={"paper": DRITConfig, "tiny": drit_tiny},
        load_official=load_official,
        export_official=export_official,
    )
)
