"""What MUNIT and UNIT share: NVlabs' two repositories are one code base (``networks.py``, ``trainer.py``,
``utils.py``), so initbench's MUNIT (:mod:`initbench.methods.munit`) and UNIT (:mod:`initbench.methods.unit`)
are two generators on one frame, kept here:

- the YAML options both read (:class:`NVlabsConfig`, with the ``dis:`` block :class:`DisOptions`) and
  their checks; each method adds its ``gen:`` block and its loss weights;
- :class:`GeneratorPair`: ``gen_a``/``gen_b``, ``dis_a``/``dis_b`` (``MsImageDis``), the authors' init
  and their two Adam optimisers with the step schedule;
- the authors' files ``{'a': generator state dict, 'b': ...}``: strict loading with the legacy
  instance-norm statistics dropped, mismatch diagnosis, export;
- :func:`check_style`, the style-code check MUNIT's and DRIT's ``decode`` share.

INIT's discriminators are :func:`build_discriminator` too, and its generator is MUNIT's ``AdaINGen``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

import torch
from torch import nn

from initbench.errors import CheckpointError, UsageError
from initbench.methods.base import OptimizerSpec, TrainableTranslator, check_direction
from initbench.methods.blocks import MsImageDis, init_weights
from initbench.methods.official import (
    as_state_dict,
    check_choice,
    describe_top_level,
    drop_legacy_entries,
    load_strict,
    official_options,
    options_to_dataclass,
    read_checkpoint,
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


def build_discriminator(input_dim: int, d: DisOptions) -> MsImageDis:
    """The authors' multi-scale PatchGAN discriminator for images with ``input_dim`` channels."""
    return MsImageDis(input_dim, d.dim, d.n_layer, d.norm, d.activ, d.num_scales, d.pad_type, d.gan_type)


def check_blocks(gen: Any, dis: DisOptions) -> None:
    """The choices of the ``gen:`` and ``dis:`` blocks that the building blocks accept (an error names the option)."""
    check_choice("gen.activ", gen.activ, ("relu", "lrelu", "prelu", "selu", "tanh"))
    check_choice("gen.pad_type", gen.pad_type, ("reflect", "replicate", "zero"))
    check_choice("dis.gan_type", dis.gan_type, ("lsgan", "nsgan"))
    check_choice("dis.norm", dis.norm, ("none", "bn", "in", "ln"))
    check_choice("dis.pad_type", dis.pad_type, ("reflect", "replicate", "zero"))


@dataclass
class NVlabsConfig:
    """The authors' YAML options MUNIT and UNIT share (other YAML keys are ignored).

    A method's config subclasses it: it names its ``gen:`` block class in ``GEN_OPTIONS``, redeclares
    ``gen`` with that class as default and adds its loss weights.
    """

    GEN_OPTIONS: ClassVar[type]

    gen: Any = None
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
    vgg_w: float = 0.0
    batch_size: int = 1
    max_iter: int = 1_000_000
    new_size: int = 256
    crop_image_height: int = 256
    crop_image_width: int = 256

    def __post_init__(self) -> None:
        if isinstance(self.gen, Mapping):
            self.gen = options_to_dataclass(self.GEN_OPTIONS, self.gen, source="gen")
        if isinstance(self.dis, Mapping):
            self.dis = options_to_dataclass(DisOptions, self.dis, source="dis")
        check_blocks(self.gen, self.dis)
        check_choice("lr_policy", self.lr_policy, ("step", "constant"))

    @classmethod
    def from_official(cls, config: Any):
        """A config from None (defaults), an instance, a dict of the authors' options or their YAML file."""
        if config is None:
            return cls()
        if isinstance(config, cls):
            return config
        config, source = official_options(config, cls.__name__.removesuffix("Config").lower())
        return options_to_dataclass(cls, config, source=source, ignore_unknown=True)


def check_style(style: torch.Tensor | None, batch: int, style_dim: int, method: str) -> torch.Tensor:
    """``style`` as ``batch x style_dim`` (accepts ``x 1 x 1`` and a single style for the whole batch)."""
    if style is None:
        raise UsageError(f"{method}: decode needs a style code B x {style_dim} (translate() draws one when style is None)")
    s = style.reshape(style.size(0), -1) if style.dim() == 4 and style.shape[2:] == (1, 1) else style
    if s.dim() != 2 or s.size(1) != style_dim or s.size(0) not in (1, batch):
        raise UsageError(f"{method}: style: expected {batch} x {style_dim} (or x 1 x 1); got shape {tuple(style.shape)}")
    return s.expand(batch, style_dim) if s.size(0) != batch else s


class GeneratorPair(TrainableTranslator):
    """``gen_a``/``gen_b`` built by ``make_gen(input_dim, config.gen)``, ``dis_a``/``dis_b`` (``MsImageDis``),
    the authors' init (generators ``config.init``, discriminators re-initialised gaussian) and their optimisers."""

    def __init__(self, config: NVlabsConfig, make_gen: Callable[[int, Any], nn.Module], with_discriminators: bool):
        super().__init__()
        self.config = config
        self.gen_a = make_gen(config.input_dim_a, config.gen)
        self.gen_b = make_gen(config.input_dim_b, config.gen)
        self.dis_a: MsImageDis | None = None
        self.dis_b: MsImageDis | None = None
        if with_discriminators:
            self.dis_a = build_discriminator(config.input_dim_a, config.dis)
            self.dis_b = build_discriminator(config.input_dim_b, config.dis)
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

    def generator_modules(self) -> list[nn.Module]:
        return [self.gen_a, self.gen_b]

    def optimizer_specs(self) -> dict[str, OptimizerSpec]:
        """The authors' two Adam optimisers, with their step (or constant) schedule."""
        if self.dis_a is None or self.dis_b is None:
            raise UsageError(f"{self.name}: this model was built without discriminators (inference only); it cannot be trained")
        c = self.config
        if c.vgg_w > 0:
            raise UsageError(
                f"{self.name}: option 'vgg_w' > 0 needs the authors' Torch7 VGG16 weights, "
                "which initbench does not ship; set vgg_w: 0"
            )
        common = dict(lr=c.lr, betas=(c.beta1, c.beta2), weight_decay=c.weight_decay)
        if c.lr_policy == "step":
            sched = dict(schedule="step", step_size=c.step_size, gamma=c.gamma)
        else:
            sched = dict(schedule="constant")

        def trainable(modules: list[nn.Module]) -> list[nn.Parameter]:
            return [p for m in modules for p in m.parameters() if p.requires_grad]

        return {
            "dis": OptimizerSpec(params=trainable([self.dis_a, self.dis_b]), **common, **sched),
            "gen": OptimizerSpec(params=trainable([self.gen_a, self.gen_b]), **common, **sched),
        }


# ---------------------------------------------------------------------------------------------
# The authors' files: {'a': generator state dict, 'b': ...}

def diagnose_for(method: str, config: NVlabsConfig, file_keys: list[str]):
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


def _load_pair(model: GeneratorPair, checkpoint: str | os.PathLike, what: str, obj: Any) -> dict[str, list[str]]:
    """Load ``{'a': sd, 'b': sd}`` (``obj``, or read from ``checkpoint``) into ``gen_a``/``gen_b``:
    legacy IN stats dropped, then strict. Returns the dropped keys per domain."""
    if obj is None:
        obj = read_checkpoint(checkpoint)
    if not isinstance(obj, Mapping) or not {"a", "b"} <= set(obj):
        inner_keys = [str(k) for v in obj.values() if isinstance(v, Mapping) for k in v] if isinstance(obj, Mapping) else []
        hint = ""
        if any(k.startswith("cnns.") for k in inner_keys):
            hint = " (this is a discriminator file dis_*.pt; pass the generator file gen_*.pt)"
        raise CheckpointError(
            f"checkpoint {checkpoint}: expected the authors' generator file {{'a': state dict, 'b': state dict}} "
            f"(gen_XXXXXXXX.pt); found {describe_top_level(obj)}{hint}"
        )
    dropped: dict[str, list[str]] = {}
    for dom, net in (("a", model.gen_a), ("b", model.gen_b)):
        sd = as_state_dict(obj[dom], checkpoint, f"['{dom}']")
        sd, dropped[dom] = drop_legacy_entries(sd, net)
        diagnose = diagnose_for(model.name, model.config, list(sd))
        load_strict(net, sd, path=checkpoint, where=f"['{dom}']", what=what, diagnose=diagnose, assign=True)
    return dropped


def load_generator_pair(
    cls: type[GeneratorPair], config: NVlabsConfig, checkpoint: str | os.PathLike, what: str, obj: Any = None
) -> GeneratorPair:
    """A ``cls`` model without discriminators whose generators come from the authors' file (``obj`` when
    already read); ``what`` names the network and its options in mismatch messages. In eval mode."""
    with torch.device("meta"):  # every tensor comes from the file
        model = cls(config, with_discriminators=False)
    model.dropped_legacy_keys = _load_pair(model, checkpoint, what, obj)
    return model.eval()


def export_generator_pair(translator: Any, cls: type[GeneratorPair], out: str | os.PathLike) -> list:
    """Write ``{'a': gen_a.state_dict(), 'b': gen_b.state_dict()}`` as the authors' ``gen_XXXXXXXX.pt``."""
    if not isinstance(translator, cls):
        raise UsageError(f"export: expected a {cls.name} model; got {type(translator).__name__}")
    return [save_atomic({"a": tensors_of(translator.gen_a), "b": tensors_of(translator.gen_b)}, out)]
