"""``initbench pretrained`` (the bundled reference models and the state of their files) and the bundler's command line
(``python -m initbench.pretrained.bundle``)."""

from __future__ import annotations

import click
from rich import box
from rich.table import Table

from initbench.cli.common import console, err_console, handle_errors, json_option, write_json

#: The paired-v1 numbers the table shows (the catalogue keeps a few more; ``--json`` gives them all).
_COLUMNS = (("l1_gt_frame", "L1"), ("lpips_gt_frame", "LPIPS"), ("domain_accuracy", "acc"))
_COLOUR = {"intact": "green", "present": "yellow", "corrupt": "red", "missing": "red"}


def _own_paired(entry: dict) -> dict:
    """The headline paired-v1 metrics of the model on its own task (empty when the catalogue holds none)."""
    for r in entry["results"]:
        if r["protocol"] == "paired-v1" and r["task"] == entry["task"]:
            return r["metrics"]
    return {}


def _num(v) -> str:
    return "-" if v is None else f"{v:.3f}"


@click.command("pretrained")
@click.option("--no-hash", is_flag=True, help="Do not hash the files (status 'present' instead of intact/corrupt).")
@json_option("the catalogue with each file's status")
@handle_errors
def pretrained_cmd(no_hash, json_out):
    """The bundled reference models (use one with --pretrained NAME): size, sha256, whether the file is intact, and
    their paired-v1 results (L1 and LPIPS to the ground truth, domain accuracy); --json gives every recorded field.
    Exit 1 when a file is missing or corrupt."""
    from initbench.pretrained.catalogue import catalogue_path, files_dir, load_catalogue
    from initbench.pretrained.resolve import inspect

    models = [{**m, **inspect(m, check_hash=not no_hash)} for m in load_catalogue()["models"]]
    if json_out:
        write_json(json_out, {"catalogue": str(catalogue_path()), "files_dir": str(files_dir()), "models": models})
    if json_out != "-":
        if not models:
            console.print(f"no reference models are bundled (catalogue {catalogue_path()})", highlight=False, soft_wrap=True)
        else:
            t = Table(title=f"bundled reference models; paired-v1 on each model's task ({files_dir()})",
                      box=box.SIMPLE_HEAD, pad_edge=False)
            t.add_column("name", no_wrap=True)
            for col in ("MiB", "sha256", "status", *(c[1] for c in _COLUMNS)):
                t.add_column(col, no_wrap=True, justify="right" if col not in ("sha256", "status") else "left")
            for m in models:
                paired = _own_paired(m)
                t.add_row(m["name"], f"{m['size_bytes'] / 1024 / 1024:.2f}", m["sha256"][:8],
                          f"[{_COLOUR[m['status']]}]{m['status']}[/]", *(_num(paired.get(k)) for k, _ in _COLUMNS))
            console.print(t)
    bad = [m for m in models if m["status"] in ("missing", "corrupt")]
    for m in bad:
        found = f"; found sha256 {m['found_sha256']}" if m["found_sha256"] else ""
        err_console.print(f"[red]{m['status']}:[/] {m['name']}: expected {m['path']} with sha256 {m['sha256']}{found}",
                          highlight=False, soft_wrap=True)
    raise SystemExit(1 if bad else 0)


@click.command("bundle")
@click.argument("run_dir", type=click.Path(exists=True))
@click.option("--name", required=True, help="BENCHMARK/TASK/METHOD[-VARIANT], e.g. mini-init-v2/sunny2night/init.")
@click.option("--command", "command", required=True, help="The exact command that trained the run (recorded).")
@click.option("--results", "results", multiple=True, required=True, type=click.Path(exists=True, dir_okay=False),
              help="A results JSON of this checkpoint (evaluate --protocol paired-v1 or v1); repeatable.")
@click.option("--train-json", type=click.Path(exists=True, dir_okay=False), default=None,
              help="The summary `initbench train --json FILE` wrote (seconds, steps, device).")
@click.option("--seconds", type=float, default=None, help="The whole run's training time (instead of the summary's).")
@click.option("--machine", default=None, help="Where it trained, e.g. '1x H200, 16 CPU cores' (default: the summary's device).")
@json_option("the new catalogue entry")
@handle_errors
def bundle_cmd(run_dir, name, command, results, train_json, seconds, machine, json_out):
    """Bundle RUN_DIR's checkpoint as a reference model: strip it to what translation needs, check it translates exactly
    as the full one, write it into the files folder and its entry into the catalogue ($INITBENCH_PRETRAINED_DIR and
    $INITBENCH_PRETRAINED_CATALOGUE override the package's)."""
    from initbench.pretrained.bundle import bundle

    entry = bundle(run_dir, name=name, command=command, results=list(results), train_json=train_json, seconds=seconds,
                   machine=machine)
    if json_out:
        write_json(json_out, entry)
    if json_out != "-":
        console.print(f"{'replaced' if entry['replaced'] else 'bundled'} {entry['name']}: {entry['path']} "
                      f"({entry['size_bytes'] / 1024 / 1024:.2f} MiB, sha256 {entry['sha256'][:16]}, "
                      f"{entry['params']:,} parameters); catalogue {entry['catalogue']}", highlight=False, soft_wrap=True)


def register(group: click.Group) -> None:
    """Add this module's commands to the ``initbench`` group (the bundler runs as a module of its own)."""
    group.add_command(pretrained_cmd)
