"""The synthetic mini-INIT, generator v1 (the ``mini_init_root`` fixture): layout of the release, exact boxes,
determinism, domain differences. Generator v2 is tested in test_synth_v2.py."""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict

import numpy as np
import pytest
from click.testing import CliRunner

from initbench.cli import main
from initbench.dataset.annotations import parse_file
from initbench.dataset.png import decode_png, encode_png, read_png_header
from initbench.dataset.synthetic import DEFAULT_SIZE, DEFAULT_SIZES, plan_frames, synthesize

# The real path pattern (facts from the public path lists), relative to the domain folder.
REAL_PATTERN = re.compile(
    r"^video_data_(\d{8})/jig_(KYT01|TYO01)/(20fps/)?(\d{8})b?_(KYT|TYO)/dw_\d{4}_\d{2}_\d{2}_\d{2}-\d{2}-\d{2}_000000_20fps_bae/"
    r"camera_2_center_fov60\.h264/(\d+)_(\d{5})\.png$"
)


def tree_hashes(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_arguments_give_byte_identical_files(tmp_path, mini_init_root):
    again = tmp_path / "again"
    synthesize(again, per_domain=12, size=(64, 40), seed=0, workers=2, generator="v1")  # the fixture drew with 1 process
    a, b = tree_hashes(mini_init_root), tree_hashes(again)
    assert len(a) == 4 * 12 + 4 and a == b
    other = tmp_path / "other"
    synthesize(other, per_domain=12, size=(64, 40), seed=1, generator="v1")
    assert set(tree_hashes(other).values()).isdisjoint(a.values())


def test_boxes_are_inside_the_frames_and_match_the_png_headers(mini_init_root):
    n_boxes = Counter()
    for d in ("sunny", "night", "cloudy", "rainy"):
        recs = parse_file(mini_init_root / "batch1_anno" / f"{d}1.txt").records
        assert [r.index for r in recs] == list(range(1, 13))
        for r in recs:
            assert r.path.startswith("/") and REAL_PATTERN.match(r.relpath), r.path
            h = read_png_header(mini_init_root / d / r.relpath)
            assert (r.channels, r.height, r.width, r.num, r.zero_field) == (3, 40, 64, 1, 0) == (h.channels, h.height, h.width, 1, 0)
            for b in r.boxes:
                assert 0 <= b.x1 < b.x2 <= 64 and 0 <= b.y1 < b.y2 <= 40
                assert b.x2 - b.x1 >= 2 and b.y2 - b.y1 >= 2
                n_boxes[b.cls] += 1
    assert set(n_boxes) == {1, 2, 3}


def test_plan_models_the_release_layout():
    plans = plan_frames(200, seed=3)
    assert Counter(p.domain for p in plans) == {d: 200 for d in ("sunny", "night", "cloudy", "rainy")}
    assert len({p.key for p in plans}) == 800 and len({p.relpath for p in plans}) == 800  # no frame in two domains
    by_drive = defaultdict(list)
    for p in plans:
        m = REAL_PATTERN.match(p.relpath)
        assert m, p.relpath
        assert p.relpath.startswith(p.drive + "/camera_2_center_fov60.h264/")
        assert (m.group(3) is not None) == (m.group(1) == "20180620")  # the 20fps level only there
        assert int(m.group(7)) == p.frame and int(m.group(6)) == p.clip
        by_drive[p.drive].append(p)
    depths = {len(p.key.split("/")) for p in plans}  # domain/.../file: 7 parts, 8 with 20fps/
    assert depths == {7, 8}
    assert any("jig_TYO01" in d for d in by_drive) and any("jig_KYT01" in d for d in by_drive)
    shared = 0
    all_steps = []
    for drive, ps in by_drive.items():
        steps = np.diff([p.frame for p in ps])
        assert ((steps >= 1) & (steps <= 3)).all()
        all_steps += list(steps)
        assert len({p.clip for p in ps}) == 1
        doms = [p.domain for p in ps]
        changes = sum(a != b for a, b in zip(doms, doms[1:]))
        shared += len(set(doms)) > 1
        if len(set(doms)) > 1:
            assert changes >= 1
    assert shared >= 3
    assert np.mean(np.array(all_steps) == 1) > 0.95  # consecutive indices, a rare skipped one
    for d in ("sunny", "night", "cloudy", "rainy"):
        assert len({p.drive for p in plans if p.domain == d}) >= 3  # several drives per domain
    assert any({"night", "sunny"} <= {p.domain for p in ps} or {"night", "cloudy"} <= {p.domain for p in ps} for ps in by_drive.values())


def test_plan_is_cheap_deterministic_and_matches_what_is_written(mini_init_root):
    big = plan_frames(5000, seed=0)
    assert len(big) == 20000 and big == plan_frames(5000, seed=0)
    plans = plan_frames(12, seed=0)
    written = {r.key for d in ("sunny", "night", "cloudy", "rainy") for r in parse_file(mini_init_root / "batch1_anno" / f"{d}1.txt").records}
    assert written == {p.key for p in plans}
    assert {p.relative_to(mini_init_root).as_posix() for p in mini_init_root.rglob("*.png")} == written


def test_domains_differ_globally_and_per_object(mini_init_root):
    stats = {}
    for d in ("sunny", "night", "cloudy", "rainy"):
        recs = parse_file(mini_init_root / "batch1_anno" / f"{d}1.txt").records
        imgs = np.stack([decode_png(mini_init_root / d / r.relpath) for r in recs]).astype(float) / 255
        stats[d] = imgs
    mean = {d: v.mean() for d, v in stats.items()}
    assert mean["night"] < 0.5 * min(mean["sunny"], mean["cloudy"], mean["rainy"])
    top = {d: v[:, :4].mean(axis=(0, 1, 2)) for d, v in stats.items()}  # the sky rows
    assert top["sunny"][2] > top["sunny"][0] + 0.15  # blue sky
    assert abs(top["cloudy"][2] - top["cloudy"][0]) < 0.1  # grey sky
    assert top["rainy"].mean() < top["cloudy"].mean()
    # At night some pixels are still bright (lamps, lit windows, head and tail lights).
    assert (stats["night"].max(axis=3) > 0.9).mean() > 0.002


def test_night_cars_carry_their_own_lights(tmp_path):
    root = tmp_path / "n"
    synthesize(root, per_domain=6, size=(160, 101), seed=2, generator="v1")
    recs = parse_file(root / "batch1_anno" / "night1.txt").records
    red = 0
    for r in recs:
        img = decode_png(root / "night" / r.relpath).astype(int)
        for b in r.boxes:
            if b.cls == 1 and b.x2 - b.x1 >= 10:
                patch = img[int(b.y1):int(b.y2), int(b.x1):int(b.x2)]
                red += int(((patch[..., 0] > 200) & (patch[..., 1] < 120)).any())
    assert red >= 1


def test_png_writer_round_trip_and_fixed_bytes():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (9, 13, 3), dtype=np.uint8)
    data = encode_png(img)
    assert data == encode_png(img.copy())
    import io

    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), img)


def test_synth_cli(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["synth", str(tmp_path / "s"), "--per-domain", "3", "--size", "64x40", "--seed", "5", "--generator", "v1"])
    assert res.exit_code == 0, res.output
    assert "sunny" in " ".join(res.output.split()) and len(list((tmp_path / "s").rglob("*.png"))) == 12
    res = runner.invoke(main, ["synth", str(tmp_path / "s"), "--per-domain", "3"])
    assert res.exit_code == 2 and "not empty" in " ".join(res.output.split())
    res = runner.invoke(main, ["synth", str(tmp_path / "t"), "--size", "64by40"])
    assert res.exit_code == 2 and "--size" in " ".join(res.output.split())
    res = runner.invoke(main, ["synth", str(tmp_path / "t"), "--per-domain", "0"])
    assert res.exit_code == 2 and "--per-domain" in " ".join(res.output.split())


def test_default_size_keeps_the_release_aspect_ratio():
    w, h = DEFAULT_SIZE
    assert DEFAULT_SIZES["v1"] == DEFAULT_SIZE == (256, 161) and abs(w / h - 1920 / 1208) < 0.005
    w, h = DEFAULT_SIZES["v2"]  # v2: both sides a multiple of 4 (what the generators need), ratio within 1 %
    assert (w % 4, h % 4) == (0, 0) and abs(w / h - 1920 / 1208) < 0.016


@pytest.mark.parametrize("size", [(64, 40), (96, 60)])
def test_small_sizes_draw_fast_and_valid(tmp_path, size):
    s = synthesize(tmp_path / "x", per_domain=4, size=size, seed=9, generator="v1")
    assert s["images"] == {d: 4 for d in ("sunny", "night", "cloudy", "rainy")} and s["size"] == list(size)


@pytest.mark.parametrize("per_domain", [2, 12, 64, 500])
def test_every_domain_has_a_single_weather_drive(per_domain):
    """So that a block-wise split (v1) can put every domain on its test side even in tiny trees."""
    by_drive = defaultdict(set)
    for p in plan_frames(per_domain, seed=0):
        by_drive[p.drive].add(p.domain)
    pure = {next(iter(ds)) for ds in by_drive.values() if len(ds) == 1}
    assert pure == {"sunny", "night", "cloudy", "rainy"}
