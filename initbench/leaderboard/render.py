"""Ranked leaderboard tables, one per benchmark, task, comparable group and metric.

Entries are comparable only when they share benchmark, protocol (and its overrides), split, data
fingerprint (the test keys scored) and metric fingerprint (the networks behind the numbers); each such
set is a *group* and is ranked on its own.
Reported entries (numbers copied from a publication) form groups of their own per source and
are marked "as reported, not reproduced". Rendering returns strings or plain rows; the CLI
draws the terminal tables.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from initbench.leaderboard.benchmarks import BENCHMARKS, LOWER_IS_BETTER, METRIC_TITLES, METRICS
from initbench.leaderboard.entry import AS_REPORTED, display_value

REPORTED_MARK = "R"

#: Rows shown for reference but never ranked: the real images' own scores (an upper bound), and on
#: mini-init-v2 the ground truth's own (errors 0 by construction; its domain accuracies are the ceiling).
UNRANKED = frozenset({"real", "ground-truth"})


@dataclass
class Row:
    rank: int | None  # None: shown for reference, not ranked (real images)
    label: str
    value: float
    text: str  # the value as shown: "0.2740 ± 0.0031" or the printed "0.274"
    seeds: int | None
    params: int | None
    implementation: str
    reported: bool
    file: str
    marks: list[int] = field(default_factory=list)  # indexes into Table.notes (1-based)


@dataclass
class Table:
    benchmark: str
    task: str
    metric: str
    group: str
    reported: bool
    rows: list[Row]
    notes: list[str]

    @property
    def title(self) -> str:
        better = "lower is better" if self.metric in LOWER_IS_BETTER else "higher is better"
        return f"{self.benchmark} · {self.task} · {METRIC_TITLES[self.metric]} ({better})"


def _short(value: str) -> str:
    return value[:12] if len(value) == 64 else value


def group_key(entry: dict) -> tuple[str, str]:
    """(sort key, label) of the group an entry is ranked in."""
    if entry["kind"] == "reported":
        return (f"1-{entry['source']['citation']}", f"{AS_REPORTED}: {entry['source']['citation']}")
    fp = ", ".join(f"{k}={_short(str(v))}" for k, v in sorted(entry["fingerprint"].items()) if v is not None)
    ov = entry.get("protocol_overrides") or {}
    proto = entry["protocol"] + (" with " + ", ".join(f"{k}={v}" for k, v in sorted(ov.items())) if ov else "")
    data = entry.get("data_fingerprint")
    label = (f"{_verdict(entry)}; protocol {proto}, split {entry['split']}, data {_short(data) if data else 'unknown'}, "
             f"networks: {fp}")
    return (f"0-{label}", label)


def _verdict(entry: dict) -> str:
    """``conformant``, or ``NOT conformant: <reasons>`` as the evaluator decided it (unknown for old entries)."""
    if entry.get("conformant") is None:
        return "conformance unknown"
    if entry["conformant"]:
        return "conformant"
    return "NOT conformant: " + "; ".join(entry.get("nonconformant_reasons") or ["no reason recorded"])


def _format(entry: dict, metric: str) -> tuple[str, int | None]:
    m = entry["metrics"][metric]
    if entry["kind"] == "reported":
        return m["as_printed"], None
    n = len(m["per_seed"])
    if m["std"] is None:
        return f"{m['mean']:.4f}", n
    return f"{m['mean']:.4f} ± {m['std']:.4f}", n


def _task_order(benchmark: str, task: str) -> tuple[int, str]:
    tasks = BENCHMARKS[benchmark].tasks if benchmark in BENCHMARKS else ()
    if task in tasks:
        return (tasks.index(task), task)
    return (len(tasks) + (1 if task == "average" else 0), task)


def build_tables(entries: Sequence[tuple[str | Path, dict]]) -> list[Table]:
    """Group, then rank. Ties share a rank (1, 2, 2, 4)."""
    buckets: dict[tuple, list[tuple[str, dict]]] = {}
    labels: dict[tuple, str] = {}
    for path, e in entries:
        gk, glabel = group_key(e)
        for metric in e["metrics"]:
            key = (e["benchmark"], _task_order(e["benchmark"], e["task"]), gk, METRICS.index(metric), metric, e["task"])
            buckets.setdefault(key, []).append((str(path), e))
            labels[key] = glabel
    tables = []
    for key in sorted(buckets):
        bench, _, _, _, metric, task = key
        items = buckets[key]
        lower = metric in LOWER_IS_BETTER
        items.sort(key=lambda it: (display_value(it[1]["metrics"][metric]) * (1 if lower else -1), it[1]["label"]))
        notes: list[str] = []
        rows: list[Row] = []
        prev_value, prev_rank, i = None, 0, 0
        for path, e in items:
            value = display_value(e["metrics"][metric])
            if e["method"] in UNRANKED:
                rank = None
            else:
                i += 1
                rank = prev_rank if value == prev_value else i
                prev_value, prev_rank = value, rank
            marks = []
            for n in e.get("notes", []):
                if n.get("metrics") and metric not in n["metrics"]:
                    continue
                if n["text"] not in notes:
                    notes.append(n["text"])
                marks.append(notes.index(n["text"]) + 1)
            text, seeds = _format(e, metric)
            rows.append(Row(rank, e["label"], value, text, seeds, e.get("params"), e["implementation"],
                            e["kind"] == "reported", path, marks))
        tables.append(Table(bench, task, metric, labels[key], key[2].startswith("1-"), rows, notes))
    return tables


def _label(row: Row) -> str:
    s = row.label + (f" [{REPORTED_MARK}]" if row.reported else "")
    return s + ("".join(f" ({m})" for m in row.marks))


def _params(row: Row) -> str:
    return "n/a" if row.params is None else f"{row.params:,}"


def _seeds(row: Row) -> str:
    return "n/a" if row.seeds is None else str(row.seeds)


COLUMNS = ("rank", "method", "value", "seeds", "params", "implementation", "entry")


def row_cells(row: Row, short: bool = False) -> list[str]:
    """Cells in COLUMNS order; ``short`` gives the entry's file name only (for narrow terminals)."""
    file = Path(row.file).name if short else row.file
    impl = {"reimplementation": "reimpl."}.get(row.implementation, row.implementation) if short else row.implementation
    return ["ref" if row.rank is None else str(row.rank), _label(row), row.text, _seeds(row), _params(row), impl, file]


def legend(table: Table) -> list[str]:
    out = [f"[{REPORTED_MARK}] {AS_REPORTED}"] if table.reported else []
    return out + [f"({i}) {t}" for i, t in enumerate(table.notes, start=1)]


def render_markdown(tables: Sequence[Table]) -> str:
    if not tables:
        return "_No entries._\n"
    out: list[str] = []
    for t in tables:
        out.append(f"### {t.title}\n\n{t.group}\n")
        out.append("| " + " | ".join(COLUMNS) + " |")
        out.append("|" + "|".join("---:" if c in ("rank", "value", "seeds", "params") else "---" for c in COLUMNS) + "|")
        for r in t.rows:
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in row_cells(r)) + " |")
        out.append("")
        out += [f"- {line}" for line in legend(t)]
        out.append("")
    return "\n".join(out)


def render_html_fragment(tables: Sequence[Table]) -> str:
    """Tables as HTML (no <html> wrapper), for embedding in a report."""
    if not tables:
        return "<p><em>No entries.</em></p>\n"
    out: list[str] = []
    for t in tables:
        cls = "lb reported" if t.reported else "lb"
        out.append(f"<h3>{html.escape(t.title)}</h3>\n<p class=\"group\">{html.escape(t.group)}</p>")
        out.append(f"<table class=\"{cls}\"><thead><tr>"
                   + "".join(f"<th>{c}</th>" for c in COLUMNS) + "</tr></thead><tbody>")
        for r in t.rows:
            out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row_cells(r)) + "</tr>")
        out.append("</tbody></table>")
        if legend(t):
            out.append("<ul class=\"notes\">" + "".join(f"<li>{html.escape(x)}</li>" for x in legend(t)) + "</ul>")
    return "\n".join(out) + "\n"


STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
table.reported{background:#fbf7ee}.group{color:#555;margin:.2em 0}.notes{font-size:90%;color:#444}"""


def render_html(tables: Sequence[Table], title: str = "initbench leaderboard") -> str:
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n<h1>{html.escape(title)}</h1>\n"
            + render_html_fragment(tables) + "</body></html>\n")
