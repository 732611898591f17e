"""The object-branch control: with every object term weighted 0 (``object_loss_overrides``) the objects reach no
gradient, of the generators or of the discriminators; with the default weights they do."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import default_collate

from initbench.methods.init import LOSS_TERMS, OBJECT_TERMS, InitConfig, InitModel, object_loss_overrides
from initbench.training.config import build_method_config

SMALL = dict(dim=4, n_res=1, mlp_dim=16, dis_dim=4, dis_n_layer=2, dis_num_scales=2)


@pytest.fixture(scope="module")
def batches():
    """A toy batch with objects, and the same batch whose object crops hold other pixels (noise) and whose background
    masks mark other pixels (as boxes from another image would)."""
    from initbench.training.toy_data import RandomPairs

    ds = RandomPairs(n=3, size=(32, 48), crop_size=16, max_boxes=3, seed=1)
    batch = default_collate([ds[i] for i in range(3)])
    assert batch["a_ncrops"].sum() > 0 and batch["b_ncrops"].sum() > 0
    g = torch.Generator().manual_seed(9)
    other = dict(batch)
    for side in ("a", "b"):
        other[f"{side}_crops"] = torch.rand(batch[f"{side}_crops"].shape, generator=g) * 2 - 1
        other[f"{side}_bg_mask"] = batch[f"{side}_bg_mask"].flip(-1).flip(-2)
        assert not torch.equal(other[f"{side}_bg_mask"], batch[f"{side}_bg_mask"])
    return batch, other


def _grads(cfg: InitConfig, batch: dict, phase: str) -> dict[str, torch.Tensor]:
    """Every parameter gradient of one ``phase`` of one step, from the same weights and the same random draws."""
    torch.manual_seed(0)
    model = InitModel(cfg)
    torch.manual_seed(1)
    shared: dict = {}
    gen = model.gen_losses(batch, shared)
    losses = gen if phase == "gen" else model.dis_losses(batch, shared)
    losses["total"].backward()
    return {n: (p.grad.clone() if p.grad is not None else torch.zeros_like(p)) for n, p in model.named_parameters()}


def _differ(x: dict, y: dict) -> list[str]:
    return [n for n in x if not torch.equal(x[n], y[n])]


@pytest.mark.parametrize("variant", ["ds", "no-ds"])
@pytest.mark.parametrize("phase", ["gen", "dis"])
def test_objects_reach_no_gradient_with_their_weights_at_zero(batches, variant, phase):
    batch, other_crops = batches
    control = InitConfig(variant=variant, **SMALL, **object_loss_overrides(0.0))
    assert _differ(_grads(control, batch, phase), _grads(control, other_crops, phase)) == []
    # the check can fail: with the default weights, other object pixels give other gradients
    default = InitConfig(variant=variant, **SMALL)
    assert _differ(_grads(default, batch, phase), _grads(default, other_crops, phase))


def test_the_switch_covers_every_object_term_and_no_image_term():
    cfg = build_method_config("init", "tiny", None, object_loss_overrides(0.0))
    for term in LOSS_TERMS:
        assert getattr(cfg, f"lambda_{term}") == (0.0 if term in OBJECT_TERMS else getattr(InitConfig(), f"lambda_{term}"))
    # every term computed from objects is in OBJECT_TERMS: the image terms do not change with the object pixels
    torch.manual_seed(0)
    model = InitModel(InitConfig(**SMALL))
    from initbench.training.toy_data import RandomPairs

    ds = RandomPairs(n=2, size=(32, 32), crop_size=16, max_boxes=2, seed=2)
    batch = default_collate([ds[i] for i in range(2)])
    noisy = {**batch, "a_crops": torch.zeros_like(batch["a_crops"]), "b_crops": torch.ones_like(batch["b_crops"])}
    with torch.no_grad():
        torch.manual_seed(1)
        one = model.gen_losses(batch)
        torch.manual_seed(1)
        two = model.gen_losses(noisy)
    changed = {t for t in LOSS_TERMS if not torch.equal(one[t], two[t])}
    assert changed and changed <= set(OBJECT_TERMS)
