"""The trainer's configuration: one dataclass, presets per size, and how a method's config is built.

Two configs meet in a run: the *method* config (a dataclass of the method module, from its
registered presets, with ``--variant`` applied) and the *training* config here (data sizes,
batch, steps, logging, precision). Both are stored in ``RUN/config.json`` and in every checkpoint.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from initbench.errors import UsageError


#: Split rules a run can train on (``initbench.dataset.split``).
SPLIT_RULES = ("v1", "drives")


@dataclass
class TrainConfig:
    method: str = "init"
    data: str = ""
    task: str = "sunny2night"
    out: str = "runs/run"
    preset: str = "tiny"
    variant: str | None = None
    seed: int = 0
    max_steps: int = 2000
    batch_size: int = 1
    #: Loader: short side after resizing, then the crop (int, [h, w] or None), instance crops.
    image_size: int | None = 64
    crop: Any = 64
    crop_size: int = 32
    max_crops: int = 8
    split: str = "train"
    #: The split rule that decides which frames are ``train``: ``v1`` (the release's temporal blocks) or ``drives``
    #: (mini-INIT v2's whole held-out drives, the test frames of protocol paired-v1: train on v2 with this one).
    split_rule: str = "v1"
    #: A control: each training image gets the boxes of another image of its domain
    #: (:mod:`initbench.dataset.shuffled_boxes`; a new permutation each epoch, drawn from the seed).
    shuffle_boxes: bool = False
    #: Leave out images with annotation errors (listed in config.json "data") instead of refusing the copy.
    skip_invalid: bool = False
    num_workers: int = 0
    log_every: int = 10
    sample_every: int = 500
    checkpoint_every: int = 500
    num_sample_images: int = 4
    #: Decay of an exponential moving average of the generator weights (0: off).
    ema_decay: float = 0.0
    #: ``auto`` (bf16 autocast on a GPU that supports it, else fp16 with a grad scaler; off on CPU),
    #: ``off``, ``bf16`` or ``fp16``.
    amp: str = "auto"
    #: ``auto`` (cuda when available, the local rank's GPU under torchrun), ``cpu``, ``cuda``, ``cuda:N``.
    device: str = "auto"
    #: cuDNN autotuning on GPUs (MUNIT turns it on): faster, but GPU runs are then not bit-reproducible.
    cudnn_benchmark: bool = True
    #: CPU threads for torch (0: leave torch's default). 1 is fastest for tiny models on a busy machine.
    threads: int = 0
    #: Method config fields to override after the preset (``{"dim": 16}``).
    method_overrides: dict = field(default_factory=dict)
    #: sha256 of the training keys of both domains (set by the trainer; a resume refuses other data).
    data_fingerprint: str = ""

    def validate(self) -> "TrainConfig":
        if self.max_steps < 0:
            raise UsageError(f"--max-steps: expected a non-negative number; got {self.max_steps}")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size: expected at least 1; got {self.batch_size}")
        if self.split_rule not in SPLIT_RULES:
            raise UsageError(f"--split-rule: expected one of {', '.join(SPLIT_RULES)}; got {self.split_rule!r}")
        if self.amp not in ("auto", "off", "bf16", "fp16"):
            raise UsageError(f"--amp: expected auto, off, bf16 or fp16; got {self.amp!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise UsageError(f"--ema: expected a decay in [0, 1); got {self.ema_decay}")
        for name in ("log_every", "sample_every", "checkpoint_every"):
            if getattr(self, name) < 0:
                raise UsageError(f"--{name.replace('_', '-')}: expected a non-negative number; got {getattr(self, name)}")
        return self


#: Trainer presets. ``tiny``: 64 px, objects 24 px (the paper's object/image ratio of 120/360, rounded up
#: to a multiple of 4), seconds per step on a CPU; ``paper``: the paper's sizes
#: (short side 360 px, objects 120 x 120) with MUNIT's batch of 1 and 1M iterations; a GPU.
#: ``paper`` crops 360 x 568 from the 360 x 572 frames so that the half-scale view (180 x 284)
#: stays a multiple of 4 for the encoders.
TRAIN_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(batch_size=2, image_size=64, crop=64, crop_size=24, max_crops=4, max_steps=2000,
                 log_every=10, sample_every=500, checkpoint_every=500, num_workers=0),
    # ``small``: the CPU recipe, chosen by measurement (benchmarks/recipe_sweep.py, its JSON in
    # benchmarks/results/recipe_sweep.json; scores are paired-v1 on mini-INIT v2 sunny2night):
    # - image_size 160: the v2 frames' own height, so a model learns at the scale paired-v1 scores it at
    #   (it does not resize); the generators are fully convolutional and translate whole 256 x 160 frames.
    # - crop 64: 64 x 64 crops have a third of the pixels of 96 x 128 (a step costs about in proportion) and
    #   still hold whole objects (median box short side 17 px) and a stretch of road and facade.
    # - crop_size 32, max_crops 4: object crops at about twice the median object, a multiple of 4 for the
    #   encoders; four per image keeps the object branch's share of a step small.
    # - batch 1: MUNIT's; on a CPU a step costs in proportion to the batch, and more steps beat bigger ones.
    # - max_steps 5000: the sweep scores stages 1k..5k; see the JSON for where each method passes the floors.
    # The methods' ``small`` configs (widths 16: width 8, the tiny preset, stays a smudge; lr 2e-4) are in
    # their modules.
    "small": dict(batch_size=1, image_size=160, crop=64, crop_size=32, max_crops=4, max_steps=5000, ema_decay=0.999,
                  log_every=10, sample_every=1000, checkpoint_every=500, num_workers=0),
    "paper": dict(batch_size=1, image_size=360, crop=[360, 568], crop_size=120, max_crops=8, max_steps=1_000_000,
                  log_every=100, sample_every=10_000, checkpoint_every=10_000, num_workers=4),
}


def preset_config(preset: str, **overrides: Any) -> TrainConfig:
    """A :class:`TrainConfig` from a preset, with ``overrides`` (None values are ignored)."""
    if preset not in TRAIN_PRESETS:
        raise UsageError(f"--preset: expected one of {', '.join(TRAIN_PRESETS)}; got {preset!r}")
    values = dict(TRAIN_PRESETS[preset])
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["preset"] = preset
    return TrainConfig(**values).validate()


def build_method_config(method: str, preset: str, variant: str | None = None, overrides: dict | None = None):
    """The method's config for ``preset`` with ``variant`` and field ``overrides`` applied.

    A method's variants are chosen by a ``variant`` field of its config dataclass.
    """
    from initbench.methods.base import get_method

    entry = get_method(method)
    if not entry.presets:
        from initbench.methods.base import trainable_method_names

        raise UsageError(f"--method: {method!r} has nothing to train (no presets); trainable methods are "
                         f"{', '.join(trainable_method_names())}")
    if preset not in entry.presets:
        raise UsageError(f"--preset: method {method!r} has presets {', '.join(sorted(entry.presets))}; got {preset!r}")
    cfg = entry.presets[preset]()
    changes = dict(overrides or {})
    if variant is not None:
        if variant not in entry.variants:
            have = ", ".join(entry.variants) if entry.variants else "none"
            raise UsageError(f"--variant: method {method!r} has variants: {have}; got {variant!r}")
        changes["variant"] = variant
    return apply_overrides(method, cfg, changes)


def apply_overrides(method: str, cfg, changes: dict):
    """``cfg`` with the fields in ``changes`` replaced; unknown fields and values of the wrong type are a
    :class:`UsageError` naming ``--set FIELD``."""
    if not changes:
        return cfg
    fields = {f.name: f for f in dataclasses.fields(cfg)}
    unknown = sorted(set(changes) - set(fields))
    if unknown:
        raise UsageError(f"method {method!r} config has no field(s) {', '.join(unknown)}; fields are {', '.join(sorted(fields))}")
    checked = {k: _typed(k, v, getattr(cfg, k)) for k, v in changes.items()}
    try:
        return dataclasses.replace(cfg, **checked)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"--set: method {method!r} rejects {checked}: {exc}") from None


#: Channel widths and code sizes (``dim``, ``mlp_dim``, ``ngf``, ``nz``...): 0 is never a usable value.
_WIDTH = re.compile(r"(^|_)(dim|ngf|ndf|nz)$")


def _typed(name: str, value: Any, current: Any) -> Any:
    """``value`` checked against the type of the field's current value (bool, int, float, str, tuple/list)."""
    kinds = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
             tuple: "a JSON list", list: "a JSON list"}
    kind = type(current)
    if kind not in kinds:  # nested options, None defaults: checked when the model is built
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind in (tuple, list) and isinstance(value, (list, tuple)):
        return kind(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool) and current >= 0:
        # a width of 0 builds empty layers that fail deep inside torch on the first step; counts may be 0
        least = 1 if _WIDTH.search(name) and current > 0 else 0
        if value < least:
            what = "a positive integer" if least else "a non-negative integer"
            raise UsageError(f"--set {name}: expected {what} (the field is {current!r} now); got {value!r}")
    if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
        return value
    raise UsageError(f"--set {name}: expected {kinds[kind]} (the field is {current!r} now); got {value!r}")


def build_model(cfg: "TrainConfig", method_cfg):
    """The method's model for ``method_cfg``; a config the model cannot be built with is a :class:`UsageError`
    naming ``--set`` (e.g. ``dim=0``), not a traceback from deep inside the network."""
    from initbench.methods.base import get_method

    entry = get_method(cfg.method)
    try:
        return entry.cls(method_cfg)
    except (TypeError, ValueError, RuntimeError, ZeroDivisionError) as exc:
        given = ", ".join(f"{k}={v!r}" for k, v in cfg.method_overrides.items()) or "none"
        raise UsageError(f"--set: cannot build a {cfg.method!r} model with these settings (--set given: {given}): "
                         f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None


#: Settings that say what a run trains: a resumed run keeps them (a flag that changes one is refused).
RUN_IDENTITY = {"method": "--method", "task": "--task", "preset": "--preset", "variant": "--variant",
                "split_rule": "--split-rule", "shuffle_boxes": "--shuffle-boxes"}


def check_same_run(stored: dict, cfg: "TrainConfig", out) -> None:
    """Refuse to resume the run stored as ``stored`` (its train config) with a ``cfg`` that trains something else."""
    for name, option in RUN_IDENTITY.items():
        was = stored.get(name, getattr(TrainConfig, name, None))
        if getattr(cfg, name) != was:
            raise UsageError(f"{option}: the run in {out} trains {name} {was!r}; got {getattr(cfg, name)!r} "
                             "(a resumed run keeps it; choose another --out for a new run)")


def resume_config(out, overrides: dict | None = None) -> "TrainConfig":
    """The training config stored in ``out/checkpoint.pt``, with ``overrides`` (the options a user gave) applied.

    ``method_overrides`` merge into the stored ones (``--set lr=1e-5`` changes only ``lr``).
    """
    from pathlib import Path

    from initbench.training.checkpoints import load_checkpoint

    path = Path(out) / "checkpoint.pt"
    if not path.is_file():
        raise UsageError(f"--resume: expected a checkpoint at {path}; there is none")
    stored = dict(load_checkpoint(path, option="--resume", training=True)["train_config"])
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {k: v for k, v in stored.items() if k in known}
    given = dict(overrides or {})
    if "method_overrides" in given:
        given["method_overrides"] = {**values.get("method_overrides", {}), **given["method_overrides"]}
    values.update(given)
    values["out"] = str(out)
    return TrainConfig(**values).validate()


def config_from_dict(method: str, values: dict):
    """Rebuild a stored method config (``dataclasses.asdict`` form) with the method's config class."""
    from initbench.methods.base import get_method

    entry = get_method(method)
    if entry.config_cls is None:
        return dict(values)
    names = {f.name for f in dataclasses.fields(entry.config_cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        from initbench.errors import CheckpointError

        raise CheckpointError(f"stored {method} config has fields this version does not know: {', '.join(unknown)}")
    return entry.config_cls(**values)
