"""verify-dataset on the mini-INIT: clean tree exits 0; injected faults are each found at their place."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import shutil

import pytest
from click.testing import CliRunner

from initbench.cli import main
from initbench.dataset.annotations import parse_file
from initbench.dataset.png import PngError, encode_png, parse_png_header, read_png_header
from initbench.dataset.verify import verify_dataset
from initbench.dataset.verify_manifest import compare_manifest


@pytest.fixture
def tree(mini_init_root, tmp_path):
    dst = tmp_path / "init"
    shutil.copytree(mini_init_root, dst)
    return dst


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def located(report):
    return {(f["rule"], f["path"], f["line"]) for f in report["findings"]}


def test_clean_tree_exits_0_and_reports_counts(mini_init_root, tmp_path):
    out = tmp_path / "r.json"
    res = run("verify-dataset", mini_init_root, "--json", out)
    assert res.exit_code == 0, res.output
    assert "OK" in res.output and "58,427" in res.output  # paper Table 2 beside our counts
    rep = json.loads(out.read_text())
    assert rep["ok"] is True and rep["findings"] == [] and rep["files_checked"] == 48
    for d in ("sunny", "night", "cloudy", "rainy"):
        dom = rep["domains"][d]
        recs = parse_file(mini_init_root / "batch1_anno" / f"{d}1.txt").records
        assert dom["images"] == dom["records"] == 12
        assert dom["boxes"]["car"] == sum(b.cls == 1 for r in recs for b in r.boxes)
        assert dom["boxes"]["person"] == sum(b.cls == 3 for r in recs for b in r.boxes)


def test_injected_faults_are_each_reported_at_their_file_and_line(tree, tmp_path):
    anno = tree / "batch1_anno" / "sunny1.txt"
    recs = parse_file(anno).records
    with_boxes = [r for r in recs if len(r.boxes) >= 1]
    lines = anno.read_text().split("\n")
    r_del, r_trunc, r_out, r_count, r_cls, r_size = recs[0], recs[1], with_boxes[2], recs[3], with_boxes[4], recs[5]
    assert len({r_del.line, r_trunc.line, r_out.line, r_count.line, r_cls.line, r_size.line}) == 6

    (tree / "sunny" / r_del.relpath).unlink()
    trunc_path = tree / "sunny" / r_trunc.relpath
    trunc_path.write_bytes(trunc_path.read_bytes()[:-40])
    out_line = r_out.boxes[0].line
    lines[out_line - 1] = "1 10.0 10.0 500.0 30.0"
    lines[r_count.line + 3] = str(len(r_count.boxes) + 1)
    cls_line = r_cls.boxes[0].line
    lines[cls_line - 1] = "9" + lines[cls_line - 1][1:]
    lines[r_size.line + 1] = "3 41 64 1"
    lines += ["garbage that is not a record", ""]
    garbage_line = len(lines) - 1
    anno.write_text("\n".join(lines))

    out = tmp_path / "r.json"
    res = run("verify-dataset", tree, "--json", out)
    assert res.exit_code == 1, res.output
    rep = json.loads(out.read_text())
    a = str(anno)
    expected = {
        ("image-missing", a, r_del.line),
        ("image-unreadable", str(trunc_path), None),
        ("box-outside-image", a, out_line),
        ("box-count-mismatch", a, r_count.line + 4),
        ("unknown-class", a, cls_line),
        ("size-mismatch", a, r_size.line + 2),
        ("malformed-record", a, garbage_line),
    }
    assert located(rep) == expected
    assert rep["ok"] is False and rep["errors"] == 7
    # Everything else is still counted.
    assert rep["domains"]["sunny"]["images"] == 11 and rep["domains"]["sunny"]["records"] == 12
    assert all(rep["domains"][d]["images"] == 12 for d in ("night", "cloudy", "rainy"))
    assert rep["files_checked"] == 47
    for rule in ("image-missing", "image-unreadable", "box-outside-image", "unknown-class", "size-mismatch"):
        assert rule in res.output
    pooled = verify_dataset(tree, workers=2)  # annotations parsed and images probed in worker processes
    assert pooled["findings"] == rep["findings"] and pooled["domains"] == rep["domains"]


def test_unannotated_image_is_a_warning_and_exit_stays_0(tree):
    src = next((tree / "night").rglob("*.png"))
    extra = src.with_name("99_99999.png")
    shutil.copy(src, extra)
    rep = verify_dataset(tree)
    assert located(rep) == {("image-unannotated", str(extra), None)}
    assert rep["ok"] is True and rep["warnings"] == 1
    assert run("verify-dataset", tree).exit_code == 0


def test_unreadable_images_of_every_kind(tree):
    pngs = sorted((tree / "rainy").rglob("*.png"))
    pngs[0].write_bytes(b"")
    pngs[1].write_bytes(b"\xff\xd8\xff\xe0 a jpeg" + bytes(100))
    data = bytearray(pngs[2].read_bytes())
    data[20] ^= 0xFF  # inside IHDR: its checksum no longer matches
    pngs[2].write_bytes(bytes(data))
    rep = verify_dataset(tree)
    msgs = {f["path"]: f["message"] for f in rep["findings"] if f["rule"] == "image-unreadable"}
    assert set(msgs) == {str(p) for p in pngs[:3]}
    assert "empty" in msgs[str(pngs[0])] and "signature" in msgs[str(pngs[1])] and "checksum" in msgs[str(pngs[2])]
    assert rep["counts"] == {"image-unreadable": 3}


def test_annotation_unreadable_and_cross_domain_duplicate(tree):
    (tree / "batch1_anno" / "labels1.txt").write_text((tree / "batch1_anno" / "sunny1.txt").read_text())
    night = tree / "batch1_anno" / "night1.txt"
    rec = parse_file(tree / "batch1_anno" / "sunny1.txt").records[0]
    night.write_text(night.read_text() + f"# 13\n{rec.path}\n3 40 64 1\n0\n0\n\n")
    rep = verify_dataset(tree)
    n_lines = len(night.read_text().split("\n"))
    assert located(rep) == {
        ("annotation-unreadable", str(tree / "batch1_anno" / "labels1.txt"), None),
        ("cross-domain-duplicate", str(tree / "batch1_anno" / "sunny1.txt"), 1),
        ("image-missing", str(night), n_lines - 6),
    }


def write_manifest(root, path):
    rows = []
    for d in ("sunny", "night", "cloudy", "rainy"):
        for p in sorted((root / d).rglob("*.png")):
            data = p.read_bytes()
            rel = p.relative_to(root / d).as_posix()
            rows.append({"domain": d, "path": rel, "split": "train", "drive": rel.rsplit("/", 2)[0], "frame": 1, "height": 40, "width": 64,
                         "n_car": 0, "n_sign": 0, "n_person": 0, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return rows


@pytest.mark.parametrize("name, workers", [("m.csv", 1), ("m.csv.gz", 2)])
def test_manifest_compare_with_hash(tree, tmp_path, name, workers):
    manifest = tmp_path / name
    rows = write_manifest(tree, manifest)
    assert verify_dataset(tree, manifest=manifest, with_hash=True, workers=workers)["ok"]

    flipped = tree / "cloudy" / rows[30]["path"]
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x01  # same size, same header and end: only the hash can tell
    flipped.write_bytes(bytes(data))
    grown = tree / "night" / next(r["path"] for r in rows if r["domain"] == "night")
    grown.write_bytes(grown.read_bytes() + b"\0")
    gone = tree / "rainy" / next(r["path"] for r in rows if r["domain"] == "rainy")
    gone.unlink()
    extra = gone.with_name("77_00001.png")
    extra.write_bytes(encode_png(__import__("numpy").zeros((40, 64, 3), "uint8")))

    line = {(r["domain"], r["path"]): i + 2 for i, r in enumerate(rows)}
    m = str(manifest)
    rep = verify_dataset(tree, manifest=manifest, with_hash=True, workers=workers)
    found = located(rep)
    assert ("hash-mismatch", m, line[("cloudy", rows[30]["path"])]) in found
    night_rel = grown.relative_to(tree / "night").as_posix()
    assert ("manifest-size-mismatch", m, line[("night", night_rel)]) in found
    assert ("hash-mismatch", m, line[("night", night_rel)]) in found
    assert ("image-unreadable", str(grown), None) in found  # no IEND at the end any more
    assert ("manifest-missing-file", m, line[("rainy", gone.relative_to(tree / "rainy").as_posix())]) in found
    assert ("manifest-extra-file", str(extra), None) in found
    assert rep["tree_digest"] and len(rep["tree_digest"]) == 64

    only_manifest = {(f.rule, f.path, f.line) for f in compare_manifest(tree, manifest, workers=workers)}
    assert only_manifest == {x for x in found if x[0].startswith(("manifest-", "hash-"))}
    quick = located(verify_dataset(tree, manifest=manifest))  # sizes only, no sha256
    assert not any(r == "hash-mismatch" for r, _, _ in quick) and ("manifest-size-mismatch", m, line[("night", night_rel)]) in quick


def test_hash_digest_is_independent_of_workers(mini_init_root):
    a = verify_dataset(mini_init_root, with_hash=True, workers=1)["tree_digest"]
    b = verify_dataset(mini_init_root, with_hash=True, workers=2)["tree_digest"]
    assert a == b
    rep = verify_dataset(mini_init_root, with_hash=True)
    f = mini_init_root / "batch1_anno" / "rainy1.txt"
    assert rep["annotation_sha256"][str(f)] == hashlib.sha256(f.read_bytes()).hexdigest()


def flat(res) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(res.output.split())


def test_unusable_input_exits_2(tmp_path, mini_init_root):
    res = run("verify-dataset", tmp_path / "nope")
    assert res.exit_code == 2 and "ROOT" in flat(res) and "is not a directory" in flat(res)
    (tmp_path / "empty").mkdir()
    res = run("verify-dataset", tmp_path / "empty")
    assert res.exit_code == 2 and "no annotation files" in flat(res)
    res = run("verify-dataset", mini_init_root, "--workers", "0")
    assert res.exit_code == 2 and "--workers" in flat(res)
    res = run("verify-dataset", mini_init_root, "--annotations", tmp_path / "missing.txt")
    assert res.exit_code == 2 and "--annotations" in flat(res)
    bad = tmp_path / "bad.csv"
    bad.write_text("domain,file\nsunny,x.png\n")
    res = run("verify-dataset", mini_init_root, "--manifest", bad)
    assert res.exit_code == 2 and "bad.csv:1" in flat(res) and "bytes" in flat(res)


def test_explicit_annotations_limit_the_check(mini_init_root):
    rep = verify_dataset(mini_init_root, annotations=[mini_init_root / "batch1_anno" / "night1.txt"])
    assert rep["domains"]["night"]["records"] == 12 and rep["domains"]["sunny"]["records"] == 0
    assert rep["counts"] == {"image-unannotated": 36} and rep["ok"]


def test_png_header_reader(tmp_path):
    import numpy as np

    data = encode_png(np.zeros((7, 5, 3), np.uint8))
    p = tmp_path / "x.png"
    p.write_bytes(data)
    h = read_png_header(p)
    assert (h.width, h.height, h.channels, h.nbytes) == (5, 7, 3, len(data))
    with pytest.raises(PngError, match="truncated"):
        parse_png_header(data[:33], data[-13:-1], len(data) - 1)
    with pytest.raises(PngError, match="too short"):
        parse_png_header(data[:20], b"", 20)


def test_hash_pass_streams_large_files(tmp_path):
    import os

    from initbench.dataset.filescan import _hash_file, probe_file

    big = tmp_path / "big.png"
    data = os.urandom(5 * (1 << 20) + 7)  # above the one-read limit: streamed in blocks
    big.write_bytes(data)
    assert _hash_file(str(big)) == (len(data), data[:33], data[-12:], hashlib.sha256(data).hexdigest())
    size, _, _, _, sha, err = probe_file(str(big), with_hash=True)
    assert (size, sha) == (len(data), hashlib.sha256(data).hexdigest()) and "signature" in err


def test_results_do_not_depend_on_batching_or_workers(tree, tmp_path, monkeypatch):
    """Folders sliced into tiny batches (as a 2,500-frame drive is at full scale), with and
    without a pool: same findings in the same order, same counts, same digest."""
    from initbench.dataset import dirscan, verify

    manifest = tmp_path / "m.csv"
    rows = write_manifest(tree, manifest)
    recs = parse_file(tree / "batch1_anno" / "cloudy1.txt").records
    (tree / "cloudy" / recs[2].relpath).unlink()  # image-missing + manifest-missing-file
    (tree / "cloudy" / recs[3].relpath).write_bytes(b"\x89PNG\r\n\x1a\n")  # unreadable, size and hash differ
    night_dir = next(r["path"] for r in rows if r["domain"] == "night").rsplit("/", 1)[0]
    extra = tree / "night" / night_dir / "0_00001.png"
    extra.write_bytes((tree / "cloudy" / recs[4].relpath).read_bytes())  # unannotated + manifest-extra
    base = verify_dataset(tree, manifest=manifest, with_hash=True, workers=1)
    assert {"image-missing", "manifest-missing-file", "image-unreadable", "hash-mismatch", "manifest-size-mismatch",
            "image-unannotated", "manifest-extra-file"} <= set(base["counts"])
    monkeypatch.setattr(dirscan, "MIN_BATCH", 2)
    monkeypatch.setattr(dirscan, "MAX_BATCH", 3)
    monkeypatch.setattr(verify, "ANNOTATION_CHUNK_LINES", 7)  # annotation files parsed in many pieces
    for workers in (1, 2):
        rep = verify_dataset(tree, manifest=manifest, with_hash=True, workers=workers)
        assert sorted(map(str, rep["findings"])) == sorted(map(str, base["findings"]))
        assert rep["findings"] == verify_dataset(tree, manifest=manifest, with_hash=True, workers=3 - workers)["findings"]
        assert (rep["domains"], rep["tree_digest"], rep["bytes"]) == (base["domains"], base["tree_digest"], base["bytes"])
