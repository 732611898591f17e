"""Fixtures of the translate-dataset tests: a tiny INIT checkpoint (sunny2night, untrained weights), a COCO file of
the mini-INIT's sunny images, and the command line with that model."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

SMALL_INIT = dict(dim=4, n_res=1, mlp_dim=16, dis_dim=4, dis_n_layer=2, dis_num_scales=2)


@pytest.fixture(scope="session")
def tiny_init_ckpt(tmp_path_factory):
    """A tiny multimodal INIT checkpoint trained for sunny2night (seeded, untrained weights)."""
    from initbench.methods.init import InitConfig, InitModel
    from initbench.training.checkpoints import save_checkpoint

    torch.manual_seed(0)
    model = InitModel(InitConfig(**SMALL_INIT))
    path = tmp_path_factory.mktemp("td_ckpt") / "init.pt"
    save_checkpoint(path, method="init", config=model.config_dict(), model_state=model.state_dict(), step=0,
                    train_config={"task": "sunny2night"})
    return path


@pytest.fixture(scope="session")
def sunny_coco(mini_init_root, tmp_path_factory):
    """``(annotations, images_dir)``: the mini-INIT's 12 sunny images as a COCO file (``initbench export coco``);
    its file_name entries are relative to the mini-INIT root."""
    from initbench.dataset.export import export

    path = tmp_path_factory.mktemp("td_coco") / "sunny.json"
    export("coco", mini_init_root, path, domains=["sunny"])
    assert len(json.loads(path.read_text())["images"]) == 12
    return path, mini_init_root


@pytest.fixture
def td_cli(tiny_init_ckpt):
    """``run(*args)``: ``initbench translate-dataset --method init --ckpt <tiny> *args`` through click's runner."""
    from initbench.cli import main

    def run(*args):
        argv = ["translate-dataset", "--method", "init", "--ckpt", str(tiny_init_ckpt), *(str(a) for a in args)]
        return CliRunner().invoke(main, argv)

    return run


@pytest.fixture
def oneline():
    """Rich may wrap long lines; compare messages without the line breaks."""
    return lambda text: " ".join(text.split())
