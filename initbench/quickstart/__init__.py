"""`initbench quickstart`: the bundled reference models scored against the ground truth of the synthetic
mini-INIT v2, the floors beside them, a short training run, leaderboard entries and an HTML report.

Library code: returns values, never prints. ``progress(stage, done, total, info)`` and
``on_stage(event, stage, detail)`` (event: ``start``, ``reused``, ``done``) let the CLI draw bars.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from initbench.quickstart.engine import Context, OnStage, Progress, run_stages
from initbench.quickstart.options import BENCHMARK, FLOORS, MODELS, QuickstartOptions, command_line
from initbench.quickstart.stages import SHORT, QuickstartError, stages

__all__ = ["BENCHMARK", "FLOORS", "MODELS", "SHORT", "QuickstartError", "QuickstartOptions", "command_line",
           "run_quickstart"]


def run_quickstart(opts: QuickstartOptions, *, progress: Progress | None = None,
                   on_stage: OnStage | None = None) -> dict:
    """Run (or finish) the quickstart in ``opts.out``; returns ``{"stages": {name: result}, "seconds": {...}, ...}``."""
    import torch

    opts.validate()
    before = torch.get_num_threads()
    if opts.threads > 0:
        torch.set_num_threads(opts.threads)
    try:
        out = Path(opts.out)
        out.mkdir(parents=True, exist_ok=True)
        done = run_stages(Context(opts, out, progress), stages(opts), on_stage)
    finally:
        torch.set_num_threads(before)
    return {"out": str(out), **done, "options": asdict(opts)}
