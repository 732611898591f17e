"""Loss curves of training runs as small multiples in inline SVG: every term told apart by colour and dash.

A run's ``losses.csv`` has one column per phase and term (``gen/x_g``, ``dis/total``, ...). The panels:
the phases' totals together, then per phase one panel per family of terms (the name up to its first
``_``: ``cyc_g``, ``cyc_o`` -> ``cyc``); families of a single term share a panel ``other``. Each term of
a run gets its own (colour, dash) pair, the same in every panel; each panel draws the raw values thin
and faint and an exponential moving average over them bold, and has its own legend.
"""

from __future__ import annotations

import html
import math
from typing import Sequence

Curve = list[tuple[float, float]]

#: Ten colours told apart by most readers (Tableau 10), and four dash patterns: 40 distinct styles.
COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#555555")
DASHES = ("", "6 3", "2 2", "8 3 2 3")


def term_styles(names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """``{name: (colour, dash)}``: distinct pairs for up to 40 names (sorted, so a run's styles are stable);
    the colour changes first, then the dash."""
    out = {}
    n = len(COLOURS)
    for i, name in enumerate(sorted(names)):
        out[name] = (COLOURS[i % n], DASHES[(i // n) % len(DASHES)])
    return out


def panels(names: Sequence[str]) -> list[tuple[str, list[str]]]:
    """``[(title, names)]`` (see the module docstring)."""
    totals = [n for n in names if n.rsplit("/", 1)[-1] == "total"]
    out: list[tuple[str, list[str]]] = [("totals", totals)] if totals else []
    phases: dict[str, dict[str, list[str]]] = {}
    for n in names:
        if n in totals:
            continue
        phase, _, term = n.rpartition("/")
        phases.setdefault(phase, {}).setdefault(term.split("_", 1)[0], []).append(n)
    for phase, fams in phases.items():
        other = []
        for fam, terms in fams.items():
            if len(terms) == 1:
                other += terms
            else:
                out.append((f"{phase}/{fam}*" if phase else f"{fam}*", terms))
        if other:
            out.append((f"{phase}: other" if phase else "other", other))
    return out


def ema(values: Sequence[float], span: int) -> list[float]:
    """Exponential moving average with ``alpha = 2 / (span + 1)``, started at the first value."""
    a = 2.0 / (span + 1)
    out, s = [], None
    for v in values:
        s = v if s is None else a * v + (1 - a) * s
        out.append(s)
    return out


def smoothing_span(n: int) -> int:
    """About a twentieth of the points, at least 1 (no smoothing for short logs)."""
    return max(1, n // 20)


def _ticks(lo: float, hi: float) -> tuple[list[float], int]:
    """Round tick values inside [lo, hi] (at most 6) and the decimals that tell them apart."""
    if hi <= lo:
        return [lo], 3
    step = 10 ** math.floor(math.log10((hi - lo) / 3))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= 5:
            step *= m
            break
    first = math.ceil(lo / step)
    out = [(first + i) * step for i in range(int((hi - first * step) / step + 1e-9) + 1)]
    return out, max(0, -math.floor(math.log10(step) + 1e-9))


def panel_svg(title: str, curves: dict[str, Curve], styles: dict[str, tuple[str, str]], width: int = 420,
              height: int = 250) -> str:
    """One panel: raw (thin, faint) and smoothed (bold) line per curve, axes with ticks, a legend below."""
    names = sorted(curves)
    legend_rows = math.ceil(len(names) / 2)
    left, right, top, bottom = 52, 12, 22, 30 + 16 * legend_rows
    pw, ph = width - left - right, height - top - 30 - 4
    total_h = height + 16 * legend_rows
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" class="curve" width="{width}" height="{total_h}" '
           f'viewBox="0 0 {width} {total_h}" font-family="sans-serif" font-size="11">',
           f'<text x="{left}" y="14" font-weight="bold">{html.escape(title)}</text>']
    pts = [p for n in names for p in curves[n]]
    if not pts:
        svg.append(f'<text x="{left}" y="{top + 20}">no values</text></svg>')
        return "".join(svg)
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    pad = (y1 - y0) * 0.05 or 0.5
    y0, y1 = y0 - pad, y1 + pad

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + ph - (y - y0) / (y1 - y0) * ph

    svg.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#bbb"/>')
    yt, dec = _ticks(y0, y1)
    for t in yt:
        svg.append(f'<line x1="{left}" x2="{left + pw}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" stroke="#eee"/>'
                   f'<text x="{left - 4}" y="{sy(t) + 4:.1f}" text-anchor="end">{t:.{dec}f}</text>')
    for t in _ticks(x0, x1)[0]:
        svg.append(f'<text x="{sx(t):.1f}" y="{top + ph + 13}" text-anchor="middle">{t:.0f}</text>')
    svg.append(f'<text x="{left + pw}" y="{top + ph + 26}" text-anchor="end">step</text>')
    for n in names:
        colour, dash = styles[n]
        c = curves[n]
        da = f' stroke-dasharray="{dash}"' if dash else ""
        raw = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in c)
        sm = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for (x, _), y in zip(c, ema([v for _, v in c], smoothing_span(len(c)))))
        svg.append(f'<polyline class="raw" data-term="{html.escape(n)}" fill="none" stroke="{colour}" stroke-width="0.8" '
                   f'stroke-opacity="0.35" points="{raw}"/>')
        svg.append(f'<polyline class="smooth" data-term="{html.escape(n)}" fill="none" stroke="{colour}" '
                   f'stroke-width="2"{da} points="{sm}"/>')
    for i, n in enumerate(names):
        colour, dash = styles[n]
        da = f' stroke-dasharray="{dash}"' if dash else ""
        lx = left + (i % 2) * (pw // 2)
        ly = top + ph + 44 + 16 * (i // 2)
        svg.append(f'<line class="legend" data-term="{html.escape(n)}" x1="{lx}" y1="{ly - 4}" x2="{lx + 28}" '
                   f'y2="{ly - 4}" stroke="{colour}" stroke-width="2"{da}/>'
                   f'<text x="{lx + 33}" y="{ly}">{html.escape(n)}</text>')
    svg.append("</svg>")
    return "".join(svg)


def run_panels_svg(curves: dict[str, Curve]) -> list[str]:
    """Every panel of one run (:func:`panels`), styled by :func:`term_styles` over all of the run's terms."""
    styles = term_styles(list(curves))
    return [panel_svg(title, {n: curves[n] for n in names}, styles) for title, names in panels(list(curves))]
