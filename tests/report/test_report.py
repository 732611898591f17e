"""`initbench report`: a self-contained HTML file whose tables, grids, curves and style space can be checked
against the results files and models they come from."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from initbench.cli import main
from initbench.evaluation.intervals import bootstrap_ci, t_interval
from initbench.report.document import ReportOptions, build_report

PNG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _pngs(text: str) -> list[np.ndarray]:
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(b))).convert("RGB")) for b in PNG.findall(text)]


@pytest.fixture(scope="module")
def full_report(report_files, mini_init_v2_root, loss_run):
    f = report_files
    opts = ReportOptions(ckpts={"munit": f["munit0"], "init": f["init"]}, data=str(mini_init_v2_root), runs=[str(loss_run)],
                         grid_inputs=2, grid_styles=3, n_resamples=500, style_images=4)
    paths = [f["identity.json"], f["munit0.json"], f["munit1.json"], f["v1_identity.json"]]
    return build_report(paths, opts)


def test_html_is_self_contained(full_report):
    text, _ = full_report
    assert text.startswith("<!DOCTYPE html>")
    for attr in re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', text):
        assert attr.startswith("data:image/png;base64,"), attr
    assert not re.search(r"<(script|link|iframe)\b", text)
    assert not re.search(r"url\(|@import", text)
    assert len(PNG.findall(text)) > 0


def test_a_row_per_method_with_its_bootstrap_interval_and_a_seed_row(full_report, report_files):
    text, summary = full_report
    docs = {k: json.loads(report_files[f"{k}.json"].read_text()) for k in ("identity", "munit0", "munit1")}
    sec = next(s for s in summary["sections"] if s["protocol"] == "paired-v1")
    cells = sec["metrics"]["l1_gt_frame"]
    for cell, name in zip(cells, ("identity", "munit0", "munit1")):
        mean, lo, hi = bootstrap_ci(docs[name]["per_input"]["l1_gt_frame"], seed=0, n_resamples=500)
        assert (cell["mean"], cell["lo"], cell["hi"]) == pytest.approx((mean, lo, hi), rel=1e-12)
        assert cell["value"] == pytest.approx(docs[name]["metrics"]["l1_gt_frame"], rel=1e-12)
        assert lo < hi  # the inputs differ, so the interval is not a point
    table = re.search(r'<table class="metric" data-metric="l1_gt_frame">.*?</table>', text).group(0)
    rows = re.findall(r'<tr data-method="([^"]+)">(.*?)</tr>', table)
    assert [m for m, _ in rows] == ["identity", "munit", "munit"]
    for (_, row), cell in zip(rows, cells):
        assert f"[{cell['lo']:.4f}, {cell['hi']:.4f}]" in row
    seeds = sec["seeds"]["munit"]["l1_gt_frame"]
    m, lo, hi = t_interval([docs["munit0"]["metrics"]["l1_gt_frame"], docs["munit1"]["metrics"]["l1_gt_frame"]])
    assert (seeds["mean"], seeds["lo"], seeds["hi"]) == pytest.approx((m, lo, hi)) and seeds["n"] == 2
    assert re.search(r'<tr class="seeds" data-method="munit"><td>munit: mean of 2 seeds', table)
    assert "identity" not in sec["seeds"]


def test_paired_region_and_class_tables_and_v1_tables(full_report):
    text, summary = full_report
    for title in ("regions (L1)", "regions (LPIPS)", "classes (L1 inside the class"):
        assert f"<h4>{title}" in text
    classes = re.search(r"<h4>classes.*?</table>", text).group(0)
    assert all(f"<th>{c}</th>" in classes for c in ("car", "sign", "person"))
    v1 = next(s for s in summary["sections"] if s["protocol"] == "v1")
    lp = v1["metrics"]["lpips_diversity"][0]
    assert lp["lo"] is not None and lp["lo"] <= lp["value"] <= lp["hi"]
    assert v1["metrics"]["fid"][0]["lo"] is None  # no per-input values behind FID: no interval claimed


def test_grid_tiles_are_wide_and_show_input_truth_and_the_methods_outputs(full_report, mini_init_v2_root):
    from initbench.evaluation.images import load_image

    text, summary = full_report
    grid = summary["grids"][0]
    assert grid["inputs"] == 2 and grid["methods"] == {"identity": "1 translation(s) per input",
                                                        "munit": "3 translation(s) per input"}
    paired = text.split("<h2>sunny2night · protocol v1")[0]
    first = paired.split('<div class="inrow">')[1]
    tiles = _pngs(first)
    assert len(tiles) == 1 + 1 + 1 + 3  # input, truth, identity, 3 munit samples
    assert all(t.shape[1] >= 256 for t in _pngs(text.split("<h2>Style space")[0]))
    key = re.search(r"<code>([^<]+)</code>", first).group(1)
    x = load_image(mini_init_v2_root / key, None)
    f = tiles[0].shape[1] // x.shape[-1]
    small = tiles[0][::f, ::f]
    assert np.array_equal(small, ((x.permute(1, 2, 0) + 1) * 127.5).round().byte().numpy())
    assert np.array_equal(tiles[2], tiles[0])  # identity's translation is its input
    assert not np.array_equal(tiles[1], tiles[0])  # the truth is another rendering
    assert not np.array_equal(tiles[3], tiles[4])  # two munit styles


def test_grid_without_a_model_or_data_says_so(report_files, tmp_path):
    f = report_files
    text, summary = build_report([f["munit0.json"]], ReportOptions(data=None, n_resamples=50))
    assert "no --data given" in text and summary["grids"][0]["inputs"] == 0
    text, summary = build_report([f["munit0.json"], f["identity.json"]],
                                 ReportOptions(data=str(f["identity.json"].parent.parent / "nowhere"), n_resamples=50))
    assert "is not there" in text


def test_grid_names_the_missing_checkpoint(report_files, mini_init_v2_root):
    text, summary = build_report([report_files["munit0.json"]],
                                 ReportOptions(data=str(mini_init_v2_root), grid_inputs=1, n_resamples=50))
    assert "no translations: no --ckpt munit=PATH given" in text
    assert summary["grids"][0]["methods"]["munit"] == "no --ckpt munit=PATH given"


def test_loss_curves_every_term_has_its_own_colour_and_dash(full_report, loss_run):
    text, summary = full_report
    [run] = summary["loss_runs"]
    assert len(run["terms"]) == 17 and run["points"] == 40
    losses = text.split("<h2>Training losses")[1].split("<h2>")[0]
    style = {}
    for term, colour, dash in re.findall(r'<polyline class="smooth" data-term="([^"]+)" fill="none" stroke="([^"]+)" '
                                         r'stroke-width="2"(?: stroke-dasharray="([^"]+)")?', losses):
        assert style.setdefault(term, (colour, dash)) == (colour, dash)  # the same in every panel
    assert set(style) == set(run["terms"])
    assert len(set(style.values())) == len(style)  # distinct pairs across all 17 terms
    raw = set(re.findall(r'<polyline class="raw" data-term="([^"]+)"', losses))
    legend = set(re.findall(r'<line class="legend" data-term="([^"]+)"', losses))
    assert raw == legend == set(style)
    assert losses.count("<svg") >= 4  # small multiples, not one crowded chart


def test_smoothing_is_an_ema_and_panels_split_families():
    from initbench.report.curves import ema, panel_svg, panels, term_styles

    assert ema([0.0, 3.0, 3.0], 2) == pytest.approx([0.0, 2.0, 2.6666666666])
    p = dict(panels(["gen/total", "dis/total", "gen/cyc_g", "gen/cyc_o", "gen/x_g", "dis/d_g"]))
    assert p["totals"] == ["gen/total", "dis/total"] and p["gen/cyc*"] == ["gen/cyc_g", "gen/cyc_o"]
    assert p["gen: other"] == ["gen/x_g"] and p["dis: other"] == ["dis/d_g"]
    svg = panel_svg("gan", {"a": [(1, 3.978), (12, 4.001)]}, {"a": ("#000", "")})
    ticks = re.findall(r'text-anchor="end">([-0-9.]+)</text>', svg)
    assert len(ticks) >= 3 and len(set(ticks)) == len(ticks)  # a narrow range still gets distinct labels
    names = [f"t{i}" for i in range(40)]
    assert len(set(term_styles(names).values())) == 40


def test_style_space_is_deterministic_under_a_seed(report_files, mini_init_v2_root):
    from initbench.report.style_space import encode_codes
    from initbench.report.translations import CheckpointFinder

    src, _ = CheckpointFinder({"init": report_files["init"]}).find("init", "sunny2night")
    a = encode_codes(src, mini_init_v2_root, split="drives", n_per_domain=3, seed=0)
    b = encode_codes(src, mini_init_v2_root, split="drives", n_per_domain=3, seed=0)
    c = encode_codes(src, mini_init_v2_root, split="drives", n_per_domain=3, seed=1)
    assert [k.kind for k in a.kinds] == ["global", "objects"]
    for ka, kb in zip(a.kinds, b.kinds):
        assert np.array_equal(ka.coords, kb.coords) and ka.keys == kb.keys
    assert a.kinds[0].keys != c.kinds[0].keys
    g = a.kinds[0]
    assert g.domains == ["sunny"] * 3 + ["night"] * 3 and g.codes.shape == (6, 8)
    assert all(v is not None for v in g.factor)  # ambient light read from latents.jsonl
    assert np.allclose(g.coords.mean(0), 0, atol=1e-9)


def test_pca_and_cross_validated_r2():
    from initbench.report.style_space import cv_r2, pca_2d

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 6)) * np.array([5, 2, 1, 0.1, 0.1, 0.1])
    coords, ex = pca_2d(x)
    xc = x - x.mean(0)
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    assert np.allclose(np.abs(coords), np.abs(xc @ vt[:2].T)) and ex[0] > ex[1]
    assert np.allclose(pca_2d(-x)[0], -coords)  # the same axes (signed by their loadings), the points mirrored
    y = x @ np.array([1.0, -2.0, 0.5, 0, 0, 0]) + 3
    assert cv_r2(x, y) == pytest.approx(1.0)
    assert cv_r2(x, rng.normal(size=60)) < 0.3
    assert cv_r2(x[:6], y[:6]) is None


def test_style_space_in_report(full_report):
    text, summary = full_report
    methods = [s["method"] for s in summary["style_space"]]
    assert methods == ["munit", "init"]
    munit, init = summary["style_space"]
    assert list(munit["codes"]) == ["global"] and list(init["codes"]) == ["global", "objects"]
    assert text.count('class="scatter"') == 2 * 3


def _cli(args):
    return CliRunner().invoke(main, ["report", *args])


def test_cli_writes_the_file_and_one_json_document(report_files, mini_init_v2_root, tmp_path):
    out = tmp_path / "r.html"
    r = CliRunner().invoke(main, ["report", str(report_files["identity.json"]), "--out", str(out), "--data",
                                  str(mini_init_v2_root), "--grid-inputs", "1", "--resamples", "100", "--json", "-"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["out"] == str(out) and doc["bytes"] == out.stat().st_size
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary file left


@pytest.mark.parametrize("content,expect", [
    ("{not json", r"bad\.json:1: expected JSON; Expecting property name"),
    ('{"benchmark": "init-v1", "entries": []}', r"bad\.json: expected an evaluator results document .* leaderboard entry"),
    ('{"protocol": "v0", "per_input": {}}', r"bad\.json: expected protocol v1 or paired-v1; found 'v0'"),
    ("[1, 2]", r"bad\.json: expected an evaluator results document .*found list"),
])
def test_cli_bad_results_exit_2_naming_the_file(tmp_path, content, expect):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    r = _cli([str(bad), "--out", str(tmp_path / "r.html")])
    assert r.exit_code == 2 and re.search(expect, r.output.replace("\n", " ")), r.output
    assert "Traceback" not in r.output and not (tmp_path / "r.html").exists()


def test_cli_schema_problem_missing_file_and_bad_ckpt_option(report_files, tmp_path):
    doc = json.loads(report_files["identity.json"].read_text())
    del doc["per_input"]["l1_gt_frame"][0:0], doc["metrics"]["l1_gt_frame"]
    bad = tmp_path / "nokey.json"
    bad.write_text(json.dumps({**doc, "per_input": {**doc["per_input"]}}))
    r = _cli([str(bad), "--out", str(tmp_path / "r.html")])
    assert r.exit_code == 2 and "nokey.json: not a valid results document: $.metrics: 'l1_gt_frame' is a required property" \
        in r.output.replace("\n", " ")
    r = _cli([str(tmp_path / "missing.json"), "--out", str(tmp_path / "r.html")])
    assert r.exit_code == 2 and "missing.json: expected an evaluator results JSON file" in r.output.replace("\n", "")
    r = _cli([str(report_files["identity.json"]), "--out", str(tmp_path / "r.html"), "--ckpt", "munit"])
    assert r.exit_code == 2 and "--ckpt: expected METHOD=PATH" in r.output
    r = _cli([str(report_files["identity.json"]), str(report_files["identity.json"]), "--out", str(tmp_path / "r.html")])
    assert r.exit_code == 2 and "given twice" in r.output


def test_results_of_one_method_with_other_recipes_are_subjects_not_seeds(tmp_path):
    from initbench.report.results_set import LoadedResult, sections

    def result(i, seed, **recipe):
        trained = {"steps": 1500, "preset": "small", "variant": "ds", "shuffle_boxes": False, "seed": seed, **recipe}
        doc = {"protocol": "paired-v1", "task": "sunny2night", "method": "init", "checkpoint_sha256": f"{i}" * 64,
               "method_settings": {"trained_with": trained}}
        return LoadedResult(tmp_path / f"r{i}.json", doc, i)

    own = [result(0, 0), result(1, 1)]
    shuffled = [result(2, 0, shuffle_boxes=True), result(3, 1, shuffle_boxes=True)]
    (section,) = sections([*own, *shuffled])
    assert [r.subject for r in section.results] == ["init [shuffle_boxes false]"] * 2 + ["init [shuffle_boxes true]"] * 2
    groups = section.seed_groups()
    assert sorted(groups) == ["init [shuffle_boxes false]", "init [shuffle_boxes true]"]
    assert [r.path.name for r in groups["init [shuffle_boxes true]"]] == ["r2.json", "r3.json"]
    (alone,) = sections(own)  # one recipe: the plain method name, and its two checkpoints are seeds
    assert [r.subject for r in alone.results] == ["init", "init"] and list(alone.seed_groups()) == ["init"]


def test_a_methods_checkpoint_stands_in_only_for_the_recipe_whose_results_scored_it(report_files):
    from initbench.digests import sha256_file
    from initbench.report.translations import CheckpointFinder

    ckpt = report_files["munit0"]
    finder = CheckpointFinder({"munit": ckpt})
    src, why = finder.find("munit [variant 2]", "sunny2night", frozenset({sha256_file(ckpt)}))
    assert src is not None and why == ""
    src, why = finder.find("munit [variant 3]", "sunny2night", frozenset({"0" * 64}))
    assert src is None
    assert why == (f"--ckpt munit={ckpt} is not a checkpoint the results of munit [variant 3] scored; "
                   "give --ckpt 'munit [variant 3]=PATH'")
