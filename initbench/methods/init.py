"""INIT: instance-aware image-to-image translation (Shen et al., CVPR 2019, Sec. 3), the first public implementation.

The authors never released code; this module follows Sec. 3 and Figs. 3-5 and documents every
choice the paper leaves open (marked OPEN below).

Networks (per domain X, Y = ``a``, ``b``; :class:`~initbench.methods.init_nets.DomainGenerator`)
    One encoder per domain splits an input into a content map and a style code; it is used for the
    whole image (``E_g``) and for object crops (``E_o``) alike, as the paper shares them. The
    decoder is MUNIT's AdaIN decoder (residual blocks with AdaIN from an MLP on the style code,
    nearest upsampling, 7x7 conv, tanh).
    OPEN: whether ``G_g`` and ``G_o`` share weights. Default shared (``share_decoder=True``):
    inference uses the global branch only, so object-level learning only pays off at test time
    when it trains the weights the global branch uses; ``share_decoder=False`` gives ``G_o`` its own.

Style code bank (per image)
    global style ``s_g = E^s(I)``; one style per object ``s_o = E^s(crop)``; background style
    ``s_b = E^s(I * M)`` where ``M`` is 1 outside the boxes and the boxes are filled with 0 (mid-grey
    in [-1, 1]). OPEN (the paper does not define ``s_b``): masking the image keeps ``s_b`` in the
    same code space and at the same scale as ``s_g`` with no new parameters, and removes the object
    pixels whose appearance is what distinguishes ``s_b`` from ``s_g``; pooling features outside the
    boxes would need a masked pool inside the style encoder, whose receptive fields still see the objects.

Content-style association (Fig. 3), enforced by :func:`~initbench.methods.init_bank.check_association`
    on every decode: global style -> global, background and object content; background style ->
    background and object content; object style -> object content; never the reverse.

Losses of the generator phase (summed over both directions X->Y and Y->X, as Eq. 4), all L1
except the GAN terms (LSGAN, MUNIT's default; OPEN):
    ``x_g``, ``x_o``   self-reconstruction of images and objects (Eq. 1).
    ``c_g``, ``s_g``   image translated with a style from N(0, I) (MUNIT's prior, the inference
                       path), re-encoded: content and style reconstruction (Eqs. 2-3).
    ``c_o``, ``s_o``   each object translated with a style swapped in from the *target image's* bank
                       (its global, background or one of its object styles, drawn uniformly; all are
                       allowed on object content), re-encoded (Eq. 2-3, cross-domain swap as DRIT).
    ``c_assoc``, ``s_assoc``  within-domain association, Eq. 2 literally: ``c_o`` decoded with a coarse
                       style of its own image (global or background, drawn uniformly), re-encoded.
    ``cyc_g``, ``cyc_o``  cross-domain cross-cycle: the re-encoded content decoded back with the
                       source's own style must give the input (X -> Y -> X) for images and objects.
    ``cyc_gran``       cross-granularity cycle (Fig. 5): the object re-encoded after association
                       decoded back with its own object style must give the object. OPEN: Fig. 5 also
                       swaps styles into the image; with crops that would put an object style on image
                       content, which Fig. 3 forbids, so only the object half is used. In the
                       multi-scale variant the style recovered from the half-scale rendering is a
                       global-level estimate and is decoded back onto the full image as well.
    ``gan_g``, ``gan_o``  adversarial terms on translated images and objects.
    Weights: every term has a ``lambda_*`` field; defaults are MUNIT's (image recon 10, latent 1,
    GAN 1) with objects weighted as images; the paper folds the cycles into ``L_g``/``L_o``, so the
    cycle weights default to the image weight (10). OPEN: the paper gives no values.

Discriminators: MUNIT's multi-scale LSGAN PatchGAN per domain; ``ds`` (default, the paper's better
variant) scores images and objects with the same one, ``no-ds`` adds a separate object discriminator.
Training order (OPEN): each step runs the generator phase, then the discriminator phase on the
same (detached) fakes, as CycleGAN does; MUNIT re-generates fakes for its discriminator step.

Multi-scale variant (``multiscale``): the object branch is fed the half-scale image (one per image,
no boxes, no background style); the bank is {global, half}; full and half styles are applied to each other.

Objects (OPEN: counts and pairing): the loader's instance crops (largest boxes first, resized to
S x S, the paper's 120), at most ``max_objects`` per image; an object's swapped-in style comes from
the bank of the target image in the same batch row (pairs are unaligned). Fig. 3 also draws a
background *content*; there is no separate background content branch here (the background is part
of the global content), so the background style drives object content only (OPEN).
Random choices (prior styles, which bank entry) use torch's global RNG, which the trainer seeds and
stores in checkpoints. Decodes that share a decoder run as one call (the decoder works per
sample, so the result is the same; it saves calls on small tensors).

Inference: global branch only, no boxes: ``translate(x)`` = target decoder(content of x, style).

Optimiser (OPEN, MUNIT's): Adam lr 1e-4, betas (0.5, 0.999), weight decay 1e-4, x0.5 every 100k
steps, Kaiming init (Gaussian for discriminators). Object crops used per image: at most ``max_objects``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from initbench.errors import UsageError
from initbench.methods.base import MethodEntry, OptimizerSpec, TrainableTranslator, check_direction, register
from initbench.methods.blocks import init_weights
from initbench.methods.init_bank import StyleBank, background_mask, check_association, gather_crops, half_scale
from initbench.methods.init_nets import DomainGenerator, make_discriminator
from initbench.methods.official import check_image_size

VARIANTS = ("ds", "no-ds", "multiscale")


@dataclass
class InitConfig:
    variant: str = "ds"
    # generator (MUNIT's AdaINGen sizes)
    dim: int = 64
    style_dim: int = 8
    n_downsample: int = 2
    n_res: int = 4
    mlp_dim: int = 256
    activ: str = "relu"
    pad_type: str = "reflect"
    share_decoder: bool = True
    # discriminator (MUNIT's MsImageDis)
    dis_dim: int = 64
    dis_n_layer: int = 4
    dis_num_scales: int = 3
    gan_type: str = "lsgan"
    # object branch
    max_objects: int = 4
    # loss weights (Eq. 4)
    lambda_x_g: float = 10.0
    lambda_x_o: float = 10.0
    lambda_c_g: float = 1.0
    lambda_s_g: float = 1.0
    lambda_c_o: float = 1.0
    lambda_s_o: float = 1.0
    lambda_cyc_g: float = 10.0
    lambda_cyc_o: float = 10.0
    lambda_cyc_gran: float = 10.0
    lambda_gan_g: float = 1.0
    lambda_gan_o: float = 1.0
    # optimiser and schedule
    lr: float = 1e-4
    betas: tuple = (0.5, 0.999)
    weight_decay: float = 1e-4
    step_size: int = 100_000
    gamma: float = 0.5
    init: str = "kaiming"

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise UsageError(f"--variant: expected one of {', '.join(VARIANTS)}; got {self.variant!r}")
        self.betas = tuple(self.betas)

    @property
    def shared_dis(self) -> bool:
        return self.variant != "no-ds"

    @property
    def object_branch(self) -> str:
        return "half" if self.variant == "multiscale" else "crops"


def tiny_config() -> InitConfig:
    """A few channels (64 px images and 24 px crops in the trainer's tiny preset): seconds per step on a CPU."""
    return InitConfig(dim=8, n_res=2, mlp_dim=32, dis_dim=8, dis_n_layer=3, dis_num_scales=2, max_objects=3)


def paper_config() -> InitConfig:
    """MUNIT's sizes (the paper builds on them): 360 px images, 120 px objects; a GPU."""
    return InitConfig()


def _l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.mean(torch.abs(x - y))


class InitModel(TrainableTranslator):
    """INIT. Images ``B x 3 x H x W`` in [-1, 1], H and W multiples of 4 (``size_multiple``); styles ``B x style_dim``."""

    name = "init"

    def __init__(self, config: InitConfig | None = None):
        super().__init__()
        cfg = config if config is not None else InitConfig()
        self.config = cfg
        self.style_dim = cfg.style_dim
        kw = dict(dim=cfg.dim, style_dim=cfg.style_dim, n_downsample=cfg.n_downsample, n_res=cfg.n_res,
                  mlp_dim=cfg.mlp_dim, activ=cfg.activ, pad_type=cfg.pad_type, share_decoder=cfg.share_decoder)
        self.gen_a = DomainGenerator(**kw)
        self.gen_b = DomainGenerator(**kw)
        self.dis_a = make_discriminator(cfg)
        self.dis_b = make_discriminator(cfg)
        if not cfg.shared_dis:
            self.dis_a_obj = make_discriminator(cfg)
            self.dis_b_obj = make_discriminator(cfg)
        self.apply(init_weights(cfg.init))
        for d in self._discriminators():
            d.apply(init_weights("gaussian"))
        self._fakes: dict | None = None
        #: When a list, every decode appends ``(style_level, content_level)`` (tests, audits).
        self.association_trace: list | None = None

    # -- what the trainer's loader must provide -----------------------------------------------
    @property
    def needs_crops(self) -> bool:
        return self.config.object_branch == "crops"

    @property
    def needs_half_scale(self) -> bool:
        return self.config.object_branch == "half"

    # -- inference (global branch only) -------------------------------------------------------
    @property
    def size_multiple(self) -> int:
        return self.gen_a.size_multiple

    def _gen(self, side: str) -> DomainGenerator:
        return self.gen_a if side == "a" else self.gen_b

    def _dis_obj(self, side: str):
        if self.config.shared_dis:
            return self.dis_a if side == "a" else self.dis_b
        return self.dis_a_obj if side == "a" else self.dis_b_obj

    def _discriminators(self) -> list:
        return [self.dis_a, self.dis_b] + ([] if self.config.shared_dis else [self.dis_a_obj, self.dis_b_obj])

    def encode(self, images: torch.Tensor, *, direction: str = "a2b") -> torch.Tensor:
        check_direction(direction)
        check_image_size(images, self.size_multiple, "init")
        return self._gen(direction[0]).enc_content(images)

    def decode(self, content: torch.Tensor, *, direction: str = "a2b", style: torch.Tensor | None = None) -> torch.Tensor:
        check_direction(direction)
        if style is None:
            style = self.sample_style(content.shape[0], device=content.device)
        style = style.reshape(content.shape[0], self.style_dim, 1, 1).to(content.dtype)
        return self._decode(self._gen(direction[2]), content, "global", style, "global", "global")

    def _decode(self, gen, content, content_level, style, style_levels, branch):
        levels = [style_levels] if isinstance(style_levels, str) else style_levels
        for lv in set(levels):
            check_association(lv, content_level)
            if self.association_trace is not None:
                self.association_trace.append((lv, content_level))
        return gen.decode(content, style, branch=branch)

    def _decode_many(self, gen, jobs, branch):
        """Several ``(content, content_level, style, style_levels)`` decodes by one decoder in one call (the
        decoder works per sample, so this only saves calls); returns the outputs in order."""
        if len(jobs) == 1:
            return [self._decode(gen, *jobs[0], branch)]
        for content, c_level, style, s_levels in jobs:
            for lv in {s_levels} if isinstance(s_levels, str) else set(s_levels):
                check_association(lv, c_level)
                if self.association_trace is not None:
                    self.association_trace.append((lv, c_level))
        out = gen.decode(torch.cat([j[0] for j in jobs]), torch.cat([j[2] for j in jobs]), branch=branch)
        return list(out.split([j[0].shape[0] for j in jobs]))

    # -- training interface -------------------------------------------------------------------
    def optimizer_specs(self) -> dict[str, OptimizerSpec]:
        cfg = self.config
        common = dict(lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay, schedule="step", step_size=cfg.step_size, gamma=cfg.gamma)
        gen = [p for g in (self.gen_a, self.gen_b) for p in g.parameters()]
        dis = [p for d in self._discriminators() for p in d.parameters()]
        return {"gen": OptimizerSpec(params=gen, **common), "dis": OptimizerSpec(params=dis, **common)}

    def phases(self, step: int) -> list[str]:
        return ["gen", "dis"]

    def generator_modules(self) -> list:
        return [self.gen_a, self.gen_b]

    def phase_losses(self, phase: str, batch: dict[str, Any], step: int) -> dict[str, torch.Tensor]:
        if phase == "gen":
            return self.gen_losses(batch)
        if phase == "dis":
            return self.dis_losses(batch)
        raise ValueError(f"phase: expected 'gen' or 'dis'; got {phase!r}")

    def _encode_domain(self, batch: dict, side: str) -> dict:
        gen, x = self._gen(side), batch[side]
        half = self.config.object_branch == "half"
        objs = half_scale(batch, side) if half else gather_crops(batch, side, self.config.max_objects)
        c_g, s_g = gen.encode(x)
        out = {"x": x, "objs": objs, "c_g": c_g, "s_g": s_g, "c_o": None, "s_o": None}
        if objs.count:
            out["c_o"], out["s_o"] = gen.encode(objs.images)
        s_b = None if half else gen.encode_style(x * background_mask(batch, side))
        s_obj = out["s_o"] if objs.count else s_g[:0]
        out["bank"] = StyleBank(global_=s_g, background=s_b, objects=s_obj, image_index=objs.image_index)
        return out

    def gen_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Generator-phase losses (see the module docstring); caches detached fakes for :meth:`dis_losses`."""
        cfg = self.config
        enc = {s: self._encode_domain(batch, s) for s in ("a", "b")}
        zero = batch["a"].new_zeros(())
        L = {k: zero for k in ("x_g", "x_o", "c_g", "s_g", "c_o", "s_o", "c_assoc", "s_assoc", "cyc_g", "cyc_o", "cyc_gran", "gan_g", "gan_o")}
        fakes: dict = {"img": {}, "obj": {}, "real_obj": {s: enc[s]["objs"].images.detach() for s in ("a", "b")}}
        for src, tgt in (("a", "b"), ("b", "a")):
            e, gs, gt = enc[src], self._gen(src), self._gen(tgt)
            x, c_g, s_g = e["x"], e["c_g"], e["s_g"]
            # image translation with a prior style (the inference path) and its latent reconstruction
            s_rand = torch.randn_like(s_g)
            x_t = self._decode(gt, c_g, "global", s_rand, "global", "global")
            c_g_rec, s_g_rec = gt.encode(x_t)
            L["c_g"] = L["c_g"] + _l1(c_g_rec, c_g)
            L["s_g"] = L["s_g"] + _l1(s_g_rec, s_rand)
            L["gan_g"] = L["gan_g"] + self._dis_img(tgt).gen_loss(x_t)
            fakes["img"][tgt] = x_t.detach()
            # Eq. 1 (image) and the cross-domain cycle X -> Y -> X: one decoder call
            jobs = [(c_g, "global", s_g, "global")] + ([(c_g_rec, "global", s_g, "global")] if cfg.lambda_cyc_g > 0 else [])
            outs = self._decode_many(gs, jobs, "global")
            L["x_g"] = L["x_g"] + _l1(outs[0], x)
            if cfg.lambda_cyc_g > 0:
                L["cyc_g"] = L["cyc_g"] + _l1(outs[1], x)
            objs = e["objs"]
            if not objs.count:
                continue
            o, idx, c_o, s_o = objs.images, objs.image_index, e["c_o"], e["s_o"]
            # Eq. 1 (objects) and Eq. 2: the object content with a coarse style of its own image, re-encoded
            s_as, lv_as = self._coarse_styles(e["bank"], idx)
            o_rec, u = self._decode_many(gs, [(c_o, "object", s_o, "object"), (c_o, "object", s_as, lv_as)], "object")
            L["x_o"] = L["x_o"] + _l1(o_rec, o)
            c_u, s_u = gs.encode(u)
            L["c_assoc"] = L["c_assoc"] + _l1(c_u, c_o)
            L["s_assoc"] = L["s_assoc"] + _l1(s_u, s_as)
            # cross-domain object translation with a style swapped in from the target image's bank
            s_t, lv_t = enc[tgt]["bank"].pick_for_objects(idx)
            o_t = self._decode(gt, c_o, "object", s_t, lv_t, "object")
            c_o_rec, s_o_rec = gt.encode(o_t)
            L["c_o"] = L["c_o"] + _l1(c_o_rec, c_o)
            L["s_o"] = L["s_o"] + _l1(s_o_rec, s_t)
            L["gan_o"] = L["gan_o"] + self._dis_obj(tgt).gen_loss(o_t)
            fakes["obj"][tgt] = o_t.detach()
            # granularity cycle (Fig. 5) and cross-domain cycle of objects: back with the object's own style
            jobs = ([(c_u, "object", s_o, "object")] if cfg.lambda_cyc_gran > 0 else []) + ([(c_o_rec, "object", s_o, "object")] if cfg.lambda_cyc_o > 0 else [])
            outs = self._decode_many(gs, jobs, "object") if jobs else []
            if cfg.lambda_cyc_gran > 0:
                L["cyc_gran"] = L["cyc_gran"] + _l1(outs[0], o)
                if cfg.object_branch == "half":
                    # s_u estimates the global style it was rendered with: a global-level code
                    L["cyc_gran"] = L["cyc_gran"] + _l1(self._decode(gs, c_g, "global", s_u, "global", "global"), x)
            if cfg.lambda_cyc_o > 0:
                L["cyc_o"] = L["cyc_o"] + _l1(outs[-1], o)
        w = {"x_g": cfg.lambda_x_g, "x_o": cfg.lambda_x_o, "c_g": cfg.lambda_c_g, "s_g": cfg.lambda_s_g,
             "c_o": cfg.lambda_c_o, "s_o": cfg.lambda_s_o, "c_assoc": cfg.lambda_c_o, "s_assoc": cfg.lambda_s_o,
             "cyc_g": cfg.lambda_cyc_g, "cyc_o": cfg.lambda_cyc_o, "cyc_gran": cfg.lambda_cyc_gran,
             "gan_g": cfg.lambda_gan_g, "gan_o": cfg.lambda_gan_o}
        total = sum(w[k] * v for k, v in L.items())
        self._fakes = fakes
        return {"total": total, **L}

    def _dis_img(self, side: str):
        return self.dis_a if side == "a" else self.dis_b

    def _coarse_styles(self, bank: StyleBank, idx: torch.Tensor) -> tuple[torch.Tensor, list[str]]:
        """Per object, a style of its own image coarser than the object: global or background (uniform)."""
        if bank.background is None:
            return bank.global_[idx], ["global"] * idx.numel()
        use_bg = torch.randint(2, (idx.numel(),), device=idx.device).bool()
        styles = torch.where(use_bg.view(-1, 1, 1, 1), bank.background[idx], bank.global_[idx])
        return styles, ["background" if b else "global" for b in use_bg.tolist()]

    def dis_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Discriminator-phase losses on the fakes of the preceding generator phase."""
        if self._fakes is None:
            raise RuntimeError("INIT's discriminator phase needs the fakes of a generator phase in the same step (phases: gen, dis)")
        f, self._fakes = self._fakes, None
        cfg = self.config
        d_g = batch["a"].new_zeros(())
        d_o = batch["a"].new_zeros(())
        for side in ("a", "b"):
            d_g = d_g + self._dis_img(side).dis_loss(f["img"][side], batch[side])
            fake_o, real_o = f["obj"].get(side), f["real_obj"][side]
            if fake_o is not None and fake_o.shape[0] and real_o.shape[0]:
                d_o = d_o + self._dis_obj(side).dis_loss(fake_o, real_o)
        return {"total": cfg.lambda_gan_g * d_g + cfg.lambda_gan_o * d_o, "d_g": d_g, "d_o": d_o}

    def sample_grid(self, batch: dict[str, Any], generator: torch.Generator, num_styles: int = 3) -> list[torch.Tensor]:
        """Rows: inputs A, their reconstructions, ``num_styles`` translations a2b (global branch), inputs B, translations b2a."""
        rows = []
        with torch.no_grad():
            for src, direction in (("a", "a2b"), ("b", "b2a")):
                x = batch[src]
                c, s = self._gen(src).encode(x)
                rows += [x, self._gen(src).decode(c, s)]
                for _ in range(num_styles):
                    rows.append(self.decode(c, direction=direction, style=self.sample_style(x.shape[0], generator=generator, device=x.device)))
        return rows


register(
    MethodEntry(
        name="init",
        cls=InitModel,
        config_cls=InitConfig,
        presets={"tiny": tiny_config, "paper": paper_config},
        variants=VARIANTS,
    )
)
