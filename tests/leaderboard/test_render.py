"""Ranking, grouping by fingerprint and protocol, reported entries, and the CLI."""

from __future__ import annotations

import copy
import json

from click.testing import CliRunner

from initbench.cli import main
from initbench.leaderboard.render import build_tables, render_html, render_markdown
from initbench.leaderboard.results import build_entry
from initbench.leaderboard.store import iter_entry_files


def _entry(make_results, tmp_path, method, lpips, fid, seeds=(0, 1), **overrides):
    paths = [make_results(s, lpips=(lpips + s / 1000,), name=f"{method}-{s}.json", method=method,
                          metrics={"fid": fid + s}, **overrides) for s in seeds]
    return build_entry(paths, benchmark="init-v1", code_url="u", command="c", entry_dir=tmp_path)


def test_ranking_direction_and_ties(make_results, tmp_path):
    a = _entry(make_results, tmp_path, "init", 0.30, 50.0)
    b = _entry(make_results, tmp_path, "munit", 0.20, 40.0)
    c = _entry(make_results, tmp_path, "drit", 0.20, 60.0)
    tables = {t.metric: t for t in build_tables([("a", a), ("b", b), ("c", c)])}
    lp = tables["lpips_diversity"]
    assert [(r.rank, r.label) for r in lp.rows] == [(1, "init"), (2, "drit"), (2, "munit")]  # tie shares rank 2
    fid = tables["fid"]  # lower is better
    assert [(r.rank, r.label) for r in fid.rows] == [(1, "munit"), (2, "init"), (3, "drit")]
    assert fid.rows[0].text == "40.5000 ± 0.7071"


def test_other_fingerprint_or_protocol_is_never_ranked_together(make_results, tmp_path):
    a = _entry(make_results, tmp_path, "init", 0.30, 50.0)
    b = _entry(make_results, tmp_path, "munit", 0.20, 40.0,
               fingerprint={"lpips": "a" * 64, "classifier": "e" * 64, "inception": "c" * 64})
    c = copy.deepcopy(a)
    c["protocol"] = "v2"
    tables = [t for t in build_tables([("a", a), ("b", b), ("c", c)]) if t.metric == "lpips_diversity"]
    assert len(tables) == 3
    assert [[r.label for r in t.rows] for t in tables] == [["init"], ["munit"], ["init"]]
    assert len({t.group for t in tables}) == 3
    assert all(r.rank == 1 for t in tables for r in t.rows)


def test_reported_entries_are_a_marked_group_of_their_own(repo_root, make_results, tmp_path):
    files = list(iter_entry_files(repo_root / "leaderboards", "init-v1", "sunny2night"))
    reported = [(p, json.loads(p.read_text())) for p in files]
    mine = _entry(make_results, tmp_path, "init", 0.99, 50.0)
    tables = [t for t in build_tables(reported + [("mine.json", mine)]) if t.metric == "lpips_diversity"]
    assert [t.reported for t in tables] == [False, True]
    assert [r.label for r in tables[0].rows] == ["init"]
    paper = tables[1]
    assert [r.text for r in paper.rows] == ["0.573", "0.330", "0.324", "0.292", "0.231", "0.067", "0.016"]
    assert [r.rank for r in paper.rows] == [None, 1, 2, 3, 4, 5, 6]  # real images: a reference, not ranked
    md = render_markdown(tables)
    assert "| ref | real images [R] | 0.573 |" in md and "| 1 | INIT w/ Ds (shared discriminator) [R] | 0.330 |" in md
    assert "- [R] as reported, not reproduced" in md
    html = render_html(tables)
    assert html.count("<table") == 2 and "INIT w/ Ds (shared discriminator) [R]" in html


def test_cli_validate_submit_show(measured_entry, tmp_path, repo_root):
    path, entry = measured_entry
    runner = CliRunner()
    root = tmp_path / "lb"
    r = runner.invoke(main, ["leaderboard", "validate", str(path)])
    assert r.exit_code == 0, r.output
    assert "1 entry: 1 valid, 0 with problems" in r.output
    r = runner.invoke(main, ["leaderboard", "submit", str(path), "--root", str(root)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["leaderboard", "submit", str(path), "--root", str(root)])
    assert r.exit_code == 1 and "duplicate of" in r.output
    r = runner.invoke(main, ["leaderboard", "show", "--root", str(root), "--format", "markdown"])
    assert r.exit_code == 0 and "| 1 | munit |" in r.output
    entry["metrics"]["fid"]["std"] = 0.0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(entry))
    r = runner.invoke(main, ["leaderboard", "validate", str(bad)])
    assert r.exit_code == 1 and "$.metrics.fid.std: the per-seed values" in r.output
    r = runner.invoke(main, ["leaderboard", "validate", str(bad), "--json", "-"])
    assert r.exit_code == 1
    assert [(p["file"], p["path"]) for p in json.loads(r.output)["problems"]] == [(str(bad), "$.metrics.fid.std")]


def test_cli_from_results(make_results, tmp_path):
    paths = [str(make_results(s)) for s in (3, 4)]
    out = tmp_path / "sub" / "entry.json"
    r = CliRunner().invoke(main, ["leaderboard", "from-results", *paths, "--method", "munit", "--code-url", "u",
                                  "--command", "initbench evaluate ...", "--out", str(out)])
    assert r.exit_code == 0, r.output
    entry = json.loads(out.read_text())
    assert entry["seeds"] == [3, 4] and entry["runs"][0]["results_file"]["path"] == "../results-seed3.json"
    r = CliRunner().invoke(main, ["leaderboard", "from-results", *paths, "--method", "init", "--code-url", "u",
                                  "--command", "c"])
    assert r.exit_code == 2 and "--method: the results are of method 'munit'; got 'init'" in r.output


def test_a_group_says_whether_it_is_conformant_and_why_not(make_results, tmp_path):
    ok = _entry(make_results, tmp_path, "init", 0.30, 50.0)
    bad = _entry(make_results, tmp_path, "munit", 0.20, 40.0, nonconformant_reasons=["lpips backbone is random"])
    labels = {t.rows[0].label: t.group for t in build_tables([("a", ok), ("b", bad)]) if t.metric == "lpips_diversity"}
    assert ok["conformant"] is True and bad["conformant"] is False
    assert labels["init"].startswith("conformant; protocol v1")
    assert labels["munit"].startswith("NOT conformant: lpips backbone is random; protocol v1")
    old = {k: v for k, v in ok.items() if k not in ("conformant", "nonconformant_reasons")}
    (table,) = [t for t in build_tables([("o", old)]) if t.metric == "lpips_diversity"]
    assert table.group.startswith("conformance unknown; ")
