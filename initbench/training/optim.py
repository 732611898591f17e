"""Optimisers and learning-rate schedules from a method's :class:`~initbench.methods.base.OptimizerSpec`,
mixed precision, and an exponential moving average of the generator weights.

Schedules are pure functions of the step (:func:`lr_at`), so resuming needs no scheduler state.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import nn

from initbench.errors import UsageError
from initbench.methods.base import OptimizerSpec


def build_optimizers(specs: dict[str, OptimizerSpec]) -> dict[str, torch.optim.Optimizer]:
    """Adam per group (``weight_decay`` as L2, as MUNIT/UNIT/DRIT/CycleGAN use ``torch.optim.Adam``)."""
    opts = {}
    for name, spec in specs.items():
        if not spec.params:
            raise UsageError(f"optimiser group {name!r} has no parameters")
        opts[name] = torch.optim.Adam(spec.params, lr=spec.lr, betas=tuple(spec.betas), weight_decay=spec.weight_decay)
    return opts


def lr_at(spec: OptimizerSpec, step: int) -> float:
    """The learning rate of ``spec`` at 0-based ``step``.

    ``step``: ``lr * gamma ** (step // step_size)`` (MUNIT/UNIT ``lr_policy: step``).
    ``linear``: ``lr`` for ``constant_steps``, then linearly to 0 at ``total_steps`` (CycleGAN/DRIT).
    """
    if spec.schedule == "constant":
        return spec.lr
    if spec.schedule == "step":
        return spec.lr * spec.gamma ** (step // max(1, spec.step_size))
    if spec.schedule == "linear":
        decay = max(1, spec.total_steps - spec.constant_steps)
        return spec.lr * max(0.0, 1.0 - max(0, step - spec.constant_steps) / decay)
    raise UsageError(f"schedule: expected constant, step or linear; got {spec.schedule!r}")


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr


def resolve_amp(mode: str, device: torch.device) -> str:
    """``off``, ``bf16`` or ``fp16`` for this device (``auto``: bf16 on a GPU that supports it, else fp16; off on CPU)."""
    if mode == "auto":
        if device.type != "cuda":
            return "off"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if mode == "fp16" and device.type != "cuda":
        raise UsageError("--amp fp16: needs a CUDA device (use bf16 or off on CPU)")
    return mode


def autocast(mode: str, device: torch.device):
    if mode == "off":
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16 if mode == "bf16" else torch.float16)


class EMA:
    """Exponential moving average of the parameters of ``modules`` (by their names in ``model``)."""

    def __init__(self, model: nn.Module, modules: list[nn.Module], decay: float):
        ids = {id(p) for m in modules for p in m.parameters()}
        self.decay = decay
        self.params = {n: p for n, p in model.named_parameters() if id(p) in ids}
        self.shadow = {n: p.detach().clone() for n, p in self.params.items()}

    @torch.no_grad()
    def update(self) -> None:
        for n, p in self.params.items():
            self.shadow[n].lerp_(p.detach(), 1.0 - self.decay)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for n in self.shadow:
            self.shadow[n].copy_(state[n])
