"""Train a torchvision detector: SGD with torchvision's reference recipe, data order from a seeded sampler, DDP
under ``torchrun``.

The recipe follows torchvision's detection reference (``references/detection``): SGD, momentum 0.9, weight
decay 1e-4, a linear warm-up over the first iterations (at most 1000, from 0.1 % of the rate), and the rate cut
tenfold at 8/12 and 11/12 of the epochs (the "1x" schedule's milestones). The data order is a
``DistributedSampler`` seeded with ``seed`` (one process is one replica), so it is the same in every run with
that seed; the detector's own sampling (RPN and RoI proposal sampling) draws from the global generator,
seeded with ``seed + rank``.

Under ``torchrun`` (``WORLD_SIZE`` > 1) the model is wrapped in ``DistributedDataParallel`` (every parameter of
a Faster R-CNN is used in each step, so the plain wrapper applies); each rank sees its share of every epoch and
the losses are averaged over ranks.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch import nn

from initbench.detection.coco_data import collate
from initbench.errors import DivergenceError, UsageError
from initbench.training.distributed import DistInfo, gather_objects


@dataclass(frozen=True)
class Recipe:
    """The optimiser and schedule; ``lr`` None: torchvision's 0.02 for 16 images, scaled to the global batch."""

    epochs: int = 12
    batch_size: int = 2
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_iters: int = 1000
    warmup_factor: float = 1e-3

    def learning_rate(self, world_size: int) -> float:
        return self.lr if self.lr is not None else 0.02 * self.batch_size * world_size / 16

    def milestones(self) -> list[int]:
        return sorted({round(self.epochs * 8 / 12), round(self.epochs * 11 / 12)} - {0})

    def check(self) -> None:
        if self.epochs < 1:
            raise UsageError(f"--epochs: expected at least 1; got {self.epochs}")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size: expected at least 1; got {self.batch_size}")
        if self.lr is not None and not self.lr > 0:
            raise UsageError(f"--lr: expected a positive learning rate; got {self.lr}")

    def record(self, world_size: int) -> dict:
        return {**asdict(self), "lr": self.learning_rate(world_size), "optimizer": "SGD", "milestones": self.milestones(),
                "gamma": 0.1}


def _schedule(recipe: Recipe, iters_per_epoch: int) -> Callable[[int], float]:
    warm = min(recipe.warmup_iters, max(iters_per_epoch - 1, 0))
    milestones = recipe.milestones()

    def factor(it: int) -> float:
        epoch = it // iters_per_epoch
        decay = 0.1 ** sum(epoch >= m for m in milestones)
        if it < warm:
            a = it / warm
            return decay * (recipe.warmup_factor * (1 - a) + a)
        return decay

    return factor


def train_detector(model: nn.Module, dataset: torch.utils.data.Dataset, recipe: Recipe, *, seed: int, info: DistInfo,
                   progress: Callable[[int, int, int, int, float], None] | None = None) -> dict:
    """Train ``model`` in place on ``dataset`` (pairs of image 3 x H x W in [0, 1] and target dict).

    ``progress(epoch, iteration, iterations_per_epoch, epochs, loss)`` after every iteration (rank 0 should pass
    it). Returns ``epoch_seconds`` (wall clock), ``epoch_cpu_seconds`` (this process's CPU time, which a busy
    shared machine inflates less), ``epoch_loss`` (mean total loss per epoch, averaged over ranks),
    ``iterations_per_epoch`` and the recipe as run. A non-finite loss is a :class:`DivergenceError`.
    """
    from torch.utils.data import DataLoader, DistributedSampler

    recipe.check()
    device = info.device
    torch.manual_seed(seed + info.rank)
    sampler = DistributedSampler(dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=seed)
    loader = DataLoader(dataset, batch_size=recipe.batch_size, sampler=sampler, collate_fn=collate, num_workers=0)
    model.to(device).train()
    net = nn.parallel.DistributedDataParallel(model) if info.enabled else model
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=recipe.learning_rate(info.world_size), momentum=recipe.momentum,
                          weight_decay=recipe.weight_decay)
    iters = len(loader)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(recipe, iters))
    epoch_seconds, epoch_cpu_seconds, epoch_loss = [], [], []
    for epoch in range(recipe.epochs):
        sampler.set_epoch(epoch)
        start, cpu_start, total = time.perf_counter(), time.process_time(), 0.0
        for it, (images, targets) in enumerate(loader):
            images = [im.to(device) for im in images]
            targets = [{k: (v.to(device) if torch.is_tensor(v) else v) for k, v in t.items()} for t in targets]
            losses = net(images, targets)
            loss = sum(losses.values())
            if not math.isfinite(loss.item()):
                raise DivergenceError(f"detection training: the loss became {loss.item()} at epoch {epoch + 1}, "
                                      f"iteration {it + 1} ({ {k: round(v.item(), 4) for k, v in losses.items()} }); "
                                      "try a lower --lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
            if progress:
                progress(epoch, it + 1, iters, recipe.epochs, loss.item())
        epoch_seconds.append(time.perf_counter() - start)
        epoch_cpu_seconds.append(time.process_time() - cpu_start)
        epoch_loss.append(sum(gather_objects(total / max(iters, 1), info)) / info.world_size)
    model.eval()
    return {"epoch_seconds": epoch_seconds, "epoch_cpu_seconds": epoch_cpu_seconds, "epoch_loss": epoch_loss,
            "iterations_per_epoch": iters,
            "recipe": recipe.record(info.world_size)}
