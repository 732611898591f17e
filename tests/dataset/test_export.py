"""Exports: COCO loads in pycocotools with matching counts; VOC and box files round-trip."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from pycocotools.coco import COCO

from initbench.cli import main
from initbench.dataset.export import export, read_voc
from initbench.dataset.index import index_root
from initbench.dataset.loaders import split_for_root
from initbench.errors import UsageError


def _flat(boxes) -> list[float]:
    """Box coordinates as one flat list (pytest.approx compares flat sequences only)."""
    return [float(v) for b in boxes for v in b[1:]]


def test_coco_loads_in_pycocotools_with_the_same_counts(mini_init_root, tmp_path):
    index = index_root(mini_init_root)
    s = export("coco", mini_init_root, tmp_path / "all.json")
    coco = COCO(str(tmp_path / "all.json"))
    assert len(coco.getImgIds()) == len(index) == s["images"] == 48
    n_boxes = sum(len(e.boxes) for e in index.values())
    assert len(coco.getAnnIds()) == n_boxes == s["boxes"]
    for cid, name in ((1, "car"), (2, "speed limit sign"), (3, "person")):
        assert coco.loadCats(cid)[0]["name"] == name
        want = sum(1 for e in index.values() for b in e.boxes if b[0] == cid)
        assert len(coco.getAnnIds(catIds=[cid])) == want
    for img in coco.loadImgs(coco.getImgIds()):
        e = index[img["file_name"]]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))
        got = sorted((a["category_id"], a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]) for a in anns)
        assert [c for c, *_ in got] == [c for c, *_ in sorted(e.boxes)]
        assert _flat(got) == pytest.approx(_flat(sorted(e.boxes)))
        assert (img["height"], img["width"]) == (40, 64)


def test_coco_of_one_split_and_domain(mini_init_root, tmp_path):
    assign = split_for_root(mini_init_root)
    s = export("coco", mini_init_root, tmp_path / "t.json", split="test", domains=["sunny", "cloudy"])
    coco = COCO(str(tmp_path / "t.json"))
    keys = {i["file_name"] for i in coco.loadImgs(coco.getImgIds())}
    assert keys == {k for k, v in assign.items() if v == "test" and k.split("/")[0] in ("sunny", "cloudy")} and s["images"] == len(keys) > 0
    with pytest.raises(UsageError, match="--domain: expected one of"):
        export("coco", mini_init_root, tmp_path / "x.json", domains=["foggy"])


def test_voc_round_trips_the_boxes(mini_init_root, tmp_path):
    index = index_root(mini_init_root)
    export("voc", mini_init_root, tmp_path / "voc")
    xmls = sorted((tmp_path / "voc").rglob("*.xml"))
    assert len(xmls) == 48
    for k, e in index.items():
        x = tmp_path / "voc" / (k[:-4] + ".xml")
        assert read_voc(x) == list(e.boxes)
    assert "<name>speed limit sign</name>" in "".join(x.read_text() for x in xmls)


def test_box_files_round_trip_normalised(mini_init_root, tmp_path):
    index = index_root(mini_init_root)
    export("boxes", mini_init_root, tmp_path / "b")
    for k, e in index.items():
        lines = (tmp_path / "b" / (k[:-4] + ".txt")).read_text().splitlines()
        got = [tuple(float(v) for v in l.split()) for l in lines]
        assert all(0 <= v <= 1 for g in got for v in g[1:])
        back = [(int(c), x1 * 64, y1 * 40, x2 * 64, y2 * 40) for c, x1, y1, x2, y2 in got]
        assert [c for c, *_ in back] == [c for c, *_ in e.boxes]
        assert _flat(back) == pytest.approx(_flat(e.boxes), abs=64 * 5e-7)


def test_cli(mini_init_root, tmp_path):
    res = CliRunner().invoke(main, ["export", "coco", str(mini_init_root), str(tmp_path / "c.json"), "--domain", "night"])
    assert res.exit_code == 0, res.output
    assert "coco: 12 images" in res.output
