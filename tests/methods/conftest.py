"""Fixtures for the method tests."""

from __future__ import annotations

import warnings

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _native_cpu_kernels():
    """oneDNN compiles a kernel for every new conv shape, and two threads contend on a busy CPU: both
    dominate these tiny nets, so they run single-threaded on the native kernels (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with torch.backends.mkldnn.flags(enabled=False):
            yield
    torch.set_num_threads(threads)


@pytest.fixture
def check_each_weight_scales_its_group():
    """``check(cls, config, weight_of, primes)``: with distinct prime loss weights, the logged generator terms stay
    unweighted (same draws, same values), the total is each term times its own weight, and the discriminator total
    is ``gan_w`` times the two discriminators' sum. A swapped, dropped or shared weight changes the total."""
    import dataclasses

    def check(cls, config, weight_of: dict, primes: dict) -> None:
        batch = {"a": torch.rand(1, 3, 16, 16) * 2 - 1, "b": torch.rand(1, 3, 16, 16) * 2 - 1}
        runs = {}
        for name, weights in (("ones", dict.fromkeys(primes, 1.0)), ("primes", primes)):
            torch.manual_seed(0)
            m = cls(dataclasses.replace(config, **weights))
            torch.manual_seed(1)
            runs[name] = {phase: m.phase_losses(phase, batch, 0, {}) for phase in ("gen", "dis")}
        gen, dis = runs["primes"]["gen"], runs["primes"]["dis"]
        for k, v in gen.items():  # logged terms are unweighted: the same draws give the same values
            if k != "total":
                assert torch.equal(v, runs["ones"]["gen"][k]), k
        expected = sum(primes[weight_of[k.rsplit("_", 1)[0]]] * v.item() for k, v in gen.items() if k != "total")
        assert gen["total"].item() == pytest.approx(expected, rel=1e-6)
        gan = primes["gan_w"]
        assert dis["total"].item() == pytest.approx(gan * (dis["dis_a"].item() + dis["dis_b"].item()), rel=1e-6)

    return check
