"""prepare: resized images, rescaled annotations, resumable after an interruption, verifies clean."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from initbench.cli import main
from initbench.dataset.annotation_files import find_annotation_files
from initbench.dataset.annotations import parse_file
from initbench.dataset.png import png_size
from initbench.dataset.index import index_root
from initbench.dataset.prepare import MANIFEST_NAME, prepare
from initbench.errors import UsageError


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def prepared(mini_init_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("prep") / "p20"
    return out, prepare(mini_init_root, out, size=20, workers=2)


def test_images_and_annotations_are_rescaled(mini_init_root, prepared):
    out, summary = prepared
    assert summary["images"] == summary["written"] == 48 and summary["findings"] == []
    src, dst = index_root(mini_init_root), index_root(out)
    assert set(src) == set(dst)
    for k, e in dst.items():
        assert png_size(e.path) == (20, 32) and (e.height, e.width) == (20, 32)
        want = [(c, round(x1 / 2, 2), round(y1 / 2, 2), round(x2 / 2, 2), round(y2 / 2, 2)) for c, x1, y1, x2, y2 in src[k].boxes]
        assert list(e.boxes) == want
    files = [p.relative_to(out).as_posix() for p in find_annotation_files(out)]
    assert files == [p.relative_to(mini_init_root).as_posix() for p in find_annotation_files(mini_init_root)]
    assert all(not r.findings for r in map(parse_file, find_annotation_files(out)))
    assert (out / MANIFEST_NAME).is_file()


def test_interrupted_then_rerun_gives_identical_files(mini_init_root, prepared, tmp_path):
    full, _ = prepared
    out = tmp_path / "p20"

    class Stop(Exception):
        pass

    def stop_after_10(done, total):
        if done == 10:
            raise Stop

    with pytest.raises(Stop):
        prepare(mini_init_root, out, size=20, workers=2, progress=stop_after_10)
    pngs = list(out.rglob("*.png"))
    assert 10 <= len(pngs) < 48
    # a torn temporary file left by a killed run is cleaned up, never mistaken for a result
    torn = pngs[0].with_name(f".{pngs[0].name}.tmp-99999")
    torn.write_bytes(b"\x89PNG partial")
    s = prepare(mini_init_root, out, size=20, workers=2)
    assert s["skipped_existing"] == len(pngs) and s["written"] == 48 - len(pngs) and s["stale_temp_files_removed"] == 1
    assert _tree(out) == _tree(full)
    again = prepare(mini_init_root, out, size=20)
    assert again["written"] == 0 and _tree(out) == _tree(full)


def test_bad_arguments(mini_init_root):
    with pytest.raises(UsageError, match="OUT: expected a folder outside ROOT"):
        prepare(mini_init_root, mini_init_root / "copy")
    with pytest.raises(UsageError, match="--size: expected a short side of at least 8 pixels; got 4"):
        prepare(mini_init_root, "/nonexistent-never-created", size=4)


def test_cli(mini_init_root, tmp_path):
    res = CliRunner().invoke(main, ["prepare", str(mini_init_root), str(tmp_path / "o"), "--size", "16"])
    assert res.exit_code == 0, res.output
    assert "48 images (48 written, 0 already there)" in res.output and "verified" in res.output


def test_loading_the_copy_equals_loading_the_originals_on_the_fly(mini_init_root, prepared):
    from initbench.dataset.loaders import DomainImages

    out, _ = prepared
    a = DomainImages(mini_init_root, "night", split="all", size=20, max_boxes=None)
    b = DomainImages(out, "night", split="all", size=20, max_boxes=None)
    assert a.keys == b.keys
    for i in range(len(a)):
        x, y = a[i], b[i]
        assert torch.equal(x["image"], y["image"])  # same resize, lossless PNG
        assert torch.allclose(x["boxes"], y["boxes"], atol=0.005)  # annotations rounded to 1/100 px


def test_settings_are_recorded_and_another_size_is_refused_unless_redo(mini_init_root, prepared, tmp_path):
    import json
    import shutil

    full, _ = prepared
    out = tmp_path / "p20"
    shutil.copytree(full, out)
    record = json.loads((out / "initbench-prepare.json").read_text())
    assert record["settings"] == {"root": str(mini_init_root.resolve()), "size": 20, "split": "v1", "skip_invalid": False}
    assert (record["complete"], record["images"], record["source_clean"], record["dropped"]) == (True, 48, True, [])
    res = CliRunner().invoke(main, ["prepare", str(mini_init_root), str(out), "--size", "16"])
    assert res.exit_code == 2, res.output
    flat = " ".join(res.output.split())
    assert f"--size: {out} was prepared with size = 20; got 16; choose another OUT, or pass --redo" in flat
    assert _tree(out) == _tree(full)  # refused before touching anything
    s = prepare(mini_init_root, out, size=16, redo=True)
    assert s["written"] == 48 and s["findings"] == []
    assert all(png_size(p) == (16, 26) for p in out.rglob("*.png"))
    assert json.loads((out / "initbench-prepare.json").read_text())["settings"]["size"] == 16


def test_a_truncated_or_wrong_size_output_png_is_redone(mini_init_root, prepared, tmp_path):
    import shutil

    full, _ = prepared
    out = tmp_path / "p20"
    shutil.copytree(full, out)
    pngs = sorted(out.rglob("*.png"))
    pngs[0].write_bytes(pngs[0].read_bytes()[:-20])  # torn by a copy, a full disk, ...
    shutil.copy(pngs[2], pngs[1])
    from initbench.dataset.png import read_rgb, write_png

    write_png(pngs[1], read_rgb(pngs[1])[:, :19, :])  # a complete PNG of the wrong size
    s = prepare(mini_init_root, out, size=20)
    assert s["written"] == 2 and s["skipped_existing"] == 46 and s["findings"] == []
    assert _tree(out) == _tree(full)


def test_a_folder_prepare_did_not_write_is_refused(mini_init_root, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="OUT: expected an empty folder or a copy written by prepare; .* holds files but no initbench-prepare.json"):
        prepare(mini_init_root, out, size=16)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
