"""Sharded evaluation under ``torchrun``: which inputs a rank takes, progress across ranks, gather to rank 0.

``torchrun --nproc-per-node N -m initbench evaluate ...`` starts N processes; :func:`start` joins them
(gloo on CPUs, NCCL on GPUs, the trainer's :func:`initbench.training.distributed.resolve_device`).
Inputs are dealt **round-robin** (input ``i`` on rank ``i % N``): an input's cost follows its image
and its boxes, which vary along the sorted key order (drives, scenes), so dealing them out balances
the ranks better than contiguous blocks, and each step of :func:`run_inputs` has at most one input
per rank. Every input keeps its own seeds (``style_seed + i``), so where it runs does not change its
numbers; rank 0 reassembles the per-input values and feature rows in input order, and the metrics
are those of one process.

The ranks advance in lock-step: after each step they all-reduce ``[inputs done, failed]``. Rank 0's
progress bar therefore counts the inputs of every rank, and a rank whose input raised makes every
rank stop at that step with :class:`RankFailed` naming it (nothing is written: only rank 0 writes,
after the gather). A rank that dies or hangs is caught by the process group's timeout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable

import torch
import torch.distributed as dist

from initbench.errors import InitbenchError

#: Seconds a rank waits for the others at a collective before it gives up (``--dist-timeout``).
DEFAULT_TIMEOUT_S = 1800


class RankFailed(InitbenchError):
    """A rank of a sharded evaluation failed (or stopped answering); the message names it and says why.

    ``exit_code`` is the failing error's (2 for an unexpected exception); ``rank`` the rank that failed
    (None: unknown, a collective timed out).
    """

    def __init__(self, message: str, rank: int | None, exit_code: int = 2):
        super().__init__(message)
        self.rank = rank
        self.exit_code = exit_code


@dataclass(frozen=True)
class Shard:
    """This process's place in an evaluation: ``rank`` of ``world_size``; ``comm_device`` carries the collectives."""

    rank: int = 0
    world_size: int = 1
    comm_device: str = "cpu"
    timeout_s: float = DEFAULT_TIMEOUT_S
    owns_group: bool = False  # :func:`start` created the process group, so :func:`stop` destroys it
    # ``gathered``: set once this rank's share went to rank 0; later failures are rank 0's alone (no peer is left)
    state: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def indices(self, n: int) -> list[int]:
        """The inputs (of ``n``) this rank evaluates: ``i % world_size == rank``, ascending."""
        return list(range(self.rank, n, self.world_size))

    def rank_of(self, i: int) -> int:
        """The rank that evaluates input ``i``."""
        return i % self.world_size


SINGLE = Shard()


def start(device: str = "cpu", timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[Shard, str]:
    """Join the process group ``torchrun`` describes (``WORLD_SIZE`` > 1), else a one-process :class:`Shard`.

    Returns ``(shard, device)``: ``device`` resolved per rank (``cuda`` -> ``cuda:<LOCAL_RANK>``).
    """
    from initbench.training.distributed import resolve_device

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE, device
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    owns = not dist.is_initialized()  # a caller's group (a script running several evaluations) is reused
    if owns:
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world,
                                timeout=timedelta(seconds=timeout_s))
    comm = str(dev) if dist.get_backend() == "nccl" else "cpu"
    return Shard(rank=rank, world_size=world, comm_device=comm, timeout_s=timeout_s, owns_group=owns), str(dev)


def stop(shard: Shard) -> None:
    """Leave the process group :func:`start` created (one it found is left to its owner)."""
    if shard.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def _collective(shard: Shard, what: str, fn: Callable, *args):
    """``fn(*args)``; a failed or timed-out collective becomes :class:`RankFailed` (no traceback, no hang)."""
    try:
        return fn(*args)
    except RuntimeError as exc:  # gloo/NCCL report a dead or silent peer as RuntimeError (DistBackendError)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RankFailed(f"rank {shard.rank} of {shard.world_size}: no answer from the other ranks while {what} "
                         f"(within --dist-timeout {shard.timeout_s:g} s; a rank died or hangs): {first}", None) from None


def run_inputs(n: int, work: Callable[[int], None], shard: Shard = SINGLE, progress=None, stage: str = "inputs") -> None:
    """Call ``work(i)`` for this rank's inputs of ``n``, in order; ``progress(stage, done, n)`` counts every rank's.

    One process: a plain loop (errors propagate as they are). Sharded: after each step the ranks agree on
    what was done; if ``work`` raised on any rank, every rank raises the same :class:`RankFailed`.
    """
    if progress and shard.is_main:  # the stage's bar starts now, so its elapsed and remaining time include input 0
        progress(stage, 0, n)
    if not shard.enabled:
        for i in range(n):
            work(i)
            if progress:
                progress(stage, i + 1, n)
        return
    done = 0
    for step in range((n + shard.world_size - 1) // shard.world_size):
        i = step * shard.world_size + shard.rank
        failure = None
        if i < n:
            try:
                work(i)
            except Exception as exc:  # reported to every rank below, then raised there as RankFailed
                failure = exc
        flags = torch.tensor([int(i < n and failure is None), int(failure is not None)], dtype=torch.int64,
                             device=shard.comm_device)
        _collective(shard, f"evaluating input {i}", dist.all_reduce, flags)
        if int(flags[1]):
            raise _agree_on_failure(shard, failure, f"at input {i}")
        done += int(flags[0])
        if progress and shard.is_main:
            progress(stage, done, n)


def fail(shard: Shard, exc: BaseException) -> BaseException:
    """What a rank raises after ``exc`` outside :func:`run_inputs` (loading the model, the first image...).

    Sharded and before the gather, it tells the other ranks (its ``[0, failed]`` matches the all-reduce of
    :func:`run_inputs` or of a rank failing too), and all raise the same :class:`RankFailed`. Otherwise ``exc``.
    """
    if not shard.enabled or shard.state.get("gathered") or isinstance(exc, RankFailed):
        return exc
    flags = torch.tensor([0, 1], dtype=torch.int64, device=shard.comm_device)
    _collective(shard, "reporting a failure", dist.all_reduce, flags)
    return _agree_on_failure(shard, exc, "")


def _agree_on_failure(shard: Shard, failure: BaseException | None, where: str) -> RankFailed:
    """Every rank learns which rank failed first (lowest rank), where (``"at input 3"``, or "") and why."""
    mine = None
    if failure is not None:
        msg = str(failure).strip().splitlines()[0] if str(failure).strip() else ""
        if not isinstance(failure, InitbenchError):
            msg = f"unexpected {type(failure).__name__}: {msg}"
        mine = (shard.rank, where, msg, getattr(failure, "exit_code", 2))
    reports: list = [None] * shard.world_size
    _collective(shard, "reporting a failure", dist.all_gather_object, reports, mine)
    rank, at, msg, code = next(r for r in reports if r is not None)
    return RankFailed(f"rank {rank} of {shard.world_size} failed{' ' + at if at else ''}: {msg}", rank, code)


def settle(shard: Shard, failed: RankFailed) -> None:
    """Before the ranks exit on ``failed``: wait until every rank got there (so rank 0 has said why before
    ``torchrun`` stops the rest on the first exit). Skipped when a rank stopped answering (it would not come)."""
    if shard.enabled and dist.is_initialized() and failed.rank is not None:
        try:
            dist.barrier()
        except RuntimeError:
            pass  # a peer left meanwhile: nothing more to wait for


def gather_to_main(obj: Any, shard: Shard = SINGLE) -> list | None:
    """Every rank's ``obj`` (keep tensors on the CPU) as a list in rank order on rank 0; None on the others."""
    if not shard.enabled:
        return [obj]
    out: list | None = [None] * shard.world_size if shard.is_main else None
    _collective(shard, "gathering the per-input values on rank 0", dist.gather_object, obj, out, 0)
    shard.state["gathered"] = True
    return out


def place(parts: list[tuple[list[int], list]], n: int) -> list:
    """One list of ``n`` from each rank's ``(indices, values)`` (``values[j]`` belongs to input ``indices[j]``)."""
    out: list = [None] * n
    for indices, values in parts:
        if len(indices) != len(values):
            raise ValueError(f"expected one value per input index; got {len(values)} values for {len(indices)} inputs")
        for i, v in zip(indices, values):
            out[i] = v
    return out
