"""Data-parallel training under ``torchrun`` (gloo on CPU, NCCL on GPUs), and a local launcher for tests.

Gradients are averaged with a bucketed all-reduce of the *current phase's* parameter group after
its backward pass, instead of wrapping the model in ``DistributedDataParallel``: methods compute
their losses in ``phase_losses`` (not ``forward``), and a phase touches only part of the model (the
generator phase back-propagates into the discriminators, whose gradients are then discarded), so
the DDP wrapper would need ``find_unused_parameters`` and would reduce gradients nobody uses. The
result is DDP's: parameters broadcast from rank 0 at the start, identical averaged gradients,
identical parameters on every rank after every step.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import torch
import torch.distributed as dist
from torch import nn

from initbench.digests import sha256_tensors


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            from initbench.errors import UsageError

            raise UsageError(f"--device: {name} requested but CUDA is not available")
        if dev.index is None:
            dev = torch.device(f"cuda:{local_rank}")
    return dev


def setup(device: str = "auto") -> DistInfo:
    """Join the process group ``torchrun`` describes (``WORLD_SIZE`` > 1), else a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if world > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world)
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, device=dev)


def broadcast_module(module: nn.Module, info: DistInfo) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    if not info.enabled:
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


def allreduce_gradients(params: Iterable[nn.Parameter], info: DistInfo, bucket_numel: int = 25_000_000) -> None:
    """Average the gradients of ``params`` over ranks; a missing gradient counts as zero on that rank."""
    if not info.enabled:
        return
    params = [p for p in params if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    bucket: list[torch.Tensor] = []
    size = 0
    for p in params:
        bucket.append(p.grad)
        size += p.grad.numel()
        if size >= bucket_numel:
            _reduce_bucket(bucket, info.world_size)
            bucket, size = [], 0
    if bucket:
        _reduce_bucket(bucket, info.world_size)


def _reduce_bucket(grads: list[torch.Tensor], world: int) -> None:
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n


def gather_objects(obj: Any, info: DistInfo) -> list:
    """Every rank's ``obj`` (a list in rank order) on every rank."""
    if not info.enabled:
        return [obj]
    out: list = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def parameter_digest(module: nn.Module) -> str:
    """sha256 of the module's weights as canonical tensors (:func:`initbench.digests.sha256_tensors`): equal
    digests mean identical weights, and this is the same identity results and leaderboard entries record."""
    return sha256_tensors(module.state_dict())


# -- a local launcher (tests, single-machine smoke runs) --------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entry(rank: int, world: int, port: int, fn: Callable, args: tuple, kwargs: dict, result_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    result = fn(*args, **kwargs)
    torch.save(result, os.path.join(result_dir, f"rank{rank}.pt"))


def launch_local(world_size: int, fn: Callable, args: tuple, result_dir: str, kwargs: dict | None = None) -> list:
    """Run ``fn(*args, **kwargs)`` in ``world_size`` spawned processes wired as ``torchrun`` would (CPU, gloo);
    returns each rank's return value (saved with ``torch.save``, so plain data and tensors only)."""
    import torch.multiprocessing as mp

    os.makedirs(result_dir, exist_ok=True)
    mp.spawn(_entry, args=(world_size, free_port(), fn, args, kwargs or {}, result_dir), nprocs=world_size, join=True)
    return [torch.load(os.path.join(result_dir, f"rank{r}.pt"), weights_only=True) for r in range(world_size)]
