"""The trainer: exact resume, the learning signal, logs and run-folder rules, schedules, DDP over gloo."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from initbench.errors import UsageError
from initbench.training.logs import read_losses
from initbench.training.optim import lr_at
from initbench.training.trainer import train
from initbench.methods.base import OptimizerSpec


def _loss_rows(run_dir):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in read_losses(run_dir / "losses.csv")]


def test_resume_reproduces_the_uninterrupted_run(small_cfg, toy_pairs, tmp_path):
    full = train(small_cfg("full", max_steps=5), dataset=toy_pairs)
    train(small_cfg("split", max_steps=2), dataset=toy_pairs)
    resumed = train(small_cfg("split", max_steps=5), resume=True, dataset=toy_pairs)
    assert resumed["resumed_from"] == 2
    # 6 pairs / batch 2 = 3 batches per epoch: steps 3-5 cross an epoch boundary after the resume
    assert _loss_rows(tmp_path / "split") == _loss_rows(tmp_path / "full")
    assert [r["step"] for r in _loss_rows(tmp_path / "split")] == [1, 2, 3, 4, 5]
    assert resumed["param_sha256"] == full["param_sha256"]


def test_reconstruction_loss_falls(small_cfg, toy_pairs, tmp_path):
    cfg = small_cfg("learn", max_steps=20, method_overrides={**small_cfg().method_overrides, "lr": 3e-3})
    train(cfg, dataset=toy_pairs)
    rows = read_losses(tmp_path / "learn" / "losses.csv")
    first = sum(r["gen/x_g"] for r in rows[:3]) / 3
    last = sum(r["gen/x_g"] for r in rows[-3:]) / 3
    assert last < 0.85 * first, (first, last)


def test_run_folder_contents(small_cfg, toy_pairs, tmp_path):
    train(small_cfg("r", max_steps=2, sample_every=2, checkpoint_every=1), dataset=toy_pairs)
    run = tmp_path / "r"
    with open(run / "losses.csv") as fh:
        header = next(csv.reader(fh))
    assert header[0] == "step" and header[-1] == "seconds"
    assert {"gen/total", "gen/x_g", "gen/x_o", "gen/gan_o", "dis/d_g", "dis/d_o"} <= set(header)
    assert (run / "samples" / "step_0000002.png").is_file()
    assert (run / "config.json").is_file() and (run / "checkpoint.pt").is_file()
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_run_folder_rules(small_cfg, toy_pairs):
    train(small_cfg("once", max_steps=1), dataset=toy_pairs)
    with pytest.raises(UsageError, match="already holds a run"):
        train(small_cfg("once", max_steps=2), dataset=toy_pairs)
    with pytest.raises(UsageError, match="--resume: expected a checkpoint"):
        train(small_cfg("never", max_steps=2), resume=True, dataset=toy_pairs)


def test_unknown_variant_and_field(small_cfg, toy_pairs):
    with pytest.raises(UsageError, match="--variant: method 'init' has variants: ds, no-ds, multiscale; got 'x'"):
        train(small_cfg("v", variant="x"), dataset=toy_pairs)
    with pytest.raises(UsageError, match="no field"):
        train(small_cfg("f", method_overrides={"nonsense": 1}), dataset=toy_pairs)


def test_schedules():
    p = [torch.nn.Parameter(torch.zeros(1))]
    step = OptimizerSpec(params=p, lr=1e-4, schedule="step", step_size=100, gamma=0.5)
    assert [lr_at(step, s) for s in (0, 99, 100, 250)] == [1e-4, 1e-4, 5e-5, 2.5e-5]
    lin = OptimizerSpec(params=p, lr=2e-4, schedule="linear", constant_steps=100, total_steps=200)
    assert [lr_at(lin, s) for s in (0, 100, 150, 200, 300)] == pytest.approx([2e-4, 2e-4, 1e-4, 0.0, 0.0])


def test_two_process_gloo_run_ends_with_identical_parameters(small_cfg, toy_pairs, tmp_path):
    from initbench.training.distributed import launch_local

    cfg = small_cfg("ddp", max_steps=2, num_sample_images=2)
    results = launch_local(2, train, (cfg,), str(tmp_path / "ranks"), kwargs={"dataset": toy_pairs})
    assert [r["world_size"] for r in results] == [2, 2]
    assert results[0]["param_sha256"] == results[1]["param_sha256"]
    # each rank trained on its own shard: their own losses differ
    assert results[0]["last_losses"]["gen/x_g"] != results[1]["last_losses"]["gen/x_g"]
    assert (tmp_path / "ddp" / "checkpoint.pt").is_file()


def test_bf16_autocast_and_ema(small_cfg, toy_pairs, tmp_path):
    from initbench.training.checkpoints import load_checkpoint

    summary = train(small_cfg("amp", max_steps=2, amp="bf16", ema_decay=0.5), dataset=toy_pairs)
    assert summary["amp"] == "bf16" and all(v == v for v in summary["last_losses"].values())
    blob = load_checkpoint(tmp_path / "amp" / "checkpoint.pt")
    name = "gen_a.mlp.model.0.fc.weight"
    assert set(blob["ema"]) == {k for k in blob["model"] if k.startswith("gen_") and "running_" not in k}
    assert not torch.equal(blob["ema"][name], blob["model"][name])
    with pytest.raises(UsageError, match="--amp fp16: needs a CUDA device"):
        train(small_cfg("fp16", amp="fp16", device="cpu"), dataset=toy_pairs)


def test_drit_losses_csv_has_every_term_of_every_phase(small_cfg, toy_pairs, tmp_path):
    # DRIT's steps 1 and 2 run only the content discriminator; step 3 runs dis, dis_content and gen
    cfg = small_cfg("drit", method="drit", max_steps=3, method_overrides={"dim": 4, "content_dis_layers": 0, "dis_scale": 2})
    train(cfg, dataset=toy_pairs)
    with open(tmp_path / "drit" / "losses.csv") as fh:
        header = next(csv.reader(fh))
    assert header[:2] == ["step", "dis_content/disContent"] and header[-1] == "seconds"
    assert {"dis/disA", "dis/disB2", "dis/total", "gen/G_L1_A", "gen/z_L1_b", "gen/lz_AB", "gen/total"} <= set(header)
    rows = read_losses(tmp_path / "drit" / "losses.csv")
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(math.isnan(r["gen/G_L1_A"]) for r in rows[:2]) and rows[2]["gen/G_L1_A"] > 0
    assert all(math.isfinite(r["dis_content/disContent"]) for r in rows)


def test_resume_with_a_changed_set_value_trains_with_it(small_cfg, toy_pairs, tmp_path):
    from initbench.training.checkpoints import load_checkpoint

    train(small_cfg("lr", max_steps=1), dataset=toy_pairs)
    cfg = small_cfg("lr", max_steps=2, method_overrides={**small_cfg().method_overrides, "lr": 5e-5})
    train(cfg, resume=True, dataset=toy_pairs)
    blob = load_checkpoint(tmp_path / "lr" / "checkpoint.pt")
    assert blob["config"]["lr"] == 5e-5 and blob["optimizers"]["gen"]["param_groups"][0]["lr"] == 5e-5
