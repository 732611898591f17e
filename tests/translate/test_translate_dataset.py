"""``initbench translate-dataset``: counts through pycocotools, boxes kept and rescaled, the recorded seeds reproduce
the pixels, outputs independent of which images are translated and in what order, resume, the --data source."""

from __future__ import annotations

import json
import os

import pytest
import torch
from pycocotools.coco import COCO

from initbench.dataset.png import png_size, read_rgb


def _ok(res) -> dict:
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _files(out) -> dict[str, bytes]:
    """Every file under ``out/images`` (relative name -> bytes)."""
    base = out / "images"
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, tiny_init_ckpt, sunny_coco):
    """The 12 sunny images, K = 3, seed 5: ``(out, summary)``."""
    from click.testing import CliRunner

    from initbench.cli import main

    ann, images = sunny_coco
    out = tmp_path_factory.mktemp("td_full") / "out"
    res = CliRunner().invoke(main, ["translate-dataset", "--method", "init", "--ckpt", str(tiny_init_ckpt), "--coco", str(ann),
                                    "--images", str(images), "--out", str(out), "--num-styles", "3", "--seed", "5",
                                    "--json", "-"])
    return out, _ok(res)


def test_pycocotools_counts_the_source_times_k_with_the_same_boxes(full_run, sunny_coco):
    out, summary = full_run
    src, dst = COCO(str(sunny_coco[0])), COCO(str(out / "annotations.json"))
    assert len(dst.getImgIds()) == 3 * len(src.getImgIds()) == summary["outputs"] == 36
    assert len(dst.getAnnIds()) == 3 * len(src.getAnnIds()) == summary["boxes"] > 0
    assert (summary["written"], summary["reused"], summary["skipped_missing"]) == (36, 0, 0)
    styles = {}
    for img in dst.loadImgs(dst.getImgIds()):
        s = src.imgs[img["source_image_id"]]
        assert img["source_file_name"] == s["file_name"]
        assert img["file_name"] == s["file_name"][: -len(".png")] + f"_s{img['style_index']}.png"
        assert png_size(out / "images" / img["file_name"]) == (img["height"], img["width"]) == (s["height"], s["width"])
        got = sorted((a["category_id"], a["bbox"], a["area"], a["iscrowd"]) for a in dst.imgToAnns[img["id"]])
        want = sorted((a["category_id"], a["bbox"], a["area"], a["iscrowd"]) for a in src.imgToAnns[s["id"]])
        assert got == want
        styles.setdefault(s["id"], set()).add(img["style_seed"])
    assert all(len(seeds) == 3 for seeds in styles.values())  # K different styles per image
    assert dst.dataset["categories"] == src.dataset["categories"]
    assert len(_files(out)) == 36


def test_the_recorded_style_seed_reproduces_the_pixels(full_run, tiny_init_ckpt):
    from initbench.training.checkpoints import load_translator
    from initbench.translate_dataset import style_seed

    out, _ = full_run
    doc = json.loads((out / "annotations.json").read_text())
    img = doc["images"][4]  # style 1 of the second image
    assert img["style_seed"] == style_seed(5, img["source_file_name"], img["style_index"])
    model = load_translator(tiny_init_ckpt)
    source = read_rgb(doc["info"]["source"]["images"] + "/" + img["source_file_name"])
    x = source.float()[None] / 127.5 - 1
    with torch.no_grad():
        style = model.sample_style(1, generator=torch.Generator().manual_seed(img["style_seed"]))
        y = model.translate(x, style=style)[0]
        other = model.translate(x, style=model.sample_style(1, generator=torch.Generator().manual_seed(1)))[0]
    expected = ((y + 1) / 2 * 255).round().clamp(0, 255).to(torch.uint8)
    written = read_rgb(out / "images" / img["file_name"])
    diff = (written.int() - expected.int()).abs()
    # one batch of K against a batch of 1: float rounding may move a pixel by one step, nothing more
    assert diff.max() <= 1 and (diff == 0).float().mean() > 0.99
    wrong = ((other + 1) / 2 * 255).round().clamp(0, 255).to(torch.uint8)
    assert (written.int() - wrong.int()).abs().max() > 10  # another style is visibly another image


def test_a_subset_in_another_order_gives_the_same_bytes(full_run, sunny_coco, td_cli, tmp_path):
    out, _ = full_run
    doc = json.loads(sunny_coco[0].read_text())
    keep = [doc["images"][i] for i in (9, 5, 2)]  # reversed, and most images left out
    ids = {img["id"] for img in keep}
    subset = {**doc, "images": keep, "annotations": [a for a in doc["annotations"] if a["image_id"] in ids]}
    ann = tmp_path / "subset.json"
    ann.write_text(json.dumps(subset))
    part = tmp_path / "part"
    _ok(td_cli("--coco", ann, "--images", sunny_coco[1], "--out", part, "--num-styles", "3", "--seed", "5", "--json", "-"))
    full, mine = _files(out), _files(part)
    assert len(mine) == 9 and all(mine[name] == full[name] for name in mine)
    seeds = {(i["source_file_name"], i["style_index"]): i["style_seed"] for i in json.loads((out / "annotations.json").read_text())["images"]}
    for img in json.loads((part / "annotations.json").read_text())["images"]:
        assert img["style_seed"] == seeds[img["source_file_name"], img["style_index"]]


def test_size_rescales_every_box_by_its_image_factors(sunny_coco, td_cli, tmp_path):
    out = tmp_path / "o"
    # 64 x 40 at short side 30 -> 30 x 48, then the height down to the model's multiple of 4: 28 x 48
    _ok(td_cli("--coco", sunny_coco[0], "--images", sunny_coco[1], "--out", out, "--size", "30", "--json", "-"))
    src, dst = COCO(str(sunny_coco[0])), COCO(str(out / "annotations.json"))
    sx, sy = 48 / 64, 28 / 40
    assert len(dst.getAnnIds()) == len(src.getAnnIds())
    for img in dst.loadImgs(dst.getImgIds()):
        assert (img["height"], img["width"]) == (28, 48) == png_size(out / "images" / img["file_name"])
        got = sorted((a["category_id"], *a["bbox"], a["area"]) for a in dst.imgToAnns[img["id"]])
        want = sorted((a["category_id"], a["bbox"][0] * sx, a["bbox"][1] * sy, a["bbox"][2] * sx, a["bbox"][3] * sy,
                       a["area"] * sx * sy) for a in src.imgToAnns[img["source_image_id"]])
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g == pytest.approx(w, abs=1e-4)
    assert json.loads((out / "annotations.json").read_text())["info"]["size"] == 30


def test_a_rerun_redoes_only_the_missing_and_truncated_files(sunny_coco, td_cli, tmp_path):
    out = tmp_path / "o"
    args = ("--coco", sunny_coco[0], "--images", sunny_coco[1], "--out", out, "--num-styles", "2", "--json", "-")
    _ok(td_cli(*args))
    before = _files(out)
    annotations = (out / "annotations.json").read_bytes()
    names = sorted(before)
    gone, cut = out / "images" / names[0], out / "images" / names[5]  # style 0 of image 0, style 1 of image 2
    gone.unlink()
    cut.write_bytes(before[names[5]][: len(before[names[5]]) // 2])
    stale = gone.with_name(f".{gone.name}.tmp-1-2")
    stale.write_bytes(b"half")  # what an interrupted run leaves
    stats = {n: os.stat(out / "images" / n) for n in names[1:] if n != names[5]}
    summary = _ok(td_cli(*args))
    assert (summary["written"], summary["reused"]) == (2, 10)
    assert _files(out) == before and (out / "annotations.json").read_bytes() == annotations
    assert not stale.exists()
    for n, st in stats.items():  # untouched: same inode, same modification time
        now = os.stat(out / "images" / n)
        assert (now.st_ino, now.st_mtime_ns) == (st.st_ino, st.st_mtime_ns), n


def test_a_rerun_with_other_settings_or_into_a_foreign_folder_is_refused(sunny_coco, td_cli, tmp_path, oneline):
    out = tmp_path / "o"
    base = ("--coco", sunny_coco[0], "--images", sunny_coco[1], "--out", out)
    _ok(td_cli(*base, "--json", "-"))
    res = td_cli(*base, "--seed", "1")
    assert res.exit_code == 2
    assert oneline(res.stderr) == (f"error: --seed: {out} holds a translation made with seed = 0; got 1; choose another "
                                   "--out (or remove it to start again)")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    res = td_cli("--coco", sunny_coco[0], "--images", sunny_coco[1], "--out", foreign)
    assert res.exit_code == 2
    assert oneline(res.stderr) == (f"error: --out: expected an empty folder or one written by translate-dataset; {foreign} "
                                   "holds files but no translate-dataset.json; choose another --out")


def test_data_source_takes_a_split_side_and_the_domain_picks_the_direction(mini_init_v2_root, td_cli, tmp_path, oneline):
    from initbench.dataset.index import index_root
    from initbench.dataset.split import compute_split

    out = tmp_path / "o"
    summary = _ok(td_cli("--data", mini_init_v2_root, "--split", "train", "--split-rule", "drives", "--domain", "night",
                         "--out", out, "--num-styles", "2", "--json", "-"))
    assign = compute_split(index_root(mini_init_v2_root).image_keys, "drives")
    train_night = sorted(k for k, s in assign.items() if s == "train" and k.startswith("night/"))
    assert 0 < len(train_night) < sum(k.startswith("night/") for k in assign)
    doc = COCO(str(out / "annotations.json")).dataset
    assert summary["images"] == len(train_night) and len(doc["images"]) == 2 * len(train_night)
    assert sorted({i["source_file_name"] for i in doc["images"]}) == train_night
    assert (doc["info"]["direction"], doc["info"]["task"]) == ("b2a", "night2sunny")  # a sunny2night model, night images
    assert doc["info"]["source"]["split_rule"] == "drives"
    res = td_cli("--data", mini_init_v2_root, "--domain", "rainy", "--out", tmp_path / "r")
    assert res.exit_code == 2 and not (tmp_path / "r").exists()
    assert oneline(res.stderr) == ("error: --domain rainy: the model was trained for sunny2night (a = sunny, b = night); "
                                   "it translates sunny images (a2b) or night images (b2a)")


def test_the_output_reads_back_as_a_source(full_run, td_cli, tmp_path):
    out, _ = full_run
    again = tmp_path / "again"
    summary = _ok(td_cli("--coco", out / "annotations.json", "--images", out / "images", "--out", again, "--json", "-"))
    assert (summary["images"], summary["outputs"]) == (36, 36)
    assert len(COCO(str(again / "annotations.json")).getAnnIds()) == len(COCO(str(out / "annotations.json")).getAnnIds())
