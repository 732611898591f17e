import dataclasses

import pytest

from initbench.errors import UsageError
from initbench.evaluation.protocol import V1, get_protocol


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
    with pytest.raises(UsageError, match="unknown or fixed"):
        V1.with_overrides(nonsense=3)
    with pytest.raises(UsageError, match="--pairing"):
        V1.with_overrides(pairing="random")
    with pytest.raises(UsageError, match="--protocol"):
        get_protocol("v9")
