"""Fixtures of the report tests: real results files (the evaluator run on floors and tiny untrained models,
random LPIPS backbone) on the session's paired mini-INIT v2, tiny checkpoints, and a training run's losses.csv."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

RANDOM = dict(lpips_backbone="random")


def _save_tiny(path: Path, method: str, seed: int) -> Path:
    import dataclasses

    from initbench.methods.base import get_method
    from initbench.training.checkpoints import save_checkpoint

    entry = get_method(method)
    torch.manual_seed(seed)
    model = entry.cls(entry.presets["tiny"]())
    save_checkpoint(path, method=method, config=dataclasses.asdict(model.config), model_state=model.state_dict(), step=0,
                    train_config={"task": "sunny2night", "image_size": 40, "crop_size": 16, "seed": seed})
    return path


@pytest.fixture(scope="session")
def report_files(mini_init_v2_root, tmp_path_factory):
    """``{name: path}``: paired-v1 results of ``identity``, two seeds of a tiny untrained ``munit`` (4 inputs, 2
    samples each), a v1 result of ``identity`` (no FID), and the checkpoints ``munit0``, ``munit1`` and ``init``."""
    from initbench.evaluation.evaluator import evaluate
    from initbench.evaluation.paired import evaluate_paired
    from initbench.evaluation.protocol import PAIRED_V1, V1
    from initbench.methods.identity import Identity
    from initbench.training.checkpoints import load_translator

    d = tmp_path_factory.mktemp("report_files")
    out = {"munit0": _save_tiny(d / "munit0.pt", "munit", 0), "munit1": _save_tiny(d / "munit1.pt", "munit", 1),
           "init": _save_tiny(d / "init.pt", "init", 2)}
    p = PAIRED_V1.with_overrides(num_inputs=4, samples_per_input=2)
    res = {"identity": evaluate_paired(Identity(), mini_init_v2_root, "sunny2night", protocol=p, method="identity", **RANDOM)}
    for name in ("munit0", "munit1"):
        res[name] = evaluate_paired(load_translator(out[name]), mini_init_v2_root, "sunny2night", protocol=p,
                                    method="munit", checkpoint_sha256=f"{int(name[-1]) + 1:064x}", **RANDOM)
    v1 = V1.with_overrides(num_inputs=3, samples_per_input=2)
    res["v1_identity"] = evaluate(Identity(), mini_init_v2_root, "sunny2night", protocol=v1, method="identity", fid=False,
                                  **RANDOM)
    for name, doc in res.items():
        out[f"{name}.json"] = d / f"{name}.json"
        out[f"{name}.json"].write_text(json.dumps(doc), encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def loss_run(tmp_path_factory):
    """A run folder whose losses.csv has INIT's 17 generator and discriminator columns (seeded values)."""
    from initbench.methods.init import LOSS_TERMS
    from initbench.training.logs import LossLog

    run = tmp_path_factory.mktemp("run")
    log = LossLog(run, None)
    g = torch.Generator().manual_seed(0)
    for step in range(10, 410, 10):
        scalars = {"gen/total": 20.0 - step / 40}
        scalars.update({f"gen/{t}": float(torch.rand((), generator=g)) + 1.0 / step for t in LOSS_TERMS})
        scalars.update({"dis/total": 2.0, "dis/d_g": 1.0, "dis/d_o": 1.0})
        log.write(step, scalars, 0.1)
    log.close()
    return run
