"""``detection-benchmark``: check the sets, build a detector, train it, score it on every test set, write the results.

Files: the results document ``R.json`` and, beside it, one COCO results-format file per test set
(``R.test<i>.detections.json``, ``i`` from 1 in the order of the test sets) holding every detection scored, so
``COCOeval`` on that file and the test set's annotation file alone recomputes the numbers. Everything is
computed before anything is written; each file is written atomically.

The results document holds: ``benchmark`` and ``version``; ``detector`` (the fingerprint of
:func:`initbench.detection.detector.build_detector`: arch, backbone, its weights' sha256 or ``random``),
``weights_sha256`` (the trained detector's tensors), ``categories``; ``seed``, ``epochs``, ``image_size``,
``recipe``; ``train_sets`` and each of ``tests`` with the annotation file's sha256, counts, and per test set
``metrics`` (``AP``, ``AP50``, ``AP75``, the other COCO numbers, ``AP_per_class``) and its ``detections`` file
with sha256; ``train_loss`` per epoch; ``world_size``, ``machine``, ``versions``; ``timings`` (seconds per
epoch, training and scoring), the one part that differs between two runs with the same seed.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Callable

import torch

from initbench.detection.coco_data import CocoDetectionSet, CocoSet, check_categories, load_set, parse_spec
from initbench.detection.detector import build_detector, resolve_arch, size_limits
from initbench.detection.evaluate import coco_metrics, detect
from initbench.detection.train import Recipe, train_detector
from initbench.digests import sha256_tensors
from initbench.errors import InitbenchError, UsageError
from initbench.files import write_atomic
from initbench.training import distributed

BENCHMARK = "detection-benchmark"
VERSION = 1

#: progress(stage, done, total, info): stage "train" (done/total iterations of the whole run) or "detect <i>".
Progress = Callable[[str, int, int, str], None]


def detections_path(out: str | os.PathLike, index: int) -> Path:
    """Where the detections of the ``index``-th test set (from 1) go: ``R.test<i>.detections.json`` beside ``R.json``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.test{index}.detections.json")


def load_sets(train: list[str], test: list[str]) -> tuple[list[CocoSet], list[CocoSet], dict[int, str]]:
    """Parse and check every ``ANN.json:IMAGES`` (``--train`` then ``--test``) and that their categories agree."""
    if not train:
        raise UsageError("--train: expected at least one ANN.json:IMAGES training set; got none")
    if not test:
        raise UsageError("--test: expected at least one ANN.json:IMAGES test set; got none")
    train_sets = [load_set(parse_spec(s, "--train")) for s in train]
    test_sets = [load_set(parse_spec(s, "--test")) for s in test]
    categories = check_categories(train_sets + test_sets)
    return train_sets, test_sets, categories


def machine(device: torch.device) -> dict:
    """Where the run went: the device, the processor, the OS and torch's thread count."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    return {"device": f"{device.type}:{name}", "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads()}


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("initbench", "torch", "torchvision", "pycocotools", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def score(model: torch.nn.Module, test_sets: list[CocoSet], categories: dict[int, str], out: Path, *, batch_size: int,
          device: torch.device, progress: Progress | None = None) -> tuple[list[dict], list[tuple[Path, str]], list[float]]:
    """COCOeval of ``model`` on each test set: the per-set records, the detections files to write (path, text) and
    the seconds each set took."""
    tests, detections, seconds = [], [], []
    for i, s in enumerate(test_sets, 1):
        start = time.perf_counter()
        tick = (lambda done, total, i=i, s=s: progress(f"detect {i}", done, total, s.spec.ann.name)) if progress else None
        dets = detect(model, CocoDetectionSet(s), batch_size=batch_size, device=device, progress=tick)
        metrics = coco_metrics(s.coco, dets, categories)
        seconds.append(time.perf_counter() - start)
        text = json.dumps(dets) + "\n"
        path = detections_path(out, i)
        detections.append((path, text))
        tests.append({**s.summary(), "detections": path.name,
                      "detections_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "num_detections": len(dets),
                      "cocoeval_summary": metrics.pop("summary"), "metrics": metrics})
    return tests, detections, seconds


def run_detection_benchmark(train: list[str], test: list[str], out: str | os.PathLike, *, arch: str = "auto",
                            epochs: int = 12, seed: int = 0, device: str = "auto", batch_size: int = 2, size: int = 800,
                            lr: float | None = None, weights_dir: str | os.PathLike | None = None,
                            progress: Progress | None = None) -> dict | None:
    """Train a detector on the ``train`` sets (``ANN.json:IMAGES`` each) and score it on each ``test`` set.

    Returns the results document (see the module docstring) and writes it to ``out`` with the detections files;
    under ``torchrun`` every rank trains, rank 0 alone scores and writes, and the other ranks return None.
    """
    out = Path(out)
    if out.suffix != ".json":
        raise UsageError(f"--out: expected a results file name ending in .json; got {str(out)!r}")
    if out.exists() and out.is_dir():
        raise UsageError(f"--out: {out} is a folder; expected a results file name ending in .json")
    recipe = Recipe(epochs=epochs, batch_size=batch_size, lr=lr)
    recipe.check()
    size_limits(size)
    arch = resolve_arch(arch, weights_dir)
    train_sets, test_sets, categories = load_sets(train, test)
    info = distributed.setup(device)
    try:
        model, fingerprint = build_detector(arch, max(categories) + 1, size=size, seed=seed, weights_dir=weights_dir)
        dataset = torch.utils.data.ConcatDataset([CocoDetectionSet(s) for s in train_sets])
        on_train = None
        if progress and info.is_main:
            def on_train(epoch, it, iters, n_epochs, loss):
                progress("train", epoch * iters + it, iters * n_epochs, f"epoch {epoch + 1}/{n_epochs}  loss {loss:.3f}")
        start = time.perf_counter()
        trained = train_detector(model, dataset, recipe, seed=seed, info=info, progress=on_train)
        train_seconds = time.perf_counter() - start
        doc, failure = None, None
        if info.is_main:
            try:
                tests, detections, eval_seconds = score(model, test_sets, categories, out, batch_size=batch_size,
                                                        device=info.device, progress=progress)
                doc = {
                    "benchmark": BENCHMARK, "version": VERSION, "detector": fingerprint,
                    "weights_sha256": sha256_tensors(model.state_dict()),
                    "categories": {str(k): v for k, v in sorted(categories.items())},
                    "seed": seed, "epochs": epochs, "image_size": size, "recipe": trained["recipe"],
                    "iterations_per_epoch": trained["iterations_per_epoch"],
                    "train_sets": [s.summary() for s in train_sets], "tests": tests,
                    "train_loss": trained["epoch_loss"], "world_size": info.world_size,
                    "machine": machine(info.device), "versions": versions(),
                    "timings": {"epoch_seconds": trained["epoch_seconds"], "epoch_cpu_seconds": trained["epoch_cpu_seconds"],
                                "seconds_per_epoch": sum(trained["epoch_seconds"]) / len(trained["epoch_seconds"]),
                                "train_seconds": train_seconds, "eval_seconds": eval_seconds},
                }
                for path, text in detections:
                    write_atomic(path, text)
                write_atomic(out, json.dumps(doc, indent=2) + "\n")
            except BaseException as exc:
                failure = exc
        # the other ranks wait for rank 0's scoring and learn whether it failed, rather than hang
        status = distributed.gather_objects(None if failure is None else f"{type(failure).__name__}: {failure}", info)
        if failure is not None:
            raise failure
        if status[0] is not None:
            raise InitbenchError(f"rank 0 failed while scoring: {status[0]}")
        return doc
    finally:
        distributed.cleanup(info)
