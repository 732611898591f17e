"""INIT's per-domain networks, built from the MUNIT block vocabulary in :mod:`initbench.methods.blocks`.

:class:`DomainGenerator` is one domain's encoder-decoder pair. Its global part has exactly the
attribute names of MUNIT's ``AdaINGen`` (``enc_style``, ``enc_content``, ``dec``, ``mlp``), so a
MUNIT generator's state_dict loads into it (a warm start); the encoder is shared by images and
objects, as the paper does ("share the parameters for the two encoders"). With
``share_decoder=False`` an object decoder ``dec_obj``/``mlp_obj`` is added (the paper draws
``G_g`` and ``G_o`` but does not say whether they share weights).
"""

from __future__ import annotations

import torch
from torch import nn

from initbench.methods.blocks import MLP, ContentEncoder, Decoder, MsImageDis, StyleEncoder, assign_adain_params, num_adain_params


class DomainGenerator(nn.Module):
    """Encoder ``E = (E^c, E^s)`` and decoder ``G`` of one domain.

    ``encode``: images ``B x 3 x H x W`` in [-1, 1] (H, W multiples of ``2**n_downsample``) ->
    content ``B x dim*2**n x H/2**n x W/2**n`` and style ``B x style_dim x 1 x 1``.
    ``decode``: content and style -> images in [-1, 1].
    """

    def __init__(
        self,
        input_dim: int = 3,
        dim: int = 64,
        style_dim: int = 8,
        n_downsample: int = 2,
        n_res: int = 4,
        mlp_dim: int = 256,
        activ: str = "relu",
        pad_type: str = "reflect",
        share_decoder: bool = True,
    ):
        super().__init__()
        self.enc_style = StyleEncoder(4, input_dim, dim, style_dim, norm="none", activ=activ, pad_type=pad_type)
        self.enc_content = ContentEncoder(n_downsample, n_res, input_dim, dim, "in", activ, pad_type=pad_type)
        self.dec = Decoder(n_downsample, n_res, self.enc_content.output_dim, input_dim, res_norm="adain", activ=activ, pad_type=pad_type)
        self.mlp = MLP(style_dim, num_adain_params(self.dec), mlp_dim, 3, norm="none", activ=activ)
        self.share_decoder = share_decoder
        if not share_decoder:
            self.dec_obj = Decoder(n_downsample, n_res, self.enc_content.output_dim, input_dim, res_norm="adain", activ=activ, pad_type=pad_type)
            self.mlp_obj = MLP(style_dim, num_adain_params(self.dec_obj), mlp_dim, 3, norm="none", activ=activ)
        self.style_dim = style_dim
        self.size_multiple = 2**n_downsample

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.enc_content(images), self.enc_style(images)

    def encode_style(self, images: torch.Tensor) -> torch.Tensor:
        return self.enc_style(images)

    def decode(self, content: torch.Tensor, style: torch.Tensor, *, branch: str = "global") -> torch.Tensor:
        """``branch`` ``"global"`` uses ``G_g``; ``"object"`` uses ``G_o`` (the same network when decoders are shared)."""
        if branch == "object" and not self.share_decoder:
            dec, mlp = self.dec_obj, self.mlp_obj
        else:
            dec, mlp = self.dec, self.mlp
        assign_adain_params(mlp(style), dec)
        return dec(content)


def make_discriminator(cfg) -> MsImageDis:
    """A multi-scale LSGAN PatchGAN discriminator as MUNIT's, sized by an ``InitConfig``."""
    return MsImageDis(
        input_dim=3,
        dim=cfg.dis_dim,
        n_layer=cfg.dis_n_layer,
        norm="none",
        activ="lrelu",
        num_scales=cfg.dis_num_scales,
        pad_type="reflect",
        gan_type=cfg.gan_type,
    )
