import dataclasses

import pytest

from initbench.errors import UsageError
from initbench.evaluation.protocol import FIXED, OVERRIDABLE, V1, get_protocol


def test_v1_is_frozen_and_complete():
    p = get_protocol("v1")
    assert p is V1 and p.version == "v1" and p.conformant
    assert (p.num_inputs, p.samples_per_input, p.lpips_pairs(), p.short_side) == (100, 100, 19, 360)
    assert p.tasks[:2] == ("sunny2night", "night2sunny") and len(p.tasks) == 6
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.num_inputs = 5


def test_overrides_are_recorded_and_mark_the_run_non_conformant():
    p = V1.with_overrides(num_inputs=4, samples_per_input=10, short_side=None)
    assert not p.conformant and p.to_dict()["overrides"] == {"num_inputs": 4, "samples_per_input": 10}
    assert p.lpips_pairs() == 5 and p.version == "v1"
    assert V1.with_overrides(num_inputs=100) is V1  # no real change: still conformant


def test_bad_overrides():
    with pytest.raises(UsageError, match="unknown field"):
        V1.with_overrides(nonsense=3)
    with pytest.raises(UsageError, match="--pairing"):
        V1.with_overrides(pairing="random")
    with pytest.raises(UsageError, match="--protocol"):
        get_protocol("v9")


def test_every_field_is_either_overridable_or_fixed():
    names = {f.name for f in dataclasses.fields(V1)}
    assert set(OVERRIDABLE) | set(FIXED) == names and not set(OVERRIDABLE) & set(FIXED)


def test_fields_no_code_reads_are_refused():
    """Seen: these overrides were accepted and recorded, but no code read them."""
    with pytest.raises(UsageError) as exc:
        V1.with_overrides(lpips_net="vgg", is_splits=(5,), fid_feature_layer="64", crop="center")
    assert str(exc.value).startswith("protocol override: field(s) crop, fid_feature_layer, is_splits, lpips_net are "
                                     "fixed by protocol v1")
    other = {"version": "v2", "tasks": ("sunny2night",), "split": "paper", "input_resize": "x", "lpips_version": "0.0",
             "classifier_input": "x", "cis_aggregation": "x", "conformant": False, "overrides": (("a", 1),)}
    assert set(other) | {"lpips_net", "is_splits", "fid_feature_layer", "crop"} == set(FIXED)
    for name, value in other.items():
        with pytest.raises(UsageError, match=f"field\\(s\\) {name} are fixed"):
            V1.with_overrides(**{name: value})
    assert V1.with_overrides(lpips_net="alex") is V1  # the published value is no change


@pytest.mark.parametrize("name, value, message", [
    ("short_side", 2, "--short-side (protocol field short_side): expected an integer >= 32 (LPIPS's AlexNet needs "
                      "inputs of at least 31 px); got 2"),
    ("num_inputs", 0, "--num-inputs (protocol field num_inputs): expected an integer >= 1; got 0"),
    ("samples_per_input", 1, "--samples-per-input (protocol field samples_per_input): expected an integer >= 2 "
                             "(one LPIPS pair); got 1"),
    ("kid_subset_size", 1, "protocol field kid_subset_size: expected an integer >= 2; got 1"),
    ("input_seed", "3", "protocol field input_seed: expected an integer; got '3'"),
])
def test_override_values_out_of_range(name, value, message):
    with pytest.raises(UsageError) as exc:
        V1.with_overrides(**{name: value})
    assert str(exc.value) == message
