"""`initbench report`: one self-contained HTML report from results files (tables with intervals, grids,
loss curves, style space), progress on stderr."""

from __future__ import annotations

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from initbench.cli.common import err_console, handle_errors, json_option, write_json


@click.command("report")
@click.argument("results", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The HTML file to write (atomically).")
@click.option("--ckpt", "ckpts", multiple=True, metavar="METHOD=PATH",
              help="A native checkpoint per method, for the grids and the style-space figure (repeatable).")
@click.option("--data", type=click.Path(file_okay=False, exists=True), default=None,
              help="The dataset tree the results were computed on (inputs, ground_truth/, latents.jsonl).")
@click.option("--run", "runs", multiple=True, type=click.Path(file_okay=False, exists=True),
              help="A training run folder whose losses.csv is drawn (repeatable).")
@click.option("--grid-inputs", default=3, show_default=True, type=click.IntRange(1, 50), help="Inputs per grid.")
@click.option("--grid-styles", default=3, show_default=True, type=click.IntRange(1, 20), help="Translations per input and method.")
@click.option("--factor", default="ambient", show_default=True, help="The latent factor of latents.jsonl the style space is coloured by.")
@click.option("--style-images", default=24, show_default=True, type=click.IntRange(3, 2000),
              help="Test images per domain encoded for the style-space figure.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seeds the bootstrap and the style-space image draw.")
@click.option("--resamples", default=2000, show_default=True, type=click.IntRange(1, 10**6), help="Bootstrap resamples.")
@click.option("--device", default="cpu", show_default=True)
@json_option("a summary (files, intervals, grids, figures)")
@handle_errors
def report(results, out, ckpts, data, runs, grid_inputs, grid_styles, factor, style_images, seed, resamples, device,
           json_out) -> None:
    """Write one self-contained HTML report for RESULTS files (protocols v1 and paired-v1): tables per metric
    with 95 % bootstrap intervals over inputs (and over seeds), per-region and per-class tables, grids of
    translations beside the ground truth, loss curves and the style-space figure."""
    from initbench.report.document import ReportOptions, write_report
    from initbench.report.translations import parse_ckpt_options

    opts = ReportOptions(ckpts=parse_ckpt_options(ckpts), data=data, runs=list(runs), grid_inputs=grid_inputs,
                         grid_styles=grid_styles, seed=seed, n_resamples=resamples, factor=factor,
                         style_images=style_images, device=device)
    bars = Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err_console, transient=True)
    ids: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in ids:
            ids[stage] = bars.add_task(stage, total=total)
        bars.update(ids[stage], completed=done, total=total)

    with bars:
        summary = write_report(results, out, opts, progress=progress)
    err_console.print(f"[green]wrote[/] {out} ({summary['bytes']:,} bytes): {len(summary['results'])} results, "
                      f"{len(summary['sections'])} section(s), {len(summary['loss_runs'])} run(s), "
                      f"{len(summary['style_space'])} style-space figure(s)", highlight=False)
    if json_out:
        write_json(json_out, summary)


def register(group: click.Group) -> None:
    group.add_command(report)
