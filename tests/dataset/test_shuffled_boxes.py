"""The shuffled-boxes control: images keep their pixels and get another image's boxes, by a seeded derangement."""

from __future__ import annotations

import torch

from initbench.dataset.loaders import DomainImages
from initbench.dataset.shuffled_boxes import borrow_boxes, box_sources, derangement


def test_derangement_has_no_fixed_point_and_is_a_permutation():
    g = torch.Generator().manual_seed(0)
    for n in (2, 3, 5, 17, 200):
        for _ in range(20):
            p = derangement(n, g)
            assert sorted(p.tolist()) == list(range(n))
            assert not bool((p == torch.arange(n)).any())
    assert derangement(1, g).tolist() == [0] and derangement(0, g).tolist() == []


def test_derangement_draws_every_derangement_of_three():
    # the two derangements of 3 elements, each about half the time: not one fixed cycle
    g = torch.Generator().manual_seed(1)
    seen = [tuple(derangement(3, g).tolist()) for _ in range(400)]
    assert set(seen) == {(1, 2, 0), (2, 0, 1)}
    assert 120 < seen.count((1, 2, 0)) < 280


def test_box_sources_are_deterministic_per_seed_epoch_and_domain():
    a = box_sources(50, seed=3, epoch=0, domain="sunny")
    assert torch.equal(a, box_sources(50, seed=3, epoch=0, domain="sunny"))
    for other in (box_sources(50, 4, 0, "sunny"), box_sources(50, 3, 1, "sunny"), box_sources(50, 3, 0, "night")):
        assert not torch.equal(a, other)


def test_borrowed_boxes_are_scaled_to_the_borrowing_image():
    boxes = torch.tensor([[2.0, 10, 20, 30, 40]])
    assert torch.equal(borrow_boxes(boxes, (100, 200), (100, 200)), boxes)
    assert torch.equal(borrow_boxes(boxes, (None, None), (50, 50)), boxes)
    assert borrow_boxes(boxes, (100, 200), (50, 400)).tolist() == [[2.0, 20, 10, 60, 20]]


def _items(ds):
    return [ds[i] for i in range(len(ds))]


def test_each_image_gets_the_boxes_of_another_image(mini_init_v2_root):
    kw = dict(domain="sunny", split="all", size=None, augment=False, max_boxes=None, seed=7)
    own = DomainImages(mini_init_v2_root, **kw)
    shuffled = DomainImages(mini_init_v2_root, shuffle_boxes=True, **kw)
    own_items, shuf_items = _items(own), _items(shuffled)
    n = len(own)
    lenders = [shuffled.box_source(i) for i in range(n)]
    assert sorted(lenders) == list(range(n)) and all(j != i for i, j in enumerate(lenders))
    for i, (mine, item) in enumerate(zip(own_items, shuf_items)):
        assert item["key"] == mine["key"] and torch.equal(item["image"], mine["image"])  # pixels stay
        assert torch.equal(item["boxes"], own_items[lenders[i]]["boxes"])  # boxes come from the lender
    # the synthetic scenes differ, so the shuffle really changes what most images are told about their objects
    changed = sum(not torch.equal(a["boxes"], b["boxes"]) for a, b in zip(own_items, shuf_items))
    assert changed >= n - 2


def test_shuffle_is_deterministic_and_new_each_epoch(mini_init_v2_root):
    kw = dict(domain="night", split="all", size=None, augment=False, max_boxes=None, shuffle_boxes=True)
    a, b = DomainImages(mini_init_v2_root, seed=1, **kw), DomainImages(mini_init_v2_root, seed=1, **kw)
    first = [a.box_source(i) for i in range(len(a))]
    assert first == [b.box_source(i) for i in range(len(b))]
    a.set_epoch(1)
    second = [a.box_source(i) for i in range(len(a))]
    assert second != first and all(j != i for i, j in enumerate(second))
    a.set_epoch(0)
    assert [a.box_source(i) for i in range(len(a))] == first
    other_seed = DomainImages(mini_init_v2_root, seed=2, **kw)
    assert [other_seed.box_source(i) for i in range(len(a))] != first
