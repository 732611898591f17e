"""``initbench train`` (the one trainer, every method; under ``torchrun`` for several GPUs/processes) and
``initbench translate`` (exact generator outputs as PNG)."""

from __future__ import annotations

import os
from typing import Callable

import click

from initbench.cli.common import console, err_console, handle_errors, json_option, pretrained_option, write_json
from initbench.cli.dataset_cmds import print_dropped, show_invalid, skip_invalid_option
from initbench.errors import UsageError


def _parse_sets(values: tuple[str, ...]) -> dict:
    import json

    from initbench.errors import UsageError

    out = {}
    for item in values:
        if "=" not in item:
            raise UsageError(f"--set: expected FIELD=VALUE; got {item!r}")
        key, raw = item.split("=", 1)
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def _resume_hint(out: str) -> str:
    """What Ctrl-C leaves: the last checkpoint (resumable) or, before the first one, nothing to resume."""
    if os.path.isfile(os.path.join(out, "checkpoint.pt")):
        return f"the last checkpoint is kept; resume with: initbench train --out {out} --resume"
    return f"no checkpoint was written yet in {out}; start the run again (with the same options)"


class RegistryChoice(click.Choice):
    """A :class:`click.Choice` whose choices are read from the method registry each time they are needed, not
    fixed when this module is imported: a method registered later (its own module, a test) is offered too,
    and ``initbench --help`` does not import torch."""

    def __init__(self, names: Callable[[], list[str]]):
        self._names = names
        super().__init__(())

    @property  # type: ignore[override]
    def choices(self) -> tuple[str, ...]:
        return tuple(self._names())

    @choices.setter
    def choices(self, _value) -> None:  # click.Choice.__init__ assigns it; the registry is the source
        pass


def _registry(what: str) -> Callable[[], list[str]]:
    def names() -> list[str]:
        from initbench.methods import base

        return getattr(base, what)()

    return names


@click.command("train")
@click.option("--method", default=None, type=RegistryChoice(_registry("trainable_method_names")),
              help="A registered method with training presets (a new run needs it; --resume reads the run's own)")
@click.option("--data", "data", default=None, help="Root of an INIT copy (sunny/, night/, ...). Not needed with --resume.")
@click.option("--task", default="sunny2night", show_default=True, help="<source>2<target>, e.g. sunny2night")
@click.option("--preset", default="tiny", show_default=True, type=RegistryChoice(_registry("preset_names")),
              help="Sizes and schedule (the method's registered presets)")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Run folder (checkpoint.pt, losses.csv, samples/)")
@click.option("--variant", default=None, type=RegistryChoice(_registry("variant_names")),
              help="Method variant (each method accepts its own registered variants)")
@click.option("--max-steps", type=int, default=None, help="Total steps (default: the preset's; with --resume the run's own)")
@click.option("--resume", is_flag=True, help="Continue the run in --out where its checkpoint stopped, with its stored settings "
              "(options given now override them; --data must hold the same training images)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--split-rule", default=None, type=click.Choice(["v1", "drives"]),
              help="Which frames are train: v1 (the release's rule, default) or drives (mini-INIT v2: the test drives "
              "of protocol paired-v1 stay out of training)")
@click.option("--batch-size", type=int, default=None)
@click.option("--num-workers", type=int, default=None)
@click.option("--log-every", type=int, default=None)
@click.option("--sample-every", type=int, default=None)
@click.option("--checkpoint-every", type=int, default=None)
@click.option("--ema", "ema", type=float, default=None, help="EMA decay of the generator weights (0: off)")
@click.option("--amp", default="auto", show_default=True, type=click.Choice(["auto", "off", "bf16", "fp16"]))
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N")
@click.option("--threads", type=int, default=None, help="CPU threads for torch (default: torch's; 1 is best for tiny models on a busy CPU)")
@click.option("--set", "sets", multiple=True, help="Method config field override FIELD=VALUE (JSON value), repeatable")
@click.option("--shuffle-boxes", is_flag=True, help="Control: each training image gets the boxes of another image of its "
              "domain (a seeded permutation without fixed points, new each epoch; recorded)")
@json_option("the run summary")
@skip_invalid_option
@handle_errors(interrupt_hint=lambda p: _resume_hint(p["out"]))
@show_invalid
def train_cmd(method, data, task, preset, out, variant, max_steps, resume, seed, split_rule, batch_size, num_workers, log_every,
              sample_every, checkpoint_every, ema, amp, device, threads, sets, shuffle_boxes, json_out, skip_invalid):
    """Train a method on domain pairs; writes RUN/checkpoint.pt, config.json, losses.csv, samples/."""
    from initbench.training.config import preset_config, resume_config
    from initbench.training.trainer import train

    values = dict(method=method, data=data, task=task, preset=preset, variant=variant, max_steps=max_steps, seed=seed,
                  split_rule=split_rule,
                  batch_size=batch_size, num_workers=num_workers, log_every=log_every, sample_every=sample_every,
                  checkpoint_every=checkpoint_every, ema_decay=ema, amp=amp, device=device, threads=threads,
                  method_overrides=_parse_sets(sets) if sets else None, skip_invalid=skip_invalid,
                  shuffle_boxes=shuffle_boxes)
    if resume:  # the stored settings, except those given on this command line
        option_of = {"ema_decay": "ema", "method_overrides": "sets"}
        ctx = click.get_current_context()
        given = {k: v for k, v in values.items()
                 if v is not None and ctx.get_parameter_source(option_of.get(k, k)) != click.core.ParameterSource.DEFAULT}
        cfg = resume_config(out, given)
    else:
        if method is None:
            raise UsageError("--method: a new run needs a method (e.g. --method init); only --resume reads it from the run")
        cfg = preset_config(preset, out=out, **{k: v for k, v in values.items() if k != "preset"})
    main_rank = int(os.environ.get("RANK", "0")) == 0
    if main_rank and json_out != "-":  # a machine reading stdout gets the document, not a bar on stderr
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("[bold]train[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=err_console,
                      transient=True) as bar:  # gone when the run ends, also on an error
            tid = bar.add_task(method, total=cfg.max_steps, info="")

            def progress(done, total, scalars, seconds):
                loss = scalars.get("gen/total", scalars.get(next(iter(scalars), ""), float("nan")))
                bar.update(tid, completed=done, info=f"{seconds:.2f} s/step  loss {loss:.3f}")

            summary = train(cfg, resume=resume, progress=progress)
    else:
        summary = train(cfg, resume=resume)
    if not main_rank:
        return
    if json_out:
        write_json(json_out, summary)
    print_dropped(summary["dropped"])
    console.print(f"trained [bold]{summary['method']}[/] to step {summary['steps']} (from {summary['resumed_from']}) "
                  f"in {summary['seconds']:.1f} s on {summary['device']} x{summary['world_size']}")
    console.print(f"checkpoint: {summary['checkpoint']}")
    last = summary["last_losses"]
    if last:
        console.print("last losses: " + ", ".join(f"{k} {v:.4f}" for k, v in last.items()))


@click.command("translate")
@click.option("--method", default=None, type=RegistryChoice(_registry("method_names")),
              help="Method name (checked against a native checkpoint; required with --official-ckpt)")
@pretrained_option(exclusive=("ckpt", "official_ckpt"))
@click.option("--ckpt", default=None, type=click.Path(dir_okay=False), help="A native initbench checkpoint")
@click.option("--official-ckpt", default=None, type=click.Path(dir_okay=False), help="The authors' released file")
@click.option("--config", "config", default=None, help="The authors' YAML config (with --official-ckpt)")
@click.option("--ckpt-task", default=None, help="The task the --official-ckpt file was trained for (sunny2night: a = sunny, "
              "b = night); needed with --task")
@click.option("--input", "input_path", required=True, type=click.Path(), help="An image or a folder of images")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False))
@click.option("--num-styles", type=int, default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--task", default=None, help="Translate for this task: the model's own (a2b) or its reverse (b2a); "
              "default: the model's own")
@click.option("--direction", default=None, type=click.Choice(["a2b", "b2a"]), help="The model's direction, instead of --task")
@click.option("--size", type=int, default=None, help="Resize inputs to this short side first (default: keep)")
@click.option("--style-from", "style_from", default=None, type=click.Path(dir_okay=False),
              help="A target-domain guide image: each input gets one OUT/<stem>_guided.png in its style "
              "(methods that take a style from an image: init, munit, drit)")
@click.option("--style-boxes", "style_boxes", default=None, type=click.Path(dir_okay=False),
              help="The guide's boxes (a file of `initbench export boxes`); the inputs are taken to show the same "
              "objects, and INIT gives each the style of the guide's crop")
@click.option("--device", default="cpu", show_default=True)
@json_option("the list of written files")
@handle_errors
def translate_cmd(method, ckpt, pretrained, official_ckpt, config, ckpt_task, input_path, out, num_styles, seed, task,
                  direction, size, style_from, style_boxes, device, json_out):
    """Translate images; writes OUT/<stem>_s<k>.png (or <stem>_guided.png with --style-from) with the exact outputs
    (no min-max stretching)."""
    from initbench.training.checkpoints import resolve_translator
    from initbench.training.direction import resolve_direction
    from initbench.translate import check_options, list_inputs, read_guide, translate_files, translate_files_guided

    translator = resolve_translator(method, ckpt=ckpt, official_ckpt=official_ckpt, config=config, device=device,
                                    ckpt_task=ckpt_task, need_task=task is not None)
    direction, task = resolve_direction(translator, task=task, direction=direction)
    check_options(translator, num_styles, size, style_from, style_boxes)
    inputs = list_inputs(input_path)
    guide = read_guide(style_from, style_boxes) if style_from is not None else None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("[bold]translate[/]"), BarColumn(), MofNCompleteColumn(), console=err_console,
                  disable=json_out == "-") as bar:
        tid = bar.add_task("translate", total=len(inputs))
        step = lambda done, total: bar.update(tid, completed=done)  # noqa: E731
        if guide is not None:
            records = translate_files_guided(translator, inputs, out, guide, seed=seed, direction=direction, size=size,
                                             progress=step)
        else:
            records = translate_files(translator, inputs, out, num_styles=num_styles, seed=seed, direction=direction,
                                      size=size, progress=step)
    write_json(os.path.join(out, "translate.json"), {"method": translator.name, "seed": seed, "model_task": translator.task,
                                                     "task": task, "direction": direction, "style_from": style_from,
                                                     "files": records,
                                                     **({"pretrained": pretrained.record()} if pretrained else {})})
    if json_out:
        write_json(json_out, records)
    console.print(f"wrote {len(records)} image(s) from {len(inputs)} input(s) to {out}")


def register(group: click.Group) -> None:
    """Add this module's commands to the ``initbench`` group."""
    group.add_command(train_cmd)
    group.add_command(translate_cmd)
