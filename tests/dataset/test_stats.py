"""initbench stats: counts, boxes per image, box-size quantiles."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from initbench.cli import main
from initbench.dataset.annotations import parse_file
from initbench.dataset.stats import dataset_stats

TEXT = """# 1
/a/b/1_00001.png
3 100 200 1
0
3
1 0 0 10 20
1 0 0 30 40
3 5 5 7 10

# 2
/a/b/1_00002.png
3 100 200 1
0
0

# 3
/a/b/1_00003.png
3 100 200 1
0
1
2 10 10 14 19
"""


def test_exact_values_on_a_hand_made_file(tmp_path):
    f = tmp_path / "anno" / "rainy1.txt"
    f.parent.mkdir()
    f.write_text(TEXT)
    st = dataset_stats(tmp_path)
    r = st["domains"]["rainy"]
    assert r["images"] == 3 and r["expected"] == 7107
    assert r["boxes"] == {"car": 2, "sign": 1, "person": 1}
    assert r["boxes_per_image"]["mean"] == round(4 / 3, 4)
    assert r["boxes_per_image"]["q50"] == 1.0 and r["boxes_per_image"]["histogram"][:4] == [1, 1, 0, 1]
    car = st["box_sizes"]["car"]
    assert car["count"] == 2
    assert car["width"]["q00"] == 10 and car["width"]["q100"] == 30 and car["width"]["q50"] == 20
    assert car["sqrt_area"]["q100"] == round(float(np.sqrt(1200)), 3)
    assert st["box_sizes"]["sign"]["height"]["q50"] == 9
    assert st["box_sizes_by_domain"]["sunny"]["car"] is None
    assert st["domains"]["sunny"]["images"] == 0 and st["domains"]["sunny"]["boxes_per_image"]["mean"] is None


def test_stats_of_the_mini_init_agree_with_the_records(mini_init_root, tmp_path):
    out = tmp_path / "s.json"
    res = CliRunner().invoke(main, ["stats", str(mini_init_root), "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "box sizes" in res.output and "person" in res.output
    st = json.loads(out.read_text())
    for d in ("sunny", "night", "cloudy", "rainy"):
        recs = parse_file(mini_init_root / "batch1_anno" / f"{d}1.txt").records
        dom = st["domains"][d]
        assert dom["images"] == len(recs) == sum(dom["boxes_per_image"]["histogram"])
        assert sum(dom["boxes"].values()) == sum(len(r.boxes) for r in recs)
    for cls, v in st["box_sizes"].items():
        assert 2 <= v["width"]["q00"] <= v["width"]["q50"] <= v["width"]["q100"] <= 64
        assert v["height"]["q100"] <= 40


def test_stats_usage_errors(tmp_path):
    res = CliRunner().invoke(main, ["stats", str(tmp_path)])
    assert res.exit_code == 2 and "no annotation files" in " ".join(res.output.split())


def test_stats_and_verify_refuse_a_root_without_annotations_in_the_same_words(tmp_path):
    # One function picks the annotation files of both commands (they had two copies, in different words).
    import pytest

    from initbench.dataset.verify import verify_dataset
    from initbench.errors import UsageError

    (tmp_path / "sunny").mkdir()
    expected = (f"ROOT: no annotation files under {tmp_path}; expected text files in the official format "
                "(e.g. batch1_anno/sunny1.txt), or name them with --annotations")
    for command in (dataset_stats, verify_dataset):
        with pytest.raises(UsageError) as err:
            command(tmp_path)
        assert str(err.value) == expected
        with pytest.raises(UsageError) as err:
            command(tmp_path, annotations=[tmp_path / "none.txt"])
        assert str(err.value) == f"--annotations: {tmp_path / 'none.txt'} is not a file"
