"""The data layer is the only source of data views: INIT takes crops, background masks and half-scale images
from the batch (the loader's rules) and refuses a batch without them instead of re-deriving them."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import default_collate

from initbench.dataset.crops import background_mask as loader_mask
from initbench.dataset.loaders import UnalignedPairs
from initbench.errors import UsageError
from initbench.methods import init_bank


@pytest.fixture(scope="module")
def loader_batch(mini_init_root):
    ds = UnalignedPairs(mini_init_root, task="sunny2night", split="all", size=40, crop=None, seed=0,
                        crops=True, crop_size=16, max_crops=3, half_scale=True)
    return default_collate([ds[i] for i in range(4)])


def test_init_uses_the_loaders_mask_and_half_view_unchanged(loader_batch):
    b = loader_batch
    assert b["a_nboxes"].sum() > 0  # the mask has holes to compare
    assert torch.equal(init_bank.background_mask(b, "a"), b["a_bg_mask"])
    assert torch.equal(init_bank.half_scale(b, "a").images, b["a_half"])


def test_a_batch_without_the_mask_is_refused_not_redrawn_from_the_boxes(loader_batch):
    # The old fallback drew box [2, 2, 9, 9] over 64 pixels (round(x2 + 0.5)); the loader's rule covers 49 (ceil).
    box = torch.tensor([[1.0, 2, 2, 9, 9]])
    assert int((loader_mask(box, 16, 16) == 0).sum()) == 49
    batch = {"a": torch.zeros(1, 3, 16, 16), "a_boxes": box[None], "a_nboxes": torch.tensor([1])}
    with pytest.raises(UsageError, match=r"^batch: expected 'a_bg_mask' \(a loader built with crops=True\); got keys "):
        init_bank.background_mask(batch, "a")


def test_a_batch_without_the_half_view_is_refused_not_resized_again(loader_batch):
    batch = {k: v for k, v in loader_batch.items() if k != "b_half"}
    with pytest.raises(UsageError, match=r"^batch: expected 'b_half' \(a loader built with half_scale=True\)"):
        init_bank.half_scale(batch, "b")


def test_missing_crops_name_every_missing_key():
    expected = r"^batch: expected 'a_crops', 'a_ncrops' \(a loader built with crops=True\); got keys \['a'\]$"
    with pytest.raises(UsageError, match=expected):
        init_bank.gather_crops({"a": torch.zeros(1, 3, 8, 8)}, "a", 3)
