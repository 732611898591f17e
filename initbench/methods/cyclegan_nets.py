"""CycleGAN's networks with the authors' module layout (junyanz/pytorch-CycleGAN-and-pix2pix).

Index positions inside each ``nn.Sequential`` are part of the state-dict keys
(``model.10.conv_block.5.weight``), so padding, norm, activation and dropout modules sit where
the authors put them even when they hold no weights.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from initbench.errors import UsageError

NORMS = ("instance", "batch", "none")
NET_G = {"resnet_9blocks": 9, "resnet_6blocks": 6}


def norm_layer(norm: str):
    """The authors' ``get_norm_layer``: IN without affine or running stats, BN with both, or none."""
    if norm == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if norm == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if norm == "none":
        return lambda _c: nn.Identity()
    raise UsageError(f"option 'norm': expected one of {', '.join(NORMS)}; found {norm!r}")


def uses_bias(norm: str) -> bool:
    """Convs carry a bias only with instance norm (BN has its own shift; 'none' follows the authors)."""
    return norm == "instance"


class ResnetBlock(nn.Module):
    """``x + conv_block(x)``; ``conv_block`` = pad, conv, norm, ReLU, [Dropout(0.5)], pad, conv, norm."""

    def __init__(self, dim: int, norm: str, use_dropout: bool):
        super().__init__()
        nl, bias = norm_layer(norm), uses_bias(norm)
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=bias), nl(dim), nn.ReLU(True)]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=bias), nl(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """``B x input_nc x H x W`` in [-1, 1] -> ``B x output_nc x H x W`` in [-1, 1] (H, W multiples of 4)."""

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, norm: str = "instance", use_dropout: bool = False, n_blocks: int = 9):
        super().__init__()
        nl, bias = norm_layer(norm), uses_bias(norm)
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, padding=0, bias=bias), nl(ngf), nn.ReLU(True)]
        for i in range(2):
            mult = 2**i
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=bias), nl(ngf * mult * 2), nn.ReLU(True)]
        for _ in range(n_blocks):
            layers.append(ResnetBlock(ngf * 4, norm, use_dropout))
        for i in range(2):
            mult = 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                nl(ngf * mult // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """The 70x70 PatchGAN (``netD basic`` with ``n_layers_D`` 3): logits ``B x 1 x h x w``."""

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "instance"):
        super().__init__()
        nl, bias = norm_layer(norm), uses_bias(norm)
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=bias), nl(ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2**n_layers, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=bias), nl(ndf * mult), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def init_normal(gain: float = 0.02):
    """The authors' ``init_weights(init_type='normal')``: conv/linear N(0, gain), BN weight N(1, gain), biases 0."""

    def fn(m: nn.Module) -> None:
        name = m.__class__.__name__
        if hasattr(m, "weight") and (name.find("Conv") != -1 or name.find("Linear") != -1):
            nn.init.normal_(m.weight, 0.0, gain)
            if getattr(m, "bias", None) is not None:
                nn.init.constant_(m.bias, 0.0)
        elif name.find("BatchNorm2d") != -1:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.constant_(m.bias, 0.0)

    return fn


class ImagePool:
    """The authors' history buffer of generated images (``pool_size`` 50; 0 disables it).

    Each image of a batch is stored while the pool fills; afterwards, with probability 1/2 the
    image is swapped with a random stored one and the stored one is returned. Draws use
    ``generator`` so runs are reproducible.
    """

    def __init__(self, pool_size: int, generator: torch.Generator):
        self.pool_size = pool_size
        self.images: list[torch.Tensor] = []
        self.generator = generator

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.pool_size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(image)
                out.append(image)
            elif torch.rand((), generator=self.generator).item() > 0.5:
                idx = int(torch.randint(0, self.pool_size, (), generator=self.generator))
                old = self.images[idx].clone()
                self.images[idx] = image
                out.append(old)
            else:
                out.append(image)
        return torch.cat(out, 0)
