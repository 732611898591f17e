"""Dataset commands: ``synth``, ``verify-dataset``, ``stats``. Parse, call the library, render."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from initbench.cli.common import console, err_console, handle_errors, write_json
from initbench.errors import UsageError


#: ``--skip-invalid`` of every command that reads the release (prepare, export, manifest build, train).
skip_invalid_option = click.option(
    "--skip-invalid", is_flag=True,
    help="Leave out the images whose annotations have errors (what verify-dataset reports) and list them, "
         "instead of refusing the copy (exit 1).",
)


def show_invalid(fn):
    """Before the one-line error of a refused copy (exit 1), list its findings on stderr, one a line.

    Goes under :func:`handle_errors`, which prints the error and exits.
    """
    import functools

    from initbench.errors import InvalidDataError

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InvalidDataError as exc:
            print_findings(exc.findings)
            raise

    return wrapper


def print_findings(findings, limit: int = 50) -> None:
    """One line per finding on stderr: ``rule  file:line  message``."""
    from rich.markup import escape

    for f in findings[:limit]:
        d = f if isinstance(f, dict) else f.to_dict()
        where = d["path"] + (f":{d['line']}" if d["line"] is not None else "")
        colour = "red" if d["severity"] == "error" else "yellow"
        gone = f"  (left out: {', '.join(d['images'])})" if d.get("images") else ""
        line = f"[{colour}]{d['rule']}[/]  {escape(where)}  {escape(d['message'])}{escape(gone)}"
        err_console.print(line, soft_wrap=True, highlight=False)
    if len(findings) > limit:
        err_console.print(f"... and {len(findings) - limit} more (see --json or verify-dataset)", highlight=False)


def print_dropped(dropped: list[dict], limit: int = 50) -> None:
    """What ``--skip-invalid`` left out, on stderr: a count line, then each skipped error."""
    if not dropped:
        return
    images = sorted({k for d in dropped for k in d["images"]})
    err_console.print(f"[yellow]--skip-invalid[/]: skipped {len(dropped)} annotation error(s); left out {len(images)} image(s) "
                      "(recorded in the outputs):", highlight=False)
    print_findings(dropped, limit)


def progress_bar() -> Progress:
    """A rich progress bar on stderr (results stay alone on stdout)."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )


def _bar_callback(bar: Progress, description: str):
    task_ids: dict[str, int] = {}

    def update(done: int, total: int, stage: str | None = None) -> None:
        name = stage or description
        if name not in task_ids:
            task_ids[name] = bar.add_task(name, total=total)
        bar.update(task_ids[name], completed=done, total=total)

    return update


@click.command("synth")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--per-domain", type=int, default=None, show_default="64", help="Images per domain.")
@click.option("--size", "size_text", default=None, show_default="256x160 (v1: 256x161)", help="WIDTHxHEIGHT of every image (the release is 1920x1208).")
@click.option("--generator", type=click.Choice(["v2", "v1"]), default="v2", show_default=True,
              help="v2: styles drawn per frame, latents.jsonl; v1: the first mini-INIT, byte for byte (manifests/mini-init).")
@click.option("--paired", is_flag=True, help="v2: also draw every test frame (split 'drives') in the other three domains, "
              "under OUT/ground_truth/<source>2<target>/.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed and arguments, byte-identical files.")
@click.option("--workers", type=int, default=1, show_default=True, help="Processes drawing drives in parallel (same bytes whatever the number).")
@click.option("--overwrite", is_flag=True, help="Write into OUT even if it is not empty (files of the plan are replaced; nothing is deleted).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None, help="Write the summary as JSON ('-' for stdout).")
@handle_errors
def synth_cmd(out: Path, per_domain: int | None, size_text: str | None, generator: str, paired: bool, seed: int, workers: int,
              overwrite: bool, json_out: str | None) -> None:
    """Draw the synthetic mini-INIT into OUT, in the release's exact layout and text format.

    Four domains (sunny, night, cloudy, rainy) of procedurally drawn street frames with exact
    car / speed-limit-sign / person boxes; several drives per domain with consecutive frames,
    drives shared between domains; annotations in OUT/batch1_anno/<domain>1.txt. Generator v2
    also writes every image's style latents to OUT/latents.jsonl.
    """
    from initbench.dataset import synthetic

    per_domain = synthetic.DEFAULT_PER_DOMAIN if per_domain is None else per_domain
    size = synthetic.DEFAULT_SIZES[generator] if size_text is None else synthetic.parse_size(size_text)
    if per_domain < 1:
        raise UsageError(f"--per-domain: expected an integer >= 1, got {per_domain}")
    if paired and generator != "v2":
        raise UsageError("--paired: ground truth needs --generator v2 (v1 draws one constant style per domain)")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise UsageError(f"OUT: {out} exists and is not empty; choose a new folder or pass --overwrite")
    with progress_bar() as bar:
        summary = synthetic.synthesize(out, per_domain=per_domain, size=size, seed=seed, progress=_bar_callback(bar, "drawing"),
                                         workers=workers, generator=generator, paired=paired)
    table = Table(title=f"synthetic mini-INIT {generator} in {out} ({size[0]}x{size[1]}, seed {seed})")
    table.add_column("domain")
    table.add_column("images", justify="right")
    for name in ("car", "sign", "person"):
        table.add_column(name, justify="right")
    for d, n in summary["images"].items():
        b = summary["boxes"][d]
        table.add_row(d, str(n), str(b["car"]), str(b["sign"]), str(b["person"]))
    console.print(table)
    console.print(
        f"{summary['drives']} drives ({summary['shared_drives']} shared by several domains), "
        f"{summary['bytes'] / 1e6:.1f} MB; annotations in {out / 'batch1_anno'}"
    )
    if generator == "v2":
        tests = ", ".join(f"{d} {c['test']}" for d, c in summary["split_counts"].items())
        console.print(
            f"split drives: {summary['test_drives']} of {summary['drives']} drives held out (test frames: {tests}); "
            f"median box short side {summary['median_box_short_side']} px; latents in {summary['latents']}"
            + (f"; {summary['ground_truth_images']} ground-truth images in {out / 'ground_truth'}" if paired else "")
        )
    if json_out:
        write_json(json_out, summary)


def _short(path: str, root: Path) -> str:
    try:
        return os.path.relpath(path, root) if os.path.isabs(path) and Path(path).is_relative_to(root.resolve()) else path
    except ValueError:
        return path


def _brief(f: dict, root: Path) -> str:
    """``where [image]`` then the message without its leading image path, on a second line."""
    where = _short(f["path"], root) + (f":{f['line']}" if f["line"] is not None else "")
    msg, image = f["message"], None
    head, sep, rest = msg.partition(": ")
    if sep and head.lower().endswith(".png"):
        image, msg = head.rsplit("/", 1)[-1], rest
    tag = f" [{image}]" if image and not where.endswith(image) else ""
    return f"{where}{tag}\n  {msg[:120]}"


def render_verify(report: dict) -> None:
    """The verify-dataset summary: counts beside paper Table 2, then findings grouped by rule."""
    root = Path(report["root"])
    table = Table(title=f"verify-dataset {root}")
    for col, just in (("domain", "left"), ("images", "right"), ("records", "right"), ("paper Table 2", "right"), ("share", "right"),
                      ("car", "right"), ("sign", "right"), ("person", "right")):
        table.add_column(col, justify=just)
    tot = [0, 0, 0, 0, 0, 0]
    for d, v in report["domains"].items():
        b = v["boxes"]
        row = [v["images"], v["records"], v["expected"], b["car"], b["sign"], b["person"]]
        tot = [a + c for a, c in zip(tot, row)]
        table.add_row(d, *(f"{x:,}" for x in row[:3]), f"{v['images'] / v['expected']:.1%}", *(f"{x:,}" for x in row[3:]))
    table.add_row("total", *(f"{x:,}" for x in tot[:3]), f"{tot[0] / max(tot[2], 1):.1%}", *(f"{x:,}" for x in tot[3:]), style="bold")
    console.print(table)
    if report["findings"]:
        ft = Table(title="findings by rule")
        groups: dict[str, list[dict]] = {}
        for f in report["findings"]:
            groups.setdefault(f["rule"], []).append(f)
        rule_w = max(len(r) for r in groups)
        room = max(30, console.width - rule_w - 8 - 7 - 13)  # what the other columns and borders leave
        ft.add_column("rule", no_wrap=True, min_width=rule_w)
        ft.add_column("severity", no_wrap=True)
        ft.add_column("count", justify="right", no_wrap=True)
        ft.add_column("first locations")
        order = sorted(groups, key=lambda r: (groups[r][0]["severity"] != "error", r))
        for rule in order:
            fs = groups[rule]
            firsts = []
            for f in fs[:3]:
                where, what = _brief(f, root).split("\n", 1)
                firsts.append(where if len(where) <= room else "…" + where[-(room - 1):])  # keep the file name
                firsts.append(what if len(what) <= room else what[: room - 1] + "…")
            if len(fs) > 3:
                firsts.append(f"... and {len(fs) - 3:,} more")
            colour = "red" if fs[0]["severity"] == "error" else "yellow"
            ft.add_row(f"[{colour}]{rule}[/]", fs[0]["severity"], f"{len(fs):,}", "\n".join(firsts))
        console.print(ft)
    s = report["settings"]
    mode = "sha256 of every file" if s["hash"] else "annotations + PNG headers"
    console.print(
        f"checked {report['files_checked']:,} files ({report['bytes'] / 1e6:,.1f} MB; {mode}; {s['workers']} worker(s)) "
        f"in {report['timings']['total_s']:.2f} s"
        + (f"; tree digest {report['tree_digest'][:16]}" if report.get("tree_digest") else "")
    )
    if report["ok"]:
        console.print(f"[bold green]OK[/]: no errors ({report['warnings']:,} warnings)")
    else:
        console.print(f"[bold red]{report['errors']:,} errors[/], {report['warnings']:,} warnings")


@click.command("verify-dataset")
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--annotations", multiple=True, type=click.Path(path_type=Path), help="Annotation file(s); default: every file in the official format under ROOT.")
@click.option("--manifest", type=click.Path(path_type=Path), default=None, help="Compare with a manifest CSV (sizes; sha256 too with --hash).")
@click.option("--hash", "with_hash", is_flag=True, help="Stream the sha256 of every image (slower; compares with --manifest).")
@click.option("--workers", type=int, default=None, help="Worker processes (default: 1 for small trees, else min(8, CPUs)).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None, help="Write the full report as JSON ('-' for stdout).")
@handle_errors
def verify_cmd(root: Path, annotations: tuple, manifest: Path | None, with_hash: bool, workers: int | None, json_out: str | None) -> None:
    """Check a copy of the release: files complete, PNGs readable, annotations valid.

    Quick mode reads the annotations and only the header and end of each PNG (no decoding).
    A box may reach 2 px beyond the image border; a box under 2 px wide or high is a warning.
    Every problem is a finding with a stable rule id and file:line (see initbench.dataset.findings).
    Exit codes: 0 no errors (warnings allowed), 1 errors found, 2 ROOT or an argument unusable.
    """
    from initbench.dataset.verify import verify_dataset

    with progress_bar() as bar:
        report = verify_dataset(root, annotations=list(annotations) or None, manifest=manifest, with_hash=with_hash,
                                workers=workers, progress=_bar_callback(bar, "checking files"))
    if json_out:
        write_json(json_out, report)
    if json_out != "-":
        render_verify(report)
    sys.exit(0 if report["ok"] else 1)


def _q(d: dict | None, key: str) -> str:
    return "-" if not d or d.get(key) is None else f"{d[key]:.4g}"


@click.command("stats")
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--annotations", multiple=True, type=click.Path(path_type=Path), help="Annotation file(s); default: found under ROOT.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None, help="Write the statistics as JSON ('-' for stdout).")
@handle_errors
def stats_cmd(root: Path, annotations: tuple, json_out: str | None) -> None:
    """Images per domain, boxes per class and domain, boxes per image, box-size quantiles."""
    from initbench.dataset.stats import dataset_stats

    st = dataset_stats(root, annotations=list(annotations) or None)
    if json_out:
        write_json(json_out, st)
    if json_out == "-":
        return
    t = Table(title=f"images and boxes in {root}")
    for col in ("domain", "images", "paper Table 2", "car", "sign", "person", "boxes/image", "median", "max"):
        t.add_column(col, justify="left" if col == "domain" else "right")
    for d, v in st["domains"].items():
        b, bpi = v["boxes"], v["boxes_per_image"]
        t.add_row(d, f"{v['images']:,}", f"{v['expected']:,}", f"{b['car']:,}", f"{b['sign']:,}", f"{b['person']:,}",
                  "-" if bpi["mean"] is None else f"{bpi['mean']:.2f}", _q(bpi, "q50"), _q(bpi, "q100"))
    console.print(t)
    s = Table(title="box sizes (pixels): width / height / sqrt(area) quantiles")
    s.add_column("class")
    s.add_column("count", justify="right")
    s.add_column("measure")
    for q in ("q00", "q05", "q25", "q50", "q75", "q95", "q100"):
        s.add_column(q, justify="right")
    for cls, v in st["box_sizes"].items():
        if v is None:
            s.add_row(cls, "0", "-")
            continue
        for i, m in enumerate(("width", "height", "sqrt_area")):
            s.add_row(cls if i == 0 else "", f"{v['count']:,}" if i == 0 else "", m, *(_q(v[m], q) for q in ("q00", "q05", "q25", "q50", "q75", "q95", "q100")))
    console.print(s)
    hist = Table(title="images by number of boxes")
    hist.add_column("domain")
    for b in st["histogram_bins"]:
        hist.add_column(b, justify="right")
    for d, v in st["domains"].items():
        hist.add_row(d, *(str(x) for x in v["boxes_per_image"]["histogram"]))
    console.print(hist)
    if st["parse_findings"]:
        err_console.print(f"[yellow]{st['parse_findings']} annotation problems skipped; run `initbench verify-dataset {root}` for the list[/]")


def register(group: click.Group) -> None:
    """Add this module's commands to the ``initbench`` group."""
    group.add_command(synth_cmd)
    group.add_command(verify_cmd)
    group.add_command(stats_cmd)
