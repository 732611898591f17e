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
                       style of its own image (global or background, drawn uniformly), re-encoded
                       (weights default to the object latent ones, 1).
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

Example-guided inference (:mod:`initbench.guided` composes these; ``initbench translate --style-from``):
    ``style_from_images(guide)`` is the guide's global style ``E_g^s(guide)`` from the target domain's encoder
    (the paper's "style encoded from a reference image"); it drives the whole frame, the background included.
    ``object_styles_from_crops(guide crops)`` gives each guide object its own style ``E_o^s(crop)`` (the
    encoder is shared), and ``translate_objects(source crops, styles)`` renders source objects with them
    through the object branch ``G_o(E_o^c(crop), s_o)`` (object style -> object content, allowed by Fig. 3).
    OPEN (the paper infers with the global branch only): where boxes are known, the guided module pastes
    those object renderings over the global output; the multi-scale variant has no crop branch
    (``takes_object_styles`` False) and stays global.

Optimiser (OPEN, MUNIT's): Adam lr 1e-4, betas (0.5, 0.999), weight decay 1e-4, x0.5 every 100k
steps, Kaiming init (Gaussian for discriminators). Object crops used per image: at most ``max_objects``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from initbench.errors import UsageError
from initbench.methods.base import MethodEntry, OptimizerSpec, TrainableTranslator, check_direction, register
from initbench.methods.blocks import init_weights
from initbench.methods.init_bank import Objects, StyleBank, background_mask, check_association, gather_crops, half_scale
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
    lambda_c_assoc: float = 1.0
    lambda_s_assoc: float = 1.0
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


def small_config() -> InitConfig:
    """The CPU recipe's INIT (trainer preset ``small``; why each value: ``initbench.training.config``)."""
    return InitConfig(dim=16, n_res=2, mlp_dim=64, dis_dim=16, dis_n_layer=3, dis_num_scales=2, max_objects=3, lr=2e-4)


def paper_config() -> InitConfig:
    """MUNIT's sizes (the paper builds on them): 360 px images, 120 px objects; a GPU."""
    return InitConfig()


#: The generator phase's terms (module docstring), in the order they are logged and summed.
LOSS_TERMS = ("x_g", "x_o", "c_g", "s_g", "c_o", "s_o", "c_assoc", "s_assoc", "cyc_g", "cyc_o", "cyc_gran", "gan_g", "gan_o")
#: The terms of the object branch (crops, or the half-scale view): every way objects reach the gradients,
#: the discriminators' object term included (``lambda_gan_o`` also weights ``d_o``).
OBJECT_TERMS = ("x_o", "c_o", "s_o", "c_assoc", "s_assoc", "cyc_o", "cyc_gran", "gan_o")


def object_loss_overrides(weight: float = 0.0) -> dict[str, float]:
    """Config overrides (``--set lambda_<term>=weight`` for every :data:`OBJECT_TERMS` term) that weight the object
    branch by ``weight``. With 0, INIT trains on its image-level terms alone, MUNIT's objective plus the image
    cycle: the control that isolates what the instance branch adds (its forward passes still run)."""
    return {f"lambda_{t}": float(weight) for t in OBJECT_TERMS}


def _l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.mean(torch.abs(x - y))


def _add(terms: dict[str, torch.Tensor], name: str, value: torch.Tensor) -> None:
    # not +=: the terms start as one shared zero tensor, which an in-place add would change for all
    terms[name] = terms[name] + value


class DecodeJob(NamedTuple):
    """One decode: ``content`` at ``content_level`` with ``style`` at ``style_levels`` (one level, or one per row)."""

    content: torch.Tensor
    content_level: str
    style: torch.Tensor
    style_levels: str | list[str]


@dataclass
class DomainCodes:
    """One domain's batch encoded: images ``x``, their objects, content and style of both, and the style bank."""

    x: torch.Tensor
    objs: Objects
    c_g: torch.Tensor
    s_g: torch.Tensor
    c_o: torch.Tensor | None
    s_o: torch.Tensor | None
    bank: StyleBank


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

    def decode(self, content: torch.Tensor, *, direction: str = "a2b", style: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        check_direction(direction)
        style = self.style_or_sample(style, content.shape[0], generator, content.device)
        style = style.reshape(content.shape[0], self.style_dim, 1, 1).to(content.dtype)
        return self._decode(self._gen(direction[2]), content, "global", style, "global", "global")

    # -- example-guided inference (initbench.guided) --------------------------------------------
    @property
    def takes_object_styles(self) -> bool:
        return self.config.object_branch == "crops"

    def style_from_images(self, reference: torch.Tensor, *, direction: str = "a2b",
                          generator: torch.Generator | None = None) -> torch.Tensor:
        """The guide's global style ``E_g^s(reference)`` by the target domain's encoder: ``B x style_dim``
        (deterministic: ``generator`` is not used)."""
        check_direction(direction)
        return self._gen(direction[2]).encode_style(reference).flatten(1)

    def object_styles_from_crops(self, crops: torch.Tensor, *, direction: str = "a2b") -> torch.Tensor:
        """Object styles ``E_o^s(crop)`` of target-domain crops ``N x 3 x S x S`` by the target encoder: ``N x style_dim``."""
        check_direction(direction)
        return self._gen(direction[2]).encode_style(crops).flatten(1)

    def translate_objects(self, crops: torch.Tensor, styles: torch.Tensor, *, direction: str = "a2b") -> torch.Tensor:
        """Source crops ``N x 3 x S x S`` (S a multiple of ``size_multiple``) through the object branch with object
        styles ``N x style_dim``: ``G_o(E_o^c(crop), style)`` of the target domain, ``N x 3 x S x S`` in [-1, 1]."""
        check_direction(direction)
        if not self.takes_object_styles:
            raise UsageError(f"init: variant {self.config.variant!r} has no object branch on crops (no per-object styles)")
        check_image_size(crops, self.size_multiple, "init")
        n = crops.shape[0]
        if styles.shape[0] != n or styles.numel() != n * self.style_dim:
            raise UsageError(f"init: expected {n} object styles of {self.style_dim} values; got shape {tuple(styles.shape)}")
        content = self._gen(direction[0]).enc_content(crops)
        style = styles.reshape(n, self.style_dim, 1, 1).to(content.dtype)
        return self._decode(self._gen(direction[2]), content, "object", style, "object", "object")

    def _decode(self, gen, content, content_level, style, style_levels, branch):
        self._check_association(style_levels, content_level)
        return gen.decode(content, style, branch=branch)

    def _check_association(self, style_levels: str | list[str], content_level: str) -> None:
        """Raise unless every style level may drive ``content_level`` (Fig. 3); record the pairs when tracing."""
        for lv in {style_levels} if isinstance(style_levels, str) else set(style_levels):
            check_association(lv, content_level)
            if self.association_trace is not None:
                self.association_trace.append((lv, content_level))

    def _decode_together(self, gen: DomainGenerator, branch: str, jobs: dict[str, DecodeJob]) -> dict[str, torch.Tensor]:
        """The named decodes by one decoder in one call (the decoder works per sample, so this only saves
        calls on small tensors); returns the outputs by the same names."""
        if len(jobs) == 1:
            [(name, job)] = jobs.items()
            return {name: self._decode(gen, *job, branch)}
        for job in jobs.values():
            self._check_association(job.style_levels, job.content_level)
        contents, styles = (torch.cat([getattr(j, f) for j in jobs.values()]) for f in ("content", "style"))
        out = gen.decode(contents, styles, branch=branch)
        return dict(zip(jobs, out.split([j.content.shape[0] for j in jobs.values()])))

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

    def phase_losses(self, phase: str, batch: dict[str, Any], step: int, shared: dict[str, Any]) -> dict[str, torch.Tensor]:
        if phase == "gen":
            return self.gen_losses(batch, shared)
        if phase == "dis":
            return self.dis_losses(batch, shared)
        raise ValueError(f"phase: expected 'gen' or 'dis'; got {phase!r}")

    def _encode_domain(self, batch: dict, side: str) -> DomainCodes:
        gen, x = self._gen(side), batch[side]
        half = self.config.object_branch == "half"
        objs = half_scale(batch, side) if half else gather_crops(batch, side, self.config.max_objects)
        c_g, s_g = gen.encode(x)
        c_o, s_o = gen.encode(objs.images) if objs.count else (None, None)
        s_b = None if half else gen.encode_style(x * background_mask(batch, side))
        bank = StyleBank(global_=s_g, background=s_b, objects=s_o if objs.count else s_g[:0], image_index=objs.image_index)
        return DomainCodes(x=x, objs=objs, c_g=c_g, s_g=s_g, c_o=c_o, s_o=s_o, bank=bank)

    def gen_losses(self, batch: dict[str, Any], shared: dict[str, Any] | None = None) -> dict[str, torch.Tensor]:
        """Generator-phase losses (see the module docstring): each term unweighted, and ``total``, the sum of
        each term times its ``lambda_<term>``. Leaves the detached fakes in ``shared["fakes"]`` for
        :meth:`dis_losses` (the step's shared dict; None: nobody reads them)."""
        enc = {s: self._encode_domain(batch, s) for s in ("a", "b")}
        terms = dict.fromkeys(LOSS_TERMS, batch["a"].new_zeros(()))
        fakes: dict = {"img": {}, "obj": {}, "real_obj": {s: enc[s].objs.images.detach() for s in ("a", "b")}}
        for src, tgt in (("a", "b"), ("b", "a")):
            e = enc[src]
            c_g_rec, fakes["img"][tgt] = self._translate_image(terms, e, tgt)
            self._image_cycles(terms, e, src, c_g_rec)
            if not e.objs.count:
                continue
            c_u, s_u = self._associate_objects(terms, e, src)
            c_o_rec, fakes["obj"][tgt] = self._translate_objects(terms, e, enc[tgt].bank, tgt)
            self._object_cycles(terms, e, src, c_u, s_u, c_o_rec)
        if shared is not None:
            shared["fakes"] = fakes
        total = sum(getattr(self.config, f"lambda_{k}") * v for k, v in terms.items())
        return {"total": total, **terms}

    def _translate_image(self, terms: dict, e: DomainCodes, tgt: str) -> tuple[torch.Tensor, torch.Tensor]:
        """X -> Y with a style from the prior (the inference path), re-encoded: ``c_g``, ``s_g`` (Eqs. 2-3), and
        ``gan_g``. Returns the re-encoded content and the detached fake."""
        gt = self._gen(tgt)
        s_rand = torch.randn_like(e.s_g)
        x_t = self._decode(gt, e.c_g, "global", s_rand, "global", "global")
        c_g_rec, s_g_rec = gt.encode(x_t)
        _add(terms, "c_g", _l1(c_g_rec, e.c_g))
        _add(terms, "s_g", _l1(s_g_rec, s_rand))
        _add(terms, "gan_g", self._dis_img(tgt).gen_loss(x_t))
        return c_g_rec, x_t.detach()

    def _image_cycles(self, terms: dict, e: DomainCodes, src: str, c_g_rec: torch.Tensor) -> None:
        """With the image's own style: its content gives the image back (``x_g``, Eq. 1) and so does the content
        re-encoded after translation (``cyc_g``, X -> Y -> X)."""
        jobs = {"x_g": DecodeJob(e.c_g, "global", e.s_g, "global")}
        if self.config.lambda_cyc_g > 0:
            jobs["cyc_g"] = DecodeJob(c_g_rec, "global", e.s_g, "global")
        for name, out in self._decode_together(self._gen(src), "global", jobs).items():
            _add(terms, name, _l1(out, e.x))

    def _associate_objects(self, terms: dict, e: DomainCodes, src: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Objects rebuilt with their own style (``x_o``, Eq. 1), and decoded with a coarse style of their own
        image, re-encoded (``c_assoc``, ``s_assoc``: Eq. 2 within the domain). Returns that re-encoding (content,
        style) for the granularity cycle."""
        gs, objs = self._gen(src), e.objs
        s_as, lv_as = self._coarse_styles(e.bank, objs.image_index)
        jobs = {"x_o": DecodeJob(e.c_o, "object", e.s_o, "object"), "assoc": DecodeJob(e.c_o, "object", s_as, lv_as)}
        out = self._decode_together(gs, "object", jobs)
        _add(terms, "x_o", _l1(out["x_o"], objs.images))
        c_u, s_u = gs.encode(out["assoc"])
        _add(terms, "c_assoc", _l1(c_u, e.c_o))
        _add(terms, "s_assoc", _l1(s_u, s_as))
        return c_u, s_u

    def _translate_objects(self, terms: dict, e: DomainCodes, target_bank: StyleBank, tgt: str) -> tuple[torch.Tensor, ...]:
        """Each object X -> Y with a style swapped in from the *target* image's bank (same batch row), re-encoded
        (``c_o``, ``s_o``), and ``gan_o``. Returns the re-encoded content and the detached fakes."""
        gt = self._gen(tgt)
        s_t, lv_t = target_bank.pick_for_objects(e.objs.image_index)
        o_t = self._decode(gt, e.c_o, "object", s_t, lv_t, "object")
        c_o_rec, s_o_rec = gt.encode(o_t)
        _add(terms, "c_o", _l1(c_o_rec, e.c_o))
        _add(terms, "s_o", _l1(s_o_rec, s_t))
        _add(terms, "gan_o", self._dis_obj(tgt).gen_loss(o_t))
        return c_o_rec, o_t.detach()

    def _object_cycles(
        self, terms: dict, e: DomainCodes, src: str, c_u: torch.Tensor, s_u: torch.Tensor, c_o_rec: torch.Tensor
    ) -> None:
        """Back to the objects with their own object style: from the association (``cyc_gran``, Fig. 5) and from
        the cross-domain translation (``cyc_o``, X -> Y -> X)."""
        cfg, gs = self.config, self._gen(src)
        jobs = {}
        if cfg.lambda_cyc_gran > 0:
            jobs["cyc_gran"] = DecodeJob(c_u, "object", e.s_o, "object")
        if cfg.lambda_cyc_o > 0:
            jobs["cyc_o"] = DecodeJob(c_o_rec, "object", e.s_o, "object")
        out = self._decode_together(gs, "object", jobs) if jobs else {}
        if "cyc_gran" in out:
            _add(terms, "cyc_gran", _l1(out["cyc_gran"], e.objs.images))
            if cfg.object_branch == "half":
                # s_u estimates the global style it was rendered with: a global-level code
                _add(terms, "cyc_gran", _l1(self._decode(gs, e.c_g, "global", s_u, "global", "global"), e.x))
        if "cyc_o" in out:
            _add(terms, "cyc_o", _l1(out["cyc_o"], e.objs.images))

    def _dis_img(self, side: str):
        return self.dis_a if side == "a" else self.dis_b

    def _coarse_styles(self, bank: StyleBank, idx: torch.Tensor) -> tuple[torch.Tensor, list[str]]:
        """Per object, a style of its own image coarser than the object: global or background (uniform)."""
        if bank.background is None:
            return bank.global_[idx], ["global"] * idx.numel()
        use_bg = torch.randint(2, (idx.numel(),), device=idx.device).bool()
        styles = torch.where(use_bg.view(-1, 1, 1, 1), bank.background[idx], bank.global_[idx])
        return styles, ["background" if b else "global" for b in use_bg.tolist()]

    def dis_losses(self, batch: dict[str, Any], shared: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Discriminator-phase losses on the fakes the step's generator phase left in ``shared`` (taken out)."""
        f = shared.pop("fakes", None)
        if f is None:
            raise RuntimeError(
                "INIT's discriminator phase needs the fakes of a generator phase in the same step (phases: gen, dis)"
            )
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
        presets={"tiny": tiny_config, "small": small_config, "paper": paper_config},
        variants=VARIANTS,
    )
)
