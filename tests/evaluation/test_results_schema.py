"""results.schema.json: every results document the evaluator builds is valid; what is wrong is named by JSON path."""

import copy

import pytest
from jsonschema import Draft202012Validator

from initbench.evaluation.evaluator import evaluate
from initbench.evaluation.protocol import V1
from initbench.evaluation.real import evaluate_real
from initbench.evaluation.result import results_schema, schema_problems

SMALL = V1.with_overrides(num_inputs=3, samples_per_input=4, short_side=40)
#: The keys of a results file, in the order every file so far has had them (weights_sha256: translators only).
KEYS = ["protocol", "protocol_spec", "conformant", "nonconformant_reasons", "task", "direction", "model_task", "method",
        "checkpoint_sha256", "weights_sha256", "seed", "num_inputs", "samples_per_input", "deterministic", "metrics",
        "metrics_extra", "per_input", "fingerprint", "skipped", "warnings", "data_fingerprint", "data", "versions",
        "device", "world_size", "precision", "batch_sizes", "timings"]


@pytest.fixture(scope="module")
def translator_result(eval_root, tiny_translator_cls, classifier_file, tiny_extractor):
    return evaluate(tiny_translator_cls(4), eval_root, "sunny2night", protocol=SMALL, classifier=classifier_file,
                    lpips_backbone="random", fid_extractor=tiny_extractor, checkpoint_sha256="ab" * 32)


@pytest.fixture(scope="module")
def real_result(eval_root, classifier_file):
    return evaluate_real(eval_root, "sunny2night", protocol=SMALL, classifier=classifier_file, lpips_backbone="random")


def test_the_schema_is_a_valid_2020_12_schema():
    Draft202012Validator.check_schema(results_schema())


def test_translator_and_real_results_are_valid_with_their_keys_in_order(translator_result, real_result):
    assert schema_problems(translator_result) == []
    assert list(translator_result) == KEYS
    assert schema_problems(real_result) == []
    assert list(real_result) == [k for k in KEYS if k not in ("weights_sha256", "world_size")]  # real is not sharded
    assert list(real_result["per_input"]) == ["lpips", "lpips_pairs", "pair_keys"]
    assert list(translator_result["per_input"]) == ["keys", "rank", "lpips", "lpips_pairs", "cis_kl", "marginal",
                                                    "neg_entropy"]


def test_a_deterministic_method_gives_valid_results(eval_root, tiny_extractor):
    from initbench.methods.identity import Identity

    r = evaluate(Identity(), eval_root, "sunny2night", protocol=SMALL, lpips_backbone="random", fid_extractor=tiny_extractor)
    assert schema_problems(r) == []
    assert r["method"] == "identity" and r["deterministic"] is True and r["metrics"]["lpips_diversity"] == 0.0
    assert r["metrics_extra"]["fid_outputs"] == 3 and r["metrics"]["is_exp"] is None


def _broken(doc, change):
    doc = copy.deepcopy(doc)
    change(doc)
    return schema_problems(doc)


def test_problems_are_named_by_json_path(translator_result, real_result):
    assert _broken(translator_result, lambda d: d.pop("weights_sha256")) == ["$: 'weights_sha256' is a required property"]
    assert _broken(translator_result, lambda d: d["metrics"].update(fid="1.0")) == [
        "$.metrics.fid: '1.0' is not of type 'number', 'null'"]
    assert _broken(translator_result, lambda d: d["metrics"].pop("kid")) == ["$.metrics: 'kid' is a required property"]
    assert _broken(translator_result, lambda d: d.update(world_size=0)) == ["$.world_size: 0 is less than the minimum of 1"]
    assert _broken(translator_result, lambda d: d["per_input"]["rank"].__setitem__(0, -1)) == [
        "$.per_input.rank[0]: -1 is less than the minimum of 0"]
    assert _broken(translator_result, lambda d: d["per_input"]["lpips_pairs"][1].append(None)) == [
        "$.per_input.lpips_pairs[1][2]: None is not of type 'number'"]
    assert _broken(translator_result, lambda d: d.update(conformant=True, nonconformant_reasons=["x"])) == [
        "$.nonconformant_reasons: ['x'] is expected to be empty"]
    assert _broken(translator_result, lambda d: d.update(direction=None)) == ["$.direction: None is not one of ['a2b', 'b2a']"]
    assert _broken(real_result, lambda d: d.update(weights_sha256="ab" * 32)) == [
        "$.weights_sha256: None was expected"]
    assert _broken(real_result, lambda d: d.update(data_fingerprint="abc")) == [
        "$.data_fingerprint: 'abc' does not match '^[0-9a-f]{64}$'"]
    assert _broken(real_result, lambda d: d.update(extra_key=1)) == [
        "$: Additional properties are not allowed ('extra_key' was unexpected)"]
