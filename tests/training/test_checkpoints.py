"""Checkpoints: round trip, weights_only reading, EMA weights, RNG states, errors, resolve_translator."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from initbench.errors import CheckpointError, UsageError
from initbench.methods.init import InitConfig, InitModel
from initbench.training.checkpoints import capture_rng, load_checkpoint, load_translator, resolve_translator, restore_rng, save_checkpoint

SMALL = dict(dim=4, n_res=1, mlp_dim=16, dis_dim=4, dis_n_layer=2, dis_num_scales=2)


def _save(model, path, **kw):
    return save_checkpoint(path, method="init", config=model.config_dict(), model_state=model.state_dict(), step=7, **kw)


def test_round_trip_gives_the_same_translator(tmp_path):
    torch.manual_seed(0)
    model = InitModel(InitConfig(variant="no-ds", **SMALL))
    path = _save(model, tmp_path / "c.pt", rng=[capture_rng()])
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # written atomically, nothing left over
    blob = torch.load(path, weights_only=True)
    assert blob["method"] == "init" and blob["step"] == 7 and blob["package_version"]
    loaded = load_translator(path)
    assert not loaded.training and loaded.config == model.config
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    s = torch.randn(2, 8)
    assert torch.equal(model.eval().translate(x, style=s), loaded.translate(x, style=s))


def test_ema_weights_are_used_when_stored(tmp_path):
    model = InitModel(InitConfig(**SMALL))
    name = "gen_a.dec.model.0.model.0.model.0.conv.weight"
    ema = {n: p.detach() + 1.0 for n, p in model.named_parameters() if n.startswith("gen_")}
    path = _save(model, tmp_path / "e.pt", ema=ema)
    assert torch.equal(dict(load_translator(path).named_parameters())[name], ema[name])
    assert torch.equal(dict(load_translator(path, use_ema=False).named_parameters())[name], dict(model.named_parameters())[name])


def test_rng_states_round_trip():
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    state = capture_rng()
    a = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(9), np.random.seed(9), random.seed(9)
    restore_rng(state)
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def test_errors(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(junk)
    assert str(err.value) == (f"--ckpt: {junk} is not an initbench checkpoint "
                              "(neither a PyTorch zip archive nor a legacy PyTorch pickle: not a checkpoint, or corrupt)")
    foreign = tmp_path / "foreign.pt"
    torch.save({"gen_a": {}}, foreign)
    with pytest.raises(CheckpointError, match="for the authors' files use --official-ckpt"):
        load_checkpoint(foreign)
    model = InitModel(InitConfig(**SMALL))
    state = model.state_dict()
    state.pop("gen_a.mlp.model.0.fc.weight")
    bad = save_checkpoint(tmp_path / "bad.pt", method="init", config=model.config_dict(), model_state=state, step=0)
    with pytest.raises(CheckpointError, match=r"missing 1 key\(s\), e.g. gen_a.mlp.model.0.fc.weight"):
        load_translator(bad)


def test_resolve_translator(tmp_path):
    path = _save(InitModel(InitConfig(**SMALL)), tmp_path / "c.pt")
    assert resolve_translator("init", ckpt=path).name == "init"
    assert resolve_translator(None, ckpt=path).name == "init"
    with pytest.raises(CheckpointError, match="holds a 'init' model; --method says 'munit'"):
        resolve_translator("munit", ckpt=path)
    with pytest.raises(UsageError, match="give exactly one"):
        resolve_translator("init")
    with pytest.raises(UsageError, match="give exactly one"):
        resolve_translator("init", ckpt=path, official_ckpt=path)
    with pytest.raises(UsageError, match="method 'init' has no released checkpoints"):
        resolve_translator("init", official_ckpt=path)


@pytest.mark.parametrize("kind", ["random", "truncated", "objects"])
def test_unreadable_files_never_quote_torchs_weights_only_advice(tmp_path, kind):
    path = tmp_path / f"{kind}.pt"
    if kind == "random":  # bytes that torch's unpickler starts reading, then refuses with its weights_only advice
        path.write_bytes(b"\x80\x02" + bytes(torch.randint(0, 256, (300,), generator=torch.Generator().manual_seed(0)).tolist()))
    elif kind == "truncated":
        _save(InitModel(InitConfig(**SMALL)), path)
        path.write_bytes(path.read_bytes()[:500])
    else:
        import fractions

        torch.save({"w": fractions.Fraction(1, 3)}, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    text = str(err.value)
    assert text.startswith(f"--ckpt: {path} is not an initbench checkpoint (") and "\n" not in text
    assert "weights_only" not in text and "False" not in text
    reason = {"random": "a damaged legacy PyTorch pickle", "truncated": "a damaged PyTorch zip archive",
              "objects": "it stores Python objects other than tensors and plain data"}[kind]
    assert reason in text
