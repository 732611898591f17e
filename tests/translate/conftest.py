"""Fixtures of the translate-dataset tests: a COCO file of the mini-INIT's sunny images, and the command line with
the tiny INIT of ``tiny_init_ckpt`` (tests/conftest.py)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

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
