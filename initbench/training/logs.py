"""Run outputs: ``losses.csv`` (step, one column per logged loss, seconds), TensorBoard scalars when the
``tensorboard`` package is installed, ``config.json`` and PNG sample grids. Written by rank 0 only."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import torch

from initbench.files import atomic_write, write_atomic


class LossLog:
    """Appends rows to ``losses.csv``; on resume keeps only rows up to the checkpoint's step."""

    def __init__(self, run_dir: Path, resume_step: int | None):
        self.path = Path(run_dir) / "losses.csv"
        self.columns: list[str] | None = None
        if resume_step is not None and self.path.exists():
            with open(self.path, newline="") as fh:
                rows = list(csv.reader(fh))
            if rows:
                self.columns = rows[0][1:-1]
                kept = [r for r in rows[1:] if r and int(r[0]) <= resume_step]
                _atomic_write_rows(self.path, [rows[0]] + kept)
        elif self.path.exists():
            self.path.unlink()
        self.tb = _tensorboard(run_dir)

    def write(self, step: int, scalars: dict[str, float], seconds: float) -> None:
        """One row; a loss not logged before (a phase that runs only every few steps, as DRIT's ``gen``)
        widens the header, and earlier rows get ``nan`` in its column (the file is rewritten atomically)."""
        if self.columns is None:
            self.columns = list(scalars)
            with open(self.path, "w", newline="") as fh:
                csv.writer(fh).writerow(["step", *self.columns, "seconds"])
        new = [k for k in scalars if k not in self.columns]
        if new:
            self._widen(new)
        with open(self.path, "a", newline="") as fh:
            csv.writer(fh).writerow([step, *[repr(float(scalars.get(c, float("nan")))) for c in self.columns], f"{seconds:.6f}"])
        if self.tb is not None:
            for k, v in scalars.items():
                self.tb.add_scalar(k, v, step)

    def _widen(self, new: list[str]) -> None:
        with open(self.path, newline="") as fh:
            rows = list(csv.reader(fh))
        pad = [repr(float("nan"))] * len(new)
        body = [r[:-1] + pad + r[-1:] for r in rows[1:] if r]
        self.columns = self.columns + new
        _atomic_write_rows(self.path, [["step", *self.columns, "seconds"]] + body)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def read_losses(path: str | os.PathLike) -> list[dict[str, float]]:
    """``losses.csv`` as a list of ``{column: value}`` rows (``step`` as int)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [{k: (int(v) if k == "step" else float(v)) for k, v in r.items()} for r in rows]


def _tensorboard(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))


def _atomic_write_rows(path: Path, rows: list[list[str]]) -> None:
    with atomic_write(path, "w") as fh:
        csv.writer(fh).writerows(rows)


def write_config(run_dir: Path, train_config: dict, method_config: dict, method: str, data: dict | None = None) -> None:
    """``RUN/config.json``; ``data``: what the dataset left out (``{"dropped": [...]}``), recorded when given."""
    blob = {"method": method, "train": train_config, "method_config": method_config}
    if data is not None:
        blob["data"] = data
    write_atomic(Path(run_dir) / "config.json", json.dumps(blob, indent=2, default=list) + "\n")


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """``... x 3 x H x W`` in [-1, 1] -> uint8 ``round((x + 1) / 2 * 255)`` clamped to 0..255 (no min-max stretching)."""
    return ((images.detach().float().cpu() + 1.0) / 2.0 * 255.0).round().clamp(0, 255).to(torch.uint8)


def save_grid(path: Path, rows: list[torch.Tensor]) -> Path:
    """One PNG: each row a ``B x 3 x H x W`` tensor in [-1, 1] (rows resized to the first row's size)."""
    import torch.nn.functional as F
    from torchvision.utils import make_grid

    from initbench.dataset.png import write_png

    h, w = rows[0].shape[-2:]
    rows = [r if r.shape[-2:] == (h, w) else F.interpolate(r.float(), size=(h, w), mode="nearest") for r in rows]
    grid = make_grid(torch.cat([r.detach().float().cpu() for r in rows]), nrow=rows[0].shape[0], padding=2, pad_value=1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_png(path, to_uint8(grid))
    return path
