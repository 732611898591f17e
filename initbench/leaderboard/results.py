"""Evaluator results (contract 6) as the leaderboard reads them, and entries built from them.

A results JSON holds at least ``protocol``, ``task``, ``method``, ``checkpoint_sha256``,
``seed``, ``metrics`` (the eight protocol-v1 keys, numbers or null), ``per_input`` (raw
values so means can be recomputed), ``fingerprint``, ``versions``, ``device``, ``timings``; since the
evaluator decides conformance also ``conformant``, ``nonconformant_reasons``, ``data_fingerprint`` with ``data``
(the keys it is taken over), ``direction`` and ``model_task``. Older files without them are read, and what
they lack is reported as unknown, never as checked.

Identities in an entry are by content (``initbench.digests``): a run's model is its weights'
sha256 (``weights_sha256``; older results files only give the checkpoint file's), and a results
file is the sha256 of its canonical JSON without ``timings`` and the checkpoint file's hash. Two
runs that found the same numbers with the same weights give the same entry, whatever folder they
ran in and however long they took.
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from initbench.digests import results_digest, sha256_tensors
from initbench.errors import DataFormatError, UsageError
from initbench.files import read_json
from initbench.leaderboard.benchmarks import METRICS, PAIRED_METRICS, get_benchmark
from initbench.leaderboard.entry import SCHEMA_ID, mean, unbiased_std

#: Keys every results file must have for an entry to be built from it.
REQUIRED_KEYS = ("protocol", "task", "method", "checkpoint_sha256", "metrics", "per_input", "fingerprint")


def _numbers(values) -> list[float] | None:
    if not isinstance(values, list) or not values:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    return [float(v) for v in values]


def _lpips_values(per_input: dict, pairing: str) -> list[float] | None:
    """Every LPIPS pair value a ``per_input`` records under ``pairing`` (older files: the per-input means)."""
    if pairing == "drit":
        rows = per_input.get("lpips_drit_pairs")
        ok = isinstance(rows, list) and all(isinstance(r, list) and len(r) == 3 for r in rows)
        return _numbers([r[2] for r in rows]) if ok else None
    rows = per_input.get("lpips_pairs")
    if isinstance(rows, list) and all(isinstance(r, list) for r in rows):
        return _numbers([v for r in rows for v in r])
    return _numbers(per_input.get("lpips"))


def _marginals(per_input: dict, n: int) -> list[list[float]] | None:
    """The ``n`` per-input marginals, each a list of numbers of one common length; None when they are not that."""
    marg = per_input.get("marginal")
    if not isinstance(marg, list) or len(marg) != n or not all(_numbers(m) for m in marg):
        return None
    return marg if all(len(m) == len(marg[0]) for m in marg) else None


def recompute_metrics(results: dict) -> dict[str, float]:
    """Metrics that follow from ``results["per_input"]`` alone: ``{metric: value}`` (those it allows).

    The evaluator's own functions (:mod:`initbench.evaluation.metrics`) on the recorded values:

    * ``lpips_diversity``: mean over every LPIPS pair (``lpips_pairs``, or ``lpips_drit_pairs``
      under pairing ``drit``), bit for bit what the evaluator states;
    * ``cis_kl``: mean of the per-input ``cis_kl`` (inputs have equal sample counts);
      ``cis_exp`` = exp(cis_kl) (protocol v1: exp of the grand mean);
    * ``is_kl`` = mean(``neg_entropy``) - sum(q log q) with q the mean of the per-input
      ``marginal``s (KL to the marginal of all outputs, averaged); ``is_exp`` = exp(is_kl).

    IS over 10 splits, FID and KID need more than per-input scalars and are not recomputed.
    """
    from initbench.evaluation.metrics import mean_drit_lpips, mean_lpips, summaries_to_metrics

    per_input = results.get("per_input") or {}
    if not isinstance(per_input, dict):
        return {}
    pairing = (results.get("protocol_spec") or {}).get("pairing", "munit")
    out: dict[str, float] = {}
    vals = _lpips_values(per_input, pairing)
    if vals:
        out["lpips_diversity"] = (mean_drit_lpips if pairing == "drit" else mean_lpips)(vals)
    if results.get("protocol") == "paired-v1":
        out.update(_recompute_paired(per_input))
    neg = _numbers(per_input.get("neg_entropy"))
    marg = _marginals(per_input, len(neg)) if neg else None
    out.update(summaries_to_metrics(cis_kl=_numbers(per_input.get("cis_kl")), marginal=marg,
                                    neg_entropy=neg if marg else None))
    return out


def checkpoint_facts(path: str | os.PathLike) -> dict:
    """``{"seed": training seed, "params": parameters of the inference model}`` of a native checkpoint.

    Parameters are counted over the translator's ``generator_modules()`` (what inference uses;
    discriminators excluded), once per shared tensor.
    """
    from initbench.methods.base import count_parameters
    from initbench.training.checkpoints import build_from_checkpoint, load_checkpoint

    blob = load_checkpoint(path)
    model = build_from_checkpoint(blob, path=str(path))
    seed = (blob.get("train_config") or {}).get("seed")
    return {"seed": seed, "params": count_parameters(model.generator_modules())}


def model_sha256(results: dict) -> str | None:
    """The evaluated model's identity in a results document: its weights' sha256, else (older files) the file's."""
    return results.get("weights_sha256") or results.get("checkpoint_sha256")


def checkpoint_weights_sha256(path: str | os.PathLike) -> str:
    """sha256 of the weights a native checkpoint gives the evaluator (the translator it builds)."""
    from initbench.training.checkpoints import load_translator

    return sha256_tensors(load_translator(path).state_dict())


def results_file_sha256(path: str | os.PathLike) -> str:
    """Identity of a results file: :func:`initbench.digests.results_digest` of its JSON (timings left out)."""
    p = Path(path)
    doc = read_json(p, "not a readable results JSON")
    if not isinstance(doc, dict):
        raise DataFormatError(f"expected a JSON object; found {type(doc).__name__}", str(p))
    return results_digest(doc)


def protocol_overrides(results: dict) -> dict:
    """The protocol fields a run changed (``protocol_spec.overrides``); empty for a conformant run."""
    spec = results.get("protocol_spec") or {}
    ov = spec.get("overrides") or {}
    return dict(ov) if isinstance(ov, dict) else {}


def reverse_task(task: str) -> str:
    """``sunny2night`` -> ``night2sunny``."""
    source, _, target = task.partition("2")
    return f"{target}2{source}"


def direction_check(results: dict) -> tuple[str | None, str | None]:
    """``(problem, unknown)`` about a result's translation direction; both None when it is consistent.

    A translator trained on ``model_task`` evaluated on ``task`` must run ``a2b`` when they are the same task
    and ``b2a`` when ``model_task`` is the reverse. Results of an evaluator that did not record ``direction``
    and ``model_task`` are *unknown* (said, never passed as checked). ``real`` has no translator.
    """
    if results.get("method") == "real":
        return None, None
    task, direction, model_task = results.get("task"), results.get("direction"), results.get("model_task")
    if direction is None or model_task is None:
        return None, "records no direction/model_task (an older evaluator): the translation direction is not checked"
    want = {task: "a2b", reverse_task(str(task)): "b2a"}
    if model_task not in want:
        return f"model_task {model_task!r} is neither the task {task!r} nor its reverse {reverse_task(str(task))!r}", None
    if direction != want[model_task]:
        return (f"direction {direction!r} with model_task {model_task!r} on task {task!r}; expected "
                f"{want[model_task]!r}"), None
    return None, None


def data_problem(results: dict) -> str | None:
    """Why a result's ``data_fingerprint`` is not the one its recorded keys give (None: they agree, or none recorded)."""
    from initbench.evaluation.conformance import data_fingerprint

    fp, data = results.get("data_fingerprint"), results.get("data")
    if fp is None:
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("inputs", "reference")):
        return f"data_fingerprint {fp!r} without the keys it is taken over (data.inputs, data.reference)"
    want = data_fingerprint(data.get("split"), data["inputs"], data["reference"])
    return None if want == fp else f"its data keys give data_fingerprint {want!r}; it states {fp!r}"


def conformance_of(results: dict) -> tuple[bool, list[str]]:
    """``(conformant, reasons)`` a result states; a result without reasons (an older evaluator) is not conformant."""
    reasons = results.get("nonconformant_reasons")
    if not isinstance(reasons, list):
        return False, ["conformance unknown (results written before nonconformant_reasons were recorded)"]
    return (bool(results.get("conformant")) and not reasons, [str(r) for r in reasons])


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


def _recompute_paired(per_input: dict) -> dict[str, float]:
    """paired-v1's errors to the ground truth: each the mean over inputs of its per-input value (nulls left out:
    an input without a box of a kind). The domain accuracies are pooled over outputs and not recomputed here."""
    out = {}
    for name in PAIRED_METRICS:
        rows = per_input.get(name)
        if name.endswith("domain_accuracy") or not isinstance(rows, list):
            continue
        vals = _numbers([v for v in rows if v is not None])
        if vals:
            out[name] = mean(vals)
    return out


def _relpath(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def _check_one_configuration(loaded: list[tuple[Path, dict]], method: str | None) -> None:
    """The results agree on everything that makes them one configuration, and each is consistent in itself."""
    first_path, first = loaded[0]
    for key in ("task", "protocol", "method", "fingerprint", "data_fingerprint", "nonconformant_reasons"):
        for p, r in loaded[1:]:
            if r.get(key) != first.get(key):
                raise UsageError(f"RESULTS: {p} has {key} {r.get(key)!r} but {first_path} has {first.get(key)!r}; "
                                 "an entry combines seeds of one configuration")
    for p, r in loaded[1:]:
        if protocol_overrides(r) != protocol_overrides(first):
            raise UsageError(f"RESULTS: {p} has protocol overrides {protocol_overrides(r)!r} but {first_path} has "
                             f"{protocol_overrides(first)!r}; an entry combines seeds of one configuration")
    for p, r in loaded:
        for problem in (direction_check(r)[0], data_problem(r)):
            if problem:
                raise UsageError(f"RESULTS: {p}: {problem}")
    if method is not None and method != first["method"]:
        raise UsageError(f"--method: the results are of method {first['method']!r}; got {method!r}")


def _seeds_and_params(loaded: list[tuple[Path, dict]], checkpoint_paths, seeds, params) -> tuple[list[int], int]:
    """The training seed of each run and the parameter count: as given, else from the results or checkpoints."""
    facts = [None] * len(loaded)
    if checkpoint_paths is not None and len(checkpoint_paths) != len(loaded):
        raise UsageError(f"--checkpoint: expected one per results file ({len(loaded)}); got {len(checkpoint_paths)}")
    if checkpoint_paths is not None and (seeds is None or params is None):
        facts = [checkpoint_facts(c) if c and Path(c).is_file() else None for c in checkpoint_paths]
    if params is None and facts[0] is not None:
        params = facts[0]["params"]
    if seeds is None:
        seeds = [r.get("training_seed", f["seed"] if f else None) for (_, r), f in zip(loaded, facts)]
        if any(not isinstance(v, int) for v in seeds):
            raise UsageError("--seeds: neither the results nor --checkpoint files give the training seed; pass "
                             f"--seeds with one integer per results file ({len(loaded)})")
    seeds = list(seeds)
    if len(seeds) != len(loaded):
        raise UsageError(f"--seeds: expected one training seed per results file ({len(loaded)}); got {len(seeds)}")
    if len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds: seeds must be distinct; found {seeds}")
    first = loaded[0][1]
    if params is None:
        params = first.get("params", first.get("num_parameters"))
    if params is None:
        raise UsageError("--params: neither the results nor a --checkpoint file give the parameter count; "
                         "pass --params N")
    return seeds, int(params)


def _distinct_models(loaded: list[tuple[Path, dict]]) -> None:
    for p, r in loaded:
        if not isinstance(model_sha256(r), str):
            raise UsageError(f"RESULTS: {p} records no checkpoint_sha256 (evaluate a checkpoint file with --ckpt)")
    cks = [model_sha256(r) for _, r in loaded]
    if len(set(cks)) != len(cks):
        raise UsageError(f"RESULTS: two results evaluate the same checkpoint ({cks}); seeds need distinct models")


def _seed_metrics(loaded: list[tuple[Path, dict]]) -> dict[str, dict[str, Any]]:
    """Per metric with a finite number in every results file: per-seed values, mean and unbiased std."""
    metrics: dict[str, dict[str, Any]] = {}
    for name in METRICS:
        vals = [r["metrics"].get(name) for _, r in loaded]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in vals):
            vals = [float(v) for v in vals]
            metrics[name] = {"per_seed": vals, "mean": mean(vals), "std": unbiased_std(vals)}
    if not metrics:
        raise UsageError(f"RESULTS: no metric has a number in every results file ({loaded[0][0]} ...)")
    return metrics


def _runs(loaded: list[tuple[Path, dict]], seeds: list[int], checkpoint_paths, entry_dir: Path) -> list[dict]:
    """One run per results file: its seed, results file and model identity (paths relative to ``entry_dir``)."""
    runs = []
    for i, (p, r) in enumerate(loaded):
        ck_path = None
        if checkpoint_paths is not None and checkpoint_paths[i]:
            cp = Path(checkpoint_paths[i])
            if cp.is_file() and checkpoint_weights_sha256(cp) != model_sha256(r):
                raise UsageError(f"--checkpoint: {cp} does not hold the weights (sha256) recorded in {p}")
            ck_path = _relpath(cp, entry_dir)
        runs.append({
            "seed": seeds[i],
            "results_file": {"path": _relpath(p, entry_dir), "sha256": results_file_sha256(p)},
            "checkpoint": {"path": ck_path, "sha256": model_sha256(r)},
        })
    return runs


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
    seeds: Sequence[int] | None = None,
    entry_dir: str | os.PathLike = ".",
    notes: Sequence[dict] = (),
    created: str | None = None,
) -> dict:
    """Build a ``measured`` entry from the results files of several seeds of one method and task.

    Paths in ``runs`` are written relative to ``entry_dir`` (where the entry file will live).
    ``seeds`` are the *training* seeds of the checkpoints, one per results file (the evaluator's
    own seeds are fixed by the protocol); None reads ``training_seed`` from each results file.
    All results must agree on task, protocol (and its overrides), method, fingerprint, data_fingerprint and
    nonconformant reasons, record a consistent direction and data fingerprint, and
    come from distinct seeds and checkpoints; otherwise a UsageError names the file that differs.
    A metric enters the entry only when every seed has a number for it. ``params``, when None,
    is read from the results (``params`` / ``num_parameters``).
    """
    if not results_paths:
        raise UsageError("RESULTS: expected at least one evaluator results file")
    bench = get_benchmark(benchmark)
    loaded = [(Path(p), read_results(p)) for p in results_paths]
    first = loaded[0][1]
    _check_one_configuration(loaded, method)
    seeds, params = _seeds_and_params(loaded, checkpoint_paths, seeds, params)
    _distinct_models(loaded)
    metrics = _seed_metrics(loaded)
    runs = _runs(loaded, seeds, checkpoint_paths, Path(entry_dir))
    versions = first.get("versions") or {}
    device = first.get("device")
    conformant, reasons = conformance_of(first)
    return {
        "schema": SCHEMA_ID,
        "kind": "measured",
        "benchmark": bench.name,
        "split": first.get("split", bench.split),
        "protocol": first["protocol"],
        "protocol_overrides": protocol_overrides(first),
        "conformant": conformant,
        "nonconformant_reasons": reasons,
        "data_fingerprint": first.get("data_fingerprint"),
        "task": first["task"],
        "method": first["method"],
        "variant": variant,
        "label": label or (first["method"] if variant is None else f"{first['method']} ({variant})"),
        "implementation": implementation,
        "seeds": seeds,
        "metrics": metrics,
        "params": params,
        "hardware": hardware or (str(device) if device else "unknown"),
        "code_url": code_url,
        "command": command,
        "runs": runs,
        "fingerprint": first["fingerprint"],
        "package_version": versions.get("initbench"),
        "created": created or datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "notes": list(notes),
    }
