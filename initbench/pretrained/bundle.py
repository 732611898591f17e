"""Bundle a training run as a reference model: ``python -m initbench.pretrained.bundle RUN_DIR --name NAME ...``.

:func:`bundle` strips the run's checkpoint to inference (:mod:`initbench.training.inference_only`),
checks that the stripped model translates exactly as the full one (same weights, same outputs on a
seeded probe in each direction), checks each results file was made by this model (its ``weights_sha256``),
refuses a file over :data:`MAX_FILE_BYTES` and a catalogue over :data:`MAX_TOTAL_BYTES`, then writes the
file and the catalogue, each atomically. An entry of the same name is replaced.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import torch

from initbench.digests import results_digest, sha256_tensors
from initbench.errors import CheckpointError, DataFormatError, UsageError
from initbench.files import read_json, write_atomic
from initbench.pretrained.catalogue import (HEADLINE, MAX_FILE_BYTES, MAX_TOTAL_BYTES, catalogue_path, catalogue_problems,
                                            file_name, files_dir, load_catalogue, model_name)

_MIB = 1024 * 1024


def bundle(run: str | os.PathLike, *, name: str, command: str, results: list[str | os.PathLike],
           train_json: str | os.PathLike | None = None, seconds: float | None = None, machine: str | None = None,
           directory: str | os.PathLike | None = None, catalogue: str | os.PathLike | None = None) -> dict[str, Any]:
    """Add the model of ``run`` (a run folder or its ``checkpoint.pt``) to the catalogue as ``name``; returns the entry.

    ``results``: results JSON files of this model (``evaluate --protocol paired-v1`` / ``v1``); ``train_json``: the
    summary ``initbench train --json`` wrote (seconds, steps, device); ``seconds`` overrides its time (needed when the
    run was resumed: the summary then times the last part only); ``machine``: where it trained (default: the
    summary's device). ``directory`` / ``catalogue``: default :func:`files_dir` / :func:`catalogue_path`.
    """
    from initbench.methods.base import count_parameters
    from initbench.training.checkpoints import build_from_checkpoint, load_checkpoint
    from initbench.training.inference_only import strip_checkpoint

    ckpt = _checkpoint_file(run)
    blob = load_checkpoint(ckpt, option="RUN_DIR")
    benchmark, task, variant = check_name(name, blob)
    stripped = strip_checkpoint(blob, path=str(ckpt))
    data = _serialise(stripped)
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"--name {name}: the inference-only file would be {len(data) / _MIB:.2f} MiB; a bundled model may "
                         f"not exceed {MAX_FILE_BYTES / _MIB:.0f} MiB (train a smaller model)")
    full = build_from_checkpoint(blob, path=str(ckpt)).eval()
    small = build_from_checkpoint(torch.load(io.BytesIO(data), weights_only=True), path=name).eval()
    check_same_translations(full, small, name)
    weights = (sha256_tensors(full.state_dict()), sha256_tensors(small.state_dict()))
    summaries = [results_summary(p, blob["method"], task, weights) for p in results]
    entry = {
        "name": name, "benchmark": benchmark, "task": task, "method": blob["method"], "variant": variant,
        "file": file_name(name), "sha256": _sha256_bytes(data), "size_bytes": len(data),
        "params": count_parameters(small.generator_modules()), "weights_sha256": weights[1],
        "command": command,
        "training": {**training_facts(blob, train_json, seconds, machine), "ema_folded": stripped["ema_folded"]},
        "results": summaries,
        "versions": {"initbench": str(blob.get("package_version", "")), "torch": str(blob.get("torch_version", ""))},
    }
    cat_path = Path(catalogue) if catalogue is not None else catalogue_path()
    doc = load_catalogue(cat_path)
    others = [m for m in doc["models"] if m["name"] != name]
    replaced = len(others) < len(doc["models"])
    total = sum(m["size_bytes"] for m in others) + len(data)
    if total > MAX_TOTAL_BYTES:
        raise UsageError(f"--name {name}: the bundled models would total {total / _MIB:.2f} MiB; the catalogue may not exceed "
                         f"{MAX_TOTAL_BYTES / _MIB:.0f} MiB ({len(others)} other model(s) hold "
                         f"{(total - len(data)) / _MIB:.2f} MiB)")
    doc = {**doc, "models": sorted([*others, entry], key=lambda m: m["name"])}
    problems = catalogue_problems(doc)
    if problems:  # a bug here, not the user's input: never write a catalogue the readers would refuse
        raise DataFormatError("the new catalogue would be invalid: " + "; ".join(problems[:3]), str(cat_path))
    folder = Path(directory) if directory is not None else files_dir()
    write_atomic(folder / entry["file"], data)
    write_atomic(cat_path, json.dumps(doc, indent=2) + "\n")
    return {**entry, "path": str(folder / entry["file"]), "catalogue": str(cat_path), "replaced": replaced}


def _checkpoint_file(run: str | os.PathLike) -> Path:
    p = Path(run)
    if p.is_dir():
        p = p / "checkpoint.pt"
    if not p.is_file():
        raise UsageError(f"RUN_DIR: expected a run folder holding checkpoint.pt (or a checkpoint file); {p} does not exist")
    return p


def check_name(name: str, blob: dict) -> tuple[str, str, str | None]:
    """``(benchmark, task, variant)`` of ``name``, which must agree with the checkpoint's method, task and variant."""
    parts = name.split("/")
    method = blob["method"]
    train_config = blob.get("train_config") or {}
    if len(parts) != 3 or not all(parts):
        raise UsageError(f"--name: expected BENCHMARK/TASK/METHOD[-VARIANT] (e.g. mini-init-v2/sunny2night/init); got {name!r}")
    benchmark, task, last = parts
    variant = train_config.get("variant")
    expected = model_name(benchmark, task, method, variant)
    if name != expected:
        raise UsageError(f"--name: the checkpoint holds method {method!r}, variant {variant!r}, task "
                         f"{train_config.get('task')!r}: expected {expected!r}; got {name!r}")
    if train_config.get("task") not in (None, task):
        raise UsageError(f"--name: the checkpoint was trained for task {train_config['task']!r}; the name says {task!r}")
    return benchmark, task, variant


def _serialise(blob: dict) -> bytes:
    buf = io.BytesIO()
    torch.save(blob, buf)
    return buf.getvalue()


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()  # of the bytes about to be written (digests.sha256_file reads a file)


@torch.no_grad()
def check_same_translations(full, small, name: str) -> None:
    """Refuse unless ``small`` (stripped) has ``full``'s inference weights and translates a seeded probe identically."""
    own = full.state_dict()
    mine = small.state_dict()
    differ = [k for k, v in mine.items() if k not in own or not torch.equal(own[k], v)]
    if differ:
        raise CheckpointError(f"--name {name}: the stripped weights differ from the checkpoint's at {len(differ)} "
                              f"tensor(s), e.g. {differ[0]}")
    side = 16 * int(full.size_multiple)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, side, side, generator=g) * 2 - 1
    style = full.sample_style(2, generator=g, device="cpu") if full.is_multimodal else None
    for direction in sorted(full.loaded_directions):
        a = full.translate(x, direction=direction, style=style)
        b = small.translate(x, direction=direction, style=style)
        if not torch.equal(a, b):
            raise CheckpointError(f"--name {name}: the stripped model translates differently ({direction}, largest "
                                  f"difference {float((a - b).abs().max()):.3g})")


def training_facts(blob: dict, train_json: str | os.PathLike | None, seconds: float | None,
                   machine: str | None) -> dict[str, Any]:
    """``{"seconds", "steps", "machine"}`` of the run, from the checkpoint, the train summary and the options."""
    steps = int(blob.get("step", 0))
    summary: dict = {}
    if train_json is not None:
        p = Path(train_json)
        summary = read_json(p, "--train-json: not a readable JSON file")
        if not isinstance(summary, dict) or "seconds" not in summary or "steps" not in summary:
            raise DataFormatError("--train-json: expected the summary `initbench train --json` writes (seconds, steps, "
                                  "device)", str(p))
        if int(summary["steps"]) != steps:
            raise UsageError(f"--train-json: {p} records {summary['steps']} steps; the checkpoint holds step {steps} "
                             "(the summary of another run?)")
        if summary.get("resumed_from") and seconds is None:
            raise UsageError(f"--train-json: {p} times steps {summary['resumed_from']} to {steps} only (the run was resumed); "
                             "give the whole run's time with --seconds")
    if seconds is None:
        if "seconds" not in summary:
            raise UsageError("--seconds / --train-json: give the training time (or the summary of `initbench train --json`)")
        seconds = float(summary["seconds"])
    if seconds < 0:
        raise UsageError(f"--seconds: expected a time of 0 or more; got {seconds}")
    if machine is None:
        if "device" not in summary:
            raise UsageError("--machine: required (no --train-json summary records the device)")
        machine = f"{summary['device']} x{summary.get('world_size', 1)}"
    return {"seconds": round(float(seconds), 3), "steps": steps, "machine": machine}


def results_summary(path: str | os.PathLike, method: str, task: str, weights: tuple[str, ...]) -> dict[str, Any]:
    """The catalogue's record of one results file: protocol, task, conformance, its digest and headline metrics.

    The file must be a results document of this model: same method, trained for ``task``, and evaluated weights
    whose sha256 is one of ``weights``: the run checkpoint's (discriminators included) or the bundled file's
    (``evaluate --pretrained``); both translate alike, so their metrics are the same.
    """
    from initbench.evaluation.result import schema_problems

    p = Path(path)
    doc = read_json(p, "--results: not a readable results JSON")
    problems = schema_problems(doc)
    if problems:
        raise DataFormatError(f"--results: not a results document: {problems[0]}", str(p))
    if doc["method"] != method:
        raise UsageError(f"--results {p}: evaluates method {doc['method']!r}; the checkpoint holds {method!r}")
    if doc["protocol"] not in HEADLINE:
        raise UsageError(f"--results {p}: protocol {doc['protocol']!r}; expected one of {', '.join(HEADLINE)}")
    if doc.get("model_task") not in (None, task):
        raise UsageError(f"--results {p}: evaluates a model trained for {doc['model_task']!r}; the name says {task!r}")
    if doc.get("weights_sha256") not in weights:
        raise UsageError(f"--results {p}: evaluated weights with sha256 {str(doc.get('weights_sha256'))[:16]}...; the "
                         f"checkpoint's are {weights[0][:16]}... (evaluate this checkpoint)")
    return {
        "protocol": doc["protocol"], "task": doc["task"], "direction": doc["direction"], "conformant": doc["conformant"],
        "nonconformant_reasons": list(doc["nonconformant_reasons"]), "results_sha256": results_digest(doc),
        "weights_sha256": doc["weights_sha256"],
        "metrics": {k: doc["metrics"].get(k) for k in HEADLINE[doc["protocol"]]},
    }


if __name__ == "__main__":  # the command line lives with the others; this module stays library code
    from initbench.cli.pretrained_cmds import bundle_cmd

    bundle_cmd(prog_name="python -m initbench.pretrained.bundle")
