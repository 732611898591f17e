"""``initbench export-official``: a model trained here, written in its authors' checkpoint format."""

from __future__ import annotations

import click
from rich.table import Table

from initbench.cli.common import console, handle_errors, pretrained_option, write_json


@click.command("export-official")
@click.option("--method", required=True, help="cyclegan, unit, munit or drit.")
@pretrained_option(required=True)
@click.option("--ckpt", default=None, type=click.Path(dir_okay=False), help="A native initbench checkpoint (RUN/checkpoint.pt).")
@click.option(
    "--out",
    required=True,
    type=click.Path(),
    help="Output: a .pt file (munit/unit: gen_XXXXXXXX.pt {'a','b'}; drit: the dict with enc_c, enc_a, gen); "
    "for cyclegan a directory (latest_net_G_A/G_B/D_A/D_B.pth) or a .pth file (the a2b generator alone).",
)
@click.option("--no-ema", is_flag=True, help="Export the raw weights instead of the EMA weights (when the run kept an EMA).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None, help="Write the report as JSON ('-' for stdout).")
@handle_errors
def export_official_cmd(method: str, ckpt: str, pretrained, out: str, no_ema: bool, json_out: str | None) -> None:
    """Write the model in CKPT in the authors' own format, then load it back strictly and check every tensor.

    The result runs in the authors' code: CycleGAN's test.py (--model test --no_dropout, or the
    G_A/G_B pair), MUNIT's and UNIT's test.py --checkpoint, DRIT's test.py --resume.
    """
    from initbench.errors import CheckpointError
    from initbench.methods.base import get_method
    from initbench.methods.official import export_checked
    from initbench.training.checkpoints import load_translator

    get_method(method)  # unknown names fail with the list of methods
    translator = load_translator(ckpt, use_ema=not no_ema)
    if translator.name != method:
        raise CheckpointError(f"--ckpt {ckpt}: holds a {translator.name!r} model; --method says {method!r}")
    report = export_checked(translator, out)
    report["ckpt"] = str(ckpt)
    if pretrained is not None:
        report["pretrained"] = pretrained.record()
    if json_out is not None:
        write_json(json_out, report)
        if json_out == "-":
            return
    table = Table(title=f"{method}: exported in the authors' format ({report['tensors_checked']} tensors checked after reloading)")
    table.add_column("file", overflow="fold")
    table.add_column("bytes", justify="right")
    table.add_column("sha256 (first 16)")
    for f in report["files"]:
        table.add_row(f["path"], f"{f['bytes']:,}", f["sha256"][:16])
    console.print(table)


def register(group: click.Group) -> None:
    """Add this module's commands to the ``initbench`` group."""
    group.add_command(export_official_cmd)
