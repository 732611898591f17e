"""INIT's per-domain networks: MUNIT's generator and discriminator, sized by an ``InitConfig``.

:class:`DomainGenerator` is one domain's encoder-decoder pair: MUNIT's ``AdaINGen`` itself (``enc_style``,
``enc_content``, ``dec``, ``mlp``; the same state_dict keys, so a MUNIT generator's state_dict loads into it
as a warm start). The encoder is shared by images and objects, as the paper does ("share the parameters for
the two encoders"). With ``share_decoder=False`` an object decoder ``dec_obj``/``mlp_obj`` is added (the
paper draws ``G_g`` and ``G_o`` but does not say whether they share weights).
"""

from __future__ import annotations

import torch

from initbench.methods.blocks import MsImageDis
from initbench.methods.munit import AdaINGen, MUNITGenOptions, adain_decode, adain_decoder
from initbench.methods.nvlabs import DisOptions, build_discriminator


class DomainGenerator(AdaINGen):
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
        g = MUNITGenOptions(
            dim=dim, mlp_dim=mlp_dim, style_dim=style_dim, activ=activ, n_downsample=n_downsample, n_res=n_res, pad_type=pad_type
        )
        super().__init__(input_dim, g)
        self.share_decoder = share_decoder
        if not share_decoder:
            self.dec_obj, self.mlp_obj = adain_decoder(self.enc_content.output_dim, input_dim, g)
        self.style_dim = style_dim
        self.size_multiple = 2**n_downsample

    def encode_style(self, images: torch.Tensor) -> torch.Tensor:
        return self.enc_style(images)

    def decode(self, content: torch.Tensor, style: torch.Tensor, *, branch: str = "global") -> torch.Tensor:
        """``branch`` ``"global"`` uses ``G_g``; ``"object"`` uses ``G_o`` (the same network when decoders are shared)."""
        if branch == "object" and not self.share_decoder:
            return adain_decode(self.dec_obj, self.mlp_obj, content, style)
        return super().decode(content, style)


def make_discriminator(cfg) -> MsImageDis:
    """A multi-scale PatchGAN discriminator as MUNIT's (its ``dis:`` defaults), sized by an ``InitConfig``."""
    options = DisOptions(dim=cfg.dis_dim, n_layer=cfg.dis_n_layer, num_scales=cfg.dis_num_scales, gan_type=cfg.gan_type)
    return build_discriminator(3, options)
