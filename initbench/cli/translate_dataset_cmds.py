"""``initbench translate-dataset``: a translated copy of a detection dataset (images + a COCO file of the same boxes);
under ``torchrun``, the images are shared by the processes."""

from __future__ import annotations

import click
from rich.markup import escape

from initbench.cli.common import console, err_console, handle_errors, json_option, pretrained_option, write_json
from initbench.cli.dataset_cmds import print_dropped, show_invalid, skip_invalid_option
from initbench.cli.train_cmds import RegistryChoice, _registry
from initbench.errors import UsageError


def _load_translator(method: str | None, ckpt: str | None, device: str):
    """The model and the file it came from: the one place this command takes its checkpoint from."""
    from initbench.training.checkpoints import resolve_translator

    if ckpt is None:
        raise UsageError("--ckpt / --pretrained: expected one of them (a native checkpoint, or a bundled model's name)")
    return resolve_translator(method, ckpt=ckpt, device=device), ckpt


def _plan(coco, images, data, split, split_rule, domain, skip_missing, skip_invalid):
    from initbench.translate_dataset import plan_from_coco, plan_from_data

    if (coco is None) == (data is None):
        raise UsageError("--coco / --data: give exactly one of them (--coco ANN.json --images DIR, or --data ROOT --domain D)")
    if coco is not None:
        if images is None:
            raise UsageError("--images: required with --coco (the folder its file_name entries are relative to)")
        if domain is not None:
            raise UsageError("--domain: only with --data (a COCO file's images are translated as they are listed)")
        if skip_invalid:
            raise UsageError("--skip-invalid: only with --data (a COCO file's entries are checked one by one; see --skip-missing)")
        return plan_from_coco(coco, images, skip_missing=skip_missing)
    if images is not None or skip_missing:
        raise UsageError(f"{'--images' if images is not None else '--skip-missing'}: only with --coco")
    if domain is None:
        raise UsageError("--domain: required with --data (the domain whose images to translate)")
    return plan_from_data(data, domain, split=split, split_rule=split_rule, skip_invalid=skip_invalid)


@click.command("translate-dataset")
@click.option("--method", default=None, type=RegistryChoice(_registry("method_names")),
              help="Method name (checked against the checkpoint)")
@pretrained_option(exclusive=("ckpt",))
@click.option("--ckpt", default=None, type=click.Path(dir_okay=False), help="A native initbench checkpoint")
@click.option("--coco", default=None, type=click.Path(dir_okay=False), help="A COCO instances file to translate")
@click.option("--images", default=None, type=click.Path(), help="With --coco: the folder its file_name entries are relative to")
@click.option("--data", default=None, type=click.Path(), help="Or: the root of an INIT copy (with --domain)")
@click.option("--split", default="all", show_default=True, type=click.Choice(["train", "test", "gap", "all"]),
              help="With --data: which side of the split")
@click.option("--split-rule", default="v1", show_default=True, type=click.Choice(["v1", "drives"]),
              help="With --data: the split rule (drives: the mini-INIT v2's)")
@click.option("--domain", default=None, help="With --data: the domain whose images are translated (picks the direction)")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Output folder: images/, annotations.json (COCO), translate-dataset.json (settings)")
@click.option("--direction", default=None, type=click.Choice(["a2b", "b2a"]),
              help="The model's direction (default: a2b; with --data, the one --domain's images take)")
@click.option("--num-styles", type=int, default=1, show_default=True, help="Outputs per image (K style samples)")
@click.option("--seed", type=int, default=0, show_default=True, help="Style seeds are derived from (seed, file name, k)")
@click.option("--size", type=int, default=None, help="Resize to this short side first (boxes scaled; default: keep)")
@click.option("--skip-missing", is_flag=True, help="With --coco: leave out images whose file is missing (counted in info)")
@skip_invalid_option
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda (under torchrun: each rank's cuda:LOCAL_RANK)")
@click.option("--dist-timeout", type=click.FloatRange(min=1), default=1800, show_default=True,
              help="Under torchrun: seconds a rank waits for the others before it stops with an error.")
@json_option("the summary")
@handle_errors(interrupt_hint=lambda p: f"finished images are kept; rerun the same command to resume into {p['out']}")
@show_invalid
def translate_dataset_cmd(method, ckpt, pretrained, coco, images, data, split, split_rule, domain, out, direction, num_styles, seed,
                          size, skip_missing, skip_invalid, device, dist_timeout, json_out):
    """Translate every image of a detection dataset (K styles each) into OUT/images/ and write OUT/annotations.json
    (COCO) with the same boxes. A rerun resumes; under `torchrun --nproc-per-node N -m initbench translate-dataset ...`
    the images are shared by N processes and the output is byte for byte one process's (info.world_size aside)."""
    from initbench.evaluation import sharding

    shard, device = sharding.start(device, dist_timeout)
    try:
        summary = _run(shard, method, ckpt, coco, images, data, split, split_rule, domain, out, direction, num_styles,
                       seed, size, skip_missing, skip_invalid, device, json_out)
    except Exception as exc:  # under torchrun: every rank learns which rank failed and why
        failed = sharding.fail(shard, exc)
        if not isinstance(failed, sharding.RankFailed):
            raise
        if shard.is_main:
            err_console.print(f"[bold red]error:[/] {escape(str(failed))}", highlight=False, markup=True, soft_wrap=True)
        sharding.settle(shard, failed)
        raise SystemExit(failed.exit_code) from None
    finally:
        sharding.stop(shard)
    if summary is None:  # not rank 0
        return
    print_dropped(summary["skipped_invalid"])
    if json_out:
        write_json(json_out, summary)
    missing = f"; {summary['skipped_missing']} missing image(s) left out (listed in info)" if summary["skipped_missing"] else ""
    console.print(f"translated {summary['images']} image(s) into {summary['outputs']} output(s) with {summary['boxes']} "
                  f"box(es) in {summary['seconds']:.1f} s x{summary['world_size']} process(es): {summary['written']} file(s) "
                  f"written, {summary['reused']} image(s) already done{missing}", highlight=False)
    console.print(f"annotations: {summary['annotations']}", highlight=False)


def _run(shard, method, ckpt, coco, images, data, split, split_rule, domain, out, direction, num_styles, seed, size,
         skip_missing, skip_invalid, device, json_out):
    from initbench.training.direction import resolve_direction
    from initbench.translate_dataset import direction_for_domain, translate_dataset

    plan = _plan(coco, images, data, split, split_rule, domain, skip_missing, skip_invalid)  # every check before the model loads
    translator, checkpoint = _load_translator(method, ckpt, device)
    if domain is not None:
        direction = direction_for_domain(translator, domain, direction)
    direction, task = resolve_direction(translator, direction=direction)
    kwargs = dict(num_styles=num_styles, seed=seed, direction=direction, task=task, size=size, shard=shard)
    if not shard.is_main or json_out == "-":
        return translate_dataset(translator, checkpoint, plan, out, **kwargs)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(TextColumn("[bold]translate-dataset[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=err_console, transient=True) as bar:
        tid = bar.add_task("images", total=len(plan.images))
        return translate_dataset(translator, checkpoint, plan, out, **kwargs,
                                 progress=lambda stage, done, total: bar.update(tid, completed=done, total=total))


def register(group: click.Group) -> None:
    """Add this module's commands to the ``initbench`` group."""
    group.add_command(translate_dataset_cmd)
