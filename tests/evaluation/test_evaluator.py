import json

import pytest
import torch
from click.testing import CliRunner

from initbench.cli import main
from initbench.evaluation import images as I
from initbench.evaluation.evaluator import METRIC_KEYS, evaluate
from initbench.evaluation.lpips_diversity import LpipsScorer
from initbench.evaluation.protocol import V1

SMALL = V1.with_overrides(num_inputs=3, samples_per_input=6, short_side=40)


def _strip(r):
    return {k: v for k, v in r.items() if k != "timings"}


@pytest.fixture(scope="module")
def run(eval_root, tiny_translator_cls, classifier_file, tiny_extractor):
    def go(translator=None, **kw):
        args = dict(protocol=SMALL, classifier=classifier_file, lpips_backbone="random", fid_extractor=tiny_extractor)
        args.update(kw)
        return evaluate(translator or tiny_translator_cls(4), eval_root, "sunny2night", method="tiny", **args)

    return go


@pytest.fixture(scope="module")
def first(run):
    return run()


def test_end_to_end_twice_identical(run, first):
    r1, r2 = first, run()
    assert json.dumps(_strip(r1), sort_keys=True) == json.dumps(_strip(r2), sort_keys=True)
    assert r1["protocol"] == "v1" and r1["conformant"] is False
    assert r1["protocol_spec"]["overrides"] == {"num_inputs": 3, "samples_per_input": 6, "short_side": 40}
    assert set(r1["metrics"]) == set(METRIC_KEYS)
    assert all(r1["metrics"][k] is not None for k in METRIC_KEYS)
    assert r1["fingerprint"]["lpips_backbone"] == "random"
    assert r1["fingerprint"]["fid_features"].startswith("extractor:")
    pi = r1["per_input"]
    assert len(pi["keys"]) == 3 and all(k.startswith("sunny/") for k in pi["keys"])
    assert [len(p) for p in pi["lpips_pairs"]] == [3, 3, 3]
    flat = [v for p in pi["lpips_pairs"] for v in p]
    assert r1["metrics"]["lpips_diversity"] == pytest.approx(sum(flat) / len(flat), rel=1e-12)
    assert r1["metrics"]["lpips_diversity"] > 0 and r1["metrics"]["cis_kl"] > 0
    assert r1["metrics"]["cis_exp"] == pytest.approx(2.718281828459045 ** r1["metrics"]["cis_kl"])
    for key in ("versions", "device", "timings", "seed", "checkpoint_sha256"):
        assert key in r1


def test_values_equal_a_naive_recomputation(run, first, eval_root, tiny_translator_cls):
    """Pair k of input i is LPIPS(sample 2k, sample 2k+1), each a separate translate() with the protocol's styles."""
    r = run(batch_sizes={"decode": 2, "lpips": 1, "fid": 3})
    assert r["metrics"] == pytest.approx(first["metrics"], rel=1e-5)  # batch sizes do not change results
    tr = tiny_translator_cls(4).eval()
    scorer = LpipsScorer("random", seed=0)
    with torch.no_grad():
        for i, key in enumerate(r["per_input"]["keys"]):
            x = I.load_image(I.key_path(eval_root, key), 40)[None]
            styles = tr.sample_style(6, generator=torch.Generator().manual_seed(SMALL.style_seed + i))
            for k in range(3):
                a = tr.translate(x, style=styles[2 * k : 2 * k + 1])
                b = tr.translate(x, style=styles[2 * k + 1 : 2 * k + 2])
                want = float(scorer.model(a, b).reshape(()))
                assert r["per_input"]["lpips_pairs"][i][k] == pytest.approx(want, abs=1e-6)


def test_deterministic_translator_gives_cis_zero(run, tiny_translator_cls):
    r = run(tiny_translator_cls(0), fid=False)
    assert r["deterministic"] is True
    assert r["metrics"]["cis_kl"] == 0.0 and r["metrics"]["cis_exp"] == 1.0
    assert r["metrics"]["lpips_diversity"] == 0.0
    assert r["metrics"]["fid"] is None and "fid_kid" in r["skipped"]


def test_without_inception_weights_fid_is_null_with_the_reason(run, tmp_path):
    r = run(fid_extractor="inception-v3-compat", weights_dir=tmp_path, offline=True, classifier=None)
    assert r["metrics"]["fid"] is None and r["metrics"]["kid"] is None
    assert "weights-inception-2015-12-05-6726825d.pth" in r["skipped"]["fid_kid"]
    assert r["metrics"]["is_exp"] is None and r["skipped"]["is_cis"] == "no --classifier given"


def test_cli_evaluate_translator_and_real(eval_root, tiny_translator_cls, classifier_file, tmp_path, monkeypatch):
    import initbench.training.checkpoints as C

    ckpt = tmp_path / "tiny.pt"
    ckpt.write_bytes(b"stand-in checkpoint")
    monkeypatch.setattr(C, "resolve_translator", lambda method, **kw: tiny_translator_cls(4))
    out = tmp_path / "r.json"
    args = ["evaluate", "--method", "tiny", "--ckpt", str(ckpt), "--data", str(eval_root), "--task", "sunny2night",
            "--classifier", str(classifier_file), "--lpips-backbone", "random", "--num-inputs", "2",
            "--samples-per-input", "4", "--short-side", "40", "--no-fid", "--offline", "--out", str(out)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "lpips_diversity" in res.stdout and "NOT conformant" in res.stdout
    saved = json.loads(out.read_text())
    import hashlib

    assert saved["checkpoint_sha256"] == hashlib.sha256(b"stand-in checkpoint").hexdigest()
    res = CliRunner().invoke(main, ["evaluate", "--method", "real", "--data", str(eval_root), "--task", "sunny2night",
                                    "--lpips-backbone", "random", "--num-inputs", "2", "--short-side", "40", "--json",
                                    "--classifier", str(classifier_file)])
    assert res.exit_code == 0, res.output
    real = json.loads(res.stdout)
    assert real["method"] == "real" and real["metrics"]["lpips_diversity"] > 0
    assert len(real["per_input"]["lpips_pairs"]) == 2 and real["metrics"]["cis_kl"] is None
    res = CliRunner().invoke(main, ["evaluate", "--method", "tiny", "--data", str(eval_root), "--task", "sunny2night"])
    assert res.exit_code == 2 and "expected exactly one of them" in res.stderr


def test_drit_pairing_option(run, first):
    r = run(protocol=SMALL.with_overrides(pairing="drit", drit_pairs=20), fid=False)
    rows = r["per_input"]["lpips_drit_pairs"]
    assert len(rows) == 20 and all(i != j for i, j, _ in rows)
    assert r["metrics"]["lpips_diversity"] == pytest.approx(sum(v for _, _, v in rows) / 20, rel=1e-12)
    # the munit pairing is still computed from the same samples, and equals the headline run's
    assert r["metrics_extra"]["lpips_munit_pairing"] == pytest.approx(first["metrics"]["lpips_diversity"], rel=1e-9)
    assert r["protocol_spec"]["overrides"]["pairing"] == "drit"
