"""Split v1, split drives and the paper split: frame keys, determinism, guard band, blocks, shares, path lists."""

from __future__ import annotations

import json
import random
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from initbench.dataset.loaders import split_for_root
from initbench.dataset.split import (
    DEFAULT_RULE,
    DRIVE_RULE,
    compute_split,
    FrameKey,
    frame_key,
    leakage,
    paper_test_counts,
    share_report,
    split_from_lists,
    split_key,
    split_paper,
    split_drives,
    split_v1,
)
from initbench.dataset.synthetic import plan_frames
from initbench.errors import DataFormatError

REPO = Path(__file__).resolve().parents[2]

REAL_7 = "video_data_20180703/jig_KYT01/20180622b_KYT/dw_2018_06_22_21-49-30_000000_20fps_bae/camera_2_center_fov60.h264/1_00286.png"
REAL_8 = "video_data_20180620/jig_TYO01/20fps/20180601_TYO/dw_2018_06_01_19-56-56_000000_20fps_bae/camera_2_center_fov60.h264/9_00015.png"


@pytest.fixture(scope="module")
def planned_keys():
    return [p.key for p in plan_frames(6000, seed=0)]


@pytest.fixture(scope="module")
def planned_split(planned_keys):
    return split_v1(planned_keys)


def test_frame_key_from_real_paths_of_both_depths():
    assert frame_key(REAL_7) == FrameKey("dw_2018_06_22_21-49-30_000000_20fps_bae", "1", 286)
    assert frame_key("/" + REAL_8) == FrameKey("dw_2018_06_01_19-56-56_000000_20fps_bae", "9", 15)
    # the folders above the drive do not take part: a re-delivered drive is the same drive
    assert frame_key("other_batch/" + REAL_7.split("/", 3)[3]).drive == frame_key(REAL_7).drive
    # without a dw_ folder the whole folder part is the drive
    assert frame_key("a/b/3_00012.png") == FrameKey("a/b", "3", 12)


def test_frame_key_rejects_names_without_an_index():
    with pytest.raises(DataFormatError, match=r"expected an image file name '<clip>_<index>.png'.*found 'frame.png'"):
        frame_key("dw_x/cam/frame.png")
    with pytest.raises(DataFormatError, match=r"expected a path '<domain>/"):
        split_key("foggy/dw_x/1_00001.png")


def test_same_rows_whatever_the_listing_order(planned_keys, planned_split):
    shuffled = planned_keys[:]
    random.Random(3).shuffle(shuffled)
    assert split_v1(shuffled) == planned_split
    assert split_v1(reversed(planned_keys)) == planned_split


def test_same_split_whatever_the_root_path(mini_init_root, tmp_path):
    other = tmp_path / "elsewhere" / "copy"
    shutil.copytree(mini_init_root, other)
    a, b = split_for_root(mini_init_root), split_for_root(other)
    assert a == b and len(a) == 48
    assert set(a.values()) <= {"train", "test", "gap"} and "test" in a.values()


def test_no_test_frame_has_a_training_neighbour_within_the_guard(planned_split):
    assert leakage(planned_split) == []
    # and the guard is exactly 20 indices: gap frames are the train frames within 20 of a test frame
    by_stream = defaultdict(dict)
    for k, s in planned_split.items():
        fk = frame_key(split_key(k)[1])
        by_stream[fk.stream].setdefault(fk.index, []).append(s)
    n_gap = 0
    for idx in by_stream.values():
        test_idx = [i for i, ss in idx.items() if "test" in ss]
        for i, ss in idx.items():
            for s in ss:
                if s == "test":
                    continue
                near = any(abs(i - t) <= DEFAULT_RULE.guard for t in test_idx)
                assert s == ("gap" if near else "train"), (i, s)
                n_gap += s == "gap"
    assert n_gap > 0


def test_a_block_never_straddles_the_split(planned_split):
    sides = defaultdict(set)
    for k, s in planned_split.items():
        fk = frame_key(split_key(k)[1])
        sides[(fk.drive, fk.clip, fk.index // DEFAULT_RULE.block_length)].add(s == "test")
    assert all(len(v) == 1 for v in sides.values())
    # blocks do hold several domains at once (the weather label is per frame)
    doms = defaultdict(set)
    for k in planned_split:
        fk = frame_key(split_key(k)[1])
        doms[(fk.drive, fk.clip, fk.index // 200)].add(split_key(k)[0])
    assert any(len(v) > 1 for v in doms.values())


def test_test_share_per_domain_within_3_points_of_15_percent(planned_split):
    rep = share_report(planned_split)
    assert set(rep) == {"sunny", "night", "cloudy", "rainy"}
    for d, r in rep.items():
        assert r["total"] == 6000
        assert abs(r["test_pct"] - 15.0) <= 3.0, (d, r["test_pct"])
        assert 0 < r["gap_pct"] < 6, (d, r["gap_pct"])


def test_paper_split_reproduces_given_counts_exactly(planned_keys):
    counts = {"sunny": 900, "night": 1, "cloudy": 0, "rainy": 6000}
    a = split_paper(planned_keys, seed=5, counts=counts)
    got = {d: r["test"] for d, r in share_report(a).items()}
    assert got == counts
    assert split_paper(list(reversed(planned_keys)), seed=5, counts=counts) == a
    assert split_paper(planned_keys, seed=6, counts=counts) != a
    # the paper's own counts on a copy with the paper's totals; its share on any other total
    assert paper_test_counts({"sunny": 58427, "night": 28892, "rainy": 7107, "cloudy": 61103}) == {
        "sunny": 8764, "night": 4333, "rainy": 1066, "cloudy": 9165}
    assert paper_test_counts({"night": 1000}) == {"night": 150}
    # it is leaky: a frame-level random split puts neighbours on both sides
    assert len(leakage(split_paper(planned_keys, seed=0))) > 1000


def test_split_from_path_lists(tmp_path):
    train = tmp_path / "train.txt"
    test = tmp_path / "test.txt"
    train.write_text(f"# my split\nsunny/{REAL_7}\n\n{tmp_path}/root/night/{REAL_8}\n")
    test.write_text(f"rainy/{REAL_8}\n")
    got = split_from_lists(train, test, root=tmp_path / "root")
    assert got == {f"sunny/{REAL_7}": "train", f"night/{REAL_8}": "train", f"rainy/{REAL_8}": "test"}
    test.write_text(f"rainy/{REAL_8}\nsunny/{REAL_7}\n")
    with pytest.raises(DataFormatError, match=r"test.txt: .*in both the train list \(.*train.txt\) and the test list"):
        split_from_lists(train, test, root=tmp_path / "root")
    with pytest.raises(DataFormatError, match=r"train.txt:4: expected a path '<domain>/"):
        split_from_lists(train, None)  # an absolute path needs the root
    test.write_text("snowy/x/1_00001.png\n")
    with pytest.raises(DataFormatError, match=r"test.txt:1: expected a path '<domain>/"):
        split_from_lists(None, test)


def test_published_rule_is_the_one_the_code_uses():
    spec = json.loads((REPO / "manifests/init-v1/split-v1.json").read_text())
    assert (spec["salt"], spec["block_length"], spec["guard"], spec["test_fraction"]) == (
        DEFAULT_RULE.salt, DEFAULT_RULE.block_length, DEFAULT_RULE.guard, DEFAULT_RULE.test_fraction)
    assert (DEFAULT_RULE.block_length, DEFAULT_RULE.guard, DEFAULT_RULE.test_fraction) == (200, 20, 0.15)


def test_packaged_specs_are_the_committed_ones():
    from initbench.dataset.specs import MIRRORED, spec_path

    for name, repo_path in MIRRORED.items():
        assert spec_path(name).read_bytes() == (REPO / repo_path).read_bytes(), name
    rel = json.loads((REPO / "manifests/init-v1/release.json").read_text())
    assert rel["domains"] == ["sunny", "night", "cloudy", "rainy"]
    assert [c["name"] for c in rel["classes"]] == ["car", "speed limit sign", "person"]
    assert sum(v["total"] for v in rel["paper_counts"].values()) == rel["paper_total_images"] == 155_529


def test_greedy_rule_counts_by_hand():
    # one domain, 10 blocks of 10 frames (indices 0..9 of blocks 0, 200, 400, ...): target 15 of 100.
    # The first block visited goes to test (0 < 15), the second too (10 < 15), then 20 >= 15: train.
    keys = [f"sunny/dw_a/1_{b * 200 + i:05d}.png" for b in range(10) for i in range(10)]
    a = split_v1(keys)
    assert sum(s == "test" for s in a.values()) == 20 and "gap" not in a.values()
    # a block is refused when ANY domain it holds is at its target: rainy has 5 frames (target
    # 0.75) in blocks 0..4; once one of them is in test, no other rainy block can follow, while
    # sunny still gets its two blocks (blocks 5..9 hold no rainy)
    keys2 = keys + [f"rainy/dw_a/1_{b * 200 + 50:05d}.png" for b in range(5)]
    a2 = split_v1(keys2)
    assert sum(s == "test" for k, s in a2.items() if k.startswith("rainy/")) <= 1
    assert sum(s == "test" for k, s in a2.items() if k.startswith("sunny/")) == 20
    # frames 1..20 indices after a test frame of the same stream are gap; 21 is train
    keys3 = [f"night/dw_b/2_{i:05d}.png" for i in range(400)]  # blocks 0..199 and 200..399: one goes to test
    a3 = split_v1(keys3)
    if a3["night/dw_b/2_00000.png"] == "test":
        assert [a3[f"night/dw_b/2_{i:05d}.png"] for i in (199, 200, 219, 220)] == ["test", "gap", "gap", "train"]  # |i - 199| <= 20
    else:
        assert [a3[f"night/dw_b/2_{i:05d}.png"] for i in (178, 179, 180, 199, 200)] == ["train", "train", "gap", "gap", "test"]  # |i - 200| <= 20


def _drive_sides(assignment):
    sides = defaultdict(set)
    for k, s in assignment.items():
        sides[frame_key(split_key(k)[1]).drive].add(s)
    return sides


@pytest.mark.parametrize("per_domain", [24, 64, 2000])
def test_split_drives_has_no_drive_on_both_sides(per_domain):
    keys = [p.key for p in plan_frames(per_domain, seed=0)]
    a = split_drives(keys)
    sides = _drive_sides(a)
    assert all(len(v) == 1 for v in sides.values())
    assert set(a.values()) == {"train", "test"}  # no gap: a held-out drive has no training neighbour
    assert leakage(a) == []
    shares = {d: c["test"] / c["total"] for d, c in share_report(a).items()}
    assert set(shares) == {"sunny", "night", "cloudy", "rainy"} and all(0.05 < v < 0.35 for v in shares.values()), shares
    random.Random(1).shuffle(keys)
    assert split_drives(keys) == a == compute_split(keys, "drives")


def test_split_drives_takes_all_clips_of_a_drive_and_counts_by_hand():
    # 20 one-domain drives of 5 frames (target 15 of 100): the first three drives visited go to test
    # (0, 5, 10 < 15), then 15 >= 15. Drive dw_x has two clips (3 + 2 frames): they go together.
    keys = [f"sunny/v/dw_{d:02d}/c/{d}_{i:05d}.png" for d in range(19) for i in range(5)]
    keys += [f"sunny/v/dw_x/c/1_{i:05d}.png" for i in range(3)] + [f"sunny/v/dw_x/c/2_{i:05d}.png" for i in range(2)]
    a = split_drives(keys)
    assert sum(s == "test" for s in a.values()) == 15
    assert len({a[k] for k in keys if "/dw_x/" in k}) == 1
    with pytest.raises(DataFormatError, match="listed more than once"):
        split_drives(keys + keys[:1])


def test_published_drive_split_is_the_code_and_the_committed_manifest():
    from initbench.dataset.manifest import read_manifest

    spec = json.loads((REPO / "manifests/mini-init-v2/split-drives.json").read_text())
    assert (spec["salt"], spec["test_fraction"]) == (DRIVE_RULE.salt, DRIVE_RULE.test_fraction) == ("initbench-split-drives-v1", 0.15)
    rows = read_manifest(REPO / "manifests/mini-init-v2/manifest.csv.gz")
    a = {r.key: r.split for r in rows}
    assert a == split_drives(a) and spec["test_drives"] == sorted({r.drive for r in rows if r.split == "test"})
    assert all(len(v) == 1 for v in _drive_sides(a).values())
