"""The trainer's data side: the method's dataset, a resumable distributed sampler, batches on a device.

Exact resume needs the data order to be a function of (seed, epoch, position) only: the sampler
is torch's :class:`DistributedSampler` (its order is drawn from ``seed + epoch``) that can start
part-way into an epoch, and the loaders draw every per-item random choice from ``(seed, epoch, i)``
(see :mod:`initbench.dataset.loaders`). The DataLoader gets its own generator, so creating an
iterator never consumes the global RNG whose state the checkpoint stores.
"""

from __future__ import annotations

from typing import Any, Iterator

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from initbench.errors import UsageError


class ResumableSampler(DistributedSampler):
    """:class:`DistributedSampler` (shuffle, drop_last) whose current epoch can start at item ``start``."""

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int, seed: int):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True)
        self.start = 0

    def set_start(self, start: int) -> None:
        self.start = int(start)

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        return iter(indices[self.start :])

    def __len__(self) -> int:
        return self.num_samples - self.start


def build_dataset(cfg, model) -> Dataset:
    """The paired-domain dataset for a run: :class:`UnalignedPairs` (boxes shuffled with ``cfg.shuffle_boxes``) with
    instance crops / half-scale views when the model asks for them (``model.needs_crops``, ``model.needs_half_scale``)."""
    from initbench.dataset.loaders import UnalignedPairs, split_for_root

    if not cfg.data:
        raise UsageError("--data: expected the root of an INIT copy (holds sunny/, night/, ...)")
    rule = getattr(cfg, "split_rule", "v1")
    return UnalignedPairs(
        cfg.data,
        task=cfg.task,
        split=cfg.split,
        split_map=None if rule == "v1" or cfg.split == "all" else split_for_root(cfg.data, rule),
        size=cfg.image_size,
        crop=tuple(cfg.crop) if isinstance(cfg.crop, list) else cfg.crop,
        seed=cfg.seed,
        crops=bool(model.needs_crops),
        crop_size=cfg.crop_size,
        max_crops=cfg.max_crops,
        half_scale=bool(model.needs_half_scale),
        skip_invalid=bool(getattr(cfg, "skip_invalid", False)),
        shuffle_boxes=bool(getattr(cfg, "shuffle_boxes", False)),
    )


class Batches:
    """Endless batches for steps ``start, start + 1, ...``: epoch ``e`` covers steps ``e*n .. e*n + n - 1``
    (``n`` = batches per epoch per rank); the batch of a step does not depend on where a run resumed."""

    def __init__(self, dataset: Dataset, batch_size: int, rank: int, world_size: int, seed: int, num_workers: int, device: torch.device, start_step: int):
        self.dataset = dataset
        self.sampler = ResumableSampler(dataset, world_size, rank, seed)
        self.per_epoch = self.sampler.num_samples // batch_size
        if self.per_epoch == 0:
            raise UsageError(
                f"--batch-size: {batch_size} x {world_size} process(es) needs at least {batch_size * world_size} training pairs; "
                f"the dataset has {len(dataset)}"
            )
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.device = device
        self.seed = seed
        self.epoch, offset = divmod(start_step, self.per_epoch)
        self._iter = self._epoch_iter(offset)
        self._left = self.per_epoch - offset

    def _epoch_iter(self, offset_batches: int):
        self.sampler.set_epoch(self.epoch)
        self.sampler.set_start(offset_batches * self.batch_size)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(self.epoch)
        loader = DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=self.sampler,
            num_workers=self.num_workers,
            drop_last=True,
            pin_memory=self.device.type == "cuda",
            generator=torch.Generator().manual_seed(self.seed + self.epoch),
        )
        return iter(loader)

    def __next__(self) -> dict[str, Any]:
        if self._left == 0:
            self.epoch += 1
            self._iter = self._epoch_iter(0)
            self._left = self.per_epoch
        self._left -= 1
        return to_device(next(self._iter), self.device)

    def __iter__(self):
        return self


def to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def data_fingerprint(dataset: Dataset) -> str:
    """sha256 over the sorted training keys of both domains (``""`` for a dataset that has no keys, e.g. toy data)."""
    import hashlib

    a, b = getattr(dataset, "a", None), getattr(dataset, "b", None)
    if not (hasattr(a, "keys") and hasattr(b, "keys")):
        return ""
    return hashlib.sha256("\n".join(sorted(a.keys) + ["--"] + sorted(b.keys)).encode()).hexdigest()


def check_data_fingerprint(cfg, dataset: Dataset, blob: dict | None):
    """``cfg`` with the dataset's fingerprint; on resume (``blob``) refuse data whose training keys differ."""
    import dataclasses

    now = data_fingerprint(dataset)
    stored_cfg = blob["train_config"] if blob is not None else {}
    stored = stored_cfg.get("data_fingerprint", "")
    if stored and now and stored != now:
        raise UsageError(
            f"--data: {cfg.data} holds other {cfg.task} training images than the run was trained on "
            f"(fingerprint {now[:12]}, stored {stored[:12]}); resume with the run's data ({stored_cfg.get('data')})"
        )
    return dataclasses.replace(cfg, data_fingerprint=now or stored)
