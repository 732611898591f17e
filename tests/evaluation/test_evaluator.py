import json

import pytest
import torch
from click.testing import CliRunner

from initbench.cli import main
from initbench.evaluation import images as I
from initbench.evaluation.evaluator import METRIC_KEYS, evaluate
from initbench.evaluation.lpips_diversity import LpipsScorer
from initbench.leaderboard.results import recompute_metrics
from initbench.evaluation.protocol import V1
from initbench.evaluation.result import schema_problems

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
    assert schema_problems(r1) == []


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
    assert schema_problems(r) == []


def test_without_inception_weights_fid_is_null_with_the_reason(run, tmp_path):
    r = run(fid_extractor="inception-v3-compat", weights_dir=tmp_path, offline=True, classifier=None)
    assert r["metrics"]["fid"] is None and r["metrics"]["kid"] is None
    assert "weights-inception-2015-12-05-6726825d.pth" in r["skipped"]["fid_kid"]
    assert r["metrics"]["is_exp"] is None and r["skipped"]["is_cis"] == "no --classifier given"
    assert schema_problems(r) == []


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
    assert schema_problems(saved) == []
    res = CliRunner().invoke(main, ["evaluate", "--method", "real", "--data", str(eval_root), "--task", "sunny2night",
                                    "--lpips-backbone", "random", "--num-inputs", "2", "--short-side", "40", "--json", "-",
                                    "--classifier", str(classifier_file)])
    assert res.exit_code == 0, res.output
    real = json.loads(res.stdout)
    assert real["method"] == "real" and real["metrics"]["lpips_diversity"] > 0
    assert len(real["per_input"]["lpips_pairs"]) == 2 and real["metrics"]["cis_kl"] is None
    assert schema_problems(real) == []
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
    assert schema_problems(r) == []
    got = recompute_metrics(r)  # LPIPS from lpips_drit_pairs exactly; IS/CIS from the summaries (a sum that cancels)
    assert got["lpips_diversity"] == r["metrics"]["lpips_diversity"]
    assert got == pytest.approx({"lpips_diversity": r["metrics"]["lpips_diversity"], **_is_cis(r)}, rel=1e-9, abs=1e-15)


def _is_cis(r):
    return {k: r["metrics"][k] for k in ("cis_kl", "cis_exp", "is_kl", "is_exp")}


def test_recompute_metrics_reproduces_the_stated_metrics(first):
    """The leaderboard's recomputation from per_input: LPIPS exactly, IS/CIS from the summaries to rounding."""
    got = recompute_metrics(first)
    assert list(got) == ["lpips_diversity", "cis_kl", "cis_exp", "is_kl", "is_exp"]
    assert got["lpips_diversity"] == first["metrics"]["lpips_diversity"]
    assert got == pytest.approx({"lpips_diversity": first["metrics"]["lpips_diversity"], **_is_cis(first)}, rel=1e-9,
                                abs=1e-15)


RANDOM_LPIPS = "lpips backbone is random (protocol: pretrained AlexNet)"
SMALL_CLF = ["classifier is small (protocol: inception_v3)", "classifier provenance is unknown (no init or recipe recorded)"]


def test_result_lists_its_reasons_and_identifies_its_data(first, eval_root):
    from initbench.evaluation.conformance import data_fingerprint

    assert first["conformant"] is False
    assert first["nonconformant_reasons"] == [
        "protocol overridden: num_inputs=3, samples_per_input=6, short_side=40", RANDOM_LPIPS, *SMALL_CLF]
    night = I.domain_keys(I.split_of_root(eval_root), "night", "test")
    assert first["data"] == {"split": "v1", "inputs": first["per_input"]["keys"], "reference": night}
    assert first["data_fingerprint"] == data_fingerprint("v1", first["per_input"]["keys"], night)
    assert (first["direction"], first["model_task"]) == ("a2b", "sunny2night")


def test_fewer_test_images_than_num_inputs_is_a_reason_not_an_override(run):
    r = run(protocol=V1.with_overrides(num_inputs=50, samples_per_input=2, short_side=40), fid=False)
    assert r["num_inputs"] == 6 and r["protocol_spec"]["num_inputs"] == 50
    assert r["nonconformant_reasons"][:2] == ["protocol overridden: num_inputs=50, samples_per_input=2, short_side=40",
                                              "6 test images, fewer than num_inputs 50"]


def test_direction_reaches_every_call_and_is_recorded(run, tiny_translator_cls):
    seen = []

    class Recording(tiny_translator_cls):
        def encode(self, images, *, direction="a2b"):
            seen.append(("encode", direction))
            return super().encode(images, direction=direction)

        def decode(self, content, *, direction="a2b", style=None):
            seen.append(("decode", direction))
            return super().decode(content, direction=direction, style=style)

    r = run(Recording(4), direction="b2a", model_task="night2sunny", fid=False)
    assert {d for _, d in seen} == {"b2a"} and {c for c, _ in seen} == {"encode", "decode"}
    assert (r["direction"], r["model_task"]) == ("b2a", "night2sunny")
    from initbench.errors import UsageError

    with pytest.raises(UsageError, match=r"^--direction: expected one of a2b, b2a; got 'ab'$"):
        run(Recording(4), direction="ab", fid=False)


def test_fid_kid_use_each_distinct_output_once(run, tiny_translator_cls, tiny_extractor, eval_root):
    """Seen: a deterministic method's one output per input entered FID/KID 100 times."""
    from initbench.evaluation.fid_kid import FeatureStream, fid_kid_from_features

    r = run(tiny_translator_cls(0))
    assert r["metrics_extra"]["fid_outputs"] == 3
    fs = FeatureStream(tiny_extractor)
    tr = tiny_translator_cls(0).eval()
    with torch.no_grad():
        outs = torch.cat([tr.translate(I.load_image(I.key_path(eval_root, k), 40)[None]).clamp(-1, 1)
                          for k in r["per_input"]["keys"]])
        ref = torch.stack([I.load_image(I.key_path(eval_root, k), 40) for k in r["data"]["reference"]])
    want = fid_kid_from_features(fs.features(I.to_uint8(outs)), fs.features(I.to_uint8(ref)),
                                 kid_subsets=SMALL.kid_subsets, kid_subset_size=SMALL.kid_subset_size)
    assert r["metrics"]["fid"] == pytest.approx(want["fid"], rel=1e-5)
    assert r["metrics"]["kid"] == pytest.approx(want["kid"], rel=1e-5, abs=1e-7)
    assert r["warnings"] == [
        "FID/KID from 3 distinct outputs, fewer than the feature dimension 32: the covariance is singular and FID "
        "is not comparable with one from more samples",
        "FID/KID from 6 reference images, fewer than the feature dimension 32: the covariance is singular and FID "
        "is not comparable with one from more samples"]


DRIT = {"pairing": "drit", "drit_pairs": 8}


def _lpips(r):
    return r["metrics"]["lpips_diversity"]


#: field -> (overridden value, base overrides, what the change moves)
OVERRIDE_EFFECTS = {
    "num_inputs": (2, {}, lambda r: len(r["per_input"]["keys"])),
    "input_seed": (5, {}, lambda r: r["per_input"]["keys"]),
    "short_side": (32, {}, _lpips),
    "samples_per_input": (4, {}, lambda r: [len(p) for p in r["per_input"]["lpips_pairs"]]),
    "style_seed": (7, {}, _lpips),
    "pairing": ("drit", {}, lambda r: "lpips_drit_pairs" in r["per_input"]),
    "lpips_pairs_per_input": (2, {}, lambda r: [len(p) for p in r["per_input"]["lpips_pairs"]]),
    "drit_pairs": (5, DRIT, lambda r: len(r["per_input"]["lpips_drit_pairs"])),
    "pair_seed": (9, DRIT, lambda r: r["per_input"]["lpips_drit_pairs"]),
    "isc_rng_seed": (7, {}, lambda r: (r["metrics"]["is_exp_10split"], r["metrics"]["kid"])),
    "fid_max_reference": (3, {}, lambda r: (r["metrics_extra"]["fid_reference_images"], r["data"]["reference"])),
    "kid_subsets": (3, {}, lambda r: r["metrics"]["kid"]),
    "kid_subset_size": (2, {}, lambda r: (r["metrics_extra"]["kid_subset_size"], r["metrics"]["kid"])),
}


def test_override_effects_cover_every_overridable_field():
    from initbench.evaluation.protocol import OVERRIDABLE

    assert set(OVERRIDE_EFFECTS) == set(OVERRIDABLE)


@pytest.mark.parametrize("name", sorted(OVERRIDE_EFFECTS))
def test_each_overridable_field_changes_the_computation(run, first, name):
    value, base, seen = OVERRIDE_EFFECTS[name]
    before = run(protocol=SMALL.with_overrides(**base)) if base else first
    after = run(protocol=SMALL.with_overrides(**{**base, name: value}))
    assert after["protocol_spec"]["overrides"][name] == value
    assert seen(after) != seen(before)


def test_real_on_a_small_test_split_is_not_conformant_and_scores_each_pair_once(eval_root, monkeypatch):
    """Seen: `--method real` on a 6-image night test split said 'conformant' and computed LPIPS 1,900 times."""
    from initbench.evaluation.real import evaluate_real

    scored = []
    orig = LpipsScorer.distances

    def counting(self, x0, x1, batch_size=8):
        scored.append(x0.shape[0])
        return orig(self, x0, x1, batch_size)

    monkeypatch.setattr(LpipsScorer, "distances", counting)
    r = evaluate_real(eval_root, "sunny2night", lpips_backbone="random")
    assert r["conformant"] is False
    assert r["nonconformant_reasons"] == ["6 test images, fewer than num_inputs 100", RANDOM_LPIPS]
    pairs = r["per_input"]["pair_keys"]
    assert len(pairs) == 100 and all(len(p) == 19 for p in pairs)
    distinct = {tuple(p) for slot in pairs for p in slot}
    assert sum(scored) == len(distinct) == r["metrics_extra"]["lpips_distinct_pairs"] <= 6 * 5
    assert r["data"]["inputs"] == sorted({k for p in distinct for k in p})
    assert schema_problems(r) == []
    # the same numbers as scoring each recorded pair on its own
    scorer = LpipsScorer("random", seed=0)
    for slot in (0, 57):
        for (a, b), v in list(zip(pairs[slot], r["per_input"]["lpips_pairs"][slot]))[:3]:
            x0, x1 = (I.load_image(I.key_path(eval_root, k), 360)[None] for k in (a, b))
            assert v == pytest.approx(float(orig(scorer, x0, x1)[0]), abs=1e-6)


def test_cli_headline_lists_the_reasons(eval_root):
    res = CliRunner().invoke(main, ["evaluate", "--method", "real", "--data", str(eval_root), "--task", "sunny2night",
                                    "--lpips-backbone", "random", "--short-side", "40"])
    assert res.exit_code == 0, res.output
    assert ("real sunny2night: protocol v1, NOT conformant: protocol overridden: short_side=40; 6 test images, fewer "
            f"than num_inputs 100; {RANDOM_LPIPS}") in res.stdout


@pytest.mark.parametrize("args, message", [
    (["--short-side", "2"], "error: --short-side (protocol field short_side): expected an integer >= 32 (LPIPS's "
                            "AlexNet needs inputs of at least 31 px); got 2"),
    (["--num-inputs", "0"], "error: --num-inputs (protocol field num_inputs): expected an integer >= 1; got 0"),
    (["--samples-per-input", "1"], "error: --samples-per-input (protocol field samples_per_input): expected an "
                                   "integer >= 2 (one LPIPS pair); got 1"),
    (["--classifier", "TEXT"], "error: --classifier: expected a classifier file of format "
                               "'initbench-domain-classifier/1' (from `initbench train-classifier`); TEXT is not a "
                               "torch.save file"),
])
def test_cli_bad_options_give_one_line_and_exit_2(eval_root, tmp_path, args, message):
    """Seen: --short-side 2 gave a traceback; a text file as --classifier said 'not loadable ... (105)'."""
    text = tmp_path / "notes.txt"
    text.write_text("these are not weights\n")
    args = [str(text) if a == "TEXT" else a for a in args]
    for method in ("real", "tiny"):
        extra = [] if method == "real" else ["--ckpt", str(text)]
        res = CliRunner().invoke(main, ["evaluate", "--method", method, *extra, "--data", str(eval_root), "--task",
                                        "sunny2night", "--lpips-backbone", "random", *args])
        if method == "tiny" and args[0] == "--classifier":
            continue  # the translator is resolved first; the classifier path is the same
        assert res.exit_code == 2, res.output
        # one message (the terminal may wrap it; the lead's cli/common.py decides the width)
        assert " ".join(res.stderr.split()) == " ".join(message.replace("TEXT", str(text)).split()), res.stderr
        assert "Traceback" not in res.output
