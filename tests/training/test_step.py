"""One training step (``initbench.training.step``): one fresh shared dict per step for all its phases, and the
parameters of the groups outside a phase frozen while it runs, without changing any loss or update."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.utils.data import default_collate

from initbench.methods.base import get_method
from initbench.training.config import build_method_config
from initbench.training.optim import build_optimizers
from initbench.training.step import run_step
from initbench.training.toy_data import RandomPairs


def setup(method: str, size: int = 32, steps: int = 2):
    torch.manual_seed(0)
    model = get_method(method).cls(build_method_config(method, "tiny")).train()
    ds = RandomPairs(n=2 * steps, size=size, crop_size=16, max_boxes=2, min_boxes=1, seed=1)
    batches = [default_collate([ds[2 * i], ds[2 * i + 1]]) for i in range(steps)]
    return model, batches


def run(model, batches, steps, **kw):
    specs = model.optimizer_specs()
    opts = build_optimizers(specs)
    torch.manual_seed(5)
    return [run_step(model, specs, opts, batches[s % len(batches)], s, **kw) for s in range(steps)]


def test_every_phase_of_a_step_gets_the_same_fresh_dict():
    model, batches = setup("cyclegan")
    seen = []
    real = model.phase_losses

    def recording(phase, batch, step, shared):
        seen.append((step, phase, id(shared), sorted(shared)))
        return real(phase, batch, step, shared)

    model.phase_losses = recording
    run(model, batches, 2)
    assert [(s, p, keys) for s, p, _, keys in seen] == [(0, "gen", []), (0, "dis", ["fake_A", "fake_B"]),
                                                       (1, "gen", []), (1, "dis", ["fake_A", "fake_B"])]
    assert seen[0][2] == seen[1][2] and seen[2][2] == seen[3][2]
    assert not any(k.startswith("_cache") or k == "_fakes" for k in vars(model))  # nothing kept on the model


def test_other_groups_are_frozen_during_a_phase_and_restored_after():
    model, batches = setup("cyclegan")
    dis = {id(p) for p in [*model.netD_A.parameters(), *model.netD_B.parameters()]}
    state = {}
    real = model.phase_losses

    def recording(phase, batch, step, shared):
        state[phase] = {pid: p.requires_grad for pid, p in ((id(p), p) for p in model.parameters())}
        return real(phase, batch, step, shared)

    model.phase_losses = recording
    run(model, batches, 1)
    assert not any(v for pid, v in state["gen"].items() if pid in dis)  # D frozen during G: no weight gradients
    assert all(v for pid, v in state["gen"].items() if pid not in dis)
    assert not any(v for pid, v in state["dis"].items() if pid not in dis) and all(state["dis"][pid] for pid in dis)
    assert all(p.requires_grad for p in model.parameters())  # outside a step the model is as built


@pytest.mark.parametrize("method,size,steps", [("init", 32, 2), ("munit", 32, 2), ("unit", 32, 2), ("drit", 64, 3),
                                               ("cyclegan", 32, 2)])
def test_freezing_changes_no_loss_and_no_update(method, size, steps):
    """Bit for bit, with and without freezing: the logged losses of every phase and the weights after the steps
    (DRIT's dis phase builds the graph its gen phase back-propagates: ``phase_grad_groups`` keeps gen trainable)."""
    model, batches = setup(method, size, steps)
    twin = copy.deepcopy(model)
    frozen = run(model, batches, steps)
    free = run(twin, batches, steps, freeze_others=False)
    assert [{k: v.item() for k, v in s.items()} for s in frozen] == [{k: v.item() for k, v in s.items()} for s in free]
    for (name, a), b in zip(model.state_dict().items(), twin.state_dict().values()):
        assert torch.equal(a, b), name
