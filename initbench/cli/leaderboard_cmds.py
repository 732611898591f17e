"""`initbench leaderboard validate | submit | show | from-results`: machine-checked entries."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table as RichTable

from initbench.cli.common import console, err_console, handle_errors, json_option, write_json, write_text_to_stdout
from initbench.errors import UsageError
from initbench.files import write_atomic
from initbench.leaderboard.benchmarks import BENCHMARKS
from initbench.leaderboard.render import COLUMNS, build_tables, legend, render_html, render_markdown, row_cells
from initbench.leaderboard.results import build_entry
from initbench.leaderboard.store import SubmissionError, check_root, load_validated, submit
from initbench.leaderboard.validate import Report, validate_entry, validate_files


def _print_report(report: Report, verbose: bool) -> None:
    for p in report.problems:
        console.print(f"[red]problem[/] {p}", highlight=False, soft_wrap=True)
    for line in report.unchecked:
        err_console.print(f"[yellow]not checked[/] {line}", highlight=False, soft_wrap=True)
    if verbose:
        for line in report.checked:
            err_console.print(f"[green]checked[/] {line}", highlight=False, soft_wrap=True)


def print_tables(tables) -> None:
    """Ranked tables on the terminal (also used by `initbench quickstart`)."""
    if not tables:
        console.print("No entries.")
    for t in tables:
        rt = RichTable(title=t.title, caption=t.group, caption_justify="left", title_justify="left")
        for c in COLUMNS:
            rt.add_column("impl." if c == "implementation" else c, justify="right" if c in ("rank", "value", "seeds", "params") else "left",
                          overflow="fold")
        for r in t.rows:
            rt.add_row(*row_cells(r, short=True))
        console.print(rt)
        for line in legend(t):
            console.print(f"  {line}", highlight=False, soft_wrap=True)
        console.print()


@click.group("leaderboard")
def leaderboard() -> None:
    """Machine-checked leaderboard entries: validate, submit, show, build from results."""


@leaderboard.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option("--no-files", is_flag=True, help="Skip results files and checkpoints (schema and statistics only).")
@click.option("-v", "--verbose", is_flag=True, help="Also list what was checked against which file.")
@json_option("the report")
@handle_errors
def validate_cmd(files: tuple[Path, ...], no_files: bool, verbose: bool, json_out: str | None) -> None:
    """Check entry FILEs (folders: every entry below them): schema, every mean and std recomputed
    from the per-seed values (unbiased std, n - 1, as OGB) and from the results files when present,
    sha256 of results files and checkpoints, fingerprint against the benchmark's. Exit 1 on any problem."""
    paths: list[Path] = []
    for f in files:
        if f.is_dir():
            paths += sorted(p for p in f.rglob("*.json") if "results" not in p.parent.parts[len(f.parts):]
                            and not p.name.startswith("."))
        else:
            paths.append(f)
    report = validate_files(paths, check_files=not no_files)
    if json_out:
        write_json(json_out, {"files": [str(p) for p in paths], "ok": report.ok,
                              "problems": [{"file": p.file, "path": p.path, "message": p.message}
                                           for p in report.problems],
                              "checked": report.checked, "unchecked": report.unchecked})
        if json_out == "-":
            sys.exit(1 if report.problems else 0)
    _print_report(report, verbose)
    n_bad = len({p.file for p in report.problems})
    console.print(f"{len(paths)} entr{'y' if len(paths) == 1 else 'ies'}: {len(paths) - n_bad} valid, "
                  f"{n_bad} with problems ({len(report.problems)} problem(s)); "
                  f"{len(report.unchecked)} file check(s) not possible", highlight=False)
    sys.exit(1 if report.problems else 0)


@leaderboard.command("submit")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--root", default="leaderboards", show_default=True, type=click.Path(path_type=Path),
              help="The leaderboard folder.")
@handle_errors
def submit_cmd(file: Path, root: Path) -> None:
    """Validate FILE, then write it to ROOT/<benchmark>/<task>/<method>-<hash8>.json atomically
    (with its results files, content-addressed); a duplicate is refused (exit 1)."""
    try:
        done = submit(file, check_root(root))
    except SubmissionError as exc:
        if exc.report is not None:
            _print_report(exc.report, False)
        raise
    for p in done.copied_results:
        err_console.print(f"results file {p}", highlight=False)
    console.print(f"submitted {done.path}", highlight=False)


@leaderboard.command("show")
@click.option("--benchmark", type=click.Choice(sorted(BENCHMARKS)), default=None, help="Only this benchmark.")
@click.option("--task", default=None, help="Only this task (e.g. sunny2night, or average).")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "html"]), default="table",
              show_default=True)
@click.option("--root", default="leaderboards", show_default=True, type=click.Path(path_type=Path))
@click.option("--out", default="-", show_default=True, help="Where to write markdown/html ('-': stdout).")
@handle_errors(json_params=("out",))
def show_cmd(benchmark: str | None, task: str | None, fmt: str, root: Path, out: str) -> None:
    """Ranked tables per task and metric, of validated entries only (results files checked when present;
    an entry whose files are absent is marked unverified, one with a problem is left out and named on
    stderr). Entries with another protocol, split, data or metric fingerprint are shown in their own
    group and never ranked together; reported entries are marked [R]."""
    entries, report = load_validated(check_root(root), benchmark, task)
    for p in report.problems:  # only validated entries are ranked; the others are named here
        err_console.print(f"[yellow]left out[/] {p}", highlight=False, soft_wrap=True)
    tables = build_tables(entries)
    if fmt == "table":
        print_tables(tables)
        return
    text = render_markdown(tables) if fmt == "markdown" else render_html(tables)
    if out == "-":
        write_text_to_stdout(text)
    else:
        write_atomic(out, text)
        err_console.print(f"wrote {out}")


@leaderboard.command("from-results")
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--method", required=True, help="Method name; must match the results' method.")
@click.option("--code-url", required=True, help="Where the exact code lives (repository URL at a commit).")
@click.option("--command", "command_", required=True, help="The exact command that produced the checkpoints.")
@click.option("--benchmark", type=click.Choice(sorted(BENCHMARKS)), default="init-v1", show_default=True)
@click.option("--label", default=None, help="Display name (default: the method name).")
@click.option("--variant", default=None)
@click.option("--implementation", type=click.Choice(["official", "reimplementation"]),
              default="reimplementation", show_default=True)
@click.option("--params", type=int, default=None, help="Parameter count if the results do not record it.")
@click.option("--hardware", default=None, help="e.g. '1x A100 80GB' (default: the results' device).")
@click.option("--checkpoint", "checkpoints", multiple=True,
              help="Checkpoint of each seed, in RESULTS order (gives the seeds and #params, and its sha256 is checked).")
@click.option("--seeds", default=None, help="Training seed of each checkpoint, comma-separated, in RESULTS order.")
@click.option("--out", default="-", show_default=True, help="Entry file to write ('-': stdout); "
              "paths in the entry are relative to its folder.")
@handle_errors(json_params=("out",))
def from_results_cmd(results, method, code_url, command_, benchmark, label, variant, implementation, params,
                     hardware, checkpoints, seeds, out) -> None:
    """Build a measured entry from evaluator RESULTS of several seeds; validate it; exit 1 on problems."""
    entry_dir = Path(".") if out == "-" else Path(out).parent
    entry_dir.mkdir(parents=True, exist_ok=True)  # relative paths resolve through it
    seed_list = None
    if seeds is not None:
        try:
            seed_list = [int(v) for v in seeds.split(",")]
        except ValueError:
            raise UsageError(f"--seeds: expected integers separated by commas; got {seeds!r}") from None
    entry = build_entry(list(results), benchmark=benchmark, method=method, code_url=code_url, command=command_,
                        label=label, variant=variant, implementation=implementation, params=params,
                        hardware=hardware, checkpoint_paths=list(checkpoints) or None, seeds=seed_list,
                        entry_dir=entry_dir)
    report = validate_entry(entry, str(out), base_dir=entry_dir)
    _print_report(report, False)
    write_json(out, entry)
    sys.exit(1 if report.problems else 0)


def register(group: click.Group) -> None:
    """Add this module's commands to the ``initbench`` group."""
    group.add_command(leaderboard)
