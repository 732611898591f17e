"""Shared layers: the MUNIT/UNIT block vocabulary, used by MUNIT, UNIT and INIT.

Attribute names and registration order follow the authors' networks so that state_dict keys
match their released checkpoints (``conv.weight``, ``norm.gamma``, ``norm.running_mean``...).
The numerics follow them too: :class:`LayerNorm` divides by the *unbiased* std plus eps, and
:class:`AdaptiveInstanceNorm2d` normalises with batch-norm over a ``1 x (B*C) x H x W`` view,
always with the current statistics.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm(nn.Module):
    """MUNIT's layer norm: per sample over C*H*W, ``(x - mean) / (std_unbiased + eps)``, then per-channel affine."""

    def __init__(self, num_features: int, eps: float = 1e-5, affine: bool = True):
        super().__init__()
        self.num_features = num_features
        self.affine = affine
        self.eps = eps
        if affine:
            self.gamma = nn.Parameter(torch.empty(num_features).uniform_())
            self.beta = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [-1] + [1] * (x.dim() - 1)
        flat = x.reshape(x.size(0), -1)
        mean = flat.mean(1).view(*shape)
        std = flat.std(1).view(*shape)
        x = (x - mean) / (std + self.eps)
        if self.affine:
            shape = [1, -1] + [1] * (x.dim() - 2)
            x = x * self.gamma.view(*shape) + self.beta.view(*shape)
        return x


class AdaptiveInstanceNorm2d(nn.Module):
    """Instance norm whose affine ``weight``/``bias`` (each ``B*C``) are set from a style code before forward.

    The running-stat buffers exist because the authors' checkpoints hold them; like the
    authors' layer, forward always normalises with the current per-instance statistics.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.weight: torch.Tensor | None = None
        self.bias: torch.Tensor | None = None
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.weight is None or self.bias is None:
            raise RuntimeError("AdaIN parameters are not assigned: call assign_adain_params(style_params, decoder) first")
        b, c = x.size(0), x.size(1)
        running_mean = self.running_mean.repeat(b)
        running_var = self.running_var.repeat(b)
        # In float32 (a no-op without autocast): under bf16/fp16 autocast the conv output and the
        # MLP's AdaIN parameters arrive in half precision while the buffers are float32, and
        # batch_norm's backward rejects the mix.
        out = F.batch_norm(
            x.contiguous().view(1, b * c, *x.size()[2:]).float(),
            running_mean.float(),
            running_var.float(),
            self.weight.float(),
            self.bias.float(),
            True,
            self.momentum,
            self.eps,
        )
        return out.view(b, c, *x.size()[2:]).to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.num_features}"


def make_activation(name: str) -> nn.Module | None:
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "lrelu":
        return nn.LeakyReLU(0.2, inplace=True)
    if name == "prelu":
        return nn.PReLU()
    if name == "selu":
        return nn.SELU(inplace=True)
    if name == "tanh":
        return nn.Tanh()
    if name == "none":
        return None
    raise ValueError(f"activation: expected relu, lrelu, prelu, selu, tanh or none; got {name!r}")


def make_norm2d(name: str, dim: int) -> nn.Module | None:
    if name == "bn":
        return nn.BatchNorm2d(dim)
    if name == "in":
        return nn.InstanceNorm2d(dim)
    if name == "ln":
        return LayerNorm(dim)
    if name == "adain":
        return AdaptiveInstanceNorm2d(dim)
    if name == "none":
        return None
    raise ValueError(f"norm: expected bn, in, ln, adain or none; got {name!r}")


def make_pad(name: str, padding: int) -> nn.Module:
    if name == "reflect":
        return nn.ReflectionPad2d(padding)
    if name == "replicate":
        return nn.ReplicationPad2d(padding)
    if name == "zero":
        return nn.ZeroPad2d(padding)
    raise ValueError(f"pad_type: expected reflect, replicate or zero; got {name!r}")


class Conv2dBlock(nn.Module):
    """pad -> conv -> norm -> activation (MUNIT's ``Conv2dBlock``; registration order pad, norm, activation, conv)."""

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        kernel_size: int,
        stride: int,
        padding: int = 0,
        norm: str = "none",
        activation: str = "relu",
        pad_type: str = "zero",
    ):
        super().__init__()
        self.pad = make_pad(pad_type, padding)
        self.norm = make_norm2d(norm, output_dim)
        self.activation = make_activation(activation)
        self.conv = nn.Conv2d(input_dim, output_dim, kernel_size, stride, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.pad(x))
        if self.norm is not None:
            x = self.norm(x)
        if self.activation is not None:
            x = self.activation(x)
        return x


class LinearBlock(nn.Module):
    """Linear -> norm -> activation (keys ``fc.weight``, ``fc.bias``)."""

    def __init__(self, input_dim: int, output_dim: int, norm: str = "none", activation: str = "relu"):
        super().__init__()
        self.fc = nn.Linear(input_dim, output_dim, bias=True)
        if norm == "bn":
            self.norm: nn.Module | None = nn.BatchNorm1d(output_dim)
        elif norm == "in":
            self.norm = nn.InstanceNorm1d(output_dim)
        elif norm == "ln":
            self.norm = LayerNorm(output_dim)
        elif norm == "none":
            self.norm = None
        else:
            raise ValueError(f"norm: expected bn, in, ln or none; got {norm!r}")
        self.activation = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.activation is not None:
            x = self.activation(x)
        return x


class ResBlock(nn.Module):
    """x + (conv-norm-act, conv-norm)."""

    def __init__(self, dim: int, norm: str = "in", activation: str = "relu", pad_type: str = "zero"):
        super().__init__()
        self.model = nn.Sequential(
            Conv2dBlock(dim, dim, 3, 1, 1, norm=norm, activation=activation, pad_type=pad_type),
            Conv2dBlock(dim, dim, 3, 1, 1, norm=norm, activation="none", pad_type=pad_type),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.model(x)


class ResBlocks(nn.Module):
    def __init__(self, num_blocks: int, dim: int, norm: str = "in", activation: str = "relu", pad_type: str = "zero"):
        super().__init__()
        self.model = nn.Sequential(*[ResBlock(dim, norm, activation, pad_type) for _ in range(num_blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class MLP(nn.Module):
    """``n_blk`` linear blocks; the last one has no norm and no activation. Flattens its input."""

    def __init__(self, input_dim: int, output_dim: int, dim: int, n_blk: int, norm: str = "none", activ: str = "relu"):
        super().__init__()
        layers = [LinearBlock(input_dim, dim, norm=norm, activation=activ)]
        for _ in range(n_blk - 2):
            layers.append(LinearBlock(dim, dim, norm=norm, activation=activ))
        layers.append(LinearBlock(dim, output_dim, norm="none", activation="none"))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.reshape(x.size(0), -1))


class StyleEncoder(nn.Module):
    """Image -> style code ``B x style_dim x 1 x 1`` (two doublings, then ``n_downsample - 2`` plain downsamplings)."""

    def __init__(self, n_downsample: int, input_dim: int, dim: int, style_dim: int, norm: str, activ: str, pad_type: str):
        super().__init__()
        layers: list[nn.Module] = [Conv2dBlock(input_dim, dim, 7, 1, 3, norm=norm, activation=activ, pad_type=pad_type)]
        for _ in range(2):
            layers.append(Conv2dBlock(dim, 2 * dim, 4, 2, 1, norm=norm, activation=activ, pad_type=pad_type))
            dim *= 2
        for _ in range(n_downsample - 2):
            layers.append(Conv2dBlock(dim, dim, 4, 2, 1, norm=norm, activation=activ, pad_type=pad_type))
        layers.append(nn.AdaptiveAvgPool2d(1))
        layers.append(nn.Conv2d(dim, style_dim, 1, 1, 0))
        self.model = nn.Sequential(*layers)
        self.output_dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class ContentEncoder(nn.Module):
    """Image -> content map ``B x (dim * 2**n_downsample) x H/2**n x W/2**n``."""

    def __init__(self, n_downsample: int, n_res: int, input_dim: int, dim: int, norm: str, activ: str, pad_type: str):
        super().__init__()
        layers: list[nn.Module] = [Conv2dBlock(input_dim, dim, 7, 1, 3, norm=norm, activation=activ, pad_type=pad_type)]
        for _ in range(n_downsample):
            layers.append(Conv2dBlock(dim, 2 * dim, 4, 2, 1, norm=norm, activation=activ, pad_type=pad_type))
            dim *= 2
        layers.append(ResBlocks(n_res, dim, norm=norm, activation=activ, pad_type=pad_type))
        self.model = nn.Sequential(*layers)
        self.output_dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class Decoder(nn.Module):
    """Content map -> image in [-1, 1]: residual blocks (``res_norm``, ``adain`` for MUNIT/INIT), then
    ``n_upsample`` x (nearest upsample, 5x5 conv with layer norm), then a 7x7 conv and tanh."""

    def __init__(self, n_upsample: int, n_res: int, dim: int, output_dim: int, res_norm: str = "adain", activ: str = "relu", pad_type: str = "zero"):
        super().__init__()
        layers: list[nn.Module] = [ResBlocks(n_res, dim, res_norm, activ, pad_type=pad_type)]
        for _ in range(n_upsample):
            layers.append(nn.Upsample(scale_factor=2))
            layers.append(Conv2dBlock(dim, dim // 2, 5, 1, 2, norm="ln", activation=activ, pad_type=pad_type))
            dim //= 2
        layers.append(Conv2dBlock(dim, output_dim, 7, 1, 3, norm="none", activation="tanh", pad_type=pad_type))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def num_adain_params(model: nn.Module) -> int:
    """Number of AdaIN parameters (2 per channel of every AdaIN layer) that ``model`` needs."""
    return sum(2 * m.num_features for m in model.modules() if isinstance(m, AdaptiveInstanceNorm2d))


def assign_adain_params(adain_params: torch.Tensor, model: nn.Module) -> None:
    """Assign ``B x num_adain_params`` to the AdaIN layers of ``model`` in module order: per layer the
    first ``C`` values are the bias (mean), the next ``C`` the weight (std), as the authors do."""
    for m in model.modules():
        if isinstance(m, AdaptiveInstanceNorm2d):
            c = m.num_features
            m.bias = adain_params[:, :c].contiguous().view(-1)
            m.weight = adain_params[:, c : 2 * c].contiguous().view(-1)
            if adain_params.size(1) > 2 * c:
                adain_params = adain_params[:, 2 * c :]


class MsImageDis(nn.Module):
    """Multi-scale PatchGAN discriminator (MUNIT/UNIT ``MsImageDis``), LSGAN losses."""

    def __init__(self, input_dim: int = 3, dim: int = 64, n_layer: int = 4, norm: str = "none", activ: str = "lrelu", num_scales: int = 3, pad_type: str = "reflect", gan_type: str = "lsgan"):
        super().__init__()
        if gan_type not in ("lsgan", "nsgan"):
            raise ValueError(f"gan_type: expected lsgan or nsgan; got {gan_type!r}")
        self.gan_type = gan_type
        self.downsample = nn.AvgPool2d(3, stride=2, padding=[1, 1], count_include_pad=False)
        self.cnns = nn.ModuleList()
        for _ in range(num_scales):
            layers: list[nn.Module] = [Conv2dBlock(input_dim, dim, 4, 2, 1, norm="none", activation=activ, pad_type=pad_type)]
            d = dim
            for _ in range(n_layer - 1):
                layers.append(Conv2dBlock(d, d * 2, 4, 2, 1, norm=norm, activation=activ, pad_type=pad_type))
                d *= 2
            layers.append(nn.Conv2d(d, 1, 1, 1, 0))
            self.cnns.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for model in self.cnns:
            outputs.append(model(x))
            x = self.downsample(x)
        return outputs

    def dis_loss(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """Discriminator loss on a batch of fakes (detached by the caller) and reals."""
        loss = fake.new_zeros(())
        for out0, out1 in zip(self(fake), self(real)):
            if self.gan_type == "lsgan":
                loss = loss + torch.mean(out0**2) + torch.mean((out1 - 1) ** 2)
            else:
                loss = loss + F.binary_cross_entropy_with_logits(out0, torch.zeros_like(out0)) + F.binary_cross_entropy_with_logits(out1, torch.ones_like(out1))
        return loss

    def gen_loss(self, fake: torch.Tensor) -> torch.Tensor:
        """Generator loss: make the discriminator call ``fake`` real."""
        loss = fake.new_zeros(())
        for out0 in self(fake):
            if self.gan_type == "lsgan":
                loss = loss + torch.mean((out0 - 1) ** 2)
            else:
                loss = loss + F.binary_cross_entropy_with_logits(out0, torch.ones_like(out0))
        return loss


def init_weights(init_type: str = "kaiming"):
    """Return a function for ``module.apply`` that initialises conv and linear weights as the authors do."""

    def fn(m: nn.Module) -> None:
        name = m.__class__.__name__
        if (name.startswith("Conv") or name.startswith("Linear")) and hasattr(m, "weight") and isinstance(m.weight, torch.Tensor):
            if init_type == "gaussian":
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif init_type == "xavier":
                nn.init.xavier_normal_(m.weight, gain=math.sqrt(2))
            elif init_type == "kaiming":
                nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            elif init_type == "orthogonal":
                nn.init.orthogonal_(m.weight, gain=math.sqrt(2))
            elif init_type == "default":
                pass
            else:
                raise ValueError(f"init: expected gaussian, xavier, kaiming, orthogonal or default; got {init_type!r}")
            if getattr(m, "bias", None) is not None:
                nn.init.constant_(m.bias, 0.0)

    return fn
