"""The ``small`` preset (the CPU recipe): each of its methods trains on 64 px crops of native-scale 256 x 160 frames
and translates the whole frame at the size it is scored at (paired-v1 does not resize)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def v2_native(tmp_path_factory):
    from initbench.dataset.synthetic import synthesize

    root = tmp_path_factory.mktemp("v2_native") / "init"
    synthesize(root, per_domain=4, size=(256, 160), seed=0, generator="v2")
    return root


@pytest.mark.parametrize("method", ["init", "munit", "cyclegan"])
def test_small_preset_trains_on_crops_and_translates_whole_frames(method, v2_native, tmp_path):
    from initbench.training.checkpoints import load_translator
    from initbench.training.config import preset_config
    from initbench.training.trainer import train

    cfg = preset_config("small", method=method, data=str(v2_native), task="sunny2night", out=str(tmp_path / method),
                        max_steps=1, sample_every=0, checkpoint_every=0, device="cpu")
    summary = train(cfg)
    assert summary["steps"] == 1
    model = load_translator(summary["checkpoint"], device="cpu")
    x = torch.rand(1, 3, 160, 256) * 2 - 1
    with torch.inference_mode():
        g = torch.Generator().manual_seed(0)
        style = model.sample_style(1, generator=g) if model.is_multimodal else None
        y = model.decode(model.encode(x, direction="a2b"), direction="a2b", style=style)
    assert y.shape == x.shape and torch.isfinite(y).all()


@pytest.mark.parametrize("rule", ["v1", "drives"])
def test_a_run_trains_on_the_train_side_of_its_split_rule(rule, mini_init_v2_root, tmp_path):
    """mini-INIT v2 is scored on the test drives (paired-v1): with ``split_rule="drives"`` none of them is trained on."""
    from initbench.dataset.loaders import split_for_root
    from initbench.training.config import preset_config
    from initbench.training.data import build_dataset
    from initbench.methods.munit import MUNIT, munit_tiny

    cfg = preset_config("tiny", method="munit", data=str(mini_init_v2_root), out=str(tmp_path), split_rule=rule)
    ds = build_dataset(cfg, MUNIT(munit_tiny()))
    keys = set(ds.a.keys) | set(ds.b.keys)
    sides = split_for_root(mini_init_v2_root, rule)
    assert keys and {sides[k] for k in keys} == {"train"}
    drives_test = {k for k, s in split_for_root(mini_init_v2_root, "drives").items() if s == "test"}
    assert (keys & drives_test == set()) == (rule == "drives")


def test_an_unknown_split_rule_is_refused():
    from initbench.errors import UsageError
    from initbench.training.config import preset_config

    with pytest.raises(UsageError, match="--split-rule: expected one of v1, drives; got 'paper'"):
        preset_config("tiny", split_rule="paper")
