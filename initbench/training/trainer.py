"""The one trainer: any registered :class:`~initbench.methods.base.TrainableTranslator`, through base.py only.

A step runs the method's phases in order (:func:`~initbench.training.step.run_step`); per phase: set
the group's learning rate, zero its gradients, freeze the other groups' parameters, ``phase_losses``
under autocast with the step's one ``shared`` dict, backward of ``"total"``, average gradients over
ranks, optional clipping, optimiser step. After the step: EMA update, then (rank 0) a CSV row every
``log_every`` steps, a PNG grid every ``sample_every`` and ``RUN/checkpoint.pt`` every
``checkpoint_every`` steps and at the end.

Exact resume: the checkpoint holds model, optimiser, grad-scaler and EMA states, the step, every
rank's RNG states (torch, CUDA, numpy, python), and the data position follows from the step
(:class:`~initbench.training.data.Batches`), so on the CPU the losses of the steps after a resume
equal those of an uninterrupted run bit for bit. Logged losses are rank 0's own values.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils.data import Dataset, default_collate

from initbench.errors import DivergenceError, UsageError
from initbench.training import distributed as D
from initbench.training.checkpoints import capture_rng, load_checkpoint, load_model_state, restore_rng, save_checkpoint
from initbench.training.config import (TrainConfig, apply_overrides, build_method_config, build_model, check_same_run,
                                       config_from_dict)
from initbench.training.data import Batches, build_dataset, check_data_fingerprint, to_device
from initbench.training.logs import LossLog, save_grid, write_config
from initbench.training.optim import EMA, build_optimizers, lr_at, resolve_amp
from initbench.training.step import run_step

#: ``progress(step_done, max_steps, scalars, step_seconds)``.
Progress = Callable[[int, int, dict, float], None]


def train(cfg: TrainConfig, *, resume: bool = False, dataset: Dataset | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Train ``cfg.method`` into ``cfg.out``; returns a summary (steps, last losses, seconds, paths, parameter digest).

    ``resume``: continue from ``cfg.out/checkpoint.pt`` with ``cfg`` as given (``config.resume_config``
    builds it from the stored settings and the options a user changed); the model config is the stored
    one with any changed ``method_overrides``; a different method, task, preset or variant, or data
    with other training keys (``data_fingerprint``), is refused.
    ``dataset``: items in the loader's batch format (default: built from ``cfg.data``).
    Under ``torchrun`` every rank calls this; rank 0 writes the run folder.
    """
    info = D.setup(cfg.device)
    try:
        return _Run(cfg, info, resume, dataset, progress).run()
    finally:
        D.cleanup(info)


class _Run:
    def __init__(self, cfg: TrainConfig, info: D.DistInfo, resume: bool, dataset, progress):
        self.info = info
        self.out = Path(cfg.out)
        ckpt_path = self.out / "checkpoint.pt"
        blob = None
        if resume:
            if not ckpt_path.is_file():
                raise UsageError(f"--resume: expected a checkpoint at {ckpt_path}; there is none")
            blob = load_checkpoint(ckpt_path, option="--resume", training=True)
            check_same_run(blob["train_config"], cfg, self.out)
        elif ckpt_path.exists():
            raise UsageError(f"--out: {self.out} already holds a run (checkpoint.pt); pass --resume to continue it or choose another --out")
        # absolute paths: config.json and the checkpoint must not depend on the folder train ran from
        cfg = dataclasses.replace(cfg, data=str(Path(cfg.data).resolve()) if cfg.data else "", out=str(self.out.resolve()))
        self.cfg = cfg.validate()
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        if info.device.type == "cuda":
            torch.backends.cudnn.benchmark = cfg.cudnn_benchmark
        torch.manual_seed(cfg.seed)
        if blob is not None:  # the stored model config, with the --set fields that differ from the stored ones
            before = blob["train_config"].get("method_overrides") or {}
            changed = {k: v for k, v in cfg.method_overrides.items() if before.get(k, object()) != v}
            method_cfg = apply_overrides(cfg.method, config_from_dict(cfg.method, blob["config"]), changed)
        else:
            method_cfg = build_method_config(cfg.method, cfg.preset, cfg.variant, cfg.method_overrides)
        self.model = build_model(cfg, method_cfg).to(info.device)
        D.broadcast_module(self.model, info)
        if info.enabled:  # different random styles per rank, identical weights
            torch.manual_seed(cfg.seed * 1_000_003 + info.rank)
        self.specs = self.model.optimizer_specs()
        self.opts = build_optimizers(self.specs)
        self.amp = resolve_amp(cfg.amp, info.device)
        self.scalers = {n: torch.amp.GradScaler("cuda") for n in self.specs} if self.amp == "fp16" else {}
        self.ema = EMA(self.model, self.model.generator_modules(), cfg.ema_decay) if cfg.ema_decay > 0 else None
        self.start = 0
        if blob is not None:
            self._restore(blob)
        self.dataset = dataset if dataset is not None else build_dataset(cfg, self.model)
        self.cfg = cfg = check_data_fingerprint(cfg, self.dataset, blob)
        self.batches = Batches(self.dataset, cfg.batch_size, info.rank, info.world_size, cfg.seed, cfg.num_workers, info.device, self.start)
        self.progress = progress
        self.log = None
        if info.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            dropped = getattr(self.dataset, "dropped", None)  # what the loaders left out (skip_invalid)
            write_config(self.out, dataclasses.asdict(cfg), self.model.config_dict(), cfg.method,
                         data=None if dropped is None else {"dropped": dropped})
            self.log = LossLog(self.out, self.start if blob is not None else None)
            self.sample_batch = self._sample_batch()

    def _restore(self, blob: dict) -> None:
        load_model_state(self.model, blob["model"], str(self.out / "checkpoint.pt"))
        for name, opt in self.opts.items():
            opt.load_state_dict(blob["optimizers"][name])
        for name, sc in self.scalers.items():
            if name in blob["scalers"]:
                sc.load_state_dict(blob["scalers"][name])
        if self.ema is not None and blob.get("ema"):
            self.ema.load_state_dict(blob["ema"])
        self.start = int(blob["step"])
        rngs = blob["rng"]
        if len(rngs) == self.info.world_size:
            restore_rng(rngs[self.info.rank])
        else:  # a different number of processes: still a valid continuation, not a bit-exact one
            torch.manual_seed(self.cfg.seed * 1_000_003 + self.start + self.info.rank)

    def _sample_batch(self) -> dict:
        n = min(self.cfg.num_sample_images, len(self.dataset))
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(0)
        batch = default_collate([self.dataset[i] for i in range(n)])
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(self.batches.epoch)
        return to_device(batch, self.info.device)

    def run(self) -> dict[str, Any]:
        cfg, info = self.cfg, self.info
        scalars: dict[str, float] = {}
        t_run = time.perf_counter()
        self.model.train()
        for step in range(self.start, cfg.max_steps):
            t0 = time.perf_counter()
            batch = next(self.batches)
            raw = self._step(batch, step)
            done = step + 1
            if self.ema is not None:
                self.ema.update()
            seconds = time.perf_counter() - t0
            want_log = cfg.log_every and (done % cfg.log_every == 0 or done == cfg.max_steps)
            if want_log or self.progress is not None or done == cfg.max_steps:
                scalars = {k: float(v) for k, v in raw.items()}
            if info.is_main and want_log:
                self.log.write(done, scalars, seconds)
            if info.is_main and cfg.sample_every and done % cfg.sample_every == 0:
                self.save_samples(done)
            if (cfg.checkpoint_every and done % cfg.checkpoint_every == 0) or done == cfg.max_steps:
                self.save(done)
            if self.progress is not None and info.is_main:
                self.progress(done, cfg.max_steps, scalars, seconds)
        if self.start >= cfg.max_steps and self.start == 0:
            self.save(0)
        if self.log is not None:
            self.log.close()
        return {
            "method": cfg.method,
            "steps": max(self.start, cfg.max_steps),
            "resumed_from": self.start,
            "last_losses": scalars,
            "seconds": time.perf_counter() - t_run,
            "out": str(self.out),
            "checkpoint": str(self.out / "checkpoint.pt"),
            "world_size": info.world_size,
            "rank": info.rank,
            "device": str(info.device),
            "amp": self.amp,
            "param_sha256": D.parameter_digest(self.model),
            "dropped": list(getattr(self.dataset, "dropped", [])),  # what --skip-invalid left out (also in config.json)
        }

    def _step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        def check(phase: str, losses: dict, spec) -> None:
            if not torch.isfinite(losses["total"].float()):
                raise divergence(self.cfg, step, phase, losses, spec)

        return run_step(self.model, self.specs, self.opts, batch, step, amp=self.amp, device=self.info.device,
                        scalers=self.scalers, info=self.info, check=check)

    def save(self, step: int) -> None:
        rngs = D.gather_objects(capture_rng(), self.info)
        if not self.info.is_main:
            return
        save_checkpoint(
            self.out / "checkpoint.pt",
            method=self.cfg.method,
            config=self.model.config_dict(),
            train_config=dataclasses.asdict(self.cfg),
            model_state=self.model.state_dict(),
            step=step,
            optimizers={n: o.state_dict() for n, o in self.opts.items()},
            scalers={n: s.state_dict() for n, s in self.scalers.items()},
            ema=self.ema.state_dict() if self.ema is not None else None,
            rng=rngs,
        )

    def save_samples(self, step: int) -> Path:
        g = torch.Generator(device="cpu").manual_seed(self.cfg.seed)
        self.model.eval()
        rows = self.model.sample_grid(self.sample_batch, g)
        self.model.train()
        return save_grid(self.out / "samples" / f"step_{step:07d}.png", rows)


def divergence(cfg: TrainConfig, step: int, phase: str, losses: dict, spec) -> DivergenceError:
    """The error for a non-finite loss: the step (1-based, as in losses.csv), the losses, what to try."""
    bad = [(k, float(v.detach())) for k, v in losses.items() if k != "total" and not math.isfinite(float(v.detach()))]
    bad = bad or [("total", float(losses["total"].detach()))]
    first = f"loss {phase}/{bad[0][0]} = {bad[0][1]}" + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")
    lr = lr_at(spec, step)
    hint = f"try a lower learning rate (--set lr={lr / 10:g}; the {phase} rate was {lr:g})"
    if cfg.amp != "off":
        hint += " or --amp off"
    return DivergenceError(f"training diverged at step {step + 1} of {cfg.max_steps}: {first}; {hint}")
