"""The floor methods: ``identity`` and ``colour-transfer`` (a fitted global colour map)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from initbench.dataset.annotations import parse_file
from initbench.dataset.png import decode_png
from initbench.dataset.split import split_drives
from initbench.errors import UsageError
from initbench.methods import get_method, method_names
from initbench.methods.colour_transfer import ColourTransfer, ColourTransferConfig
from initbench.methods.identity import Identity
from initbench.training.checkpoints import load_translator


def test_both_floors_are_registered_deterministic_methods():
    assert {"identity", "colour-transfer"} <= set(method_names())
    for name, cls in (("identity", Identity), ("colour-transfer", ColourTransfer)):
        entry = get_method(name)
        assert entry.cls is cls and cls().style_dim == 0 and not cls().is_multimodal


def test_identity_returns_its_input_in_both_directions():
    x = torch.rand(2, 3, 10, 14, generator=torch.Generator().manual_seed(0)) * 2 - 1
    model = Identity()
    for d in ("a2b", "b2a"):
        assert torch.equal(model.translate(x, direction=d), x)
    with pytest.raises(UsageError, match="direction: expected 'a2b' or 'b2a'; got 'a2c'"):
        model.translate(x, direction="a2c")


def _batches(x: torch.Tensor, n: int):
    return [x[i:i + n] for i in range(0, len(x), n)]


def test_colour_transfer_recovers_a_global_tone_and_colour_change():
    """B is A darkened and tinted (a monotone map per channel): the fitted map reproduces it, both ways."""
    g = torch.Generator().manual_seed(1)
    a = torch.rand(16, 3, 12, 20, generator=g) * 1.6 - 0.8
    b = a * 0.5 + torch.tensor([-0.3, -0.35, -0.1]).view(1, 3, 1, 1)
    model = ColourTransfer().fit(_batches(a, 4), _batches(b, 5))
    assert model.translate(a).sub(b).abs().max() < 0.02
    assert model.translate(b, direction="b2a").sub(a).abs().max() < 0.04
    identity_err = (a - b).abs().mean()
    assert model.translate(a).sub(b).abs().mean() < 0.05 * identity_err


def test_colour_transfer_maps_a_flat_colour_to_the_middle_of_its_targets():
    # Half of A is one flat colour; B has two colours there. Ties go to the middle, not the first level.
    a = torch.zeros(1, 3, 4, 8)
    a[..., 4:] = 0.5
    b = torch.zeros(1, 3, 4, 8)
    b[..., :2], b[..., 2:4], b[..., 4:] = -0.6, -0.2, 0.6
    out = ColourTransfer(ColourTransferConfig(quantiles=9)).fit([a], [b]).translate(a)
    assert out[0, :, 0, 0].tolist() == pytest.approx([-0.4] * 3, abs=1e-5)
    assert out[0, :, 0, 7].tolist() == pytest.approx([0.6] * 3, abs=1e-5)


def test_colour_transfer_is_deterministic_and_round_trips_through_a_checkpoint(tmp_path):
    g = torch.Generator().manual_seed(2)
    a, b = torch.rand(6, 3, 16, 16, generator=g) * 2 - 1, torch.rand(6, 3, 16, 16, generator=g) ** 2 * 2 - 1
    one, two = ColourTransfer().fit([a], [b]), ColourTransfer().fit([a], [b])
    assert all(torch.equal(x, y) for x, y in zip(one.state_dict().values(), two.state_dict().values()))
    one.save(tmp_path / "ct.pt")
    back = load_translator(tmp_path / "ct.pt")
    assert isinstance(back, ColourTransfer) and back.config == one.config
    for d in ("a2b", "b2a"):
        assert torch.equal(back.translate(a, direction=d), one.translate(a, direction=d))


def test_colour_transfer_errors_name_what_is_missing():
    msg = r"colour-transfer: the map is not fitted; call fit\(a_batches, b_batches\) or load a checkpoint"
    with pytest.raises(UsageError, match=msg):
        ColourTransfer().translate(torch.zeros(1, 3, 4, 4))
    with pytest.raises(UsageError, match=r"colour-transfer fit: expected B batches B x 3 x H x W; got shape \(3, 4, 4\)"):
        ColourTransfer().fit([torch.zeros(1, 3, 4, 4)], [torch.zeros(3, 4, 4)])
    with pytest.raises(UsageError, match="colour-transfer fit: no A images given"):
        ColourTransfer().fit([], [torch.zeros(1, 3, 4, 4)])


def _load(root, keys):
    imgs = np.stack([decode_png(root / k) for k in keys]).astype(np.float32) / 127.5 - 1.0
    return torch.from_numpy(imgs).permute(0, 3, 1, 2)


def test_colour_transfer_beats_identity_on_l1_gt_frame_for_sunny2night(mini_init_v2_root):
    """On paired ground truth (mini-INIT v2): fitted on the training split, scored on the held-out drives."""
    root = mini_init_v2_root
    every = [r.key for d in ("sunny", "night", "cloudy", "rainy") for r in parse_file(root / "batch1_anno" / f"{d}1.txt").records]
    split = split_drives(every)
    keys = [k for k in every if k.startswith(("sunny/", "night/"))]
    train = {d: [k for k in keys if k.startswith(d + "/") and split[k] == "train"] for d in ("sunny", "night")}
    test = [k for k in keys if k.startswith("sunny/") and split[k] == "test"]
    assert len(test) >= 2 and min(len(v) for v in train.values()) >= 10
    model = ColourTransfer().fit([_load(root, train["sunny"])], [_load(root, train["night"])])
    x = _load(root, test)
    gt = _load(root, [f"ground_truth/sunny2night/{k.split('/', 1)[1]}" for k in test])
    l1_identity = (Identity().translate(x) - gt).abs().mean().item()
    l1_colour = (model.translate(x) - gt).abs().mean().item()
    assert l1_colour < 0.6 * l1_identity, (l1_colour, l1_identity)
