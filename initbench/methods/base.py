"""The one interface every method implements, and the registry that finds methods by name.

Two contracts live here:

* :class:`Translator`: what the evaluator, ``translate`` and the quickstart see. Images are
  float tensors ``B x 3 x H x W`` in [-1, 1]; ``direction`` is ``"a2b"`` or ``"b2a"``
  (domain A is the task's source, B its target); ``style`` is an explicit style/attribute
  code or None to draw one from N(0, I) with the caller's ``torch.Generator``.
  Inference is split into :meth:`Translator.encode` (once per input) and
  :meth:`Translator.decode` (once per style) so an evaluator that draws many styles per
  input encodes the content once.

* :class:`TrainableTranslator`: what the one trainer (``initbench.training``) needs to train
  a method without knowing it: named optimiser groups, the phases of one step, and a loss
  per phase. The trainer owns optimisers, AMP, EMA, DDP, checkpoints and logging.

Batches handed to :meth:`TrainableTranslator.phase_losses` are dicts built by
``initbench.dataset.loaders`` (see its module docstring); every method reads at least
``batch["a"]`` and ``batch["b"]`` (``B x 3 x H x W`` in [-1, 1]).

A new method is one file in ``initbench/methods/`` that subclasses these and calls
:func:`register`, plus an import line in :mod:`initbench.methods`. Everything the evaluator, the
trainer, ``translate`` and the CLI ask of a method is declared here with its default, so a method
overrides only what differs (the CLI's method, preset and variant choices come from the registry).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterable

import torch
from torch import nn

from initbench.errors import UsageError

DIRECTIONS = ("a2b", "b2a")


def check_direction(direction: str) -> str:
    if direction not in DIRECTIONS:
        raise UsageError(f"direction: expected 'a2b' or 'b2a'; got {direction!r}")
    return direction


class Translator(nn.Module, ABC):
    """A two-domain image translator (A <-> B).

    Subclasses set :attr:`name`, :attr:`style_dim` (0 for deterministic methods) and
    implement :meth:`encode` and :meth:`decode`.
    """

    #: Registry name (``init``, ``munit``, ...).
    name: ClassVar[str] = ""
    #: Length of a style code; 0 for deterministic methods (CycleGAN, UNIT).
    style_dim: int = 0
    #: The task the weights were trained for (``sunny2night``: A = sunny, B = night), set by the loaders
    #: from a native checkpoint or ``--ckpt-task``; None when unknown. See ``initbench.training.direction``.
    task: str | None = None
    #: How a native checkpoint's weights were trained, beyond the method config (preset, variant, seed, steps,
    #: ``--set`` overrides, split rule, shuffled boxes), set by the loader; None for other weights. The
    #: evaluator records it in results (``method_settings.trained_with``), so a control run says what it is.
    trained_with: dict | None = None

    #: Input height and width must be multiples of this (``translate`` crops inputs down to it); 4 suits
    #: the usual two stride-2 downsamplings, 1 a method that accepts any size.
    size_multiple: int = 4
    #: The directions this translator holds weights for (a single authors' CycleGAN file holds one);
    #: asking for another one is refused before any work (``initbench.training.direction``).
    loaded_directions: frozenset[str] | set[str] = frozenset(DIRECTIONS)

    @property
    def is_multimodal(self) -> bool:
        return self.style_dim > 0

    @abstractmethod
    def encode(self, images: torch.Tensor, *, direction: str = "a2b") -> Any:
        """Encode source images (``B x 3 x H x W`` in [-1, 1]) to whatever :meth:`decode` takes."""

    @abstractmethod
    def decode(
        self,
        content: Any,
        *,
        direction: str = "a2b",
        style: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Decode a content from :meth:`encode` with ``style`` (``B x style_dim``); returns images in [-1, 1].

        ``style`` None means the same for every method: a multimodal method draws one style per content row
        from N(0, I) with ``generator`` (exactly :meth:`sample_style`; call :meth:`style_or_sample`), a
        deterministic one ignores ``style`` and ``generator``.
        """

    def style_or_sample(self, style: torch.Tensor | None, batch: int, generator: torch.Generator | None,
                        device: torch.device | str) -> torch.Tensor | None:
        """``style`` as given, or (``None``, multimodal) ``batch`` styles drawn by :meth:`sample_style` with
        ``generator``: the one meaning of ``decode(style=None)``. Deterministic methods get ``style`` back."""
        if style is None and self.is_multimodal:
            return self.sample_style(batch, generator=generator, device=device)
        return style

    #: Side S of the square object crops the weights were trained on (the trainer's ``crop_size``): the size
    #: :mod:`initbench.guided` cuts objects to for :meth:`translate_objects`. Set from a native checkpoint by
    #: ``initbench.training.checkpoints.load_translator``; None when unknown.
    object_size: int | None = None

    @property
    def takes_style_from_images(self) -> bool:
        """True when :meth:`style_from_images` is implemented (example-guided translation: MUNIT, DRIT, INIT)."""
        return type(self).style_from_images is not Translator.style_from_images

    @property
    def takes_object_styles(self) -> bool:
        """True when :meth:`object_styles_from_crops` and :meth:`translate_objects` are implemented (an object
        branch that can restyle each object with a style of its own: INIT on crops). See :mod:`initbench.guided`."""
        return type(self).translate_objects is not Translator.translate_objects

    def style_from_images(self, reference: torch.Tensor, *, direction: str = "a2b",
                          generator: torch.Generator | None = None) -> torch.Tensor:
        """The style of target-domain ``reference`` images (``B x 3 x H x W`` in [-1, 1]) as ``decode`` takes it
        (``B x style_dim``), for example-guided translation. ``generator`` serves methods whose encoder samples
        (DRIT's concat attribute). Not every method can: see :attr:`takes_style_from_images`."""
        raise UsageError(f"{self.name or type(self).__name__}: cannot take its style from an image "
                         "(no style encoder for the target domain)")

    def object_styles_from_crops(self, crops: torch.Tensor, *, direction: str = "a2b") -> torch.Tensor:
        """Object-level styles of target-domain object crops (``N x 3 x S x S`` in [-1, 1]): ``N x style_dim``, as
        :meth:`translate_objects` takes them. Not every method can: see :attr:`takes_object_styles`."""
        raise UsageError(f"{self.name or type(self).__name__}: has no object branch (no per-object styles)")

    def translate_objects(self, crops: torch.Tensor, styles: torch.Tensor, *, direction: str = "a2b") -> torch.Tensor:
        """Source-domain object crops (``N x 3 x S x S`` in [-1, 1]) translated by the object branch, crop ``i`` with
        ``styles[i]`` (``N x style_dim``); returns ``N x 3 x S x S`` in [-1, 1]. See :attr:`takes_object_styles`."""
        raise UsageError(f"{self.name or type(self).__name__}: has no object branch (no per-object styles)")

    def repeat_content(self, content: Any, k: int) -> Any:
        """An encoded content of one image repeated ``k`` times along the batch dimension (the evaluator decodes
        many styles per input from one encoding). Tensors whose first dimension is 1 are expanded; tuples
        (named ones too), lists and dicts are walked; anything else is passed through. Override for a content
        this cannot walk."""
        return repeat_content(content, k)

    def sample_style(
        self, n: int, generator: torch.Generator | None = None, device: torch.device | str | None = None
    ) -> torch.Tensor:
        """``n`` style codes drawn from N(0, I): ``n x style_dim`` (``n x 0`` for deterministic methods)."""
        dev = device if device is not None else self.device
        if generator is not None and generator.device.type != torch.device(dev).type:
            # Draw on the generator's device, then move: results do not depend on the model's device.
            return torch.randn(n, self.style_dim, generator=generator, device=generator.device).to(dev)
        return torch.randn(n, self.style_dim, generator=generator, device=dev)

    def translate(
        self,
        images: torch.Tensor,
        *,
        direction: str = "a2b",
        style: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Translate ``images`` (``B x 3 x H x W``, [-1, 1]) to the other domain; returns the same shape range.

        ``style`` None draws ``B`` styles from N(0, I) with ``generator``.
        """
        check_direction(direction)
        style = self.style_or_sample(style, images.shape[0], generator, images.device)
        return self.decode(self.encode(images, direction=direction), direction=direction, style=style)

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")

    def config_dict(self) -> dict:
        """The method's configuration as plain data (stored in checkpoints and results)."""
        cfg = getattr(self, "config", None)
        if cfg is None:
            return {}
        from dataclasses import asdict, is_dataclass

        return asdict(cfg) if is_dataclass(cfg) else dict(cfg)


@dataclass
class OptimizerSpec:
    """One optimiser group of a method: Adam over ``params`` with these settings."""

    params: list[nn.Parameter]
    lr: float
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    #: ``"step"`` (multiply by ``gamma`` every ``step_size`` steps), ``"linear"`` (constant for
    #: ``constant_steps`` then linear to 0 at ``total_steps``) or ``"constant"``.
    schedule: str = "constant"
    step_size: int = 100_000
    gamma: float = 0.5
    constant_steps: int = 0
    total_steps: int = 0
    #: Gradient-norm clipping (None: off).
    clip_grad_norm: float | None = None


def repeat_content(content: Any, k: int) -> Any:
    """See :meth:`Translator.repeat_content`."""
    if torch.is_tensor(content):
        return content.expand(k, *content.shape[1:]) if content.dim() >= 1 and content.shape[0] == 1 else content
    if isinstance(content, tuple):
        items = [repeat_content(c, k) for c in content]
        return type(content)(*items) if hasattr(content, "_fields") else tuple(items)
    if isinstance(content, list):
        return [repeat_content(c, k) for c in content]
    if isinstance(content, dict):
        return {key: repeat_content(v, k) for key, v in content.items()}
    return content


class TrainableTranslator(Translator):
    """A translator the shared trainer can train.

    One training step is a list of phases (for GANs usually ``["dis", "gen"]``). For each phase
    the trainer zeroes the gradients of that phase's optimiser group, calls
    :meth:`phase_losses`, back-propagates ``losses["total"]`` and steps the group's optimiser.

    State shared by the phases of one step (the generator phase's fakes for the discriminator
    phase, one forward pass for several phases) lives in the ``shared`` dict the trainer hands to
    every phase of the step, fresh for each step; never on the model.
    """

    #: The loader must provide instance crops (``a_crops``, ``a_ncrops``...; see ``initbench.dataset.loaders``).
    needs_crops: bool = False
    #: The loader must provide half-scale views (``a_half``, ``b_half``).
    needs_half_scale: bool = False

    @abstractmethod
    def optimizer_specs(self) -> dict[str, OptimizerSpec]:
        """Named optimiser groups, one per phase name used by :meth:`phases`."""

    def phases(self, step: int) -> list[str]:
        """Phases of training step ``step`` (0-based), in order."""
        return ["dis", "gen"]

    @abstractmethod
    def phase_losses(self, phase: str, batch: dict[str, Any], step: int, shared: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Losses of one phase. Must hold ``"total"``; every other entry is logged as a scalar.

        ``shared``: one dict for all phases of this step, empty at the step's first phase; a phase may leave
        tensors there for a later phase of the same step (a phase called alone gets an empty one).
        """

    def phase_grad_groups(self, phase: str) -> set[str]:
        """The optimiser groups whose weights need gradients while ``phase`` runs (default: the phase's own).

        The trainer freezes the parameters of every other group for the phase (no weight gradients for
        the discriminators during the generator phase; gradients still flow *through* them). A method whose
        phase builds a graph a later phase back-propagates (DRIT's ``dis`` runs the forward its ``gen``
        reuses) names those groups too.
        """
        return {phase}

    def generator_modules(self) -> list[nn.Module]:
        """Modules whose weights an EMA tracks and that inference uses (default: all)."""
        return [self]

    def sample_grid(self, batch: dict[str, Any], generator: torch.Generator, num_styles: int = 3) -> list[torch.Tensor]:
        """Rows for a periodic PNG grid: inputs, reconstructions, translations with several styles.

        Default: inputs of A, then ``num_styles`` translations a2b (one for deterministic methods).
        Each row is ``B x 3 x H x W`` in [-1, 1].
        """
        x = batch["a"]
        rows = [x]
        k = num_styles if self.is_multimodal else 1
        with torch.no_grad():
            content = self.encode(x, direction="a2b")
            for _ in range(k):
                style = self.sample_style(x.shape[0], generator=generator, device=x.device) if self.is_multimodal else None
                rows.append(self.decode(content, direction="a2b", style=style))
        return rows


# ---------------------------------------------------------------------------------------------
# Registry

@dataclass
class MethodEntry:
    name: str
    #: The Translator subclass; ``cls(config)`` builds the model.
    cls: type
    #: The config dataclass; ``config_cls(**dataclasses.asdict(config))`` rebuilds a stored config.
    config_cls: type | None = None
    #: ``preset name -> () -> config`` for the trainer's presets (``tiny``, ``paper``).
    presets: dict[str, Callable[[], Any]] = field(default_factory=dict)
    #: ``(checkpoint_path, config) -> Translator`` for the authors' released files, or None.
    load_official: Callable[..., Translator] | None = None
    #: ``(translator, out_path) -> None``: write a model in the authors' format, or None.
    export_official: Callable[..., None] | None = None
    #: Variants accepted by ``initbench train --variant``.
    variants: tuple[str, ...] = ()


_REGISTRY: dict[str, MethodEntry] = {}


def register(entry: MethodEntry) -> MethodEntry:
    if entry.name in _REGISTRY:
        raise ValueError(f"method {entry.name!r} is already registered")
    _REGISTRY[entry.name] = entry
    return entry


def get_method(name: str) -> MethodEntry:
    import initbench.methods  # noqa: F401  (imports every method module, which registers it)

    if name not in _REGISTRY:
        raise UsageError(f"--method: unknown method {name!r}; available are: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def method_names() -> list[str]:
    import initbench.methods  # noqa: F401

    return sorted(_REGISTRY)


def trainable_method_names() -> list[str]:
    """Registered methods ``initbench train`` can train: a :class:`TrainableTranslator` with at least one preset."""
    return [n for n in method_names() if issubclass(_REGISTRY[n].cls, TrainableTranslator) and _REGISTRY[n].presets]


def preset_names() -> list[str]:
    """Every preset some trainable method registers (which method has which: :func:`get_method`)."""
    return sorted({p for n in trainable_method_names() for p in _REGISTRY[n].presets})


def variant_names() -> list[str]:
    """Every variant some method registers."""
    return sorted({v for n in method_names() for v in _REGISTRY[n].variants})


def style_guided_method_names() -> list[str]:
    """Registered methods that can take their style from an image (:attr:`Translator.takes_style_from_images`)."""
    return [n for n in method_names() if _REGISTRY[n].cls.style_from_images is not Translator.style_from_images]


def count_parameters(modules: Iterable[nn.Module]) -> int:
    seen: set[int] = set()
    total = 0
    for m in modules:
        for p in m.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                total += p.numel()
    return total
