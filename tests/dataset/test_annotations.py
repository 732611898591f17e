"""The official annotation text format: parse with positions, write back identically."""

from __future__ import annotations

import pytest

from initbench.dataset.annotation_files import find_annotation_files
from initbench.dataset.annotation_writer import format_records, write_file
from initbench.dataset.annotations import Box, Record, domain_from_filename, parse_file, parse_text

# The only verbatim record of the release found in public material (see the reference notes).
SAMPLE = """# 1
/video_data_20180804/jig_KYT01/20180723_KYT/dw_2018_07_23_15-46-55_000000_20fps_bae/camera_2_center_fov60.h264/15_00404.png
3 1208 1920 1
0
4
1 745.1 620.9 955.2 719.8
1 960.5 648.3 1026.6 706.7
1 1093.0 661.8 1125.5 692.6
1 1081.3 659.5 1104.3 688.9


"""


def test_sample_record_parses_to_the_right_record():
    res = parse_text(SAMPLE, domain="sunny", source="sunny1.txt")
    assert res.findings == []
    (rec,) = res.records
    assert rec == Record(
        domain="sunny",
        index=1,
        path="/video_data_20180804/jig_KYT01/20180723_KYT/dw_2018_07_23_15-46-55_000000_20fps_bae/camera_2_center_fov60.h264/15_00404.png",
        channels=3,
        height=1208,
        width=1920,
        num=1,
        boxes=(
            Box(1, 745.1, 620.9, 955.2, 719.8),
            Box(1, 960.5, 648.3, 1026.6, 706.7),
            Box(1, 1093.0, 661.8, 1125.5, 692.6),
            Box(1, 1081.3, 659.5, 1104.3, 688.9),
        ),
    )
    assert rec.relpath.startswith("video_data_20180804/") and rec.key == "sunny/" + rec.relpath
    assert (rec.source, rec.line) == ("sunny1.txt", 1)
    assert [b.line for b in rec.boxes] == [6, 7, 8, 9]


def test_sample_record_writes_back_identically(tmp_path):
    res = parse_text(SAMPLE, domain="sunny")
    assert format_records(res.records) == SAMPLE
    f = tmp_path / "batch1_anno" / "sunny1.txt"
    write_file(f, res.records)
    assert f.read_text() == SAMPLE
    again = parse_file(f)
    assert again.records == res.records and again.findings == []


def _fixed_line_reader(path) -> dict[str, list[tuple]]:
    """A public loader of the release, restated: it reads a fixed number of lines per record and
    expects two empty lines after the boxes (so one blank line makes it read the next header as
    blank and then take a path for a header)."""
    out: dict[str, list[tuple]] = {}
    with open(path) as fh:
        while fh.readline():  # '# <index>'
            path_line = fh.readline()[:-1]
            fh.readline()
            fh.readline()
            n = int(fh.readline()[:-1])
            out[path_line] = [tuple(float(v) for v in fh.readline().split()) for _ in range(n)]
            fh.readline()
            fh.readline()
    return out


def test_writer_ends_every_record_with_two_empty_lines_and_reader_takes_one_or_two(tmp_path):
    one = parse_text(SAMPLE, domain="sunny").records[0]
    two = Record("sunny", 2, "/a/b/1_00002.png", 3, 40, 64, 1, (Box(3, 1.5, 2.0, 10.25, 30.0),))
    f = tmp_path / "sunny1.txt"
    write_file(f, [one, two])
    text = f.read_text()
    assert text.count("\n\n\n") == 2 and "\n\n\n\n" not in text and text.endswith("30.0\n\n\n")
    assert _fixed_line_reader(f) == {one.path: [b.as_tuple() for b in one.boxes], two.path: [(3, 1.5, 2.0, 10.25, 30.0)]}
    # files with a single blank line between records (our writer before) still read the same
    single = text.replace("\n\n\n", "\n\n")
    for variant in (text, single, single.rstrip("\n"), text + "\n\n"):
        res = parse_text(variant, domain="sunny")
        assert res.records == [one, two] and res.findings == []


def test_synth_annotation_files_round_trip(mini_init_root):
    files = find_annotation_files(mini_init_root)
    assert [f.name for f in files] == ["cloudy1.txt", "night1.txt", "rainy1.txt", "sunny1.txt"]
    for f in files:
        res = parse_file(f)
        assert res.findings == [] and len(res.records) == 12
        assert format_records(res.records) == f.read_text()


def test_parser_reports_each_bad_line_and_resynchronises():
    text = (
        "# 1\n/a/1_00001.png\n3 40 64 1\n0\n2\n1 1 2 3 4\n"  # count says 2, one box line
        "\n"
        "garbage line\n"  # line 8
        "# 2\n/a/1_00002.png\n3 40 64 1\n0\n1\n1 1 2 x 4\n"  # non-numeric box at line 14
        "\n"
        "# 3\n/a/1_00003.png\n3 forty 64 1\n0\n0\n"  # size line 18
        "\n"
        "# 4\n/a/1_00004.png\n3 40 64 1\n0\n1\n2 1 2 3 4 5\n"  # 6 tokens at line 27
        "\n"
        "# 5\n/a/1_00005.png\n3 40 64 1\n0\n1\n3 5 6 7 8\n"  # fine
    )
    res = parse_text(text, domain="night", source="night1.txt")
    got = [(f.rule, f.line) for f in res.findings]
    assert got == [
        ("box-count-mismatch", 5),
        ("malformed-record", 8),
        ("non-numeric-value", 14),
        ("box-count-mismatch", 13),
        ("non-numeric-value", 18),
        ("malformed-record", 27),
        ("box-count-mismatch", 26),
    ]
    assert [r.index for r in res.records] == [1, 2, 4, 5]
    assert res.records[-1].boxes == (Box(3, 5.0, 6.0, 7.0, 8.0),)
    assert all(f.path == "night1.txt" for f in res.findings)


def test_truncated_record_is_a_finding_not_a_crash():
    res = parse_text("# 1\n/a/1_00001.png\n3 40 64 1\n", domain="rainy", source="r.txt")
    assert res.records == []
    assert [(f.rule, f.line) for f in res.findings] == [("malformed-record", 3)]
    assert "expected the '0' line" in res.findings[0].message and "end of file" in res.findings[0].message


def test_domain_from_filename_and_unreadable_files(tmp_path):
    assert domain_from_filename("batch2_anno/night2.txt") == "night"
    assert domain_from_filename("cloudy.txt") == "cloudy"
    assert domain_from_filename("labels.txt") is None
    odd = tmp_path / "labels.txt"
    odd.write_text(SAMPLE)
    (f,) = parse_file(odd).findings
    assert f.rule == "annotation-unreadable" and f.path == str(odd)
    bad = tmp_path / "sunny9.txt"
    bad.write_bytes(b"# 1\n\xff\xfe\n")
    (f,) = parse_file(bad).findings
    assert f.rule == "annotation-unreadable" and "UTF-8" in f.message


def test_find_annotation_files_by_content(tmp_path):
    (tmp_path / "batch2_anno").mkdir()
    (tmp_path / "batch2_anno" / "night2.txt").write_text(SAMPLE)
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "deep" / "er" / "sunny7.txt").write_text("\n\n" + SAMPLE)
    (tmp_path / "README.txt").write_text("not annotations\n")
    (tmp_path / "notes.md").write_text(SAMPLE)
    assert find_annotation_files(tmp_path) == [tmp_path / "batch2_anno" / "night2.txt", tmp_path / "deep" / "er" / "sunny7.txt"]


def test_fast_path_equals_the_line_by_line_parser_on_damaged_text(mini_init_root):
    """parse_text takes a fast path for well-formed blocks; on any damage its records and
    findings (rules, lines, messages) must equal those of the line-by-line parser."""
    import random

    from initbench.dataset.annotations import _parse_slow, parse_lines, record_chunks

    base = (mini_init_root / "batch1_anno" / "night1.txt").read_text().split("\n") + SAMPLE.split("\n")
    edits = ["", "  ", "# 7", "#", "0", "1", "3 40 64 1", "1 1 2 3", "1.0 1 2 3 4", "x", "1 nan 2 3 4", "/a/b.png", "-1"]
    rng = random.Random(0)
    for _ in range(150):
        lines = list(base)
        for _ in range(rng.randint(1, 4)):
            k = rng.randrange(len(lines))
            op = rng.random()
            if op < 0.4:
                lines[k] = rng.choice(edits)
            elif op < 0.7:
                del lines[k]
            else:
                lines.insert(k, rng.choice(edits))
        text = "\n".join(lines)
        fast = parse_text(text, domain="night", source="n.txt")
        slow = _parse_slow(text.splitlines(), "night", "n.txt")
        assert fast.findings == slow.findings
        assert repr(fast.records) == repr(slow.records)  # repr: NaN != NaN, and it shows the line numbers too
        lines = text.splitlines()
        for target in (1, 4, 9):  # parsing pieces (as verify-dataset's workers do) gives the same
            pieces = [parse_lines(lines[a:b], domain="night", source="n.txt", line_offset=a) for a, b in record_chunks(lines, target)]
            assert [f for p in pieces for f in p.findings] == fast.findings
            assert repr([r for p in pieces for r in p.records]) == repr(fast.records)


def test_windows_line_ends_and_byte_order_mark(tmp_path):
    f = tmp_path / "cloudy2.txt"
    f.write_bytes(b"\xef\xbb\xbf" + SAMPLE.replace("\n", "\r\n").encode())
    assert find_annotation_files(tmp_path) == [f]
    res = parse_file(f)
    assert res.findings == [] and res.records == parse_text(SAMPLE, domain="cloudy").records


_TWO_RECORDS = ["# 1", "/a/1_00001.png", "3 40 64 1", "0", "1", "1 1.0 2.0 3.0 4.0", "", "", "# 2", "/a/1_00002.png",
                "3 40 64 1", "0", "0"]


@pytest.mark.parametrize("line, text, finding, indexes", [
    (2, "a.jpg", ("malformed-record", 2, "expected an image path ending in .png, found 'a.jpg'"), [2]),
    (3, "", ("malformed-record", 3, "expected the size line 'C H W N' of record '# 1', found a blank line"), [2]),
    (3, "3 40 64", ("malformed-record", 3, "expected the size line 'C H W N' (4 integers), found '3 40 64'"), [2]),
    (3, "3 40 x 1", ("non-numeric-value", 3, "size line must hold 4 integers 'C H W N', found '3 40 x 1'"), [2]),
    (4, "0 0", ("malformed-record", 4, "expected the line '0', found '0 0'"), [2]),
    (4, "# 7", ("malformed-record", 4, "expected the '0' line of record '# 1', found '# 7'"), [2]),
    (5, "-1", ("non-numeric-value", 5, "box count must be a non-negative integer, found '-1'"), [2]),
    (5, "2", ("box-count-mismatch", 5, "record '# 1' says 2 boxes but 1 box lines follow"), [1, 2]),
])
def test_each_head_line_of_a_record_has_its_own_finding_and_the_parse_resumes(line, text, finding, indexes):
    lines = list(_TWO_RECORDS)
    lines[line - 1] = text
    res = parse_text("\n".join(lines), domain="sunny", source="s.txt")
    assert [(f.rule, f.line, f.message) for f in res.findings][:1] == [finding]
    assert [r.index for r in res.records] == indexes
    if text == "# 7":  # a header in place of a line resumes at that header: '# 7' is parsed (and its path is '1')
        assert (res.findings[1].line, res.findings[1].message) == (5, "expected an image path ending in .png, found '1'")


def test_a_bad_box_line_is_reported_and_the_count_is_not_trusted():
    lines = list(_TWO_RECORDS)
    lines[5] = "1 1.0 2.0 3.0"
    res = parse_text("\n".join(lines), domain="sunny", source="s.txt")
    assert [(f.rule, f.line, f.message) for f in res.findings] == [
        ("malformed-record", 6, "expected a box line 'cls x1 y1 x2 y2', found '1 1.0 2.0 3.0'"),
        ("box-count-mismatch", 5, "record '# 1' says 1 boxes but only 0 valid box lines follow"),
    ]
    assert [(r.index, r.boxes) for r in res.records] == [(1, ()), (2, ())]
