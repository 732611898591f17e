"""Manifests: build/read/write round trip, exact columns, gzip, disagreements reported precisely, CLI."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from initbench.cli import main
from initbench.dataset.manifest import COLUMNS, build_manifest, check_manifest, read_manifest, write_manifest
from initbench.dataset.split import split_v1
from initbench.dataset.synthetic import DEFAULT_PER_DOMAIN, DEFAULT_SIZE, plan_frames
from initbench.digests import sha256_file
from initbench.errors import DataFormatError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rows(mini_init_root):
    return build_manifest(mini_init_root, with_hash=True)


def test_rows_describe_the_files(mini_init_root, rows):
    assert len(rows) == 48 and [r.key for r in rows] == sorted(r.key for r in rows)
    r = rows[0]
    p = mini_init_root / r.domain / r.path
    assert (r.height, r.width) == (40, 64)
    assert r.bytes == p.stat().st_size and r.sha256 == sha256_file(p)
    assert r.drive.startswith("dw_") and r.path.endswith(f"_{r.frame:05d}.png")
    assert {x.split for x in rows} <= {"train", "test", "gap"}
    assert all(x.n_car is not None and x.n_car + x.n_sign + x.n_person >= 0 for x in rows)
    assert sum(x.n_car + x.n_sign + x.n_person for x in rows) > 0
    assert {x.key: x.split for x in rows} == split_v1([x.key for x in rows])


def test_csv_and_gzip_round_trip_with_exact_columns(tmp_path, rows):
    for name in ("m.csv", "m.csv.gz"):
        write_manifest(tmp_path / name, rows)
        back = read_manifest(tmp_path / name)
        assert [(*[getattr(b, c) for c in COLUMNS],) for b in back] == [(*[getattr(r, c) for c in COLUMNS],) for r in rows]
    head = (tmp_path / "m.csv").read_text().splitlines()[0]
    assert head == "domain,path,split,drive,frame,height,width,n_car,n_sign,n_person,bytes,sha256"
    assert gzip.decompress((tmp_path / "m.csv.gz").read_bytes()) == (tmp_path / "m.csv").read_bytes()
    first = (tmp_path / "m.csv.gz").read_bytes()
    write_manifest(tmp_path / "m.csv.gz", rows)
    assert (tmp_path / "m.csv.gz").read_bytes() == first  # no timestamp in the gzip header


def test_malformed_manifest_names_file_and_line(tmp_path, rows):
    write_manifest(tmp_path / "m.csv", rows)
    lines = (tmp_path / "m.csv").read_text().splitlines()
    lines[3] = lines[3].replace(",train,", ",val,").replace(",test,", ",val,").replace(",gap,", ",val,")
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"bad.csv:4: column 'split': expected one of train, test, gap; found 'val'"):
        read_manifest(tmp_path / "bad.csv")
    (tmp_path / "hdr.csv").write_text("domain,path\n")
    with pytest.raises(DataFormatError, match=r"hdr.csv:1: expected the header domain,path,split,"):
        read_manifest(tmp_path / "hdr.csv")


def test_disagreements_are_reported_precisely(mini_init_root, rows, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(mini_init_root, copy)
    man = tmp_path / "m.csv.gz"
    write_manifest(man, rows)
    assert check_manifest(copy, man) == []
    changed, missing = rows[5], rows[20]
    p = copy / changed.domain / changed.path
    data = bytearray(p.read_bytes())
    data[100] ^= 0xFF  # one changed byte, same size
    p.write_bytes(bytes(data))
    (copy / missing.domain / missing.path).unlink()
    extra = copy / "rainy" / "dw_extra" / "1_00001.png"
    extra.parent.mkdir()
    shutil.copy(p, extra)
    found = sorted((f.rule, f.path, f.line) for f in check_manifest(copy, man))
    assert found == sorted([
        ("hash-mismatch", str(man), 2 + 5),
        ("manifest-missing-file", str(man), 2 + 20),
        ("manifest-extra-file", str(extra), None),
    ])
    msgs = {f.rule: f.message for f in check_manifest(copy, man)}
    assert changed.key in msgs["hash-mismatch"] and changed.sha256 in msgs["hash-mismatch"]
    # without hashing, the changed byte goes unseen; a truncated file does not
    p.write_bytes(bytes(data[:-10]))
    found = {(f.rule, f.line) for f in check_manifest(copy, man, with_hash=False)}
    assert ("manifest-size-mismatch", 7) in found and not any(r == "hash-mismatch" for r, _ in found)


def test_cli_build_prints_counts_and_leakage_and_check_exits_1(mini_init_root, tmp_path):
    run = CliRunner()
    out = tmp_path / "m.csv"
    res = run.invoke(main, ["manifest", "build", str(mini_init_root), "--out", str(out), "--hash", "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    assert "sunny" in res.output and "49663" in res.output and "8764" in res.output
    assert "leakage check" in res.output and "0 (no leak)" in res.output
    assert len(read_manifest(out)) == 48
    res = run.invoke(main, ["manifest", "check", str(mini_init_root), str(out)])
    assert res.exit_code == 0 and "matches" in res.output
    res = run.invoke(main, ["manifest", "check", str(tmp_path), str(out)])
    assert res.exit_code == 1 and "manifest-missing-file" in res.output
    res = run.invoke(main, ["manifest", "build", str(mini_init_root), "--out", str(tmp_path / "p.csv"), "--split", "paper"])
    assert res.exit_code == 0 and "leaks by construction" in res.output
    assert sum(r.split == "test" for r in read_manifest(tmp_path / "p.csv")) == 4 * round(12 * 8764 / 58427)


def test_committed_mini_init_manifest_matches_the_default_synth_plan():
    """The committed manifest lists exactly the default synth's frames, at the default size, with split v1."""
    rows = read_manifest(REPO / "manifests/mini-init/manifest.csv.gz")
    plans = plan_frames(DEFAULT_PER_DOMAIN, seed=0)
    assert sorted(r.key for r in rows) == sorted(p.key for p in plans)
    assert {(r.width, r.height) for r in rows} == {tuple(DEFAULT_SIZE)}
    assert all(len(r.sha256) == 64 for r in rows)
    assert {r.key: r.split for r in rows} == split_v1([p.key for p in plans])


def test_cli_build_from_path_lists(mini_init_root, tmp_path):
    keys = [r.key for r in build_manifest(mini_init_root)]
    (tmp_path / "tr.txt").write_text("\n".join(keys[:20]) + "\n")
    (tmp_path / "te.txt").write_text("\n".join(keys[30:40]) + "\n")
    out = tmp_path / "m.csv"
    res = CliRunner().invoke(main, ["manifest", "build", str(mini_init_root), "--out", str(out),
                                    "--train-list", str(tmp_path / "tr.txt"), "--test-list", str(tmp_path / "te.txt")])
    assert res.exit_code == 0, res.output
    got = {r.key: r.split for r in read_manifest(out)}
    assert got == {k: "train" if i < 20 else "test" if 30 <= i < 40 else "gap" for i, k in enumerate(keys)}
    (tmp_path / "te.txt").write_text("sunny/dw_nowhere/1_00001.png\n")
    res = CliRunner().invoke(main, ["manifest", "build", str(mini_init_root), "--out", str(out), "--test-list", str(tmp_path / "te.txt")])
    assert res.exit_code == 2 and "te.txt: 1 listed image(s) are not in the copy" in " ".join(res.output.split())


@pytest.mark.slow
def test_a_fresh_default_synth_has_the_committed_pixels_whatever_the_zlib(tmp_path, check_committed_synth):
    from initbench.dataset.png import decode_png, write_png
    from initbench.dataset.specs import spec_path
    from initbench.dataset.synthetic import synthesize

    mini, committed = tmp_path / "mini", REPO / "manifests/mini-init"
    synthesize(mini, seed=0, workers=2, generator="v1")
    if check_committed_synth(mini, committed):  # the zlib that wrote the manifest: its bytes are a contract too
        assert check_manifest(mini, committed / "manifest.csv.gz", with_hash=True) == []
    # Another zlib build compresses the same rows differently: re-encoding (level 6) stands in for one.
    for p in list(mini.rglob("*.png"))[:8]:
        write_png(p, decode_png(p), level=6)
    assert {f.rule for f in check_manifest(mini, committed / "manifest.csv.gz", with_hash=True)} >= {"hash-mismatch"}
    check_committed_synth(mini, committed)  # the pixels still match
    # The packaged copy of the manifest is a byte contract everywhere (it is copied, not regenerated).
    assert spec_path("mini-init-manifest.csv.gz").read_bytes() == (committed / "manifest.csv.gz").read_bytes()
