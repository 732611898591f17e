"""DRIT's networks with the authors' module layout (HsinYingLee/DRIT, the DRIT++ master).

Numerics kept from their code: ``LeakyReLUConv2d`` uses LeakyReLU's default slope 0.01 and never
an instance norm (their ``if 'norm' == 'Instance'`` is always false); the attribute encoder uses
slope 0.2; instance norms are ``affine=False``; the decoder's "ReLUINSConvTranspose2d" normalises
with a LayerNorm. Two LayerNorm flavours exist in their history: HEAD's ``F.layer_norm`` over
(C, H, W) with ``weight``/``bias`` of shape ``C x 1 x 1`` (``layer_norm="head"``), and mid-2018's
MUNIT-style unbiased-std norm with ``gamma``/``beta`` of shape ``C`` (``layer_norm="munit"``).

``dim`` (64 in their code, not an option there) scales every width so tests and tiny presets stay small.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from initbench.methods.blocks import LayerNorm as MunitLayerNorm


class HeadLayerNorm(nn.Module):
    """DRIT HEAD's LayerNorm: ``F.layer_norm`` over ``(C, H, W)`` (biased variance, eps 1e-5), params ``C x 1 x 1``."""

    def __init__(self, n_out: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n_out, 1, 1))
        self.bias = nn.Parameter(torch.zeros(n_out, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape[1:]
        return F.layer_norm(x, shape, self.weight.expand(shape), self.bias.expand(shape), self.eps)


def make_layer_norm(kind: str, n_out: int) -> nn.Module:
    return HeadLayerNorm(n_out) if kind == "head" else MunitLayerNorm(n_out)


class LeakyReLUConv2d(nn.Module):
    """[ReflectionPad, Conv2d, LeakyReLU(0.01)]: keys ``model.1.*``."""

    def __init__(self, n_in: int, n_out: int, kernel_size: int, stride: int, padding: int = 0):
        super().__init__()
        self.model = nn.Sequential(
            nn.ReflectionPad2d(padding), nn.Conv2d(n_in, n_out, kernel_size, stride, 0, bias=True), nn.LeakyReLU(inplace=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class ReLUINSConv2d(nn.Module):
    """[ReflectionPad, Conv2d, InstanceNorm (no affine), ReLU]."""

    def __init__(self, n_in: int, n_out: int, kernel_size: int, stride: int, padding: int = 0):
        super().__init__()
        self.model = nn.Sequential(
            nn.ReflectionPad2d(padding),
            nn.Conv2d(n_in, n_out, kernel_size, stride, 0, bias=True),
            nn.InstanceNorm2d(n_out, affine=False),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class INSResBlock(nn.Module):
    """``x + [pad, conv3x3, IN, ReLU, pad, conv3x3, IN](x)``: keys ``model.1.*``, ``model.5.*``."""

    def __init__(self, dim: int):
        super().__init__()
        self.model = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, 1), nn.InstanceNorm2d(dim), nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, 1), nn.InstanceNorm2d(dim),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) + x


class ReLUINSConvTranspose2d(nn.Module):
    """[ConvTranspose2d (x2), LayerNorm, ReLU] (named INS by the authors; the norm is a LayerNorm)."""

    def __init__(self, n_in: int, n_out: int, layer_norm: str):
        super().__init__()
        self.model = nn.Sequential(
            nn.ConvTranspose2d(n_in, n_out, 3, 2, 1, output_padding=1, bias=True),
            make_layer_norm(layer_norm, n_out),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class GaussianNoiseLayer(nn.Module):
    """Adds N(0, 1) noise in training mode only (the content encoder's last layer)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.randn_like(x) if self.training else x


class E_content(nn.Module):  # noqa: N801 (the authors' class names)
    """Image -> content ``B x 4dim x H/4 x W/4``; ``convA``/``convB`` per domain, ``conv_share`` shared."""

    def __init__(self, input_dim_a: int = 3, input_dim_b: int = 3, dim: int = 64):
        super().__init__()
        t = 4 * dim
        self.conv_share = nn.Sequential(INSResBlock(t), GaussianNoiseLayer())
        self.convA = self._branch(input_dim_a, dim)
        self.convB = self._branch(input_dim_b, dim)

    @staticmethod
    def _branch(input_dim: int, dim: int) -> nn.Sequential:
        layers: list[nn.Module] = [LeakyReLUConv2d(input_dim, dim, 7, 1, 3)]
        layers += [ReLUINSConv2d(dim, 2 * dim, 3, 2, 1), ReLUINSConv2d(2 * dim, 4 * dim, 3, 2, 1)]
        layers += [INSResBlock(4 * dim) for _ in range(3)]
        return nn.Sequential(*layers)

    def forward_a(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_share(self.convA(x))

    def forward_b(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_share(self.convB(x))


class BasicBlock(nn.Module):
    """The attribute encoder's residual block (no norm): ``conv(x) + shortcut(x)``, halving H and W."""

    def __init__(self, inplanes: int, outplanes: int):
        super().__init__()
        self.conv = nn.Sequential(
            nn.LeakyReLU(0.2), nn.ReflectionPad2d(1), nn.Conv2d(inplanes, inplanes, 3, 1, 0, bias=True), nn.LeakyReLU(0.2),
            nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(inplanes, outplanes, 3, 1, 0, bias=True), nn.AvgPool2d(2, 2)),
        )  # fmt: skip
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(inplanes, outplanes, 1, 1, 0, bias=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + self.shortcut(x)


class E_attr_concat(nn.Module):  # noqa: N801
    """``concat=1`` attribute encoder: image -> ``(mu, logvar)``, each ``B x nz``."""

    def __init__(self, input_dim_a: int = 3, input_dim_b: int = 3, nz: int = 8, dim: int = 64):
        super().__init__()
        out = 4 * dim
        self.fc_A, self.fcVar_A = nn.Sequential(nn.Linear(out, nz)), nn.Sequential(nn.Linear(out, nz))
        self.conv_A = self._branch(input_dim_a, dim)
        self.fc_B, self.fcVar_B = nn.Sequential(nn.Linear(out, nz)), nn.Sequential(nn.Linear(out, nz))
        self.conv_B = self._branch(input_dim_b, dim)

    @staticmethod
    def _branch(input_dim: int, dim: int) -> nn.Sequential:
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(input_dim, dim, 4, 2, 0, bias=True)]
        for n in range(1, 4):
            layers.append(BasicBlock(dim * min(4, n), dim * min(4, n + 1)))
        layers += [nn.LeakyReLU(0.2), nn.AdaptiveAvgPool2d(1)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, domain: str = "a") -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_a(x) if domain == "a" else self.forward_b(x)

    def forward_a(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.conv_A(x).flatten(1)
        return self.fc_A(h), self.fcVar_A(h)

    def forward_b(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.conv_B(x).flatten(1)
        return self.fc_B(h), self.fcVar_B(h)


class E_attr(nn.Module):  # noqa: N801
    """``concat=0`` attribute encoder: image -> ``z`` ``B x nz`` (deterministic)."""

    def __init__(self, input_dim_a: int = 3, input_dim_b: int = 3, nz: int = 8, dim: int = 64):
        super().__init__()
        self.model_a = self._branch(input_dim_a, nz, dim)
        self.model_b = self._branch(input_dim_b, nz, dim)

    @staticmethod
    def _branch(input_dim: int, nz: int, dim: int) -> nn.Sequential:
        return nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(input_dim, dim, 7, 1), nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim * 2, 4, 2), nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim * 2, dim * 4, 4, 2), nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim * 4, dim * 4, 4, 2), nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim * 4, dim * 4, 4, 2), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(dim * 4, nz, 1, 1, 0),
        )  # fmt: skip

    def forward(self, x: torch.Tensor, domain: str = "a") -> torch.Tensor:
        return self.forward_a(x) if domain == "a" else self.forward_b(x)

    def forward_a(self, x: torch.Tensor) -> torch.Tensor:
        return self.model_a(x).flatten(1)

    def forward_b(self, x: torch.Tensor) -> torch.Tensor:
        return self.model_b(x).flatten(1)


def _tile(z: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return z.view(z.size(0), z.size(1), 1, 1).expand(z.size(0), z.size(1), like.size(2), like.size(3))


class G_concat(nn.Module):  # noqa: N801
    """``concat=1`` generator: ``z`` tiled and concatenated before every decoder stage."""

    def __init__(self, output_dim_a: int = 3, output_dim_b: int = 3, nz: int = 8, dim: int = 64, layer_norm: str = "head"):
        super().__init__()
        self.nz = nz
        self.dec_share = nn.Sequential(INSResBlock(4 * dim))
        self.decA1, self.decA2, self.decA3, self.decA4 = self._branch(output_dim_a, nz, dim, layer_norm)
        self.decB1, self.decB2, self.decB3, self.decB4 = self._branch(output_dim_b, nz, dim, layer_norm)

    @staticmethod
    def _branch(output_dim: int, nz: int, dim: int, layer_norm: str) -> list[nn.Sequential]:
        t = 4 * dim + nz
        d1 = nn.Sequential(*[INSResBlock(t) for _ in range(3)])
        t += nz
        d2 = nn.Sequential(ReLUINSConvTranspose2d(t, t // 2, layer_norm))
        t = t // 2 + nz
        d3 = nn.Sequential(ReLUINSConvTranspose2d(t, t // 2, layer_norm))
        t = t // 2 + nz
        d4 = nn.Sequential(nn.ConvTranspose2d(t, output_dim, 1, 1, 0), nn.Tanh())
        return [d1, d2, d3, d4]

    def _forward(self, stages: list[nn.Module], x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        out = self.dec_share(x)
        for stage in stages:
            out = stage(torch.cat([out, _tile(z, out)], 1))
        return out

    def forward_a(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self._forward([self.decA1, self.decA2, self.decA3, self.decA4], x, z)

    def forward_b(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self._forward([self.decB1, self.decB2, self.decB3, self.decB4], x, z)


class MisINSResBlock(nn.Module):
    """Residual block whose two convs are each followed by a 1x1 MLP on ``cat(features, tiled z)``."""

    def __init__(self, dim: int, dim_extra: int):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, 1)), nn.InstanceNorm2d(dim))
        self.conv2 = nn.Sequential(nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, 1)), nn.InstanceNorm2d(dim))
        t = dim + dim_extra
        self.blk1 = self._mix(t, dim)
        self.blk2 = self._mix(t, dim)

    @staticmethod
    def _mix(t: int, dim: int) -> nn.Sequential:
        """1x1 conv, ReLU, 1x1 conv to ``dim``, ReLU: mixes the features with the tiled code."""
        return nn.Sequential(nn.Conv2d(t, t, 1, 1, 0), nn.ReLU(inplace=False), nn.Conv2d(t, dim, 1, 1, 0), nn.ReLU(inplace=False))

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        z_img = _tile(z, x)
        o2 = self.blk1(torch.cat([self.conv1(x), z_img], 1))
        return self.blk2(torch.cat([self.conv2(o2), z_img], 1)) + x


class G(nn.Module):
    """``concat=0`` generator: an MLP maps ``z`` to four codes that modulate four ``MisINSResBlock`` s."""

    def __init__(self, output_dim_a: int = 3, output_dim_b: int = 3, nz: int = 8, dim: int = 64, layer_norm: str = "head"):
        super().__init__()
        t = 4 * dim
        self.tch_add = t
        self.decA1, self.decA2, self.decA3, self.decA4 = (MisINSResBlock(t, t) for _ in range(4))
        self.decA5 = self._up(output_dim_a, t, layer_norm)
        self.decB1, self.decB2, self.decB3, self.decB4 = (MisINSResBlock(t, t) for _ in range(4))
        self.decB5 = self._up(output_dim_b, t, layer_norm)
        self.mlpA = self._mlp(nz, t)
        self.mlpB = self._mlp(nz, t)

    @staticmethod
    def _up(output_dim: int, t: int, layer_norm: str) -> nn.Sequential:
        return nn.Sequential(
            ReLUINSConvTranspose2d(t, t // 2, layer_norm),
            ReLUINSConvTranspose2d(t // 2, t // 4, layer_norm),
            nn.ConvTranspose2d(t // 4, output_dim, 1, 1, 0),
            nn.Tanh(),
        )

    @staticmethod
    def _mlp(nz: int, t: int) -> nn.Sequential:
        return nn.Sequential(nn.Linear(nz, t), nn.ReLU(inplace=True), nn.Linear(t, t), nn.ReLU(inplace=True), nn.Linear(t, 4 * t))

    def _forward(self, mlp: nn.Module, blocks: list[nn.Module], up: nn.Module, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        codes = torch.split(mlp(z), self.tch_add, dim=1)
        out = x
        for block, code in zip(blocks, codes):
            out = block(out, code.contiguous())
        return up(out)

    def forward_a(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self._forward(self.mlpA, [self.decA1, self.decA2, self.decA3, self.decA4], self.decA5, x, z)

    def forward_b(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self._forward(self.mlpB, [self.decB1, self.decB2, self.decB3, self.decB4], self.decB5, x, z)


class MultiScaleDis(nn.Module):
    """Image discriminator at ``n_scale`` scales: logits per scale (LeakyReLU 0.01, no norm)."""

    def __init__(self, input_dim: int = 3, n_scale: int = 3, n_layer: int = 4, ch: int = 64):
        super().__init__()
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.Diss = nn.ModuleList()
        for _ in range(n_scale):
            layers: list[nn.Module] = [LeakyReLUConv2d(input_dim, ch, 4, 2, 1)]
            t = ch
            for _ in range(1, n_layer):
                layers.append(LeakyReLUConv2d(t, t * 2, 4, 2, 1))
                t *= 2
            layers.append(nn.Conv2d(t, 1, 1, 1, 0))
            self.Diss.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for dis in self.Diss:
            outs.append(dis(x))
            x = self.downsample(x)
        return outs


class Dis_content(nn.Module):  # noqa: N801
    """Content discriminator (which domain a content code came from): ``layers`` 7x7 stride-2 convs,
    one 4x4, then 1x1 -> logits flattened to ``[B*h*w]``. The authors use 3 layers (216 px crops)."""

    def __init__(self, dim: int = 64, layers: int = 3):
        super().__init__()
        t = 4 * dim
        mods: list[nn.Module] = [LeakyReLUConv2d(t, t, 7, 2, 1) for _ in range(layers)]
        mods += [LeakyReLUConv2d(t, t, 4, 1, 0), nn.Conv2d(t, 1, 1, 1, 0)]
        self.model = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.model(x).view(-1)]


def gaussian_weights_init(m: nn.Module) -> None:
    """The authors' init: weights of every ``Conv*`` module ~ N(0, 0.02); biases keep PyTorch's default."""
    if m.__class__.__name__.startswith("Conv"):
        m.weight.data.normal_(0.0, 0.02)
