"""Step 3 of 3 (result): the one constructor of an evaluator results document, and its JSON Schema.

Every protocol path (a translator, ``--method real``) builds its results dict with
:func:`build_result`, so keys, their order, conformance (:func:`initbench.evaluation.conformance.conformance`)
and the data record are decided in one place. ``results.schema.json`` (package data) describes the
document; :func:`schema_problems` checks one against it.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata, resources
from typing import Any

import torch

from initbench.evaluation.conformance import conformance, data_fingerprint
from initbench.evaluation.metrics import Scores
from initbench.evaluation.protocol import Protocol
from initbench.evaluation.scorers import Scorers

PRECISION = "fp32 (TF32 off)"
SCHEMA_FILE = "results.schema.json"


def versions() -> dict[str, str]:
    """Versions of Python and of the packages behind the numbers ("unknown" for one not installed)."""
    out = {"python": platform.python_version()}
    for pkg in ("initbench", "torch", "torchvision", "lpips", "torch-fidelity", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def device_info(device: str | torch.device) -> str:
    """``cuda:<name>`` or ``cpu:<processor> (<threads> threads)``."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(dev)}"
    return f"cpu:{platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


@dataclass(frozen=True)
class Subject:
    """What was evaluated, as the result records it.

    ``weights_sha256`` None: nothing has weights (``real``) and the key is left out, as it always was.
    ``seed_names``: the protocol seeds this path uses, recorded in that order (then ``lpips_seed``).
    """

    method: str
    num_inputs: int
    samples_per_input: int | None
    deterministic: bool
    seed_names: tuple[str, ...]
    direction: str | None = None
    model_task: str | None = None
    checkpoint_sha256: str | None = None
    weights_sha256: str | None = None


@dataclass(frozen=True)
class DataUsed:
    """The test keys a run read: ``inputs`` and the FID ``reference``; ``test_images`` the domain's count."""

    inputs: list[str]
    reference: list[str]
    test_images: int


def build_result(P: Protocol, task: str, subject: Subject, scores: Scores, scorers: Scorers, data: DataUsed, *,
                 device: str | torch.device, batch_sizes: dict[str, int] | None, timings: dict[str, float],
                 world_size: int | None = None) -> dict:
    """The results document of one run (keys in the order results files have always had; timings rounded to 0.1 ms).

    ``world_size``: the processes that shared the work (``torchrun``; 1 for one), recorded after ``device``;
    None leaves the key out (paths that are never sharded).
    """
    data_fp = data_fingerprint(P.split, data.inputs, data.reference)
    ok, reasons = conformance(P, task=task, test_images=data.test_images, lpips_backbone=scorers.lpips_backbone,
                              classifier_info=scorers.classifier_info, data_fingerprint=data_fp)
    seed = {name: getattr(P, name) for name in subject.seed_names}
    seed["lpips_seed"] = scorers.lpips_seed if scorers.lpips_backbone == "random" else None
    identity: dict[str, Any] = {"checkpoint_sha256": subject.checkpoint_sha256}
    if subject.weights_sha256 is not None:
        identity["weights_sha256"] = subject.weights_sha256
    return {
        "protocol": P.version,
        "protocol_spec": P.to_dict(),
        "conformant": ok,
        "nonconformant_reasons": reasons,
        "task": task,
        "direction": subject.direction,
        "model_task": subject.model_task,
        "method": subject.method,
        **identity,
        "seed": seed,
        "num_inputs": subject.num_inputs,
        "samples_per_input": subject.samples_per_input,
        "deterministic": subject.deterministic,
        "metrics": scores.metrics,
        "metrics_extra": scores.extra,
        "per_input": scores.per_input,
        "fingerprint": scorers.fingerprint,
        "skipped": scorers.skipped,
        "warnings": scores.warnings,
        "data_fingerprint": data_fp,
        "data": {"split": P.split, "inputs": data.inputs, "reference": data.reference},
        "versions": versions(),
        "device": device_info(device),
        **({} if world_size is None else {"world_size": world_size}),
        "precision": PRECISION if scorers.inference is None else f"{PRECISION}; {scorers.inference}",
        "batch_sizes": batch_sizes,
        "timings": {k: round(v, 4) for k, v in timings.items()},
    }


@lru_cache(maxsize=1)
def results_schema() -> dict:
    """The results JSON Schema shipped as package data (``initbench/evaluation/results.schema.json``)."""
    return json.loads(resources.files("initbench.evaluation").joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))


def schema_problems(doc: Any) -> list[str]:
    """What makes ``doc`` not a results document: ``"$.path: message"`` per schema violation (empty: valid)."""
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(results_schema()).iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{_json_path(e.absolute_path)}: {e.message}" for e in errors]


def _json_path(parts) -> str:
    # ["per_input", "lpips", 0] -> $.per_input.lpips[0] (the leaderboard's notation; evaluation does not import it)
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


