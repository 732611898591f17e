"""CycleGAN (Zhu et al. 2017) as a Translator, trainable in the shared trainer, loading the authors' files.

Options keep the authors' names (``ngf``, ``netG``, ``norm``, ``no_dropout``, ``lambda_A``...).
Training follows ``--model cycle_gan``: LSGAN, cycle L1 x 10, identity L1 x 0.5 x 10, an image
pool of 50 fakes, the discriminator loss halved, Adam(2e-4, 0.5), constant then linear decay
(counted here in steps: ``n_steps`` then ``n_steps_decay``; the authors count epochs).

Released files are bare state dicts of one generator: ``latest_net_G.pth`` (a pretrained
direction, e.g. horse2zebra) or ``<epoch>_net_G_A.pth`` / ``_net_G_B.pth`` of a training run.
``style`` is ignored (CycleGAN is deterministic).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from initbench.errors import CheckpointError, UsageError
from initbench.methods.base import MethodEntry, OptimizerSpec, TrainableTranslator, check_direction, register
from initbench.methods.cyclegan_nets import NET_G, NORMS, ImagePool, NLayerDiscriminator, ResnetGenerator, init_normal
from initbench.methods.official import (
    as_state_dict,
    check_choice,
    check_image_size,
    drop_legacy_entries,
    load_strict,
    options_to_dataclass,
    read_checkpoint,
    official_options,
    save_atomic,
    tensors_of,
)


@dataclass
class CycleGANConfig:
    """The authors' options (``--model cycle_gan`` defaults); ``n_steps*`` replace their epoch counts."""

    input_nc: int = 3
    output_nc: int = 3
    ngf: int = 64
    ndf: int = 64
    netG: str = "resnet_9blocks"
    netD: str = "basic"
    n_layers_D: int = 3
    norm: str = "instance"
    no_dropout: bool = True
    init_type: str = "normal"
    init_gain: float = 0.02
    gan_mode: str = "lsgan"
    pool_size: int = 50
    lambda_A: float = 10.0
    lambda_B: float = 10.0
    lambda_identity: float = 0.5
    lr: float = 0.0002
    beta1: float = 0.5
    n_steps: int = 100_000
    n_steps_decay: int = 100_000
    batch_size: int = 1
    load_size: int = 286
    crop_size: int = 256
    #: Seed of the image pool's draws.
    pool_seed: int = 0

    def __post_init__(self) -> None:
        check_choice("netG", self.netG, tuple(NET_G))
        check_choice("netD", self.netD, ("basic", "n_layers"))
        check_choice("norm", self.norm, NORMS)
        check_choice("gan_mode", self.gan_mode, ("lsgan", "vanilla"))
        check_choice("init_type", self.init_type, ("normal",))


PRESETS = {
    "paper": lambda: CycleGANConfig(),
    # the CPU recipe (trainer preset ``small``; why each value: ``initbench.training.config``)
    "small": lambda: CycleGANConfig(ngf=16, ndf=16, netG="resnet_6blocks", n_layers_D=3, load_size=160, crop_size=64,
                                    n_steps=3000, n_steps_decay=2000),
    "tiny": lambda: CycleGANConfig(ngf=8, ndf=8, netG="resnet_6blocks", n_layers_D=2, pool_size=4, load_size=72, crop_size=64, n_steps=1000, n_steps_decay=1000),
}


class CycleGAN(TrainableTranslator):
    """Two ``ResnetGenerator`` s: ``netG_A`` (A -> B) and ``netG_B`` (B -> A); ``netD_A`` judges domain B, ``netD_B`` domain A."""

    name = "cyclegan"
    style_dim = 0

    def __init__(self, config: CycleGANConfig | None = None, *, with_discriminators: bool = True):
        super().__init__()
        self.config = config = config or CycleGANConfig()
        blocks = NET_G[config.netG]
        self.netG_A = ResnetGenerator(config.input_nc, config.output_nc, config.ngf, config.norm, not config.no_dropout, blocks)
        self.netG_B = ResnetGenerator(config.output_nc, config.input_nc, config.ngf, config.norm, not config.no_dropout, blocks)
        self.apply(init_normal(config.init_gain))
        self.netD_A: nn.Module | None = None
        self.netD_B: nn.Module | None = None
        if with_discriminators:
            self.netD_A = NLayerDiscriminator(config.output_nc, config.ndf, config.n_layers_D, config.norm)
            self.netD_B = NLayerDiscriminator(config.input_nc, config.ndf, config.n_layers_D, config.norm)
            self.netD_A.apply(init_normal(config.init_gain))
            self.netD_B.apply(init_normal(config.init_gain))
        #: Directions whose generator holds real weights (an official file may hold only one).
        self.loaded_directions: set[str] = {"a2b", "b2a"}
        gen = torch.Generator().manual_seed(config.pool_seed)
        self.pool_A, self.pool_B = ImagePool(config.pool_size, gen), ImagePool(config.pool_size, gen)

    @property
    def size_multiple(self) -> int:
        """Input height and width must be multiples of this (two stride-2 convs, two x2 transposed convs)."""
        return 4

    def generator(self, direction: str) -> nn.Module:
        check_direction(direction)
        if direction not in self.loaded_directions:
            raise CheckpointError(
                f"cyclegan: the loaded checkpoint holds only the {', '.join(sorted(self.loaded_directions))} generator; "
                f"no weights for {direction} (load the matching *_net_G_A.pth / *_net_G_B.pth file)"
            )
        return self.netG_A if direction == "a2b" else self.netG_B

    def encode(self, images: torch.Tensor, *, direction: str = "a2b") -> torch.Tensor:
        """Deterministic method: the 'content' is the input itself (``B x 3 x H x W``, H and W multiples of 4)."""
        check_image_size(images, self.size_multiple, "cyclegan")
        self.generator(direction)
        return images

    def decode(self, content: torch.Tensor, *, direction: str = "a2b", style: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """``G(content)`` in [-1, 1]; ``style`` and ``generator`` are ignored."""
        return self.generator(direction)(content)

    def generator_modules(self) -> list[nn.Module]:
        return [self.netG_A, self.netG_B]

    # -- training ------------------------------------------------------------------------------

    def optimizer_specs(self) -> dict[str, OptimizerSpec]:
        if self.netD_A is None or self.netD_B is None:
            raise UsageError("cyclegan: this model was built without discriminators (inference only); it cannot be trained")
        c = self.config
        common = dict(lr=c.lr, betas=(c.beta1, 0.999), schedule="linear", constant_steps=c.n_steps, total_steps=c.n_steps + c.n_steps_decay)
        return {
            "gen": OptimizerSpec(params=[*self.netG_A.parameters(), *self.netG_B.parameters()], **common),
            "dis": OptimizerSpec(params=[*self.netD_A.parameters(), *self.netD_B.parameters()], **common),
        }

    def phases(self, step: int) -> list[str]:
        return ["gen", "dis"]  # the authors update G first, then D on the same forward pass

    def _gan(self, prediction: torch.Tensor, real: bool) -> torch.Tensor:
        target = torch.full_like(prediction, 1.0 if real else 0.0)
        if self.config.gan_mode == "lsgan":
            return F.mse_loss(prediction, target)
        return F.binary_cross_entropy_with_logits(prediction, target)

    def phase_losses(self, phase: str, batch: dict[str, Any], step: int, shared: dict[str, Any]) -> dict[str, torch.Tensor]:
        c = self.config
        real_A, real_B = batch["a"], batch["b"]
        assert self.netD_A is not None and self.netD_B is not None
        if phase == "gen":
            fake_B, fake_A = self.netG_A(real_A), self.netG_B(real_B)
            rec_A, rec_B = self.netG_B(fake_B), self.netG_A(fake_A)
            out = {
                "G_A": self._gan(self.netD_A(fake_B), True),
                "G_B": self._gan(self.netD_B(fake_A), True),
                "cycle_A": F.l1_loss(rec_A, real_A) * c.lambda_A,
                "cycle_B": F.l1_loss(rec_B, real_B) * c.lambda_B,
            }
            if c.lambda_identity > 0:
                out["idt_A"] = F.l1_loss(self.netG_A(real_B), real_B) * c.lambda_B * c.lambda_identity
                out["idt_B"] = F.l1_loss(self.netG_B(real_A), real_A) * c.lambda_A * c.lambda_identity
            out["total"] = sum(out.values())
            shared.update(fake_A=fake_A.detach(), fake_B=fake_B.detach())
            return out
        if phase == "dis":
            if "fake_B" not in shared:  # no generator phase before this one in the step: fakes of the current G
                with torch.no_grad():
                    shared.update(fake_A=self.netG_B(real_B), fake_B=self.netG_A(real_A))
            fake_B = self.pool_B.query(shared.pop("fake_B"))
            fake_A = self.pool_A.query(shared.pop("fake_A"))
            d_a = (self._gan(self.netD_A(real_B), True) + self._gan(self.netD_A(fake_B), False)) * 0.5
            d_b = (self._gan(self.netD_B(real_A), True) + self._gan(self.netD_B(fake_A), False)) * 0.5
            return {"D_A": d_a, "D_B": d_b, "total": d_a + d_b}
        raise UsageError(f"cyclegan: unknown phase {phase!r}; expected gen or dis")

    def sample_grid(self, batch: dict[str, Any], generator: torch.Generator, num_styles: int = 3) -> list[torch.Tensor]:
        with torch.no_grad():
            fake_B = self.netG_A(batch["a"])
            return [batch["a"], fake_B, self.netG_B(fake_B)]


# ---------------------------------------------------------------------------------------------
# The authors' files

_SUFFIX = re.compile(r"_net_G(_[AB])?\.pth?$")


def config_from_official(config: Any) -> tuple[CycleGANConfig, str | None]:
    """``(config, direction)`` from None, a :class:`CycleGANConfig`, a dict of option names or a YAML/JSON file.

    The extra option ``direction`` (``a2b``/``b2a``) says which direction a single ``latest_net_G.pth`` is.
    """
    if config is None:
        return CycleGANConfig(), None
    if isinstance(config, CycleGANConfig):
        return config, None
    config, source = official_options(config, "cyclegan")
    values = dict(config)
    direction = values.pop("direction", None)
    if direction is not None:
        check_direction(direction)
    return options_to_dataclass(CycleGANConfig, values, source=source), direction


def _diagnose(file_keys: list[str], config: CycleGANConfig):
    def diagnose(missing: list[str], unexpected: list[str], shapes: list) -> str | None:
        causes = []
        if any(".conv_block.6." in k for k in unexpected) and any(".conv_block.5." in k for k in missing):
            causes.append("the file's residual blocks have Dropout (trained without --no_dropout): pass no_dropout=False")
        elif any(".conv_block.6." in k for k in missing) and any(".conv_block.5." in k for k in unexpected):
            causes.append("the file's residual blocks have no Dropout: pass no_dropout=True (the authors' --no_dropout)")
        n_blocks = len({m.group(1) for k in file_keys for m in [re.match(r"model\.(\d+)\.conv_block\.", k)] if m})
        if n_blocks and n_blocks != NET_G[config.netG]:
            causes.append(f"the file has {n_blocks} residual blocks: pass netG=resnet_{n_blocks}blocks")
        for key, file_shape, _model_shape in shapes:
            if key == "model.1.weight":
                causes.append(f"the file's first conv has {file_shape[0]} channels: pass ngf={file_shape[0]}")
        if config.norm != "batch" and any(k.endswith(".running_mean") for k in unexpected):
            causes.append("the file has norm layers with weights and running statistics: pass norm=batch")
        elif config.norm == "batch" and any(k.endswith(".running_mean") for k in missing):
            causes.append("the file has no batch-norm statistics: pass norm=instance")
        return "; ".join(causes) or None

    return diagnose


def _load_generator(model: CycleGAN, net: nn.Module, path: Path, config: CycleGANConfig) -> list[str]:
    sd = as_state_dict(read_checkpoint(path), path)
    sd, dropped = drop_legacy_entries(sd, net, num_batches_tracked=True)
    what = f"CycleGAN ResnetGenerator (netG={config.netG}, ngf={config.ngf}, norm={config.norm}, no_dropout={config.no_dropout})"
    load_strict(net, sd, path=path, where="", what=what, diagnose=_diagnose(list(sd), config), assign=True)
    return dropped


def load_official(checkpoint: str | os.PathLike, config: Any = None) -> CycleGAN:
    """Load the authors' generator file(s) strictly (legacy IN buffers dropped as their loader does).

    ``checkpoint``: a ``*_net_G.pth`` (one direction, a2b unless ``direction: b2a``), a
    ``*_net_G_A.pth`` (a2b; its ``*_net_G_B.pth`` sibling is loaded too when present), a
    ``*_net_G_B.pth`` (b2a), or a directory holding ``latest_net_G_A.pth``/``latest_net_G_B.pth``.
    """
    cfg, direction = config_from_official(config)
    path = Path(checkpoint)
    files: dict[str, Path] = {}
    if path.is_dir():
        for d, name in (("a2b", "latest_net_G_A.pth"), ("b2a", "latest_net_G_B.pth")):
            if (path / name).is_file():
                files[d] = path / name
        if not files and (path / "latest_net_G.pth").is_file():
            files[direction or "a2b"] = path / "latest_net_G.pth"
        if not files:
            raise UsageError(f"checkpoint {path}: a directory without latest_net_G_A.pth, latest_net_G_B.pth or latest_net_G.pth")
    else:
        m = _SUFFIX.search(path.name)
        if m and m.group(1) == "_B":
            files[direction or "b2a"] = path
        elif m and m.group(1) == "_A":
            files[direction or "a2b"] = path
            sibling = path.with_name(path.name[: m.start()] + "_net_G_B" + path.suffix)
            if direction is None and sibling.is_file():
                files["b2a"] = sibling
        else:
            files[direction or "a2b"] = path
    with torch.device("meta"):  # every loaded tensor comes from the file
        model = CycleGAN(cfg, with_discriminators=False)
    model.dropped_legacy_keys = {}
    for d in ("a2b", "b2a"):
        net = model.netG_A if d == "a2b" else model.netG_B
        if d in files:
            model.dropped_legacy_keys[d] = _load_generator(model, net, files[d], cfg)
        else:  # a direction the file does not hold: real (random) tensors, and translate() refuses it
            net.to_empty(device="cpu").apply(init_normal(cfg.init_gain))
    model.loaded_directions = set(files)
    model.official_files = {d: str(f) for d, f in files.items()}
    return model.eval()


def export_official(translator: CycleGAN, out: str | os.PathLike) -> list[Path]:
    """Write the authors' files: a directory gets ``latest_net_G_A.pth``, ``latest_net_G_B.pth`` (and
    ``latest_net_D_A.pth``/``latest_net_D_B.pth`` when the model has discriminators); a ``.pth`` path
    gets the a2b generator alone, as the pretrained ``latest_net_G.pth`` files are."""
    if not isinstance(translator, CycleGAN):
        raise UsageError(f"export: expected a cyclegan model; got {type(translator).__name__}")
    out = Path(out)
    if out.suffix in (".pth", ".pt"):
        return [save_atomic(tensors_of(translator.generator("a2b")), out)]
    nets = {"G_A": ("a2b", translator.netG_A), "G_B": ("b2a", translator.netG_B), "D_A": ("a2b", translator.netD_A), "D_B": ("b2a", translator.netD_B)}
    written = []
    for name, (d, net) in nets.items():
        if net is not None and d in translator.loaded_directions:
            written.append(save_atomic(tensors_of(net), out / f"latest_net_{name}.pth"))
    return written


register(
    MethodEntry(
        name="cyclegan",
        cls=CycleGAN,
        config_cls=CycleGANConfig,
        presets=PRESETS,
        load_official=load_official,
        export_official=export_official,
    )
)
