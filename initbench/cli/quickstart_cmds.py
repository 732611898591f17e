"""`initbench quickstart`: the whole pipeline on the synthetic mini-INIT, with a progress bar per stage."""

from __future__ import annotations

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from initbench.cli.common import console, err_console, handle_errors, json_option, write_json
from initbench.quickstart import QuickstartOptions, run_quickstart


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        return w, h
    except ValueError:
        raise click.BadParameter(f"expected WxH (e.g. 104x64); got {text!r}", param_hint="--size") from None


@click.command("quickstart")
@click.option("--out", default="quickstart-out", show_default=True, help="Working folder (rerun to reuse stages).")
@click.option("--steps", default=QuickstartOptions.steps, show_default=True, type=int,
              help="Training steps per method.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option("--task", default=QuickstartOptions.task, show_default=True)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--per-domain", default=QuickstartOptions.per_domain, show_default=True, type=int,
              help="Synthetic images per domain.")
@click.option("--size", default="x".join(map(str, QuickstartOptions.size)), show_default=True,
              help="Synthetic image size WxH.")
@click.option("--eval-inputs", default=QuickstartOptions.eval_inputs, show_default=True, type=int)
@click.option("--eval-samples", default=QuickstartOptions.eval_samples, show_default=True, type=int)
@click.option("--classifier-epochs", default=QuickstartOptions.classifier_epochs, show_default=True, type=int)
@click.option("--lpips-backbone", type=click.Choice(["auto", "pretrained", "random"]), default="auto",
              show_default=True, help="auto: pretrained AlexNet when its file is present, else random (said so).")
@click.option("--threads", default=1, show_default=True, type=int,
              help="torch CPU threads (0: torch's default); the models are tiny, one thread is fastest on a busy CPU.")
@json_option("the stages' results")
@click.option("--submit-to", default=None, help="Also submit the entries to this leaderboard folder "
              "(e.g. leaderboards/, where `initbench leaderboard show` looks).")
@handle_errors(interrupt_hint=lambda p: "finished stages are kept; rerun the same command to continue "
               "(an interrupted training resumes from its last checkpoint)")
def quickstart(out, steps, device, task, seed, per_domain, size, eval_inputs, eval_samples, classifier_epochs,
               lpips_backbone, threads, json_out, submit_to) -> None:
    """The whole pipeline on the synthetic mini-INIT: synthesise, verify, train INIT and MUNIT (tiny),
    train the small domain classifier, evaluate both, write mini-init leaderboard entries, rank them,
    and write OUT/report.html. A rerun reuses finished stages; Ctrl-C leaves nothing half-written."""
    opts = QuickstartOptions(out=out, steps=steps, device=device, task=task, seed=seed, per_domain=per_domain,
                             size=_size(size), eval_inputs=eval_inputs, eval_samples=eval_samples,
                             classifier_epochs=classifier_epochs, lpips_backbone=lpips_backbone,
                             submit_to=submit_to, threads=threads)
    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("{task.fields[info]}"), console=err_console, transient=False)
    ids: dict[str, int] = {}

    def on_stage(event: str, stage: str, detail: str) -> None:
        if event == "reused":
            bars.console.print(f"[dim]reused[/] {stage}: {detail}", highlight=False)
        elif event == "start":
            ids[stage] = bars.add_task(f"{stage:<18}", total=None, info="")
        elif event == "done":
            if stage in ids:
                total = next((t.total for t in bars.tasks if t.id == ids[stage]), None) or 1
                bars.update(ids[stage], total=total, completed=total)
            bars.console.print(f"[green]done[/] {stage}: {detail}", highlight=False)

    def progress(stage: str, done: int, total: int, info: str) -> None:
        if stage in ids:
            bars.update(ids[stage], total=total, completed=done, info=info)

    with bars:
        result = run_quickstart(opts, progress=progress, on_stage=on_stage)
    from initbench.cli.leaderboard_cmds import print_tables
    from initbench.leaderboard.render import build_tables
    from initbench.leaderboard.store import load_entries

    st = result["stages"]
    for m in opts.methods:
        note = st[f"evaluate-{m}"].get("lpips_note")
        if st[f"evaluate-{m}"].get("lpips_backbone") == "random":
            err_console.print(f"[yellow]note[/] {note}", highlight=False, soft_wrap=True)
            break
    headline = ("lpips_diversity", "cis_exp", "is_exp")  # the paper's three; the rest via `leaderboard show`
    print_tables([t for t in build_tables(load_entries(f"{out}/leaderboards", "mini-init", task))
                  if t.metric in headline])
    total = sum(result["seconds"].values())
    console.print(f"report: {st['report']['path']}", highlight=False)
    console.print(f"entries: {', '.join(st['leaderboard']['entries'].values())}", highlight=False)
    if st["leaderboard"]["submitted_to"]:
        console.print(f"also submitted: {', '.join(st['leaderboard']['submitted_to'].values())}", highlight=False)
    console.print(f"all metrics: initbench leaderboard show --root {out}/leaderboards --benchmark mini-init",
                  highlight=False)
    if json_out:
        write_json(json_out, result)
    console.print(f"time: {total:.0f} s this run"
                  + (f" (reused: {', '.join(result['reused'])})" if result["reused"] else ""), highlight=False)


def register(group: click.Group) -> None:
    """Add this module's commands to the ``initbench`` group."""
    group.add_command(quickstart)
