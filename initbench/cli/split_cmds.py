"""Commands of the split/loader area: ``manifest build|check``, ``prepare``, ``export coco|voc|boxes``."""

from __future__ import annotations

import contextlib
import sys

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from initbench.cli.common import console, err_console, handle_errors, write_json
from initbench.cli.dataset_cmds import print_dropped, show_invalid, skip_invalid_option
from initbench.dataset.release import DOMAINS


@contextlib.contextmanager
def _bar(label: str):
    """A rich progress bar on stderr; yields a ``progress(done, total)`` callback."""
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as prog:
        task = prog.add_task(label, total=None)

        def cb(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total)

        yield cb


def _print_findings(findings, limit: int = 200) -> None:
    """One line per finding (``rule  where  message``): greppable, never truncated."""
    from rich.markup import escape

    for f in findings[:limit]:
        colour = "red" if f.severity == "error" else "yellow"
        console.print(f"[{colour}]{f.rule}[/]  {escape(f.location())}  {escape(f.message)}", soft_wrap=True)
    if len(findings) > limit:
        console.print(f"... and {len(findings) - limit} more (use --json for all)")


@click.group("manifest")
def manifest_grp() -> None:
    """Split manifests: one CSV row per image with its split (train/test/gap), size, boxes, hash."""


@manifest_grp.command("build")
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="manifest CSV (.gz: compressed)")
@click.option("--split", "split", type=click.Choice(["v1", "paper", "drives"]), default="v1", show_default=True,
              help="v1: leak-free temporal blocks + guard band; paper: the paper's counts, frame-level random (leaky); "
              "drives: whole drives held out (mini-INIT v2's split)")
@click.option("--seed", default=0, show_default=True, help="seed of the paper split")
@click.option("--train-list", type=click.Path(exists=True, dir_okay=False), default=None,
              help="a split given as path lists (one '<domain>/<path>' a line): the training images")
@click.option("--test-list", type=click.Path(exists=True, dir_okay=False), default=None,
              help="with --train-list: the test images; images in neither list are marked gap")
@click.option("--hash/--no-hash", "with_hash", default=False, help="fill the sha256 column")
@click.option("--workers", type=int, default=None, help="threads (default: up to 8)")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None, help="also write the counts as JSON ('-': stdout)")
@skip_invalid_option
@handle_errors
@show_invalid
def manifest_build(root, out, split, seed, train_list, test_list, with_hash, workers, json_out, skip_invalid):
    """Write the manifest of ROOT and print per-domain counts beside the paper's.

    A ROOT with annotation errors is refused (exit 1) unless --skip-invalid: then the images
    concerned get no row, and the summary lists them."""
    from initbench.dataset.index import index_root
    from initbench.dataset.manifest import build_manifest, write_manifest
    from initbench.dataset.split import leakage, lists_assignment, share_report

    index = index_root(root, skip_invalid=skip_invalid, check_images=True)
    print_dropped(index.dropped)
    assignment = None
    if train_list or test_list:
        assignment = lists_assignment(index.image_keys, train_list, test_list, root=root)
        split = "lists"
    with _bar("manifest") as cb:
        rows = build_manifest(root, split=split, with_hash=with_hash, seed=seed, workers=workers, progress=cb,
                              assignment=assignment, index=index)
    write_manifest(out, rows)
    assign = {r.key: r.split for r in rows}
    rep = share_report(assign)
    leaks = leakage(assign)
    leaky_test = len({t for t, _ in leaks})
    summary = {"split": split, "manifest": str(out), "per_domain": rep, "leaky_test_frames": leaky_test, "rows": len(rows),
               "skip_invalid": skip_invalid, **index.drop_report()}
    if json_out == "-":  # machine output only
        write_json("-", summary)
        return
    t = Table(title=f"split {split}: {len(rows)} images -> {out}", caption="paper: Table 2 of the INIT paper (test = 15.0 %)")
    for c in ("domain", "images", "train", "test", "test%", "gap", "gap%", "paper train", "paper test"):
        t.add_column(c, justify="right" if c != "domain" else "left")
    for d in DOMAINS:
        if d not in rep:
            continue
        r = rep[d]
        t.add_row(d, str(r["total"]), str(r["train"]), str(r["test"]), f"{r['test_pct']:.1f}", str(r["gap"]), f"{r['gap_pct']:.1f}",
                  str(r["paper_train"]), str(r["paper_test"]))
    console.print(t)
    verdict = "[green]0 (no leak)[/]" if not leaky_test else f"[red]{leaky_test}[/]"
    console.print(f"leakage check: test frames with a training frame of the same drive within 20 indices: {verdict}")
    if split == "paper":
        console.print("[yellow]note:[/] the paper split is frame-level random and leaks by construction; use v1 for new results")
    if index.dropped:
        n_left = len(index.dropped_images)
        console.print(f"[yellow]{n_left} image(s) left out[/] (--skip-invalid): not in the manifest; listed above")
    if json_out:
        write_json(json_out, summary)


@manifest_grp.command("check")
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@click.argument("manifest_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--hash/--no-hash", "with_hash", default=None, help="compare sha256 (default: where the manifest has them)")
@click.option("--workers", type=int, default=None)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None, help="write the findings as JSON ('-': stdout)")
@handle_errors
def manifest_check(root, manifest_file, with_hash, workers, json_out):
    """Verify a copy of the release against a manifest (missing, extra, changed files). Exit 1 on problems."""
    from initbench.dataset.manifest import check_manifest

    with _bar("check") as cb:
        findings = check_manifest(root, manifest_file, with_hash=with_hash, workers=workers, progress=cb)
    if json_out:
        write_json(json_out, {"manifest": manifest_file, "findings": [f.to_dict() for f in findings]})
    if findings:
        _print_findings(findings)
        console.print(f"[red]{len(findings)} problem(s)[/] against {manifest_file}")
        sys.exit(1)
    console.print(f"[green]ok[/]: {root} matches {manifest_file}")


@click.command("prepare")
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--size", default=360, show_default=True, help="short side in pixels (1208 x 1920 -> 360 x 572)")
@click.option("--workers", type=int, default=None, help="threads (default: up to 8)")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None, help="write the summary as JSON ('-': stdout)")
@click.option("--redo", is_flag=True, help="rewrite every image, also into a copy made with other settings")
@skip_invalid_option
@handle_errors
@show_invalid
def prepare_cmd(root, out, size, workers, json_out, redo, skip_invalid):
    """A resized copy of ROOT in OUT (images + rescaled annotations); resumable; verified at the end.

    A ROOT with annotation or image errors is refused (exit 1) unless --skip-invalid. OUT records
    its settings in initbench-prepare.json; a rerun with another --size is refused unless --redo.
    """
    from initbench.dataset.prepare import prepare

    with _bar("prepare") as cb:
        s = prepare(root, out, size=size, workers=workers, progress=cb, skip_invalid=skip_invalid, redo=redo)
    print_dropped(s["dropped"])
    console.print(
        f"{s['images']} images ({s['written']} written, {s['skipped_existing']} already there), "
        f"{s['records']} records in {s['annotation_files']} annotation file(s) -> {s['out']} in {s['seconds']:.1f} s"
    )
    if json_out:
        write_json(json_out, s)
    if s.get("findings"):
        console.print(f"[red]the copy does not verify: {len(s['findings'])} problem(s)[/]")
        for f in s["findings"][:20]:
            console.print(f"  {f['rule']}: {f['path']}: {f['message']}")
        sys.exit(1)
    warn = f" ({s['warnings']} warning(s), e.g. boxes below the minimum size at this scale; see verify-dataset)" if s.get("warnings") else ""
    if s["dropped"]:  # the copy is consistent, but it is not a verified copy of its source
        console.print(f"[yellow]copy checked[/]: no errors in the copy, but ROOT was not clean: "
                      f"{len(s['images_left_out'])} image(s) left out (--skip-invalid; listed in "
                      f"{s['out']}/initbench-prepare.json); manifest {s['manifest']}{warn}")
        return
    console.print(f"[green]verified[/]: no errors; manifest {s['manifest']}{warn}")


@click.group("export")
def export_grp() -> None:
    """Annotations for other tools: COCO JSON, Pascal VOC XML, per-image normalised box files."""


def _export_cmd(fmt: str, out_help: str) -> click.Command:
    """``initbench export FMT``: the three formats share every option and step but the writer."""

    @export_grp.command(fmt, help=f"Write {out_help}. "
                        "A ROOT with annotation errors is refused (exit 1) unless --skip-invalid.")
    @click.argument("root", type=click.Path(exists=True, file_okay=False))
    @click.argument("out", type=click.Path())
    @click.option("--split", type=click.Choice(["train", "test", "gap", "all"]), default="all", show_default=True)
    @click.option("--domain", "domains", multiple=True, type=click.Choice(list(DOMAINS)), help="repeatable; default all")
    @click.option("--manifest", type=click.Path(exists=True, dir_okay=False), default=None,
                  help="take the split from this manifest of ROOT (default: split v1 computed from the files)")
    @click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None,
                  help="write the summary as JSON ('-': stdout)")
    @skip_invalid_option
    @handle_errors
    @show_invalid
    def cmd(root, out, split, domains, manifest, json_out, skip_invalid):
        from initbench.dataset.export import export

        s = export(fmt, root, out, split=split, domains=domains or None, manifest=manifest, skip_invalid=skip_invalid)
        print_dropped(s["dropped"])
        if json_out:
            write_json(json_out, s)
        if json_out == "-":
            return
        left = f" ({len(s['images_left_out'])} left out: --skip-invalid)" if s["dropped"] else ""
        console.print(f"{fmt}: {s['images']} images, {s['boxes']} boxes -> {s['out']}{left}")

    return cmd


export_coco = _export_cmd("coco", "COCO instances JSON (OUT = file.json) that pycocotools loads")
export_voc = _export_cmd("voc", "Pascal VOC XML, one per image, under OUT/<domain>/<path>.xml")
export_boxes = _export_cmd("boxes", "one 'cls x1 y1 x2 y2' file per image (normalised to [0, 1]) under OUT/<domain>/<path>.txt")


def register(group: click.Group) -> None:
    """Add this module's commands to the ``initbench`` group."""
    for command in (manifest_grp, prepare_cmd, export_grp):
        group.add_command(command)
