"""``initbench report``: one self-contained HTML file from any set of results files.

Sections, per (protocol, task): a table per metric (each result's value, its 95 % bootstrap interval
over inputs, and where a method has several seeds, their mean with a t interval), for paired-v1 the
per-region and per-class breakdowns, and a grid of translations beside the input and its ground truth.
Then the loss curves of the given runs, the style-space figure of each model with a style encoder, and
the facts of every file (conformance, fingerprints). Images are embedded PNG, figures inline SVG: the
file opens anywhere, offline.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from initbench.files import write_atomic
from initbench.report import metric_tables as MT
from initbench.report.figures import data_uri, read_loss_csv
from initbench.report.results_set import Section, load_results, sections

Progress = Callable[[str, int, int], None]

CSS = """body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222;max-width:110em}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}h3{margin:1.4em 0 .3em}
table{border-collapse:collapse;margin:.3em 0 1em;font-size:92%}td,th{border:1px solid #d4d4d4;padding:.25em .6em;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}tr.seeds td{background:#f3f7ff;font-style:italic}
td.best{font-weight:bold}.ci{color:#666;font-size:90%}.note{color:#555;font-size:90%}.warn{background:#fff4d6;padding:.4em .6em}
.metrics{display:flex;flex-wrap:wrap;gap:0 2em}.tiles{display:flex;flex-wrap:wrap;gap:6px;align-items:flex-start;margin:.2em 0}
figure.tile{margin:0}figure.tile img{image-rendering:pixelated;display:block}figure.tile figcaption{font-size:80%;color:#555}
.inrow{border-top:1px solid #eee;padding:.5em 0}.mlabel{font-weight:bold;font-size:90%;margin:.4em 0 .1em}
.missing{color:#a33;font-size:90%}.panels{display:flex;flex-wrap:wrap;gap:1em}code{font-size:90%}"""


@dataclass
class ReportOptions:
    """What ``initbench report`` takes besides the results files (CLI flags mirror these names)."""

    ckpts: dict = field(default_factory=dict)     # {method: checkpoint path}
    data: str | None = None                       # the tree the results were computed on
    runs: list = field(default_factory=list)      # training run folders (losses.csv)
    grid_inputs: int = 3
    grid_styles: int = 3
    seed: int = 0
    n_resamples: int = 2000
    level: float = 0.95
    factor: str = "ambient"
    style_images: int = 24
    device: str = "cpu"


def _esc(x) -> str:
    return html.escape(str(x))


def _num(v: float | None) -> str:
    if v is None:
        return "–"
    if v == 0 or 1e-3 <= abs(v) < 1e4:
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.2f}"
    return f"{v:.3g}"


def _cell_html(c: MT.Cell, best: bool) -> str:
    cls = ' class="best"' if best else ""
    if c.value is None and c.mean is None:
        return f"<td{cls}>–</td><td></td>"
    ci = ""
    if c.lo is not None:
        mark = f" (mean of inputs {_num(c.mean)})" if c.mean_of_inputs else ""
        ci = f'<span class="ci">[{_num(c.lo)}, {_num(c.hi)}]{mark}</span>'
    return f"<td{cls}>{_num(c.value if c.value is not None else c.mean)}</td><td>{ci}</td>"


def metric_table_html(section: Section, numbers: dict, spec: MT.MetricSpec, level: float) -> str:
    cells = numbers["metrics"][spec.key]
    if all(c.value is None and c.mean is None for c in cells):
        return ""
    best = MT.best_row(cells, spec.higher_is_better) if len(cells) > 1 else None
    arrow = "↑" if spec.higher_is_better else "↓"
    rows = [f"<table class=\"metric\" data-metric=\"{_esc(spec.key)}\"><tr><th>{_esc(spec.label or spec.key)} {arrow}</th>"
            f"<th>value</th><th>{level:.0%} CI over inputs</th><th>n</th></tr>"]
    for i, (r, c) in enumerate(zip(section.results, cells)):
        rows.append(f"<tr data-method=\"{_esc(r.method)}\"><td>{_esc(r.label)}</td>{_cell_html(c, i == best)}<td>{c.n or ''}</td></tr>")
    for m, sc in numbers["seeds"].items():
        s = sc[spec.key]
        if s.mean is not None:
            ci = f'<span class="ci">[{_num(s.lo)}, {_num(s.hi)}] (t, seeds)</span>' if s.lo is not None else ""
            rows.append(f"<tr class=\"seeds\" data-method=\"{_esc(m)}\"><td>{_esc(m)}: mean of {s.n} seeds</td>"
                        f"<td>{_num(s.mean)}</td><td>{ci}</td><td>{s.n}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def breakdown_html(section: Section, title: str, columns, numbers: dict, level: float) -> str:
    """Rows = results, columns = regions or classes, cells = value [CI] (paired-v1)."""
    head = "".join(f"<th>{_esc(c)}</th>" for c, _ in columns)
    rows = [f"<div><h4>{_esc(title)}</h4><table class=\"breakdown\"><tr><th>result</th>{head}</tr>"]
    for i, r in enumerate(section.results):
        tds = []
        for _, key in columns:
            c = numbers["metrics"][key][i]
            ci = f' <span class="ci">[{_num(c.lo)}, {_num(c.hi)}]</span>' if c.lo is not None else ""
            tds.append(f"<td>{_num(c.value)}{ci}</td>")
        rows.append(f"<tr data-method=\"{_esc(r.method)}\"><td>{_esc(r.label)}</td>{''.join(tds)}</tr>")
    rows.append("</table>")
    return "".join(rows)


def _tile(png: bytes, caption: str) -> str:
    return (f'<figure class="tile"><img src="{data_uri(png)}" alt="{_esc(caption)}">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>")


def grid_html(grid) -> str:
    from initbench.report.grids import Grid

    assert isinstance(grid, Grid)
    out = []
    if grid.note:
        out.append(f'<p class="note">{_esc(grid.note)}</p>')
    descs = {}
    for row in grid.rows:
        tiles = [_tile(row.input, "input")]
        if row.truth is not None:
            tiles.append(_tile(row.truth, "ground truth"))
        missing = []
        for m in row.methods:
            if m.missing:
                missing.append(f'<div class="missing">{_esc(m.method)}: no translations: {_esc(m.missing)}</div>')
                continue
            descs[m.method] = m.description
            many = len(m.tiles) > 1
            tiles += [_tile(t, f"{m.method} · sample {j + 1}" if many else m.method) for j, t in enumerate(m.tiles)]
        out.append(f'<div class="inrow"><div class="note"><code>{_esc(row.key)}</code></div>'
                   f'<div class="tiles">{"".join(tiles)}</div>{"".join(missing)}</div>')
    if descs:
        out.append('<p class="note">Models: ' + "; ".join(f"{_esc(k)}: {_esc(v)}" for k, v in descs.items()) +
                   ". The samples of input i are the first ones the evaluator scored (styles seeded style_seed + i); "
                   "images narrower than 256 px are shown enlarged by a whole factor (nearest neighbour).</p>")
    return "".join(out)


def facts_html(results) -> str:
    rows = ["<table class=\"facts\"><tr><th>file</th><th>method</th><th>task</th><th>protocol</th><th>inputs × samples</th>"
            "<th>conformant</th><th>LPIPS backbone</th><th>classifier</th><th>checkpoint</th><th>data</th></tr>"]
    for r in results:
        d = r.doc
        fp = d.get("fingerprint", {})
        lp = fp.get("lpips_backbone")
        lp = "random" if lp == "random" or d.get("seed", {}).get("lpips_seed") is not None else (str(lp)[:12] if lp else "–")
        conf = "yes" if d.get("conformant") else "no: " + "; ".join(d.get("nonconformant_reasons", []))
        rows.append(f"<tr><td>{_esc(r.path)}</td><td>{_esc(d['method'])}</td><td>{_esc(d['task'])}</td><td>{_esc(d['protocol'])}</td>"
                    f"<td>{d.get('num_inputs')} × {d.get('samples_per_input')}</td><td style=\"text-align:left\">{_esc(conf)}</td>"
                    f"<td>{_esc(lp)}</td><td>{_esc(str(fp.get('classifier') or '–')[:12])}</td>"
                    f"<td>{_esc(str(d.get('checkpoint_sha256') or '–')[:12])}</td><td>{_esc(str(d.get('data_fingerprint'))[:12])}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def build_report(paths, opts: ReportOptions, progress: Progress | None = None) -> tuple[str, dict]:
    """``(html, summary)`` for the results files ``paths``. Raises DataFormatError naming a bad file."""
    from initbench.report import curves, grids, style_space
    from initbench.report.translations import CheckpointFinder, FloorFinder, PretrainedFinder, Sources

    def note(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(stage, done, total)

    results = load_results(paths)
    secs = sections(results)
    for run in opts.runs:
        if not (Path(run) / "losses.csv").is_file():
            from initbench.errors import UsageError

            raise UsageError(f"--run {run}: expected a training run folder with losses.csv; found none there")
    first_split = results[0].doc.get("data", {}).get("split", "v1")
    sources = Sources([CheckpointFinder({m: Path(p) for m, p in opts.ckpts.items()}, opts.device),
                       PretrainedFinder(opts.device), FloorFinder(opts.data, split=first_split)])
    summary: dict = {"results": [], "sections": [], "grids": [], "loss_runs": [], "style_space": []}
    body = [f"<h1>initbench report</h1><p class=\"note\">{len(results)} results file(s); intervals: {opts.level:.0%} "
            f"percentile bootstrap of the mean over inputs ({opts.n_resamples} resamples, seed {opts.seed}); over seeds: "
            f"Student's t. Best value per table in bold.</p>"]
    if any(not r.doc.get("conformant") for r in results):
        body.append('<p class="warn">Some results are not conformant (see “Files” at the end): their numbers are not '
                    "comparable with published ones.</p>")
    for si, sec in enumerate(secs):
        note("tables", si, len(secs))
        nums = MT.section_numbers(sec, seed=opts.seed, n_resamples=opts.n_resamples, level=opts.level)
        body.append(f"<h2>{_esc(sec.title)}</h2>")
        mism = sec.data_mismatch()
        if mism:
            body.append(f'<p class="warn">These results were computed on other inputs than {_esc(sec.results[0].path)} '
                        f"(data fingerprints differ): {_esc(', '.join(mism))}.</p>")
        body.append('<div class="metrics">' + "".join(metric_table_html(sec, nums, s, opts.level) for s in nums["specs"]) + "</div>")
        skipped = sorted({f"{k} ({v})" for r in sec.results for k, v in (r.doc.get("skipped") or {}).items()})
        if skipped:
            body.append(f'<p class="note">Not computed: {_esc("; ".join(skipped))}.</p>')
        if sec.protocol == "paired-v1":
            body.append("<h3>By region and class (L1 to the ground truth, pixels in [0, 1])</h3><div class=\"metrics\">")
            body.append(breakdown_html(sec, "regions (L1)", MT.REGION_COLUMNS, nums, opts.level))
            body.append(breakdown_html(sec, "regions (LPIPS)", MT.LPIPS_REGION_COLUMNS, nums, opts.level))
            body.append(breakdown_html(sec, "classes (L1 inside the class's boxes)", MT.CLASS_COLUMNS, nums, opts.level))
            body.append("</div>")
        summary["sections"].append({
            "protocol": sec.protocol, "task": sec.task, "files": [str(r.path) for r in sec.results],
            "metrics": {k: [c.to_dict() for c in v] for k, v in nums["metrics"].items()},
            "seeds": {m: {k: s.to_dict() for k, s in sc.items()} for m, sc in nums["seeds"].items()}})
        body.append("<h3>Translations</h3>")
        grid = grids.section_grid(sec, sources, opts.data, n_inputs=opts.grid_inputs, k=opts.grid_styles,
                                  progress=lambda d, t: note(f"grid {sec.task}", d, t))
        body.append(grid_html(grid))
        summary["grids"].append(grid.summary())
    note("tables", len(secs), len(secs))
    if opts.runs:
        body.append("<h2>Training losses</h2><p class=\"note\">Thin faint lines: logged values; bold: exponential moving "
                    "average. Each term has its own colour and dash, the same in every panel of a run.</p>")
        for i, run in enumerate(opts.runs):
            c = read_loss_csv(Path(run) / "losses.csv")
            body.append(f"<h3>{_esc(run)}</h3><div class=\"panels\">{''.join(curves.run_panels_svg(c))}</div>")
            summary["loss_runs"].append({"run": str(run), "terms": sorted(c), "points": max((len(v) for v in c.values()), default=0)})
            note("loss curves", i + 1, len(opts.runs))
    models = sources.models()
    if models:
        body.append(f"<h2>Style space</h2><p class=\"note\">Style codes of real test images of each domain from the model's "
                    f"own style encoders, PCA to 2-D (squares: the second domain). Left: by domain; right: by the "
                    f"recorded latent <code>{_esc(opts.factor)}</code> of the frame (objects: of their frame).</p>")
        for i, src in enumerate(models):
            body.append(f"<h3>{_esc(src.name)}</h3>")
            if opts.data is None:
                body.append('<p class="note">no --data given: the style codes need real images</p>')
                continue
            space = style_space.encode_codes(src, opts.data, split=first_split, n_per_domain=opts.style_images,
                                             seed=opts.seed, factor=opts.factor)
            if space is None:
                body.append(f'<p class="note">{_esc(src.method)} has no style encoder this report knows '
                            f"(known: {', '.join(sorted(style_space.STYLE_ENCODERS))})</p>")
                continue
            if space.note:
                body.append(f'<p class="note">{_esc(space.note)}</p>')
            for c in space.kinds:
                body.append(f'<div class="panels">{style_space.scatter_svg(c, "domain", opts.factor)}'
                            f'{style_space.scatter_svg(c, "factor", opts.factor)}</div>'
                            f'<p class="note">{_esc(style_space.r2_text(c, opts.factor))}</p>')
            summary["style_space"].append(space.summary())
            note("style space", i + 1, len(models))
    body.append("<h2>Files</h2>" + facts_html(results))
    for r in results:
        summary["results"].append({"file": str(r.path), "method": r.method, "task": r.task, "protocol": r.protocol,
                                   "conformant": r.doc.get("conformant")})
    doc = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>initbench report</title>"
           f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
    return doc, summary


def write_report(paths, out: str | os.PathLike, opts: ReportOptions, progress: Progress | None = None) -> dict:
    """Build the report and write it to ``out`` atomically; returns the summary (with ``out`` and ``bytes``)."""
    text, summary = build_report(paths, opts, progress)
    n = write_atomic(Path(out), text)
    return {"out": str(out), "bytes": n, **summary}
