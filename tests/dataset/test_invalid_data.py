"""Nothing drops data silently: a copy with annotation errors is refused by every command that reads it
(exit 1, findings shown) unless --skip-invalid, which then reports and records exactly what it left out."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from initbench.cli import main
from initbench.dataset.annotations import parse_file
from initbench.dataset.index import index_root


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def said(res) -> str:
    """The command's stdout and stderr with rich's line wrapping undone."""
    return " ".join(res.output.split())


@pytest.fixture(scope="module")
def damaged(mini_init_root, tmp_path_factory):
    """A copy of the mini-INIT where one box line of one sunny record is not numbers.

    The parser cannot use that box; the record's count line says one box more than it can read.
    Returns (root, key of the damaged image, annotation file, line of the bad box).
    """
    root = tmp_path_factory.mktemp("damaged") / "init"
    shutil.copytree(mini_init_root, root)
    anno = root / "batch1_anno" / "sunny1.txt"
    rec = next(r for r in parse_file(anno).records if len(r.boxes) >= 2)
    lines = anno.read_text().split("\n")
    bad = rec.boxes[0].line
    lines[bad - 1] = "1 12.5 x 30.0 20.0"
    anno.write_text("\n".join(lines))
    return root, rec.key, anno, bad


def test_the_damaged_copy_does_not_verify(damaged):
    root, _, anno, bad = damaged
    res = run("verify-dataset", root)
    assert res.exit_code == 1 and "non-numeric-value" in res.output


def test_the_index_refuses_the_copy_or_leaves_out_exactly_the_damaged_image(damaged, mini_init_root):
    from initbench.errors import InvalidDataError

    root, key, anno, bad = damaged
    with pytest.raises(InvalidDataError) as err:
        index_root(root)
    assert err.value.exit_code == 1
    assert [(f.rule, f.path, f.line) for f in err.value.findings] == [
        ("non-numeric-value", str(anno), bad), ("box-count-mismatch", str(anno), bad - 1)]
    assert f"{root}: expected a copy without annotation errors; found 2 error(s) concerning 1 image(s), first {anno}:{bad}" in str(err.value)
    idx = index_root(root, skip_invalid=True)
    assert set(index_root(mini_init_root)) - set(idx) == {key}
    assert idx.dropped_images == [key] and len(idx.image_keys) == 48
    assert [(d["rule"], d["line"], d["images"]) for d in idx.dropped] == [("non-numeric-value", bad, [key]), ("box-count-mismatch", bad - 1, [key])]


def test_prepare_refuses_the_copy_and_writes_nothing(damaged, tmp_path):
    root, key, anno, bad = damaged
    res = run("prepare", root, tmp_path / "p", "--size", "16")
    assert res.exit_code == 1, res.output
    assert f"non-numeric-value  {anno}:{bad}" in res.output and "verified" not in res.output
    assert "error:" in res.output and "--skip-invalid" in said(res)
    assert not (tmp_path / "p").exists()


def test_prepare_with_skip_invalid_reports_and_records_what_it_left_out(damaged, tmp_path):
    root, key, anno, bad = damaged
    out = tmp_path / "p"
    res = run("prepare", root, out, "--size", "16", "--skip-invalid", "--json", tmp_path / "s.json")
    assert res.exit_code == 0, res.output
    assert "left out 1 image(s)" in said(res) and f"(left out: {key})" in res.output
    assert "verified" not in res.output and "ROOT was not clean: 1 image(s) left out" in said(res)
    assert not (out / key).exists() and len(list(out.rglob("*.png"))) == 47
    copied = parse_file(out / "batch1_anno" / "sunny1.txt")
    assert copied.findings == [] and key not in {r.key for r in copied.records} and len(copied.records) == 11
    record = json.loads((out / "initbench-prepare.json").read_text())
    assert record["settings"] == {"root": str(root.resolve()), "size": 16, "split": "v1", "skip_invalid": True}
    assert record["complete"] is True and record["source_clean"] is False and record["images_left_out"] == [key]
    assert [(d["rule"], d["line"]) for d in record["dropped"]] == [("non-numeric-value", bad), ("box-count-mismatch", bad - 1)]
    assert json.loads((tmp_path / "s.json").read_text())["images_left_out"] == [key]


def test_export_refuses_or_records_the_left_out_image_in_the_coco_info(damaged, tmp_path):
    root, key, anno, bad = damaged
    res = run("export", "coco", root, tmp_path / "c.json")
    assert res.exit_code == 1 and f"non-numeric-value  {anno}:{bad}" in res.output
    assert not (tmp_path / "c.json").exists()
    res = run("export", "coco", root, tmp_path / "c.json", "--skip-invalid", "--json", tmp_path / "s.json")
    assert res.exit_code == 0, res.output
    assert "coco: 47 images" in said(res) and "(1 left out: --skip-invalid)" in said(res)
    coco = json.loads((tmp_path / "c.json").read_text())
    assert key not in {i["file_name"] for i in coco["images"]} and coco["info"]["images_left_out"] == [key]
    assert [d["rule"] for d in coco["info"]["dropped"]] == ["non-numeric-value", "box-count-mismatch"]
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["images"] == 47 and summary["images_left_out"] == [key] and summary["skip_invalid"] is True


def test_export_json_to_stdout_is_only_the_summary(mini_init_root, tmp_path):
    res = run("export", "boxes", mini_init_root, tmp_path / "b", "--json", "-")
    assert res.exit_code == 0
    s = json.loads(res.stdout)
    assert (s["format"], s["images"], s["dropped"], s["images_left_out"]) == ("boxes", 48, [], [])
    assert json.loads((tmp_path / "b" / "initbench-export.json").read_text()) == s


def test_manifest_build_refuses_or_leaves_the_image_out_of_the_rows(damaged, tmp_path):
    from initbench.dataset.manifest import read_manifest

    root, key, anno, bad = damaged
    res = run("manifest", "build", root, "--out", tmp_path / "m.csv")
    assert res.exit_code == 1 and f"box-count-mismatch  {anno}:{bad - 1}" in res.output
    assert not (tmp_path / "m.csv").exists()
    res = run("manifest", "build", root, "--out", tmp_path / "m.csv", "--skip-invalid", "--json", tmp_path / "s.json")
    assert res.exit_code == 0, res.output
    assert "1 image(s) left out" in said(res)
    rows = read_manifest(tmp_path / "m.csv")
    assert len(rows) == 47 and key not in {r.key for r in rows}
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["rows"] == 47 and s["images_left_out"] == [key] and s["skip_invalid"] is True


def test_skipping_an_image_moves_no_other_image_between_train_and_test(damaged, mini_init_root):
    from initbench.dataset.loaders import DomainImages, split_for_root

    root, key, anno, bad = damaged
    clean = split_for_root(mini_init_root)
    for split in ("train", "test"):
        ds = DomainImages(root, "sunny", split=split, size=None, skip_invalid=True)
        assert ds.keys == sorted(k for k, s in clean.items() if s == split and k.startswith("sunny/") and k != key)
        assert [d["images"] for d in ds.dropped] == [[key], [key]]


def test_train_refuses_the_copy_or_records_what_it_left_out_in_config_json(damaged, tmp_path):
    root, key, anno, bad = damaged
    args = ["train", "--method", "init", "--data", root, "--task", "sunny2night", "--max-steps", "0", "--threads", "1",
            "--device", "cpu", "--set", "dim=4", "--set", "n_res=1", "--set", "mlp_dim=16"]
    res = run(*args, "--out", tmp_path / "r1")
    assert res.exit_code == 1, res.output
    assert f"non-numeric-value  {anno}:{bad}" in res.output and not (tmp_path / "r1" / "config.json").exists()
    res = run(*args, "--out", tmp_path / "r2", "--skip-invalid")
    assert res.exit_code == 0, res.output
    assert f"(left out: {key})" in res.output
    cfg = json.loads((tmp_path / "r2" / "config.json").read_text())
    assert cfg["train"]["skip_invalid"] is True
    assert [(d["rule"], d["line"], d["images"]) for d in cfg["data"]["dropped"]] == [
        ("non-numeric-value", bad, [key]), ("box-count-mismatch", bad - 1, [key])]


@pytest.fixture
def tree(mini_init_root, tmp_path):
    dst = tmp_path / "init"
    shutil.copytree(mini_init_root, dst)
    return dst


def test_each_kind_of_error_costs_the_images_it_concerns(tree):
    """A record without its image, a frame annotated in two domains, a box outside the frame: each
    error names the images it costs; a stray line costs none."""
    sunny, night = tree / "batch1_anno" / "sunny1.txt", tree / "batch1_anno" / "night1.txt"
    s_recs, n_recs = parse_file(sunny).records, parse_file(night).records
    gone, twin, outside = s_recs[0], n_recs[0], s_recs[1]
    (tree / gone.key).unlink()
    lines = sunny.read_text().split("\n")
    lines[outside.line + 1] = f"3 {outside.height} {outside.width} 1"
    box = next(r for r in s_recs[2:] if r.boxes)
    lines[box.boxes[0].line - 1] = f"1 0.0 0.0 {box.width + 50}.0 5.0"
    lines += ["a stray line", ""]
    stray = len(lines) - 1
    # the night frame's path annotated once more, as sunny (its own sunny file stays on disk only in night/)
    lines += ["# 99", twin.path, f"3 {twin.height} {twin.width} 1", "0", "0", "", ""]
    sunny.write_text("\n".join(lines))
    idx = index_root(tree, skip_invalid=True)
    got = {(d["rule"], d["line"], tuple(d["images"])) for d in idx.dropped}
    assert got == {
        ("image-missing", gone.line, (gone.key,)),
        ("box-outside-image", box.boxes[0].line, (box.key,)),
        ("malformed-record", stray, ()),
        ("cross-domain-duplicate", stray + 2, ("sunny/" + twin.relpath, twin.key)),
        ("image-missing", stray + 2, ("sunny/" + twin.relpath,)),
    }
    assert idx.dropped_images == sorted([box.key, twin.key]) and len(idx) == 48 - 3  # the deleted image, and two left out
    assert outside.key in idx  # its size line was rewritten to the same numbers: nothing wrong


def test_image_checks_find_a_truncated_png_and_a_wrong_size_line(tree):
    from initbench.errors import InvalidDataError

    anno = tree / "batch1_anno" / "rainy1.txt"
    recs = parse_file(anno).records
    cut, sized = recs[0], recs[1]
    p = tree / cut.key
    p.write_bytes(p.read_bytes()[:-30])
    lines = anno.read_text().split("\n")
    lines[sized.line + 1] = f"3 {sized.height + 1} {sized.width} 1"
    anno.write_text("\n".join(lines))
    assert len(index_root(tree)) == 48  # the loaders do not read the image headers up front
    with pytest.raises(InvalidDataError):
        index_root(tree, check_images=True)
    idx = index_root(tree, check_images=True, skip_invalid=True)
    assert {(d["rule"], tuple(d["images"])) for d in idx.dropped} == {("image-unreadable", (cut.key,)), ("size-mismatch", (sized.key,))}


def test_export_with_the_manifest_of_another_copy_is_an_error_not_zero_images(mini_init_root, tmp_path):
    from initbench.dataset.manifest import build_manifest, write_manifest

    from initbench.dataset.synthetic import synthesize

    other = tmp_path / "other"
    synthesize(other, per_domain=3, size=(32, 20), seed=7)
    write_manifest(tmp_path / "m.csv", build_manifest(other))
    res = run("export", "coco", mini_init_root, tmp_path / "c.json", "--split", "test", "--manifest", tmp_path / "m.csv")
    assert res.exit_code == 2, res.output
    assert ("--manifest: expected a manifest of ROOT's images; 12 of its 12 rows name images not under ROOT and 48 images under ROOT "
            "are not in it") in said(res) and "is it the manifest of another copy?" in said(res)
    assert not (tmp_path / "c.json").exists()
    write_manifest(tmp_path / "own.csv", build_manifest(mini_init_root))
    res = run("export", "coco", mini_init_root, tmp_path / "c.json", "--split", "test", "--manifest", tmp_path / "own.csv")
    assert res.exit_code == 0 and "coco: 0 images" not in res.output


def test_a_rerun_with_skip_invalid_removes_an_image_copied_before_its_record_broke(mini_init_root, tmp_path):
    from initbench.dataset.prepare import prepare

    src = tmp_path / "init"
    shutil.copytree(mini_init_root, src)
    out = tmp_path / "p"
    assert prepare(src, out, size=16, verify=False)["images"] == 48
    anno = src / "batch1_anno" / "night1.txt"
    rec = parse_file(anno).records[3]
    anno.write_text(anno.read_text().replace(rec.path, rec.path + " extra", 1))  # the path line is now malformed
    s = prepare(src, out, size=16, skip_invalid=True)
    assert s["images_left_out"] == [rec.key] and s["left_out_removed_from_out"] == 1 and s["findings"] == []
    assert not (out / rec.key).exists() and rec.key not in index_root(out)
