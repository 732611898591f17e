"""Sharded evaluation: ``torchrun --nproc-per-node 2 -m initbench evaluate`` (gloo, CPU) gives one process's numbers."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

from initbench.cli import main
from initbench.evaluation.collect import Collected, merge_collected
from initbench.evaluation.paired import Scores, merge_scores
from initbench.evaluation.result import schema_problems
from initbench.evaluation.sharding import Shard, place

SMALL_INIT = dict(dim=4, n_res=1, mlp_dim=16, dis_dim=4, dis_n_layer=2, dis_num_scales=2)
TINY = ["--lpips-backbone", "random", "--num-inputs", "4", "--samples-per-input", "4", "--short-side", "40", "--offline"]


@pytest.fixture(scope="module")
def init_ckpt(tmp_path_factory):
    """A tiny multimodal INIT checkpoint (trained for sunny2night, untrained weights)."""
    from initbench.methods.init import InitConfig, InitModel
    from initbench.training.checkpoints import save_checkpoint

    torch.manual_seed(0)
    model = InitModel(InitConfig(**SMALL_INIT))
    path = tmp_path_factory.mktemp("shard_ckpt") / "init.pt"
    save_checkpoint(path, method="init", config=model.config_dict(), model_state=model.state_dict(), step=0,
                    train_config={"task": "sunny2night"})
    return path


def _torchrun(args: list[str], cwd) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc-per-node 2 -m initbench ARGS`` (gloo on the CPU), one thread per rank."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "initbench", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def _assert_same_numbers(one: dict, two: dict) -> None:
    """Every metric and per-input value of ``two`` equals ``one``'s to 1e-6 (ranks and world size aside)."""

    def close(a, b, where):
        if isinstance(a, list):
            assert isinstance(b, list) and len(a) == len(b), where
            for k, (x, y) in enumerate(zip(a, b)):
                close(x, y, f"{where}[{k}]")
        elif isinstance(a, float) and isinstance(b, float):
            assert math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6), f"{where}: {a} != {b}"
        else:
            assert a == b, f"{where}: {a!r} != {b!r}"

    assert one["metrics"].keys() == two["metrics"].keys()
    for k in one["metrics"]:
        close(one["metrics"][k], two["metrics"][k], f"metrics.{k}")
    assert set(one["per_input"]) == set(two["per_input"])
    for k in one["per_input"]:
        if k != "rank":
            close(one["per_input"][k], two["per_input"][k], f"per_input.{k}")
    for k in ("data_fingerprint", "weights_sha256", "batch_sizes", "skipped", "conformant"):
        assert one[k] == two[k], k


@pytest.mark.parametrize("protocol", ["v1", "paired-v1"])
def test_two_gloo_ranks_give_one_process_numbers(protocol, eval_root, mini_init_v2_root, init_ckpt,
                                                 classifier_file, tmp_path):
    root = eval_root if protocol == "v1" else mini_init_v2_root
    args = ["evaluate", "--method", "init", "--ckpt", str(init_ckpt), "--data", str(root), "--task", "sunny2night",
            "--protocol", protocol, "--classifier", str(classifier_file), *TINY]
    if protocol == "v1":
        args.append("--no-fid")  # no Inception weights offline; the FID rows' order is pinned below
    res = CliRunner().invoke(main, [*args, "--json", "-"])
    assert res.exit_code == 0, res.output
    one = json.loads(res.stdout)
    out = tmp_path / "two.json"
    run = _torchrun([*args, "--out", str(out), "--json", "-"], tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    two = json.loads(out.read_text())
    assert json.loads(run.stdout) == two  # rank 0 alone wrote stdout: one document, nothing else
    _assert_same_numbers(one, two)
    assert (one["world_size"], one["per_input"]["rank"]) == (1, [0, 0, 0, 0])
    assert (two["world_size"], two["per_input"]["rank"]) == (2, [0, 1, 0, 1])
    if protocol == "v1":
        assert two["metrics"]["cis_kl"] is not None and schema_problems(two) == []


def test_a_failing_rank_is_named_and_nothing_is_written(eval_root, init_ckpt, tmp_path):
    import shutil

    from initbench.evaluation import images as I
    from initbench.evaluation.protocol import V1

    root = tmp_path / "init"
    shutil.copytree(eval_root, root)
    P = V1.with_overrides(num_inputs=4)
    inputs = I.draw(I.domain_keys(I.split_of_root(root, P.split), "sunny", "test"), 4, P.input_seed)
    I.key_path(root, inputs[1]).write_bytes(b"not a png")  # input 1 is rank 1's
    out = tmp_path / "r.json"
    run = _torchrun(["evaluate", "--method", "init", "--ckpt", str(init_ckpt), "--data", str(root), "--task",
                     "sunny2night", "--no-fid", *TINY, "--out", str(out)], tmp_path)
    assert run.returncode == 2 and not out.exists()
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith("error: rank 1 of 2 failed at input 1: "), run.stderr[-3000:]


def test_round_robin_shares_and_place_restore_input_order():
    assert [Shard(r, 2).indices(5) for r in (0, 1)] == [[0, 2, 4], [1, 3]]
    assert [Shard(0, 3).rank_of(i) for i in range(5)] == [0, 1, 2, 0, 1]
    assert place([([0, 2, 4], ["a", "c", "e"]), ([1, 3], ["b", "d"])], 5) == ["a", "b", "c", "d", "e"]
    with pytest.raises(ValueError, match="expected one value per input index; got 1 values for 2 inputs"):
        place([([1, 3], ["b"])], 4)


def _collected(inputs: list[int], rows_per_input: int) -> Collected:
    """A Collected whose every value names its input, so a misplaced one shows."""
    c = Collected(batch_sizes={"decode": 2})
    c.lpips_pairs = [[float(i)] for i in inputs]
    c.logit_groups = [torch.full((2, 3), float(i), dtype=torch.float64) for i in inputs]
    c.fid_counts = [rows_per_input] * len(inputs)
    c.fid_rows = torch.cat([torch.arange(rows_per_input, dtype=torch.float32)[:, None] + 10 * i for i in inputs])
    c.timings = {"lpips": 1.0}
    return c


def test_merge_puts_fid_rows_logits_and_lpips_back_in_one_process_order():
    one = _collected([0, 1, 2, 3, 4], 3)
    merged = merge_collected([([0, 2, 4], _collected([0, 2, 4], 3)), ([1, 3], _collected([1, 3], 3))], 5, Shard(0, 2))
    assert torch.equal(merged.fid_rows, one.fid_rows)  # the FID/KID feature matrix is one process's, row for row
    assert merged.lpips_pairs == one.lpips_pairs and merged.fid_counts == [3] * 5
    assert all(torch.equal(a, b) for a, b in zip(merged.logit_groups, one.logit_groups))
    assert merged.ranks == [0, 1, 0, 1, 0] and merged.timings["lpips"] == 2.0  # seconds summed over ranks


def test_merge_scores_of_paired_v1_keeps_input_order_and_a_rank_without_inputs():
    a, b, empty = Scores(timings={"scoring": 1.0}), Scores(timings={"scoring": 2.0}), Scores(timings={"scoring": 0.0})
    for sc, ix in ((a, [0, 2]), (b, [1])):
        for i in ix:
            sc.add("l1_gt_frame", [float(i)])
            sc.lpips_pairs.append([i / 10])
    merged = merge_scores([([0, 2], a), ([1], b), ([], empty)], 3)
    assert merged.samples == {"l1_gt_frame": [[0.0], [1.0], [2.0]]}
    assert merged.lpips_pairs == [[0.0], [0.1], [0.2]] and merged.timings == {"scoring": 3.0}
