"""`initbench quickstart`: the bundled models, the floors and a short run on mini-INIT v2, a progress bar per stage."""

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
        raise click.BadParameter(f"expected WxH (e.g. 256x160); got {text!r}", param_hint="--size") from None


#: (metric, column): errors to the truth (best of the 10 styles, guided, mean over styles), then accuracies.
HEADLINE = (("l1_gt_frame_best", "L1"), ("l1_gt_objects_best", "L1 obj"), ("lpips_gt_frame_best", "LPIPS"),
            ("l1_gt_frame_guided", "L1 guid"), ("l1_gt_frame", "L1 mean"), ("domain_accuracy", "dom"),
            ("object_domain_accuracy", "obj dom"))


def _fmt(v) -> str:
    return f"{v:.3f}" if isinstance(v, (int, float)) else "-"


def print_headline(result: dict, task: str) -> None:
    """One table: every subject's headline paired-v1 numbers (errors: lower is better; best of K samples)."""
    from rich.table import Table

    st = result["stages"]
    t = Table(title=f"mini-INIT v2 · {task} · protocol paired-v1", title_justify="left", caption_justify="left",
              caption="errors to the ground truth (lower is better): L1, L1 obj, LPIPS best of 10 styles; L1 guid: "
              "style from the truth; L1 mean: over styles. dom / obj dom: share of outputs / objects a classifier "
              "puts in the target domain. * bundled model")
    t.add_column("subject", no_wrap=True)
    t.add_column("steps", justify="right")
    for _, title in HEADLINE:
        t.add_column(title, justify="right")
    for s in QuickstartOptions(from_scratch="train-short" not in st).subjects:
        ev = st.get(f"evaluate-{s}")
        if ev is None:
            continue
        model = st.get("train-short" if s == "short-init" else f"model-{s}", {})
        who = s + ("*" if model.get("pretrained") else "")
        t.add_row(who, str(model.get("steps", "-")), *(_fmt(ev["metrics"].get(k)) for k, _ in HEADLINE))
    console.print(t)


@click.command("quickstart")
@click.option("--out", default="quickstart-out", show_default=True, help="Working folder (rerun to reuse stages).")
@click.option("--from-scratch", is_flag=True,
              help="Train INIT, MUNIT and CycleGAN with the small recipe instead of using the bundled models "
              "(about 5000 steps each; see README).")
@click.option("--scratch-steps", default=None, type=int, help="Steps of each --from-scratch model (default: the recipe's).")
@click.option("--steps", default=QuickstartOptions.steps, show_default=True, type=int,
              help="Steps of the short INIT run that shows training works.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option("--task", default=QuickstartOptions.task, show_default=True)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--per-domain", default=QuickstartOptions.per_domain, show_default=True, type=int,
              help="Synthetic images per domain.")
@click.option("--size", default="x".join(map(str, QuickstartOptions.size)), show_default=True,
              help="Synthetic image size WxH.")
@click.option("--classifier-epochs", default=None, type=int, help="Epochs of the small classifiers (default: their recipe's).")
@click.option("--lpips-backbone", type=click.Choice(["auto", "pretrained", "random"]), default="auto",
              show_default=True, help="auto: pretrained AlexNet when its file is present, else random (said so).")
@click.option("--threads", default=0, show_default=True, type=int, help="torch CPU threads (0: torch's default).")
@json_option("the stages' results")
@click.option("--submit-to", default=None, help="Also submit the entries to this leaderboard folder "
              "(e.g. leaderboards/, where `initbench leaderboard show` looks).")
@handle_errors(interrupt_hint=lambda p: "finished stages are kept; rerun the same command to continue "
               "(an interrupted training resumes from its last checkpoint)")
def quickstart(out, from_scratch, scratch_steps, steps, device, task, seed, per_domain, size, classifier_epochs,
               lpips_backbone, threads, json_out, submit_to) -> None:
    """The bundled INIT, MUNIT and CycleGAN models scored against the ground truth of the synthetic mini-INIT v2
    (protocol paired-v1) beside the identity and colour-transfer floors, a short INIT training run, mini-init-v2
    leaderboard entries and OUT/report.html. A rerun reuses finished stages; Ctrl-C leaves nothing half-written."""
    opts = QuickstartOptions(out=out, from_scratch=from_scratch, scratch_steps=scratch_steps, steps=steps, device=device,
                             task=task, seed=seed, per_domain=per_domain, size=_size(size),
                             classifier_epochs=classifier_epochs, lpips_backbone=lpips_backbone, submit_to=submit_to,
                             threads=threads)
    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("{task.fields[info]}"), console=err_console, transient=False)
    ids: dict[str, int] = {}

    def on_stage(event: str, stage: str, detail: str) -> None:
        if event == "reused":
            bars.console.print(f"[dim]reused[/] {stage}: {detail}", highlight=False)
        elif event == "start":
            ids[stage] = bars.add_task(f"{stage:<22}", total=None, info="")
        elif event == "done":
            if stage in ids:
                total = next((t.total for t in bars.tasks if t.id == ids[stage]), None) or 1
                bars.update(ids[stage], total=total, completed=total)
            bars.console.print(f"[green]done[/] {stage}: {detail}", highlight=False)
            if stage == "report-models" and not from_scratch:
                bars.console.print("[bold]the models' translations beside the ground truth: "
                                   f"{out}/report.html[/] (the short run follows)", highlight=False)

    def progress(stage: str, done: int, total: int, info: str) -> None:
        if stage in ids:
            bars.update(ids[stage], total=total, completed=done, info=info)

    with bars:
        result = run_quickstart(opts, progress=progress, on_stage=on_stage)
    st = result["stages"]
    note = st["evaluate-init"].get("lpips_note")
    if st["evaluate-init"].get("lpips_backbone") == "random":
        err_console.print(f"[yellow]note[/] {note}", highlight=False, soft_wrap=True)
    print_headline(result, task)
    total = sum(result["seconds"].values())
    console.print(f"report: {st.get('report', st['report-models'])['path']}", highlight=False)
    console.print(f"entries: {len(st['leaderboard']['entries'])} in {out}/leaderboards "
                  f"(initbench leaderboard show --root {out}/leaderboards --benchmark mini-init-v2)", highlight=False)
    if st["leaderboard"]["submitted_to"]:
        console.print(f"also submitted: {', '.join(st['leaderboard']['submitted_to'].values())}", highlight=False)
    if json_out:
        write_json(json_out, result)
    console.print(f"time: {total:.0f} s this run"
                  + (f" (reused: {', '.join(result['reused'])})" if result["reused"] else ""), highlight=False)


def register(group: click.Group) -> None:
    """Add this module's commands to the ``initbench`` group."""
    group.add_command(quickstart)
