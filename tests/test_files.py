"""initbench.files: a write either replaces the file whole or leaves it (and its folder) as it was."""

from __future__ import annotations

import pytest

from initbench.errors import DataFormatError
from initbench.files import atomic_write, read_json, write_atomic


def test_write_atomic_replaces_whole_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "sub" / "out.txt"
    assert write_atomic(p, "naïve\n") == len("naïve\n".encode("utf-8"))
    assert p.read_bytes() == "naïve\n".encode("utf-8")
    assert write_atomic(p, b"\x00\x01") == 2 and p.read_bytes() == b"\x00\x01"
    assert sorted(x.name for x in p.parent.iterdir()) == ["out.txt"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    p = tmp_path / "out.csv"
    p.write_text("old\n")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_write(p, "w") as fh:
            fh.write("half of the new")
            raise RuntimeError("disk full")
    assert p.read_text() == "old\n"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["out.csv"]


def test_text_mode_writes_newlines_as_given(tmp_path):
    p = tmp_path / "a.csv"
    with atomic_write(p, "w") as fh:
        fh.write("a\r\nb\n")
    assert p.read_bytes() == b"a\r\nb\n"


def test_an_exclusive_write_never_replaces_an_existing_file(tmp_path):
    target = tmp_path / "entry.json"
    with atomic_write(target, exclusive=True) as fh:
        fh.write(b"first")
    with pytest.raises(FileExistsError):
        with atomic_write(target, exclusive=True) as fh:
            fh.write(b"second")
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["entry.json"]  # no temporary left behind


def test_read_json_names_the_file_and_why_it_is_unreadable(tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text('{"a": [1, 2]}')
    bad.write_text('{"a": ')
    assert read_json(good, "not a readable thing") == {"a": [1, 2]}
    with pytest.raises(DataFormatError) as exc:
        read_json(bad, "--thing: not a readable thing")
    assert str(exc.value).startswith(f"{bad}: --thing: not a readable thing (Expecting value: line 1 column 7")
    with pytest.raises(DataFormatError, match=r"missing\.json: x \(\[Errno 2\]"):
        read_json(tmp_path / "missing.json", "x")
