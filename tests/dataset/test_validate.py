"""Every record-level rule: build its bad case, assert the rule id and the file:line."""

from __future__ import annotations

import pytest

from initbench.dataset.annotations import parse_text
from initbench.dataset.findings import RULES
from initbench.dataset.png import PngHeader
from initbench.dataset.validate import BOX_TOLERANCE_PX, MIN_BOX_SIZE_PX, DuplicateTracker, check_image_header, validate_record

# A record in a 64 x 40 frame whose box lines start at line 6.
HEAD = "# 1\n/video_data_20180620/jig_KYT01/20fps/20180601_KYT/dw_2018_06_01_10-00-00_000000_20fps_bae/camera_2_center_fov60.h264/3_00001.png\n"


def record_text(boxes: list[str], size: str = "3 40 64 1", zero: str = "0") -> str:
    return HEAD + f"{size}\n{zero}\n{len(boxes)}\n" + "".join(b + "\n" for b in boxes)


def findings_of(text: str, domain: str = "sunny", source: str = "sunny1.txt") -> list[tuple[str, str, int | None]]:
    res = parse_text(text, domain=domain, source=source)
    out = [(f.rule, f.path, f.line) for f in res.findings]
    tracker = DuplicateTracker()
    for rec in res.records:
        out += [(f.rule, f.path, f.line) for f in validate_record(rec)]
        out += [(f.rule, f.path, f.line) for f in tracker.add(rec)]
    return out


@pytest.mark.parametrize(
    "boxes, rule, line",
    [
        (["1 1 2 30 20", "1 nan 2 30 20"], "non-finite-value", 7),
        (["1 1 2 30 20", "1 1 2 inf 20"], "non-finite-value", 7),
        (["4 1 2 30 20"], "unknown-class", 6),
        (["0 1 2 30 20"], "unknown-class", 6),
        (["1 1 2 30 20", "2 30 2 30 20"], "degenerate-box", 7),  # x2 == x1
        (["3 10 20 30 5"], "degenerate-box", 6),  # y2 < y1
        (["1 10 10 66.5 20"], "box-outside-image", 6),  # 2.5 px beyond W = 64
        (["1 -2.5 10 30 20"], "box-outside-image", 6),
        (["1 10 10 30 42.01"], "box-outside-image", 6),
        (["1 1 2 30 20", "2 5 5 9 9", "1 1 2 30 20"], "duplicate-box", 8),
        (["1 1 2 30 20", "2 5 5 6.5 9"], "small-box", 7),  # 1.5 px wide
        (["1 1 2 1", "2 5 5 9 9"], "malformed-record", 6),
        (["1 1 2 three 20"], "non-numeric-value", 6),
    ],
)
def test_box_rules(boxes, rule, line):
    assert findings_of(record_text(boxes)) == [(rule, "sunny1.txt", line)] + (
        [("box-count-mismatch", "sunny1.txt", 5)] if rule in ("malformed-record", "non-numeric-value") else []
    )
    assert rule in RULES


def test_tolerance_and_minimum_size_are_inclusive_boundaries():
    assert BOX_TOLERANCE_PX == 2.0 and MIN_BOX_SIZE_PX == 2.0
    ok = ["1 -2 -2 66 42", "2 10 10 12 12"]  # exactly at the tolerance; exactly the minimum size
    assert findings_of(record_text(ok)) == []


def test_small_box_is_a_warning_and_the_rest_are_errors():
    assert RULES["small-box"].severity == "warning"
    assert RULES["image-unannotated"].severity == "warning"
    assert {r.severity for k, r in RULES.items() if k not in ("small-box", "image-unannotated")} == {"error"}


@pytest.mark.parametrize(
    "text, rule, line",
    [
        (record_text(["1 1 2 30 20"], zero="1"), "malformed-record", 4),
        (record_text(["1 1 2 30 20"], size="1 40 64 1"), "malformed-record", 3),
        (HEAD + "3 40 64 1\n0\n3\n1 1 2 30 20\n", "box-count-mismatch", 5),
        (HEAD + "3 40 64 1\n0\nmany\n1 1 2 30 20\n", "non-numeric-value", 5),
        ("# one\n" + HEAD.split("\n", 1)[1] + "3 40 64 1\n0\n0\n", "non-numeric-value", 1),
        (HEAD + "3 40 64 1\n0\n1\n1 1 2 30 20\n\nstray text\n", "malformed-record", 8),
        ("# 1\n/a/b/not-an-image.jpg\n3 40 64 1\n0\n0\n", "malformed-record", 2),
    ],
)
def test_record_rules(text, rule, line):
    assert findings_of(text)[0] == (rule, "sunny1.txt", line)


def test_duplicate_record_in_one_domain_points_at_the_second_header():
    one = record_text(["1 1 2 30 20"])
    text = one + "\n" + one.replace("# 1", "# 2")
    got = findings_of(text)
    assert got == [("duplicate-record", "sunny1.txt", 8)]


def test_cross_domain_duplicate_across_files():
    tracker = DuplicateTracker()
    a = parse_text(record_text(["1 1 2 30 20"]), domain="sunny", source="batch1_anno/sunny1.txt").records[0]
    b = parse_text("\n\n" + record_text([]), domain="cloudy", source="batch1_anno/cloudy1.txt").records[0]
    assert tracker.add(a) == []
    (f,) = tracker.add(b)
    assert (f.rule, f.path, f.line) == ("cross-domain-duplicate", "batch1_anno/cloudy1.txt", 3)
    assert "batch1_anno/sunny1.txt:1" in f.message and "sunny" in f.message


def test_size_mismatch_against_png_header():
    rec = parse_text("\n" + record_text([]), domain="night", source="night1.txt").records[0]
    assert check_image_header(rec, PngHeader(width=64, height=40, bit_depth=8, color_type=2, nbytes=100)) == []
    (f,) = check_image_header(rec, PngHeader(width=64, height=41, bit_depth=8, color_type=2, nbytes=100))
    assert (f.rule, f.path, f.line) == ("size-mismatch", "night1.txt", 4)
    assert "3 x 40 x 64" in f.message and "3 x 41 x 64" in f.message
    (g,) = check_image_header(rec, PngHeader(width=64, height=40, bit_depth=8, color_type=6, nbytes=100))
    assert "4 x 40 x 64" in g.message  # RGBA is not the 3 channels the size line promises


def test_messages_name_the_image():
    res = parse_text(record_text(["7 1 2 30 20"]), domain="sunny", source="s.txt")
    (f,) = validate_record(res.records[0])
    assert f.message.startswith("video_data_20180620/") and "class id 7" in f.message
