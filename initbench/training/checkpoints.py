"""Native checkpoints: one file per run state, written atomically, read with ``weights_only=True``.

A checkpoint is a dict of plain data and tensors only (so ``torch.load(weights_only=True)`` reads
it): ``format``, ``format_version``, ``method``, ``config`` (the method config as a dict),
``train_config``, ``model`` (state dict), ``optimizers`` ``{group: state}``, ``scalers``,
``ema`` ``{parameter name: tensor}`` or None, ``step`` (completed steps), ``rng`` (one entry per
rank: torch CPU/CUDA, numpy and python states), ``package_version``, ``torch_version``.
An inference-only checkpoint (a bundled reference model, :mod:`initbench.training.inference_only`) is the
same format with the training state left out and ``inference_only: True``.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from initbench import __version__
from initbench.errors import CheckpointError, UsageError
from initbench.methods.official import load_failure_reason, save_atomic

FORMAT = "initbench-checkpoint"
FORMAT_VERSION = 1


# -- RNG states as plain data ----------------------------------------------------------------
def capture_rng() -> dict[str, Any]:
    """The states of torch (CPU and every CUDA device), numpy and python ``random``."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": _to_lists(random.getstate()),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng`."""
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    random.setstate(_to_tuples(state["python"]))
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _to_lists(x):
    return [_to_lists(v) for v in x] if isinstance(x, (tuple, list)) else x


def _to_tuples(x):
    return tuple(_to_tuples(v) for v in x) if isinstance(x, list) else x


# -- save / load ------------------------------------------------------------------------------
def save_checkpoint(
    path: str | os.PathLike,
    *,
    method: str,
    config: dict,
    model_state: dict,
    step: int,
    train_config: dict | None = None,
    optimizers: dict | None = None,
    scalers: dict | None = None,
    ema: dict | None = None,
    rng: list | None = None,
    extra: dict | None = None,
) -> Path:
    """Write a checkpoint atomically (temporary file in the same folder, then ``os.replace``)."""
    p = Path(path)
    blob = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "method": method,
        "config": config,
        "train_config": train_config or {},
        "model": {k: v.detach().cpu() for k, v in model_state.items()},
        "optimizers": optimizers or {},
        "scalers": scalers or {},
        "ema": {k: v.detach().cpu() for k, v in ema.items()} if ema else None,
        "step": int(step),
        "rng": rng or [],
        "package_version": __version__,
        "torch_version": str(torch.__version__),
        "extra": extra or {},
    }
    return save_atomic(blob, p)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu", option: str = "--ckpt",
                    training: bool = False) -> dict:
    """Read a native checkpoint (``weights_only=True``) and check its format; errors name ``option``.

    ``training``: the caller continues training from it, so an inference-only checkpoint is refused.
    """
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{option}: expected a checkpoint file; {p} does not exist")
    try:
        blob = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files; its advice is not quoted
        raise CheckpointError(f"{option}: {p} is not an initbench checkpoint ({load_failure_reason(p, exc)})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError(f"{option}: {p} is not an initbench checkpoint (no format {FORMAT!r} entry; "
                              "for the authors' files use --official-ckpt)")
    if blob.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{option}: {p}: checkpoint format {blob['format_version']} is newer than this initbench "
                              f"reads ({FORMAT_VERSION})")
    if training and blob.get("inference_only"):
        raise UsageError(f"{option}: {p} is an inference-only checkpoint (a bundled reference model: the weights translation "
                         "uses, without the discriminators, optimiser, EMA and RNG states a run continues from); it cannot "
                         "resume training: start a new run in another --out")
    return blob


def build_from_checkpoint(blob: dict, *, use_ema: bool = True, path: str = "checkpoint"):
    """The method's model with the checkpoint's weights (EMA weights when stored and ``use_ema``)."""
    from initbench.methods.base import get_method
    from initbench.training.config import config_from_dict

    entry = get_method(blob["method"])
    config = config_from_dict(blob["method"], blob["config"])
    if blob.get("inference_only"):  # the weights inference uses, the EMA ones where the run kept them
        from initbench.training.inference_only import build_for_inference

        if not use_ema and blob.get("ema_folded"):
            raise CheckpointError(f"{path}: an inference-only checkpoint holds the EMA weights only; the raw weights "
                                  "(--no-ema) are not in it")
        model = build_for_inference(entry.cls, config)
        load_model_state(model, blob["model"], path)
        return model
    model = entry.cls(config)
    load_model_state(model, blob["model"], path)
    if use_ema and blob.get("ema"):
        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in blob["ema"].items():
                if name not in params:
                    raise CheckpointError(f"{path}: EMA entry {name!r} is not a parameter of {blob['method']}")
                params[name].copy_(value)
    return model


def load_model_state(model: torch.nn.Module, state: dict, path: str = "checkpoint") -> None:
    """``load_state_dict(strict=True)`` with a :class:`CheckpointError` naming missing/unexpected keys and shape clashes."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} key(s), e.g. {', '.join(missing[:3])}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} key(s), e.g. {', '.join(unexpected[:3])}")
        if shapes:
            parts.append(f"shape mismatch (stored vs model): {'; '.join(shapes[:3])}")
        raise CheckpointError(f"{path}: weights do not fit the model: " + "; ".join(parts))
    model.load_state_dict(state, strict=True)


def load_translator(path: str | os.PathLike, device: str | torch.device = "cpu", use_ema: bool = True):
    """A native checkpoint as a :class:`~initbench.methods.base.Translator` in eval mode on ``device``."""
    blob = load_checkpoint(path)
    model = build_from_checkpoint(blob, use_ema=use_ema, path=str(path))
    train_config = blob.get("train_config") or {}
    model.task = train_config.get("task")
    if model.takes_object_styles and train_config.get("crop_size"):  # the crops its object branch learned on
        model.object_size = int(train_config["crop_size"])
    model.trained_with = trained_with(blob)
    return model.to(device).eval()


#: The training settings a results file records of a native checkpoint (``Translator.trained_with``).
TRAINED_WITH = ("preset", "variant", "seed", "method_overrides", "split_rule", "shuffle_boxes")


def trained_with(blob: dict) -> dict:
    """The :data:`TRAINED_WITH` settings of a loaded checkpoint and its ``steps``; settings a checkpoint of an
    earlier version lacks are left out (their defaults then held: ``split_rule`` v1, ``shuffle_boxes`` false)."""
    stored = blob.get("train_config") or {}
    return {"steps": int(blob.get("step", 0)), **{k: stored[k] for k in TRAINED_WITH if k in stored}}


def resolve_translator(
    method: str | None,
    ckpt: str | os.PathLike | None = None,
    official_ckpt: str | os.PathLike | None = None,
    config: Any = None,
    device: str | torch.device = "cpu",
    ckpt_task: str | None = None,
    need_task: bool = False,
):
    """The translator named on a command line: ``--ckpt`` (native) or ``--official-ckpt`` [``--config``] (the authors').

    Its ``task`` attribute is the task its weights were trained for: a native checkpoint's own, or
    ``ckpt_task`` (``--ckpt-task``) for the authors' files, which record none. ``need_task``: the
    caller maps a task to a direction, so an authors' file without ``--ckpt-task`` is refused
    (guessing would feed one domain's images to the other domain's generator).
    """
    from initbench.dataset.release import parse_task
    from initbench.methods.base import get_method

    if (ckpt is None) == (official_ckpt is None):
        raise UsageError("--ckpt / --official-ckpt: give exactly one of them")
    if ckpt_task is not None:
        try:
            parse_task(ckpt_task)
        except UsageError as exc:
            raise UsageError(f"--ckpt-task: {str(exc).removeprefix('task: ')}") from None
    if ckpt is not None:
        if config is not None:
            raise UsageError("--config: only used with --official-ckpt (a native checkpoint stores its config)")
        model = load_translator(ckpt, device=device)
        if method is not None and model.name != method:
            raise CheckpointError(f"{ckpt}: holds a {model.name!r} model; --method says {method!r}")
        if ckpt_task is not None and model.task is not None and ckpt_task != model.task:
            raise UsageError(f"--ckpt-task: {ckpt} records its task {model.task}; got {ckpt_task} "
                             "(--ckpt-task is for the authors' files)")
        model.task = model.task or ckpt_task
        return model
    if method is None:
        raise UsageError("--method: required with --official-ckpt")
    entry = get_method(method)
    if entry.load_official is None:
        raise UsageError(f"--official-ckpt: method {method!r} has no released checkpoints to load (use --ckpt)")
    if not Path(official_ckpt).is_file():
        raise UsageError(f"--official-ckpt: expected a file; {official_ckpt} does not exist")
    if need_task and ckpt_task is None:
        raise UsageError("--ckpt-task: required with --official-ckpt: the authors' files do not record which domain is a; "
                         "name the task the file was trained for, e.g. --ckpt-task sunny2night (a = sunny, b = night)")
    model = entry.load_official(official_ckpt, config).to(device).eval()
    model.task = ckpt_task
    return model
