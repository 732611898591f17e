"""``initbench detection-benchmark``: train a torchvision detector on COCO sets and score it with COCOeval."""

from __future__ import annotations

import os

import click
from rich.table import Table

from initbench.cli.common import console, err_console, handle_errors, json_option, write_json


@click.command("detection-benchmark")
@click.option("--train", "train", multiple=True, metavar="ANN.json:IMAGES", required=True,
              help="A training set: COCO annotation file, a colon, its image folder (repeatable: the sets are joined)")
@click.option("--test", "test", multiple=True, metavar="ANN.json:IMAGES", required=True,
              help="A test set, scored on its own (repeatable)")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="Results file R.json; the detections go beside it as R.test<i>.detections.json")
@click.option("--arch", default="auto", show_default=True,
              type=click.Choice(["auto", "resnet50-fpn", "mobilenet-v3-fpn", "small", "tiny"]),
              help="auto: resnet50-fpn when the ImageNet ResNet-50 file is intact, else mobilenet-v3-fpn (random)")
@click.option("--epochs", type=int, default=12, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Weights, data order and proposal sampling")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N")
@click.option("--batch-size", type=int, default=2, show_default=True, help="Images per step (per process under torchrun)")
@click.option("--size", type=int, default=800, show_default=True,
              help="Short side the detector resizes images to (long side at most 1333/800 of it)")
@click.option("--lr", type=float, default=None, help="Learning rate (default: 0.02 per 16 images of the global batch)")
@click.option("--weights-dir", default=None, type=click.Path(file_okay=False),
              help="Folder holding resnet50-0676ba61.pth (default: the torch hub cache)")
@click.option("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
@json_option("the results document")
@handle_errors
def detection_benchmark_cmd(train, test, out, arch, epochs, seed, device, batch_size, size, lr, weights_dir, threads,
                            json_out):
    """Train a Faster R-CNN on the --train sets and score it on each --test set with pycocotools' COCOeval."""
    import torch

    from initbench.detection.benchmark import run_detection_benchmark

    if threads:
        torch.set_num_threads(threads)
    main_rank = int(os.environ.get("RANK", "0")) == 0
    if main_rank and json_out != "-":
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("[bold]{task.description}[/]"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=err_console, transient=True) as bar:
            tasks: dict[str, int] = {}

            def progress(stage, done, total, info):
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total, info="")
                bar.update(tasks[stage], completed=done, total=total, info=info)

            doc = run_detection_benchmark(list(train), list(test), out, arch=arch, epochs=epochs, seed=seed, device=device,
                                          batch_size=batch_size, size=size, lr=lr, weights_dir=weights_dir,
                                          progress=progress)
    else:
        doc = run_detection_benchmark(list(train), list(test), out, arch=arch, epochs=epochs, seed=seed, device=device,
                                      batch_size=batch_size, size=size, lr=lr, weights_dir=weights_dir)
    if doc is None:  # not rank 0
        return
    if json_out:
        write_json(json_out, doc)
    det = doc["detector"]
    console.print(f"trained [bold]{det['arch']}[/] (backbone {det['backbone']}, weights {det['backbone_weights'][:16]}) "
                  f"for {doc['epochs']} epoch(s), {doc['timings']['seconds_per_epoch']:.1f} s/epoch on "
                  f"{doc['machine']['device']} x{doc['world_size']}")
    names = list(doc["categories"].values())
    t = Table(title="COCOeval (bbox)")
    for col in ("test set", "AP", "AP50", "AP75", *(f"AP {n}" for n in names)):
        t.add_column(col, overflow="fold")
    for s in doc["tests"]:
        m = s["metrics"]
        t.add_row(s["annotations"], *(f"{m[k]:.4f}" for k in ("AP", "AP50", "AP75")),
                  *(f"{m['AP_per_class'][n]:.4f}" for n in names))
    console.print(t)
    console.print(f"results: {out}; detections: " + ", ".join(s["detections"] for s in doc["tests"]))


def register(group: click.Group) -> None:
    """Add this module's commands to the ``initbench`` group."""
    group.add_command(detection_benchmark_cmd)
