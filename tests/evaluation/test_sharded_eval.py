"""Sharded evaluation: ``torchrun --nproc-per-node 2 -m initbench evaluate`` (gloo, CPU) gives one process's numbers."""

from __future__ import annotations

import functools
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

TINY = ["--lpips-backbone", "random", "--num-inputs", "4", "--samples-per-input", "4", "--short-side", "40", "--offline"]


@pytest.fixture(scope="module")
def init_ckpt(tiny_init_ckpt):
    """A tiny multimodal INIT checkpoint (trained for sunny2night, untrained weights): tests/conftest.py's."""
    return tiny_init_ckpt


#: A seeded random 3 -> 16 conv feature extractor for FID/KID (no Inception weights offline), registered in this
#: process and in each rank as FEATURES; evaluate() is pointed at it by :data:`USE_FEATURES`.
FEATURES = "initbench-test-shard"
REGISTER_FEATURES = """
import torch, torch_fidelity
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY


class ShardFeatures(torch_fidelity.FeatureExtractorBase):
    def __init__(self, name, features_list, **kwargs):
        super().__init__(name, features_list)
        self.w = torch.nn.Parameter(torch.randn(16, 3, 3, 3, generator=torch.Generator().manual_seed(0)) * 0.1,
                                    requires_grad=False)

    @staticmethod
    def get_provided_features_list():
        return ("feat",)

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return "feat"

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 8, 8, dtype=torch.uint8)

    def forward(self, x):
        h = torch.nn.functional.conv2d(x.float() / 127.5 - 1, self.w, padding=1)
        return (torch.cat([h.mean(dim=(2, 3)), h.abs().amax(dim=(2, 3))], dim=1),)


if "initbench-test-shard" not in FEATURE_EXTRACTORS_REGISTRY:
    torch_fidelity.register_feature_extractor("initbench-test-shard", ShardFeatures)
"""
USE_FEATURES = """
import functools
import initbench.evaluation.evaluator as E
E.evaluate = functools.partial(E.evaluate, fid_extractor="initbench-test-shard")
"""

#: Run by each rank under torchrun: every evaluation of the module in one launch (a launch costs ~6 s on 2 busy
#: cores), in one process group the CLI reuses; each rank records its exit codes and the progress it was shown.
RANK_SCRIPT = REGISTER_FEATURES + USE_FEATURES + """
import contextlib, json, os, sys
import torch.distributed as dist
import initbench.cli.eval_cmds as C
from initbench.cli import main

shown = []


@contextlib.contextmanager
def recording_bar():
    yield lambda stage, done, total: shown.append([stage, done, total])


C._bar = recording_bar
dist.init_process_group("gloo")
codes, progress = {}, {}
for name, argv in json.loads(open(sys.argv[1]).read()).items():
    shown.clear()
    try:
        main(argv, prog_name="initbench", standalone_mode=False)
        codes[name] = 0
    except SystemExit as exc:
        codes[name] = exc.code
    progress[name] = list(shown)
with open(sys.argv[1] + f".rank{dist.get_rank()}", "w") as f:
    json.dump({"codes": codes, "progress": progress}, f)
dist.barrier()  # leave together: a rank tearing gloo down while its peer still exits was seen to abort (SIGABRT)
dist.destroy_process_group()
"""


def _args(protocol: str, root, ckpt, classifier) -> list[str]:
    args = ["evaluate", "--method", "init", "--ckpt", str(ckpt), "--data", str(root), "--task", "sunny2night",
            "--protocol", protocol, *TINY]
    if classifier is not None:
        args += ["--classifier", str(classifier)]
    return args


def _break_input(src, dst, which: int):
    """A copy of ``src`` at ``dst`` whose input ``which`` of 4 (on rank ``which % 2``) is not a PNG."""
    import shutil

    from initbench.evaluation import images as I
    from initbench.evaluation.protocol import V1

    shutil.copytree(src, dst)
    inputs = I.draw(I.domain_keys(I.split_of_root(dst, V1.split), "sunny", "test"), 4, V1.input_seed)
    I.key_path(dst, inputs[which]).write_bytes(b"not a png")
    return dst


@pytest.fixture(scope="module")
def broken_roots(eval_root, tmp_path_factory):
    """Copies of ``eval_root`` whose input 1 (rank 1's) / input 0 (read by every rank to size batches) is not a PNG."""
    d = tmp_path_factory.mktemp("broken")
    return _break_input(eval_root, d / "input1", 1), _break_input(eval_root, d / "input0", 0)


@pytest.fixture(scope="module")
def two_ranks(eval_root, mini_init_v2_root, broken_roots, init_ckpt, classifier_file, tmp_path_factory):
    """One ``torchrun --standalone --nproc-per-node 2`` launch (gloo, one thread per rank) running three evaluations:
    v1, paired-v1 and v1 on each of ``broken_roots``; returns (folder with ``<name>.json``, per rank ``{"codes", "progress"}``
    by run name, torchrun's stderr)."""
    d = tmp_path_factory.mktemp("two_ranks")
    runs = {"v1": [*_args("v1", eval_root, init_ckpt, classifier_file), "--out", str(d / "v1.json")],
            "paired-v1": [*_args("paired-v1", mini_init_v2_root, init_ckpt, classifier_file), "--out", str(d / "paired-v1.json")],
            "broken": [*_args("v1", broken_roots[0], init_ckpt, None), "--out", str(d / "broken.json")],
            "broken0": [*_args("v1", broken_roots[1], init_ckpt, None), "--out", str(d / "broken0.json")]}
    (d / "runs.json").write_text(json.dumps(runs))
    (d / "rank.py").write_text(RANK_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(d / "rank.py"),
           str(d / "runs.json")]
    run = subprocess.run(cmd, cwd=d, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    ranks = [json.loads((d / f"runs.json.rank{r}").read_text()) for r in (0, 1)]
    return d, ranks, run.stderr


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


@pytest.fixture(scope="module")
def shard_features():
    exec(REGISTER_FEATURES, {})
    return FEATURES


@pytest.mark.parametrize("protocol", ["v1", "paired-v1"])
def test_two_gloo_ranks_give_one_process_numbers(protocol, two_ranks, eval_root, mini_init_v2_root, init_ckpt,
                                                 classifier_file, shard_features, monkeypatch):
    import initbench.evaluation.evaluator as E

    d, ranks, stderr = two_ranks
    assert ranks[0]["codes"][protocol] == ranks[1]["codes"][protocol] == 0, stderr[-3000:]
    root = eval_root if protocol == "v1" else mini_init_v2_root
    monkeypatch.setattr(E, "evaluate", functools.partial(E.evaluate, fid_extractor=shard_features))
    res = CliRunner().invoke(main, [*_args(protocol, root, init_ckpt, classifier_file), "--json", "-"])
    assert res.exit_code == 0, res.output
    one, two = json.loads(res.stdout), json.loads((d / f"{protocol}.json").read_text())
    _assert_same_numbers(one, two)
    assert (one["world_size"], one["per_input"]["rank"]) == (1, [0, 0, 0, 0])
    assert (two["world_size"], two["per_input"]["rank"]) == (2, [0, 1, 0, 1])
    assert len(one["per_input"]["keys"]) == 4
    if protocol == "v1":  # IS/CIS from the gathered logits, FID/KID from the gathered feature rows
        assert None not in (two["metrics"]["cis_kl"], two["metrics"]["fid"], two["metrics"]["kid"])
        assert two["metrics_extra"]["fid_outputs"] == 16 and schema_problems(two) == []
    else:
        assert two["metrics"]["domain_accuracy"] is not None


def test_rank_0_alone_shows_progress_counting_every_rank(two_ranks, eval_root):
    _, ranks, _ = two_ranks
    shown = ranks[0]["progress"]["v1"]
    reference = [s for s in shown if s[0] == "reference"]
    assert [s for s in shown if s[0] == "inputs"] == [["inputs", 0, 4], ["inputs", 2, 4], ["inputs", 4, 4]]
    assert reference[0][1] == 0 and reference[-1][1] == reference[-1][2] > 0  # from 0 to every reference image
    assert ranks[0]["progress"]["paired-v1"] == [["inputs", 0, 4], ["inputs", 2, 4], ["inputs", 4, 4]]
    assert ranks[1]["progress"] == {"v1": [], "paired-v1": [], "broken": [], "broken0": []}  # no bar on rank 1


NOT_PNG = "expected a PNG file (signature 89 50 4E 47); found 6e 6f 74 20 61 20 70 6e"


def test_a_failing_rank_is_named_once_by_rank_0_and_nothing_is_written(two_ranks, broken_roots):
    d, ranks, stderr = two_ranks
    errors = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 2, stderr[-3000:]  # one line per failed run, from rank 0 only
    # input 1 fails on rank 1 while rank 0 evaluates input 0: both stop at that step
    assert ranks[0]["codes"]["broken"] == ranks[1]["codes"]["broken"] == 2 and not (d / "broken.json").exists()
    assert errors[0].startswith(f"error: rank 1 of 2 failed at input 1: {broken_roots[0]}/") and errors[0].endswith(NOT_PNG)
    # input 0 (read by every rank before the inputs are dealt) fails everywhere: the lowest rank is named
    assert ranks[0]["codes"]["broken0"] == ranks[1]["codes"]["broken0"] == 2 and not (d / "broken0.json").exists()
    assert errors[1].startswith(f"error: rank 0 of 2 failed: {broken_roots[1]}/") and errors[1].endswith(NOT_PNG)


def test_a_peer_that_stops_answering_is_an_error_not_a_hang():
    from initbench.evaluation.sharding import RankFailed, _collective

    def timed_out():
        raise RuntimeError("[../gloo/transport/tcp/pair.cc:534] Connection closed by peer\nmore detail")

    with pytest.raises(RankFailed) as err:
        _collective(Shard(1, 2, timeout_s=60), "evaluating input 3", timed_out)
    assert str(err.value) == ("rank 1 of 2: no answer from the other ranks while evaluating input 3 (within "
                              "--dist-timeout 60 s; a rank died or hangs): [../gloo/transport/tcp/pair.cc:534] "
                              "Connection closed by peer")
    assert err.value.rank is None and err.value.exit_code == 2


def test_one_process_progress_starts_each_stage_at_0(eval_root, tiny_translator_cls, tiny_extractor):
    from initbench.evaluation.evaluator import evaluate
    from initbench.evaluation.protocol import V1

    shown = []
    P = V1.with_overrides(num_inputs=3, samples_per_input=2, short_side=40)
    evaluate(tiny_translator_cls(4), eval_root, "sunny2night", protocol=P, lpips_backbone="random",
             fid_extractor=tiny_extractor, progress=lambda *a: shown.append(a))
    assert [s for s in shown if s[0] == "inputs"] == [("inputs", 0, 3), ("inputs", 1, 3), ("inputs", 2, 3), ("inputs", 3, 3)]
    reference = [s for s in shown if s[0] == "reference"]
    assert reference[0] == ("reference", 0, reference[0][2]) and reference[-1][1] == reference[0][2]


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
