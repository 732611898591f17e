"""The quickstart's HTML report: one self-contained file (PNG grids embedded, loss curves as SVG).

Sections: the ranked metric tables (as ``leaderboard show`` ranks them), a qualitative grid per
method (test inputs of the task's source domain, then several styles each), the loss curves of
each training run, and the run's facts (stage times, LPIPS backbone, protocol overrides, the
classifier's test accuracy).
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import torch

from initbench.files import write_atomic
from initbench.report.figures import data_uri, image_grid_png, line_chart_svg, read_loss_csv

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:72em;color:#222}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
.group{color:#555;margin:.2em 0;font-size:90%}.notes{font-size:90%;color:#444}.warn{background:#fff4d6;padding:.5em}
img.grid{image-rendering:pixelated;max-width:100%}figure{margin:0 0 1.5em}figcaption{color:#555;font-size:90%}"""


def qualitative_rows(checkpoint: str, root: str, task: str, n_inputs: int, n_styles: int, short_side: int,
                     seed: int, device: str = "cpu") -> list[list[torch.Tensor]]:
    """Grid cells: one row per test input of the task's source domain (drawn like the evaluator's
    inputs), ``[input, style 1, ..., style K]``; styles from a generator seeded ``seed + row``."""
    from initbench.dataset.release import parse_task
    from initbench.evaluation import images as I
    from initbench.training.checkpoints import load_translator

    source, _ = parse_task(task)
    model = load_translator(checkpoint, device=device)
    keys = I.draw(I.domain_keys(I.split_of_root(root), source, "test"), n_inputs, 0)
    rows = []
    with torch.inference_mode():
        for r, key in enumerate(keys):
            x = I.load_image(I.key_path(root, key), short_side)[None].to(device)
            g = torch.Generator().manual_seed(seed + r)
            k = n_styles if model.is_multimodal else 1
            style = model.sample_style(k, generator=g, device=device) if model.is_multimodal else None
            content = model.encode(x.expand(k, *x.shape[1:]), direction="a2b")
            y = model.decode(content, direction="a2b", style=style).clamp(-1, 1)
            rows.append([x[0].cpu()] + [y[i].cpu() for i in range(k)])
    return rows


def _facts(ctx) -> str:
    o = ctx.opts
    st = ctx.results
    items = []
    syn = st.get("synth", {})
    items.append(f"Synthetic mini-INIT: {sum(syn.get('images', {}).values())} images "
                 f"({', '.join(f'{d} {n}' for d, n in syn.get('images', {}).items())}) at {o.size[0]} x {o.size[1]} px, "
                 f"seed {o.seed}; verified: {st.get('verify', {}).get('errors', '?')} errors, "
                 f"{st.get('verify', {}).get('warnings', '?')} warnings.")
    cl = st.get("classifier", {})
    acc = cl.get("accuracy")
    items.append(f"Domain classifier (small CNN, {o.classifier_epochs} epochs): test accuracy "
                 f"{acc:.3f}" if isinstance(acc, float) else "Domain classifier: trained")
    for m in o.methods:
        tr = st.get(f"train-{m}", {})
        ev = st.get(f"evaluate-{m}", {})
        items.append(f"{m}: {tr.get('steps')} steps in {tr.get('seconds', 0):.0f} s; {ev.get('params', 0):,} "
                     f"generator parameters; checkpoint sha256 {str(tr.get('checkpoint_sha256', ''))[:16]}...")
        if ev.get("skipped"):
            items.append(f"{m}: not computed: " + "; ".join(f"{k}: {v}" for k, v in ev["skipped"].items()))
    items.append(f"Evaluation: task {o.task}, protocol v1 with {o.eval_inputs} inputs, {o.eval_samples} samples "
                 f"per input, short side {o.eval_short_side} px (overrides recorded in every result).")
    return "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in items) + "</ul>"


def write_report(ctx, path: str | os.PathLike) -> Path:
    """Build the report from the finished stages in ``ctx.results``; write it atomically; return its path."""
    from initbench.leaderboard.render import build_tables, render_html_fragment
    from initbench.leaderboard.store import load_entries

    o = ctx.opts
    parts = [f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>initbench quickstart</title>"
             f"<style>{STYLE}</style></head><body>", "<h1>initbench quickstart: the mini-INIT pipeline</h1>"]
    notes = {ctx.results[f"evaluate-{m}"].get("lpips_note") for m in o.methods}
    for n in sorted(x for x in notes if x):
        parts.append(f"<p class=\"warn\">LPIPS: {html.escape(n)}</p>")
    parts.append("<h2>Metrics</h2>")
    tables = build_tables(load_entries(ctx.out / "leaderboards", "mini-init", o.task))
    parts.append(render_html_fragment(tables))
    parts.append("<h2>Qualitative results</h2>")
    for m in o.methods:
        rows = qualitative_rows(ctx.results[f"train-{m}"]["checkpoint"], str(ctx.data), o.task, o.grid_inputs,
                                o.grid_styles, o.eval_short_side, o.seed, o.device)
        png = image_grid_png(rows)
        parts.append(f"<figure><img class=\"grid\" alt=\"{html.escape(m)} translations\" src=\"{data_uri(png)}\">"
                     f"<figcaption>{html.escape(m)}: first column the {o.task.split('2')[0]} test input, then "
                     f"{len(rows[0]) - 1} translation(s) with independent random styles.</figcaption></figure>")
    parts.append("<h2>Training losses</h2>")
    for m in o.methods:
        csv_path = Path(ctx.results[f"train-{m}"]["run"]) / "losses.csv"
        curves = read_loss_csv(csv_path) if csv_path.is_file() else {}
        totals = {k: v for k, v in curves.items() if k.endswith("total")}
        parts.append(f"<figure>{line_chart_svg(totals or curves, f'{m}: total loss per phase')}"
                     f"<figcaption>{html.escape(str(csv_path))}</figcaption></figure>")
        rest = {k: v for k, v in curves.items() if k not in totals}
        if totals and rest:
            parts.append(f"<figure>{line_chart_svg(rest, f'{m}: loss terms', height=320)}</figure>")
    parts.append("<h2>This run</h2>")
    parts.append(_facts(ctx))
    parts.append("</body></html>\n")
    p = Path(path)
    write_atomic(p, "\n".join(parts))
    return p
