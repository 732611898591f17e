"""Inference-only checkpoints: a training checkpoint stripped to what translation needs (bundled reference models).

A training checkpoint (:mod:`initbench.training.checkpoints`) holds what a run continues from: every
module's weights (discriminators too), optimiser and grad-scaler states, the EMA shadow weights and
every rank's RNG states. An inference-only one is the same format (read by ``load_translator``
unchanged) with only:

* ``model``: the state of the modules inference uses (the method's ``generator_modules()``), holding the
  EMA weights in place of the raw ones where the run kept an EMA, the weights ``load_translator`` gives
  by default; so the shadow is no longer a second copy;
* no optimisers, grad scalers, EMA shadow or RNG states (empty), the training step kept;
* ``inference_only: True`` and ``ema_folded`` (whether ``model`` holds EMA weights).

A model built from it has its other modules (the discriminators) removed (:func:`prune_to_inference`), so
its ``state_dict()`` is the stored state exactly and its translations equal those of the full checkpoint
bit for bit. It cannot resume training (``load_checkpoint(training=True)`` refuses it).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from initbench import __version__

#: The checkpoint key that marks an inference-only file.
INFERENCE_ONLY = "inference_only"

#: ``train_config`` entries that are paths on the machine that trained (not shipped in a bundled file).
_LOCAL_PATHS = ("out", "data")


def is_inference_only(blob: dict) -> bool:
    """True for a checkpoint written by :func:`strip_checkpoint`."""
    return bool(blob.get(INFERENCE_ONLY))


def prune_to_inference(model: nn.Module) -> nn.Module:
    """Remove (set to None) each direct child module of ``model`` that inference does not use; returns ``model``.

    Kept: the method's ``generator_modules()``, any child holding one of them, and any child sharing a
    parameter or buffer with them. A method whose generator modules are the model itself keeps everything.
    """
    generators = model.generator_modules() if hasattr(model, "generator_modules") else [model]
    used_modules = {id(m) for g in generators for m in g.modules()}
    if id(model) in used_modules:
        return model
    used_tensors = {id(t) for g in generators for t in (*g.parameters(), *g.buffers())}
    for name, child in list(model.named_children()):
        if any(id(m) in used_modules for m in child.modules()):
            continue
        if any(id(t) in used_tensors for t in (*child.parameters(), *child.buffers())):
            continue
        setattr(model, name, None)
    return model


def build_for_inference(cls: type, config) -> nn.Module:
    """``cls(config)`` with the modules inference does not use removed: built without discriminators where the
    class offers that (``with_discriminators=False``, as for the authors' files: CycleGAN, UNIT, MUNIT, DRIT, whose
    exports then see a generator-only model), then :func:`prune_to_inference` for whatever else is left."""
    import inspect

    takes = "with_discriminators" in inspect.signature(cls).parameters
    return prune_to_inference(cls(config, with_discriminators=False) if takes else cls(config))


def strip_checkpoint(blob: dict, path: str = "checkpoint") -> dict[str, Any]:
    """The inference-only checkpoint of a native checkpoint ``blob`` (as :func:`load_checkpoint` returns it).

    Idempotent: stripping an inference-only checkpoint gives the same weights. Tensors are cloned, so
    none of them drags a larger storage into the file.
    """
    from initbench.training.checkpoints import FORMAT, FORMAT_VERSION, build_from_checkpoint

    model = prune_to_inference(build_from_checkpoint(blob, use_ema=True, path=path))
    state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    train_config = {k: ("" if k in _LOCAL_PATHS else v) for k, v in (blob.get("train_config") or {}).items()}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "method": blob["method"],
        "config": blob["config"],
        "train_config": train_config,
        "model": state,
        "optimizers": {},
        "scalers": {},
        "ema": None,
        "step": int(blob.get("step", 0)),
        "rng": [],
        "package_version": __version__,
        "torch_version": str(torch.__version__),
        "extra": dict(blob.get("extra") or {}),
        INFERENCE_ONLY: True,
        "ema_folded": bool(blob.get("ema")) or bool(blob.get("ema_folded")),
    }
