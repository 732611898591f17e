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
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from initbench.errors import CheckpointError, UsageError
from initbench.methods.base import MethodEntry, OptimizerSpec, TrainableTranslator, check_direction, register
from initbench.methods.blocks import MLP, ContentEncoder, Decoder, MsImageDis, StyleEncoder, assign_adain_params, init_weights, num_adain_params
from initbench.methods.official import (
    as_state_dict,
    check_choice,
    check_image_size,
    describe_top_level,
    drop_legacy_entries,
    load_strict,
    options_to_dataclass,
    read_checkpoint,
    official_options,
    save_atomic,
    tensors_of,
)


@dataclass
class DisOptions:
    """The YAML ``dis:`` block (MUNIT and UNIT): ``MsImageDis``."""

    dim: int = 64
    norm: str = "none"
    activ: str = "lrelu"
    n_layer: int = 4
    gan_type: str = "lsgan"
    num_scales: int = 3
    pad_type: str = "reflect"


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


def _check_blocks(gen: Any, dis: DisOptions) -> None:
    check_choice("gen.activ", gen.activ, ("relu", "lrelu", "prelu", "selu", "tanh"))
    check_choice("gen.pad_type", gen.pad_type, ("reflect", "replicate", "zero"))
    check_choice("dis.gan_type", dis.gan_type, ("lsgan", "nsgan"))
    check_choice("dis.norm", dis.norm, ("none", "bn", "in", "ln"))
    check_choice("dis.pad_type", dis.pad_type, ("reflect", "replicate", "zero"))


@dataclass
class MUNITConfig:
    """The authors' YAML options that shape the model or its training (other YAML keys are ignored)."""

    gen: MUNITGenOptions = field(default_factory=MUNITGenOptions)
    dis: DisOptions = field(default_factory=DisOptions)
    input_dim_a: int = 3
    input_dim_b: int = 3
    lr: float = 0.0001
    beta1: float = 0.5
    beta2: float = 0.999
    weight_decay: float = 0.0001
    lr_policy: str = "step"
    step_size: int = 100_000
    gamma: float = 0.5
    init: str = "kaiming"
    gan_w: float = 1.0
    recon_x_w: float = 10.0
    recon_s_w: float = 1.0
    recon_c_w: float = 1.0
    recon_x_cyc_w: float = 0.0
    vgg_w: float = 0.0
    batch_size: int = 1
    max_iter: int = 1_000_000
    new_size: int = 256
    crop_image_height: int = 256
    crop_image_width: int = 256

    def __post_init__(self) -> None:
        if isinstance(self.gen, Mapping):
            self.gen = options_to_dataclass(MUNITGenOptions, self.gen, source="gen")
        if isinstance(self.dis, Mapping):
            self.dis = options_to_dataclass(DisOptions, self.dis, source="dis")
        _check_blocks(self.gen, self.dis)
        check_choice("lr_policy", self.lr_policy, ("step", "constant"))


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


def config_from_official(cls: type, config: Any):
    """A config of ``cls`` from None (defaults), an instance, a dict of the authors' options or their YAML file."""
    if config is None:
        return cls()
    if isinstance(config, cls):
        return config
    config, source = official_options(config, cls.__name__.removesuffix("Config").lower())
    return options_to_dataclass(cls, config, source=source, ignore_unknown=True)


class AdaINGen(nn.Module):
    """MUNIT's generator: ``enc_style``, ``enc_content``, ``dec`` (AdaIN residual blocks), ``mlp``."""

    def __init__(self, input_dim: int, g: MUNITGenOptions):
        super().__init__()
        self.enc_style = StyleEncoder(4, input_dim, g.dim, g.style_dim, norm="none", activ=g.activ, pad_type=g.pad_type)
        self.enc_content = ContentEncoder(g.n_downsample, g.n_res, input_dim, g.dim, "in", g.activ, pad_type=g.pad_type)
        self.dec = Decoder(g.n_downsample, g.n_res, self.enc_content.output_dim, input_dim, res_norm="adain", activ=g.activ, pad_type=g.pad_type)
        self.mlp = MLP(g.style_dim, num_adain_params(self.dec), g.mlp_dim, 3, norm="none", activ=g.activ)

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(content B x 4dim x H/4 x W/4, style B x style_dim x 1 x 1)``."""
        return self.enc_content(images), self.enc_style(images)

    def decode(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        assign_adain_params(self.mlp(style), self.dec)
        return self.dec(content)


def check_style(style: torch.Tensor | None, batch: int, style_dim: int, method: str) -> torch.Tensor:
    """``style`` as ``batch x style_dim`` (accepts ``x 1 x 1`` and a single style for the whole batch)."""
    if style is None:
        raise UsageError(f"{method}: decode needs a style code B x {style_dim} (translate() draws one when style is None)")
    s = style.reshape(style.size(0), -1) if style.dim() == 4 and style.shape[2:] == (1, 1) else style
    if s.dim() != 2 or s.size(1) != style_dim or s.size(0) not in (1, batch):
        raise UsageError(f"{method}: style: expected {batch} x {style_dim} (or x 1 x 1); got shape {tuple(style.shape)}")
    return s.expand(batch, style_dim) if s.size(0) != batch else s


class GeneratorPair(TrainableTranslator):
    """What MUNIT and UNIT share (their ``networks.py`` is one file): ``gen_a``/``gen_b`` built by
    ``make_gen(input_dim, config.gen)``, ``dis_a``/``dis_b`` (``MsImageDis``), the authors' init
    (generators ``config.init``, discriminators re-initialised gaussian), and their optimisers."""

    def _build(self, config: Any, make_gen: Any, with_discriminators: bool) -> None:
        self.config = config
        self.gen_a = make_gen(config.input_dim_a, config.gen)
        self.gen_b = make_gen(config.input_dim_b, config.gen)
        self.dis_a: MsImageDis | None = None
        self.dis_b: MsImageDis | None = None
        if with_discriminators:
            d = config.dis
            self.dis_a = MsImageDis(config.input_dim_a, d.dim, d.n_layer, d.norm, d.activ, d.num_scales, d.pad_type, d.gan_type)
            self.dis_b = MsImageDis(config.input_dim_b, d.dim, d.n_layer, d.norm, d.activ, d.num_scales, d.pad_type, d.gan_type)
        self.apply(init_weights(config.init))
        if with_discriminators:
            self.dis_a.apply(init_weights("gaussian"))
            self.dis_b.apply(init_weights("gaussian"))

    @property
    def size_multiple(self) -> int:
        """Input height and width must be multiples of this (``2 ** n_downsample``)."""
        return 2**self.config.gen.n_downsample

    def _gens(self, direction: str) -> tuple[nn.Module, nn.Module]:
        """(source generator, target generator) for ``direction``."""
        check_direction(direction)
        return (self.gen_a, self.gen_b) if direction == "a2b" else (self.gen_b, self.gen_a)

    def optimizer_specs(self) -> dict[str, OptimizerSpec]:
        if self.dis_a is None or self.dis_b is None:
            raise UsageError(f"{self.name}: this model was built without discriminators (inference only); it cannot be trained")
        if self.config.vgg_w > 0:
            raise UsageError(f"{self.name}: option 'vgg_w' > 0 needs the authors' Torch7 VGG16 weights, which initbench does not ship; set vgg_w: 0")
        return make_specs(self.config, [self.gen_a, self.gen_b], [self.dis_a, self.dis_b])


class MUNIT(GeneratorPair):
    """``gen_a``/``gen_b`` (``AdaINGen``) and ``dis_a``/``dis_b`` (``MsImageDis``), as the authors' ``MUNIT_Trainer``."""

    name = "munit"

    def __init__(self, config: MUNITConfig | None = None, *, with_discriminators: bool = True):
        super().__init__()
        config = config or MUNITConfig()
        self.style_dim = config.gen.style_dim
        self._build(config, AdaINGen, with_discriminators)

    def encode(self, images: torch.Tensor, *, direction: str = "a2b") -> torch.Tensor:
        """Content code of the source domain: ``B x 4dim x H/4 x W/4`` (H, W multiples of 4)."""
        check_image_size(images, self.size_multiple, "munit")
        return self._gens(direction)[0].enc_content(images)

    def decode(self, content: torch.Tensor, *, direction: str = "a2b", style: torch.Tensor | None = None) -> torch.Tensor:
        """Target-domain images in [-1, 1] for ``style`` (``B x style_dim`` or ``B x style_dim x 1 x 1``)."""
        s = check_style(style, content.size(0), self.style_dim, "munit")
        return self._gens(direction)[1].decode(content, s)

    def style_from_images(self, reference: torch.Tensor, *, direction: str = "a2b") -> torch.Tensor:
        """Example-guided style: the target-domain style encoder on ``reference`` images -> ``B x style_dim``."""
        return self._gens(direction)[1].enc_style(reference).flatten(1)

    def generator_modules(self) -> list[nn.Module]:
        return [self.gen_a, self.gen_b]

    # -- training: MUNIT_Trainer.dis_update / gen_update -----------------------------------------

    def _random_style(self, x: torch.Tensor) -> torch.Tensor:
        return torch.randn(x.size(0), self.style_dim, 1, 1, device=x.device)

    def phase_losses(self, phase: str, batch: dict[str, Any], step: int) -> dict[str, torch.Tensor]:
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


def make_specs(config: Any, gens: list[nn.Module], dises: list[nn.Module]) -> dict[str, OptimizerSpec]:
    """The authors' two Adam optimisers (shared by MUNIT and UNIT), with their step schedule."""
    common = dict(lr=config.lr, betas=(config.beta1, config.beta2), weight_decay=config.weight_decay)
    sched = dict(schedule="step", step_size=config.step_size, gamma=config.gamma) if config.lr_policy == "step" else dict(schedule="constant")
    return {
        "dis": OptimizerSpec(params=[p for m in dises for p in m.parameters() if p.requires_grad], **common, **sched),
        "gen": OptimizerSpec(params=[p for m in gens for p in m.parameters() if p.requires_grad], **common, **sched),
    }


# ---------------------------------------------------------------------------------------------
# The authors' files ({'a': ..., 'b': ...}), shared with UNIT

def diagnose_for(method: str, config: Any, file_keys: list[str]):
    """The likely cause of a MUNIT/UNIT generator mismatch, from the keys and shapes."""
    content = "enc_content" if method == "munit" else "enc"

    def diagnose(missing: list[str], unexpected: list[str], shapes: list) -> str | None:
        if file_keys and all(k.startswith("cnns.") for k in file_keys):
            return "this is a discriminator (MsImageDis) file, dis_XXXXXXXX.pt: pass the generator file gen_XXXXXXXX.pt"
        if method == "unit" and any(k.startswith("enc_style.") for k in file_keys):
            return "this is a MUNIT AdaINGen file (it has enc_style and mlp): use --method munit"
        if method == "munit" and any(k.startswith("enc.") for k in file_keys):
            return "this is a UNIT VAEGen file (enc/dec, no style encoder): use --method unit"
        causes = []
        for key, fs, _ms in shapes:
            if key == f"{content}.model.0.conv.weight":
                causes.append(f"gen.dim is {fs[0]} in the file (config says {config.gen.dim})")
            if key == "mlp.model.0.fc.weight":
                causes.append(f"gen.mlp_dim={fs[0]} and gen.style_dim={fs[1]} in the file")
        blocks = {m.group(1) for k in file_keys for m in [re.match(rf"{content}\.model\.\d+\.model\.(\d+)\.model\.", k)] if m}
        if blocks and len(blocks) != config.gen.n_res:
            causes.append(f"the file has {len(blocks)} residual blocks per encoder: gen.n_res={len(blocks)}")
        downs = {m.group(1) for k in file_keys for m in [re.match(rf"{content}\.model\.(\d+)\.conv\.weight$", k)] if m}
        if downs and len(downs) - 1 != config.gen.n_downsample:
            causes.append(f"the file has {len(downs) - 1} downsampling convs: gen.n_downsample={len(downs) - 1}")
        if any(k.endswith(("running_mean", "running_var")) for k in unexpected):
            causes.append("running statistics the authors' pytorch03_to_pytorch04 does not drop")
        return "; ".join(causes) or None

    return diagnose


def load_pair(
    model: nn.Module, nets: dict[str, nn.Module], checkpoint: str | os.PathLike, method: str, what: str, obj: Any = None
) -> dict[str, list[str]]:
    """Load ``{'a': sd, 'b': sd}`` (``obj``, or read from ``checkpoint``) into ``nets['a']``/``nets['b']``:
    legacy IN stats dropped, then strict. Returns the dropped keys per domain."""
    if obj is None:
        obj = read_checkpoint(checkpoint)
    if not isinstance(obj, Mapping) or not {"a", "b"} <= set(obj):
        hint = ""
        if isinstance(obj, Mapping) and any(str(k).startswith("cnns.") for v in obj.values() if isinstance(v, Mapping) for k in v):
            hint = " (this is a discriminator file dis_*.pt; pass the generator file gen_*.pt)"
        raise CheckpointError(
            f"checkpoint {checkpoint}: expected the authors' generator file {{'a': state dict, 'b': state dict}} "
            f"(gen_XXXXXXXX.pt); found {describe_top_level(obj)}{hint}"
        )
    dropped: dict[str, list[str]] = {}
    for dom in ("a", "b"):
        sd = as_state_dict(obj[dom], checkpoint, f"['{dom}']")
        sd, dropped[dom] = drop_legacy_entries(sd, nets[dom])
        load_strict(
            nets[dom], sd, path=checkpoint, where=f"['{dom}']", what=what, diagnose=diagnose_for(method, model.config, list(sd)), assign=True
        )
    return dropped


def load_official(checkpoint: str | os.PathLike, config: Any = None) -> MUNIT:
    """Load the authors' ``gen_*.pt`` / ``edges2shoes.pt`` with their YAML (or a dict, or defaults)."""
    cfg = config_from_official(MUNITConfig, config)
    with torch.device("meta"):  # every tensor comes from the file
        model = MUNIT(cfg, with_discriminators=False)
    g = cfg.gen
    what = f"MUNIT AdaINGen (dim={g.dim}, mlp_dim={g.mlp_dim}, style_dim={g.style_dim}, n_downsample={g.n_downsample}, n_res={g.n_res})"
    model.dropped_legacy_keys = load_pair(model, {"a": model.gen_a, "b": model.gen_b}, checkpoint, "munit", what)
    return model.eval()


def export_official(translator: MUNIT, out: str | os.PathLike) -> list:
    """Write ``{'a': gen_a.state_dict(), 'b': gen_b.state_dict()}`` as the authors' ``gen_XXXXXXXX.pt``."""
    if not isinstance(translator, MUNIT):
        raise UsageError(f"export: expected a munit model; got {type(translator).__name__}")
    return [save_atomic({"a": tensors_of(translator.gen_a), "b": tensors_of(translator.gen_b)}, out)]


register(
    MethodEntry(
        name="munit",
        cls=MUNIT,
        config_cls=MUNITConfig,
        presets={"paper": munit_paper, "tiny": munit_tiny},
        load_official=load_official,
        export_official=export_official,
    )
)
