"""Loaders: the batch-key contract, shapes/dtypes/ranges, boxes, determinism across workers."""

from __future__ import annotations

import pickle

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from initbench.dataset.png import read_rgb
from initbench.dataset.index import index_root
from initbench.dataset.loaders import DomainImages, UnalignedPairs, collate_padded, split_for_root
from initbench.dataset.split import split_key
from initbench.errors import DataFormatError, UsageError


@pytest.fixture(scope="module")
def index(mini_init_root):
    return index_root(mini_init_root)


def test_pairs_follow_the_batch_key_contract(mini_init_root, index):
    ds = UnalignedPairs(mini_init_root, "sunny2night", split="all", size=32, crop=(32, 48), seed=0, index=index,
                        crops=True, crop_size=24, max_crops=4, half_scale=True, max_boxes=16)
    it = ds[0]
    for s in "ab":
        img = it[s]
        assert img.shape == (3, 32, 48) and img.dtype == torch.float32
        assert -1.0 <= float(img.min()) and float(img.max()) <= 1.0 and float(img.std()) > 0
        assert it[f"{s}_boxes"].shape == (16, 5) and it[f"{s}_boxes"].dtype == torch.float32
        n = int(it[f"{s}_nboxes"])
        assert it[f"{s}_nboxes"].dtype == torch.int64 and it[f"{s}_nboxes"].dim() == 0
        assert (it[f"{s}_boxes"][n:, 0] == -1).all() and (it[f"{s}_boxes"][:n, 0] >= 1).all()
        assert it[f"{s}_crops"].shape == (4, 3, 24, 24) and it[f"{s}_crop_cls"].shape == (4,)
        assert int(it[f"{s}_ncrops"]) == min(4, n) and (it[f"{s}_crop_cls"][int(it[f"{s}_ncrops"]):] == -1).all()
        assert it[f"{s}_bg_mask"].shape == (1, 32, 48) and set(it[f"{s}_bg_mask"].unique().tolist()) <= {0.0, 1.0}
        assert it[f"{s}_half"].shape == (3, 16, 24)
        assert isinstance(it[f"{s}_path"], str) and it[f"{s}_path"].endswith(".png")
    assert split_key(it["a_key"])[0] == "sunny" and split_key(it["b_key"])[0] == "night"
    batch = next(iter(DataLoader(ds, batch_size=3)))  # torch's default collate
    assert batch["a"].shape == (3, 3, 32, 48) and batch["a_boxes"].shape == (3, 16, 5) and batch["a_nboxes"].shape == (3,)
    assert len(batch["b_path"]) == 3


def test_boxes_without_transforms_are_the_annotation_boxes(mini_init_root, index):
    ds = DomainImages(mini_init_root, "cloudy", split="all", size=None, max_boxes=None, index=index)
    for i in range(len(ds)):
        it = ds[i]
        want = torch.tensor([list(b) for b in index[it["key"]].boxes], dtype=torch.float32).reshape(-1, 5)
        assert torch.equal(it["boxes"], want)
        assert torch.allclose((it["image"] + 1) * 127.5, read_rgb(it["path"]).float(), atol=1e-4)
        assert it["orig_size"].tolist() == [40, 64]


def test_flip_and_resize_move_boxes_with_the_pixels(mini_init_root, index):
    plain = DomainImages(mini_init_root, "sunny", split="all", size=20, augment=False, index=index, max_boxes=None)
    aug = DomainImages(mini_init_root, "sunny", split="all", size=20, augment=True, index=index, max_boxes=None, seed=3)
    flipped = 0
    for i in range(len(plain)):
        p, a = plain[i], aug[i]
        assert p["image"].shape == (3, 20, 32)
        sx, sy = 32 / 64, 20 / 40
        want = torch.tensor([list(b) for b in index[p["key"]].boxes], dtype=torch.float32).reshape(-1, 5)
        want[:, [1, 3]] *= sx
        want[:, [2, 4]] *= sy
        assert torch.allclose(p["boxes"], want)
        if not torch.equal(a["image"], p["image"]):
            flipped += 1
            assert torch.equal(a["image"], p["image"].flip(-1))
            assert torch.allclose(a["boxes"][:, 1], 32 - p["boxes"][:, 3]) and torch.allclose(a["boxes"][:, 3], 32 - p["boxes"][:, 1])
    assert 0 < flipped < len(plain)


def test_splits_partition_a_domain_and_agree_with_split_for_root(mini_init_root, index):
    assign = split_for_root(mini_init_root)
    train = DomainImages(mini_init_root, "sunny", split="train", index=index, size=16)
    test = DomainImages(mini_init_root, "sunny", split="test", index=index, size=16)
    assert {assign[k] for k in train.keys} == {"train"} and {assign[k] for k in test.keys} == {"test"}
    assert len(train) + len(test) + sum(1 for k, s in assign.items() if k.startswith("sunny/") and s == "gap") == 12
    with pytest.raises(UsageError, match="split: expected one of train, test, all; got 'val'"):
        DomainImages(mini_init_root, "sunny", split="val", index=index)
    with pytest.raises(DataFormatError, match="expected images of domain 'night' in split 'test'; found none"):
        DomainImages(mini_init_root, "night", split="test", index=index, split_map={})
    with pytest.raises(DataFormatError, match=r"expected every sunny image of the 'train' split under the root; 1 are missing, e.g. 'sunny/dw_x/1_00001.png'"):
        DomainImages(mini_init_root, "sunny", split="train", index=index, split_map={**assign, "sunny/dw_x/1_00001.png": "train"})


def test_epoch_length_and_drawing_rule(mini_init_root, index):
    sm = {k: "train" for k in index if not k.startswith("night/")}
    sm.update({k: "train" for k in list(k for k in index if k.startswith("night/"))[:5]})
    ds = UnalignedPairs(mini_init_root, "sunny2night", split="train", size=8, seed=1, index=index, split_map=sm)
    assert (len(ds.a), len(ds.b), len(ds)) == (12, 5, 12)
    assert len(UnalignedPairs(mini_init_root, "night2sunny", split="train", size=8, index=index, split_map=sm, epoch_length="source")) == 5
    draws = [ds.target_index(i) for i in range(10)]
    assert sorted(draws[:5]) == list(range(5)) and sorted(draws[5:10]) == list(range(5))  # without replacement per pass
    ds.set_epoch(1)
    assert [ds.target_index(i) for i in range(10)] != draws
    with pytest.raises(UsageError, match="task: expected '<source>2<target>'"):
        UnalignedPairs(mini_init_root, "sunny2sunny", index=index)


def test_same_items_with_workers_and_under_a_distributed_sampler(mini_init_root, index):
    ds = UnalignedPairs(mini_init_root, "cloudy2rainy", split="all", size=16, crop=16, seed=7, index=index)
    ds2 = pickle.loads(pickle.dumps(ds))
    ref = [ds[i] for i in range(len(ds))]
    got = list(DataLoader(ds2, batch_size=None, num_workers=2))
    assert len(got) == len(ref)
    for r, g in zip(ref, got):
        assert torch.equal(r["a"], g["a"]) and torch.equal(r["b_boxes"], g["b_boxes"]) and r["b_path"] == g["b_path"]
    seen = []
    for rank in range(2):
        sampler = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=0)
        for i in sampler:
            item = ds[i]
            assert torch.equal(item["a"], ref[i]["a"])
            seen.append(i)
    assert sorted(seen) == list(range(len(ds)))


def test_collate_padded_pads_to_the_largest_count(mini_init_root, index):
    ds = DomainImages(mini_init_root, "sunny", split="all", size=16, max_boxes=None, index=index)
    items = [ds[i] for i in range(4)]
    counts = [int(it["nboxes"]) for it in items]
    b = collate_padded(items)
    assert b["boxes"].shape == (4, max(counts), 5) and b["nboxes"].tolist() == counts
    for j, c in enumerate(counts):
        assert torch.equal(b["boxes"][j, :c], items[j]["boxes"]) and (b["boxes"][j, c:, 0] == -1).all()
    assert b["image"].shape == (4, 3, 16, 26)  # 64 x 40 -> 16 x round(25.6)


def test_box_cap_keeps_the_largest_and_counts_the_rest(mini_init_root, index):
    full = DomainImages(mini_init_root, "sunny", split="all", size=None, max_boxes=None, index=index)
    capped = DomainImages(mini_init_root, "sunny", split="all", size=None, max_boxes=1, index=index)
    i = max(range(len(full)), key=lambda j: int(full[j]["nboxes"]))
    f, c = full[i], capped[i]
    assert int(f["nboxes"]) >= 2 and int(c["nboxes"]) == 1 and int(c["ndropped"]) == int(f["nboxes"]) - 1
    area = (f["boxes"][:, 3] - f["boxes"][:, 1]) * (f["boxes"][:, 4] - f["boxes"][:, 2])
    assert torch.equal(c["boxes"][0], f["boxes"][int(area.argmax())])
