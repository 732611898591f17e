"""Fixtures shared by every test area. Never import tests as a package (torch-fidelity ships one
called ``tests``); share helpers here as fixtures."""

from __future__ import annotations

import os

import pytest
import torch

# Small, deterministic, and polite to the 2 CPU cores the suite runs on.
torch.set_num_threads(min(2, os.cpu_count() or 1))


#: Test folders of tiny models: one torch thread (they gain nothing from intra-op threads and lose a lot on a
#: busy 2-core machine).
ONE_THREAD_AREAS = ("training", "detection", "pretrained", "translate")


@pytest.fixture(autouse=True)
def _one_thread_for_tiny_models(request):
    if request.node.path.parent.name not in ONE_THREAD_AREAS:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TINY_INIT_CONFIG = dict(dim=4, n_res=1, mlp_dim=16, dis_dim=4, dis_n_layer=2, dis_num_scales=2)


@pytest.fixture(scope="session")
def tiny_init_ckpt(tmp_path_factory):
    """A tiny multimodal INIT checkpoint trained for sunny2night (seeded, untrained weights)."""
    from initbench.methods.init import InitConfig, InitModel
    from initbench.training.checkpoints import save_checkpoint

    torch.manual_seed(0)
    model = InitModel(InitConfig(**TINY_INIT_CONFIG))
    path = tmp_path_factory.mktemp("td_ckpt") / "init.pt"
    save_checkpoint(path, method="init", config=model.config_dict(), model_state=model.state_dict(), step=0,
                    train_config={"task": "sunny2night"})
    return path


@pytest.fixture(scope="session")
def mini_init_root(tmp_path_factory):
    """A small synthetic mini-INIT (12 images per domain, 64 x 40 px, seed 0) in the official layout.

    Read-only for tests: copy it (``shutil.copytree``) before changing anything.
    """
    from initbench.dataset.synthetic import synthesize

    root = tmp_path_factory.mktemp("mini_init") / "init"
    synthesize(root, per_domain=12, size=(64, 40), seed=0, generator="v1")
    return root


@pytest.fixture(scope="session")
def mini_init_v2_root(tmp_path_factory):
    """A small synthetic mini-INIT v2 with paired ground truth (24 images per domain, 64 x 40 px, seed 0).

    Holds ``latents.jsonl`` and ``ground_truth/<source>2<target>/`` for the test frames of split
    ``drives``. Read-only for tests.
    """
    from initbench.dataset.synthetic import synthesize

    root = tmp_path_factory.mktemp("mini_init_v2") / "init"
    synthesize(root, per_domain=24, size=(64, 40), seed=0, generator="v2", paired=True)
    return root


@pytest.fixture(scope="session", autouse=True)
def _private_torch_home(tmp_path_factory):
    """The torch hub cache (pretrained files, initbench's reference-feature cache) in a temporary folder: the suite
    never reads what a user cached nor writes into their cache; subprocesses (torchrun) inherit it."""
    old = os.environ.get("TORCH_HOME")
    os.environ["TORCH_HOME"] = str(tmp_path_factory.mktemp("torch_home"))
    yield
    if old is None:
        os.environ.pop("TORCH_HOME", None)
    else:
        os.environ["TORCH_HOME"] = old
