"""Fixtures of the trainer tests (one torch thread: tests/conftest.py): toy pairs in the loaders' batch format,
a small INIT."""

from __future__ import annotations

import pytest


@pytest.fixture
def toy_pairs():
    from initbench.training.toy_data import RandomPairs

    return RandomPairs(n=6, size=32, crop_size=16, max_boxes=2, seed=0)


#: A very small INIT for trainer tests (32 px images, 16 px crops).
SMALL_INIT = {"dim": 4, "n_res": 1, "mlp_dim": 16, "dis_dim": 4, "dis_n_layer": 2, "dis_num_scales": 2}


@pytest.fixture
def small_cfg(tmp_path):
    """``make(**overrides)`` -> a TrainConfig for a small INIT on toy pairs, writing under ``tmp_path``."""
    from initbench.training.config import preset_config

    def make(name: str = "run", **overrides):
        values = dict(out=str(tmp_path / name), max_steps=4, batch_size=2, log_every=1, sample_every=0,
                      checkpoint_every=0, image_size=32, crop=32, crop_size=16, device="cpu", method_overrides=dict(SMALL_INIT))
        values.update(overrides)
        return preset_config("tiny", **values)

    return make
