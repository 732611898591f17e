"""Dataset commands: ``synth``, ``verify-dataset``, ``stats``. Parse, call the library, render."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from initbench.cli.common import console, err_console, handle_errors, write_json
from initbench.errors import UsageError


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
@click.option("--size", "size_text", default=None, show_default="256x161", help="WIDTHxHEIGHT of every image (the release is 1920x1208).")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed and arguments, byte-identical files.")
@click.option("--overwrite", is_flag=True, help="Write into OUT even if it is not empty (files of the plan are replaced; nothing is deleted).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None, help="Write the summary as JSON ('-' for stdout).")
@handle_errors
def synth_cmd(out: Path, per_domain: int | None, size_text: str | None, seed: int, overwrite: bool, json_out: str | None) -> None:
    """Draw the synthetic mini-INIT into OUT, in the release's exact layout and text format.

    Four domains (sunny, night, cloudy, rainy) of procedurally drawn street frames with exact
    car / speed-limit-sign / person boxes; several drives per domain with consecutive frames,
    drives shared between domains; annotations in OUT/batch1_anno/<domain>1.txt.
    """
    from initbench.dataset import synthetic

    per_domain = synthetic.DEFAULT_PER_DOMAIN if per_domain is None else per_domain
    size = synthetic.DEFAULT_SIZE if size_text is None else synthetic.parse_size(size_text)
    if per_domain < 1:
        raise UsageError(f"--per-domain: expected an integer >= 1, got {per_domain}")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise UsageError(f"OUT: {out} exists and is not empty; choose a new folder or pass --overwrite")
    with progress_bar() as bar:
        summary = synthetic.synthesize(out, per_domain=per_domain, size=size, seed=seed, progress=_bar_callback(bar, "drawing"))
    table = Table(title=f"synthetic mini-INIT in {out} ({size[0]}x{size[1]}, seed {seed})")
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
    if json_out:
        write_json(json_out, summary)


def register(group: click.Group) -> None:
    """Add this module's commands to the ``initbench`` group."""
    group.add_command(synth_cmd)
