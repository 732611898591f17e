"""Evaluator results (contract 6) as the leaderboard reads them, and entries built from them.

A results JSON holds at least ``protocol``, ``task``, ``method``, ``checkpoint_sha256``,
``seed``, ``metrics`` (the eight protocol-v1 keys, numbers or null), ``per_input`` (raw
values so means can be recomputed), ``fingerprint``, ``versions``, ``device``, ``timings``.
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from initbench.errors import DataFormatError, UsageError
from initbench.leaderboard.benchmarks import METRICS, get_benchmark
from initbench.leaderboard.entry import SCHEMA_ID, mean, sha256_file, unbiased_std

#: Keys every results file must have for an entry to be built from it.
REQUIRED_KEYS = ("protocol", "task", "method", "checkpoint_sha256", "seed", "metrics", "per_input", "fingerprint")

#: metric -> (per-input key, how the metric follows from the per-input values). Metrics not listed
#: here (IS over all outputs, FID, KID) need more than per-input scalars and are not recomputed.
PER_INPUT_RULES: dict[str, tuple[str, str]] = {
    "lpips_diversity": ("lpips", "mean"),
    "cis_kl": ("cis_kl", "mean"),
    "cis_exp": ("cis_kl", "exp_mean"),
}


def recompute_metrics(results: dict) -> dict[str, float]:
    """Metrics that follow from ``results["per_input"]`` alone: ``{metric: value}`` (only those present)."""
    per_input = results.get("per_input") or {}
    out: dict[str, float] = {}
    for metric, (key, how) in PER_INPUT_RULES.items():
        vals = per_input.get(key)
        if not isinstance(vals, list) or not vals or not all(isinstance(v, (int, float)) for v in vals):
            continue
        m = mean([float(v) for v in vals])
        out[metric] = m if how == "mean" else math.exp(m)
    return out


def read_results(path: str | os.PathLike) -> dict:
    """Read an evaluator results file; missing contract keys are a DataFormatError naming the file."""
    p = Path(path)
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataFormatError(f"cannot read results: {exc.strerror or exc}", str(p)) from exc
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"not valid JSON: {exc.msg}", str(p), exc.lineno) from exc
    if not isinstance(obj, dict):
        raise DataFormatError("expected a JSON object of evaluator results", str(p))
    missing = [k for k in REQUIRED_KEYS if k not in obj]
    if missing:
        raise DataFormatError(f"not an evaluator results file: missing key(s) {missing} "
                              f"(expected {list(REQUIRED_KEYS)})", str(p))
    return obj


def _relpath(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def build_entry(
    results_paths: Sequence[str | os.PathLike],
    *,
    benchmark: str,
    method: str | None = None,
    code_url: str,
    command: str,
    label: str | None = None,
    variant: str | None = None,
    implementation: str = "reimplementation",
    params: int | None = None,
    hardware: str | None = None,
    checkpoint_paths: Sequence[str | None] | None = None,
    entry_dir: str | os.PathLike = ".",
    notes: Sequence[dict] = (),
    created: str | None = None,
) -> dict:
    """Build a ``measured`` entry from the results files of several seeds of one method and task.

    Paths in ``runs`` are written relative to ``entry_dir`` (where the entry file will live).
    All results must agree on task, protocol, method and fingerprint, and have distinct seeds;
    otherwise a UsageError names the file that differs. A metric enters the entry only when
    every seed has a number for it. ``params``, when None, is read from the results
    (``params`` / ``num_parameters``).
    """
    if not results_paths:
        raise UsageError("RESULTS: expected at least one evaluator results file")
    bench = get_benchmark(benchmark)
    loaded = [(Path(p), read_results(p)) for p in results_paths]
    first_path, first = loaded[0]
    for key in ("task", "protocol", "method", "fingerprint"):
        for p, r in loaded[1:]:
            if r[key] != first[key]:
                raise UsageError(f"RESULTS: {p} has {key} {r[key]!r} but {first_path} has {first[key]!r}; "
                                 "an entry combines seeds of one configuration")
    if method is not None and method != first["method"]:
        raise UsageError(f"--method: the results are of method {first['method']!r}; got {method!r}")
    seeds = [r["seed"] for _, r in loaded]
    if len(set(seeds)) != len(seeds):
        raise UsageError(f"RESULTS: seeds must be distinct; found {seeds}")
    if checkpoint_paths is not None and len(checkpoint_paths) != len(loaded):
        raise UsageError(f"--checkpoint: expected one per results file ({len(loaded)}); got {len(checkpoint_paths)}")
    metrics: dict[str, dict[str, Any]] = {}
    for name in METRICS:
        vals = [r["metrics"].get(name) for _, r in loaded]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in vals):
            vals = [float(v) for v in vals]
            metrics[name] = {"per_seed": vals, "mean": mean(vals), "std": unbiased_std(vals)}
    if not metrics:
        raise UsageError(f"RESULTS: no metric has a number in every results file ({first_path} ...)")
    if params is None:
        params = first.get("params", first.get("num_parameters"))
    if params is None:
        raise UsageError("--params: the results do not record the parameter count; pass --params N")
    entry_dir = Path(entry_dir)
    runs = []
    for i, (p, r) in enumerate(loaded):
        ck_path = None
        if checkpoint_paths is not None and checkpoint_paths[i]:
            cp = Path(checkpoint_paths[i])
            if cp.is_file() and sha256_file(cp) != r["checkpoint_sha256"]:
                raise UsageError(f"--checkpoint: {cp} does not have the sha256 recorded in {p}")
            ck_path = _relpath(cp, entry_dir)
        runs.append({
            "seed": r["seed"],
            "results_file": {"path": _relpath(p, entry_dir), "sha256": sha256_file(p)},
            "checkpoint": {"path": ck_path, "sha256": r["checkpoint_sha256"]},
        })
    versions = first.get("versions") or {}
    device = first.get("device")
    return {
        "schema": SCHEMA_ID,
        "kind": "measured",
        "benchmark": bench.name,
        "split": first.get("split", bench.split),
        "protocol": first["protocol"],
        "task": first["task"],
        "method": first["method"],
        "variant": variant,
        "label": label or (first["method"] if variant is None else f"{first['method']} ({variant})"),
        "implementation": implementation,
        "seeds": seeds,
        "metrics": metrics,
        "params": int(params),
        "hardware": hardware or (str(device) if device else "unknown"),
        "code_url": code_url,
        "command": command,
        "runs": runs,
        "fingerprint": first["fingerprint"],
        "package_version": versions.get("initbench"),
        "created": created or datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "notes": list(notes),
    }
