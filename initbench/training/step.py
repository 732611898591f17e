"""One training step, as the trainer runs it (and ``benchmarks/train_step.py`` times it).

Per phase of ``model.phases(step)``: set the group's learning rate, zero its gradients, freeze the
parameters of the groups outside :meth:`~initbench.methods.base.TrainableTranslator.phase_grad_groups`,
``phase_losses`` under autocast with the step's ``shared`` dict, backward of ``"total"``, average the
group's gradients over ranks, optional clipping, optimiser step, unfreeze.

Why the freezing changes nothing but time: a phase's optimiser steps only its own group, and the next
phase that steps another group zeroes that group's gradients first, so weight gradients of other groups
were computed and thrown away. Gradients still flow *through* a frozen module to its inputs (the
generator's adversarial loss reaches the generator through the discriminator), and autograd computes
an input's gradient the same way whether or not the weight's is wanted.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch

from initbench.errors import UsageError
from initbench.training import distributed as D
from initbench.training.optim import autocast, lr_at, set_lr

#: ``check(phase, losses, spec)``: raise for losses the run must stop on (the trainer: non-finite totals).
Check = Callable[[str, dict, Any], None]


@contextmanager
def frozen(params: list[torch.nn.Parameter]) -> Iterator[None]:
    """``params`` with ``requires_grad`` off inside the block; restored to what they were after it."""
    was = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        yield
    finally:
        for p, w in zip(params, was):
            p.requires_grad_(w)


def params_outside(specs: dict, groups: set[str]) -> list[torch.nn.Parameter]:
    """The parameters of the optimiser groups not in ``groups`` (a parameter in one of ``groups`` too stays out)."""
    keep = {id(p) for g in groups if g in specs for p in specs[g].params}
    out, seen = [], set()
    for name, spec in specs.items():
        if name in groups:
            continue
        for p in spec.params:
            if id(p) not in keep and id(p) not in seen:
                seen.add(id(p))
                out.append(p)
    return out


def run_step(model, specs: dict, opts: dict, batch: dict, step: int, *, amp: str = "off", device: torch.device | None = None,
             scalers: dict | None = None, info: D.DistInfo | None = None, check: Check | None = None,
             freeze_others: bool = True, timings: dict | None = None,
             sync: Callable[[], None] | None = None) -> dict[str, torch.Tensor]:
    """One step of ``model`` (all its phases, one fresh ``shared`` dict); returns ``{"<phase>/<loss>": detached}``.

    ``freeze_others`` False keeps every parameter trainable in every phase (the behaviour before freezing;
    the benchmark's reference). ``timings``: per-phase forward/backward/optimizer seconds are added to it
    (``sync`` is called before each clock read, e.g. ``torch.cuda.synchronize``).
    """
    device = device if device is not None else model.device
    scalers = scalers or {}
    shared: dict[str, Any] = {}  # the one place for state the phases of this step share
    out: dict[str, torch.Tensor] = {}
    clock = _Clock(timings, sync)
    for phase in model.phases(step):
        if phase not in opts:
            raise UsageError(f"{model.name}: phase {phase!r} has no optimiser group (groups: {', '.join(opts)})")
        spec, opt = specs[phase], opts[phase]
        set_lr(opt, lr_at(spec, step))
        opt.zero_grad(set_to_none=True)
        others = params_outside(specs, model.phase_grad_groups(phase)) if freeze_others else []
        with frozen(others):
            clock.start()
            with autocast(amp, device):
                losses = model.phase_losses(phase, batch, step, shared)
            total = losses["total"].float()
            if check is not None:
                check(phase, losses, spec)
            clock.lap(phase, "forward")
            scaler = scalers.get(phase)
            (scaler.scale(total) if scaler else total).backward()
            clock.lap(phase, "backward")
        if info is not None:
            D.allreduce_gradients(spec.params, info)
        if spec.clip_grad_norm is not None:
            if scaler:
                scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(spec.params, spec.clip_grad_norm)
        if scaler:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        clock.lap(phase, "optimizer")
        for k, v in losses.items():
            out[f"{phase}/{k}"] = v.detach()
    return out


class _Clock:
    """Per-phase seconds into ``timings`` (nothing when it is None)."""

    def __init__(self, timings: dict | None, sync: Callable[[], None] | None):
        self.timings, self.sync, self.t = timings, sync, 0.0

    def _now(self) -> float:
        if self.sync is not None:
            self.sync()
        return time.perf_counter()

    def start(self) -> None:
        if self.timings is not None:
            self.t = self._now()

    def lap(self, phase: str, what: str) -> None:
        if self.timings is None:
            return
        now = self._now()
        acc = self.timings.setdefault(phase, {"forward": 0.0, "backward": 0.0, "optimizer": 0.0})
        acc[what] += now - self.t
        self.t = now
