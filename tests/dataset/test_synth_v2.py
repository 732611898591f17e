"""The synthetic mini-INIT v2: styles drawn per frame, latents, paired ground truth, whole-drive split."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from initbench.cli import main
from initbench.dataset.annotations import parse_file
from initbench.dataset.manifest import check_manifest, read_manifest
from initbench.dataset.png import encode_png
from initbench.dataset.release import DOMAINS
from initbench.dataset.split import frame_key, split_drives
from initbench.dataset.synthetic import plan_frames, render_planned, synthesize
from initbench.dataset.synthetic_style import FRAME_RANGES, LIGHTS_ON, OBJECT_RANGES
from initbench.dataset.synthetic_v2 import read_latents, render_v2, scene_for

REPO = Path(__file__).resolve().parents[2]
V2 = dict(per_domain=24, size=(64, 40), seed=0)  # the mini_init_v2_root fixture's arguments


def annotations(root):
    return {r.key: r for d in DOMAINS for r in parse_file(root / "batch1_anno" / f"{d}1.txt").records}


def test_every_rendered_image_has_one_latent_record(mini_init_v2_root):
    recs = read_latents(mini_init_v2_root / "latents.jsonl")
    pngs = {p.relative_to(mini_init_v2_root).as_posix() for p in mini_init_v2_root.rglob("*.png")}
    assert sorted(r["path"] for r in recs) == sorted(pngs) and len(recs) == len(pngs)
    released = [r for r in recs if r["source"] is None]
    assert Counter(r["domain"] for r in released) == {d: 24 for d in DOMAINS}
    assert all(r["path"].startswith(r["domain"] + "/") for r in released)


def test_ground_truth_covers_every_test_frame_in_the_three_other_domains(mini_init_v2_root):
    split = split_drives(annotations(mini_init_v2_root))
    test = sorted(k for k, s in split.items() if s == "test")
    assert test
    for key in test:
        domain, rel = key.split("/", 1)
        for t in DOMAINS:
            gt = mini_init_v2_root / "ground_truth" / f"{domain}2{t}" / rel
            assert gt.is_file() == (t != domain), gt
    written = [p for p in (mini_init_v2_root / "ground_truth").rglob("*.png")]
    assert len(written) == 3 * len(test)  # nothing for training frames


def test_ground_truth_in_its_own_domain_is_the_released_frame_byte_for_byte(mini_init_v2_root):
    recs = read_latents(mini_init_v2_root / "latents.jsonl")
    sources = sorted({r["source"] for r in recs if r["source"]})[:4]
    for key in sources:
        domain, rel = key.split("/", 1)
        img, _, lat = render_planned(key, domain, **V2)
        assert encode_png(img) == (mini_init_v2_root / key).read_bytes()
        released = next(r for r in recs if r["path"] == key)
        assert lat["style_seed"] == released["style_seed"]
        other = next(t for t in DOMAINS if t != domain)  # and the other domains give the written ground truth
        img, _, lat = render_planned(key, other, **V2)
        assert encode_png(img) == (mini_init_v2_root / "ground_truth" / f"{domain}2{other}" / rel).read_bytes()
        assert lat["style_seed"] == next(r["style_seed"] for r in recs if r["source"] == key and r["domain"] == other)


def test_boxes_of_every_ground_truth_image_equal_the_sources(mini_init_v2_root):
    anno = annotations(mini_init_v2_root)
    gts = [r for r in read_latents(mini_init_v2_root / "latents.jsonl") if r["source"]]
    n_boxes = 0
    for r in gts:
        src = [(b.cls, int(b.x1), int(b.y1), int(b.x2), int(b.y2)) for b in anno[r["source"]].boxes]
        assert [(o["cls"], *o["box"]) for o in r["objects"]] == src, r["path"]
        n_boxes += len(src)
    assert n_boxes > 20
    # The latent records of the released frames hold the annotation's boxes too.
    for r in read_latents(mini_init_v2_root / "latents.jsonl"):
        if r["source"] is None:
            assert [(o["cls"], *o["box"]) for o in r["objects"]] == [
                (b.cls, int(b.x1), int(b.y1), int(b.x2), int(b.y2)) for b in anno[r["path"]].boxes]


def test_every_latent_value_lies_in_its_domains_declared_range(mini_init_v2_root):
    recs = read_latents(mini_init_v2_root / "latents.jsonl")
    checked = Counter()
    for r in recs:
        d = r["domain"]
        assert set(r["frame_latents"]) == set(FRAME_RANGES[d])
        for name, v in r["frame_latents"].items():
            lo, hi = FRAME_RANGES[d][name]
            assert lo <= v <= hi, (r["path"], name, v)
            checked[name] += 1
        for o in r["objects"]:
            for name, v in o.items():
                if name in ("id", "cls", "box"):
                    continue
                lo, hi = OBJECT_RANGES[d][name]
                for x in (v if isinstance(v, list) else [v]):
                    assert lo <= x <= hi, (r["path"], name, x)
                checked[name] += 1
    assert set(checked) == set(FRAME_RANGES["sunny"]) | {"colour", "lights_on", "shirt", "trousers", "reflectivity"}


def test_styles_vary_inside_a_domain(mini_init_v2_root):
    """A domain is a distribution: frame factors spread over their range, night cars both lit and unlit."""
    recs = [r for r in read_latents(mini_init_v2_root / "latents.jsonl") if r["domain"] == "night"]
    for name in ("ambient", "sky_hue", "cloud_cover", "lit_windows", "wetness"):
        vals = [r["frame_latents"][name] for r in recs]
        lo, hi = FRAME_RANGES["night"][name]
        assert max(vals) - min(vals) > 0.4 * (hi - lo), name
    lights = [o["lights_on"] for r in recs for o in r["objects"] if o["cls"] == 1]
    assert 0 < sum(lights) < len(lights)
    assert abs(sum(lights) / len(lights) - LIGHTS_ON["night"]) < 0.2


def test_two_style_draws_of_one_night_frame_share_the_boxes_not_the_pixels():
    plans = [p for p in plan_frames(24, seed=0) if p.drive_index == 5]
    scene = scene_for(123, plans)
    frame = plans[0].frame
    img_a, boxes_a, lat_a = render_v2(scene, "night", frame, (96, 60), seed=1)
    img_b, boxes_b, lat_b = render_v2(scene, "night", frame, (96, 60), seed=2)
    assert boxes_a == boxes_b and boxes_a
    assert lat_a["frame_latents"] != lat_b["frame_latents"]
    assert np.abs(img_a.astype(int) - img_b.astype(int)).mean() > 1.0
    again, _, _ = render_v2(scene_for(123, plans), "night", frame, (96, 60), seed=1)  # a seed gives one image
    assert np.array_equal(again, img_a)


def test_workers_give_the_same_bytes_and_latents(tmp_path, mini_init_v2_root):
    again = tmp_path / "again"
    synthesize(again, workers=2, generator="v2", paired=True, **V2)
    for p in sorted(mini_init_v2_root.rglob("*")):
        if p.is_file():
            assert (again / p.relative_to(mini_init_v2_root)).read_bytes() == p.read_bytes(), p


def test_default_size_has_boxes_big_enough_to_learn_from(tmp_path):
    s = synthesize(tmp_path / "big", per_domain=6, seed=0)
    assert s["size"] == [256, 160] and s["generator"] == "v2"
    sides = [min(b.x2 - b.x1, b.y2 - b.y1) for r in annotations(tmp_path / "big").values() for b in r.boxes]
    assert len(sides) > 40 and np.median(sides) >= 12 and s["median_box_short_side"] == np.median(sides)


def test_test_split_holds_out_whole_drives_of_every_domain(mini_init_v2_root):
    split = split_drives(annotations(mini_init_v2_root))
    sides: dict[str, set] = {}
    for k, s in split.items():
        sides.setdefault(frame_key(k.split("/", 1)[1]).drive, set()).add(s)
    assert all(len(v) == 1 for v in sides.values())
    assert {k.split("/")[0] for k, s in split.items() if s == "test"} == set(DOMAINS)


def test_synth_cli_paired_and_generator_checks(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["synth", str(tmp_path / "p"), "--per-domain", "4", "--size", "64x40", "--paired"])
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "split drives:" in out and "ground-truth images in" in out
    assert (tmp_path / "p" / "latents.jsonl").is_file() and list((tmp_path / "p" / "ground_truth").rglob("*.png"))
    res = runner.invoke(main, ["synth", str(tmp_path / "q"), "--generator", "v1", "--paired"])
    assert res.exit_code == 2
    assert "--paired: ground truth needs --generator v2" in " ".join(res.output.split())
    res = runner.invoke(main, ["synth", str(tmp_path / "q"), "--generator", "v3"])
    assert res.exit_code == 2 and "--generator" in res.output
    assert not (tmp_path / "q").exists()


@pytest.mark.slow
def test_generator_v1_reproduces_the_committed_mini_init(tmp_path, check_committed_synth):
    res = CliRunner().invoke(main, ["synth", str(tmp_path / "v1"), "--generator", "v1", "--workers", "2"])
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "v1" / "latents.jsonl").exists()
    if check_committed_synth(tmp_path / "v1", REPO / "manifests/mini-init"):  # same zlib: the bytes too
        assert check_manifest(tmp_path / "v1", REPO / "manifests/mini-init/manifest.csv.gz", with_hash=True) == []


@pytest.mark.slow
def test_default_synth_reproduces_the_committed_v2(tmp_path, check_committed_synth):
    res = CliRunner().invoke(main, ["synth", str(tmp_path / "v2"), "--workers", "2"])
    assert res.exit_code == 0, res.output
    manifest = REPO / "manifests/mini-init-v2/manifest.csv.gz"
    if check_committed_synth(tmp_path / "v2", manifest.parent):  # same zlib: the bytes too
        assert check_manifest(tmp_path / "v2", manifest, with_hash=True) == []
    rows = read_manifest(manifest)
    assert {r.key: r.split for r in rows} == split_drives(r.key for r in rows)  # its split column is split drives
    assert gzip.decompress(manifest.read_bytes()).count(b"\n") == 4 * 64 + 1

