"""The numbers of ``init_vs_munit.py``: each arm's metrics with 95 % bootstrap intervals over inputs and over
seeds, from its evaluator results files, and the Markdown tables of the README.

Per metric and arm:

* ``per_seed``: each seed's headline value (the results file's ``metrics``);
* ``over_seeds``: mean of ``per_seed`` with the percentile bootstrap of that mean (3 seeds: a range,
  not a calibrated 95 %; see :mod:`initbench.evaluation.intervals`);
* ``over_inputs``: the per-input values of every seed pooled (nulls, e.g. an input without a car,
  left out) and bootstrapped. IS and CIS are not means of per-input values: their inputs are
  resampled jointly across seeds (the seeds score the same test images) and the statistic is the
  mean over seeds of each seed's IS / CIS recomputed from the resampled per-input summaries.

``object_domain_accuracy``'s per-input values are per-image shares of objects, so its pooled mean
weights images alike, while the headline (pooled over objects) weights images by their object count.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from initbench.evaluation.inception import is_from_summaries
from initbench.evaluation.intervals import bootstrap_ci, bootstrap_statistic_ci, interval_dict, over_inputs

#: Metrics of protocol v1 reported here (FID/KID are skipped: too few images on the mini-INIT).
V1_KEYS = ("lpips_diversity", "is_exp", "is_kl", "cis_exp", "cis_kl")
#: per-input key of a per-input-mean metric, where it differs from the metric's name.
PER_INPUT_KEY = {"lpips_diversity": "lpips"}
#: The columns of the short README table (paired-v1 first, then v1's diversity scores).
README_KEYS = (("paired-v1", "l1_gt_frame"), ("paired-v1", "l1_gt_objects"), ("paired-v1", "l1_gt_objects_best"),
               ("paired-v1", "l1_gt_objects_guided"), ("paired-v1", "lpips_gt_frame"), ("paired-v1", "lpips_gt_objects"), ("paired-v1", "domain_accuracy"), ("paired-v1", "object_domain_accuracy"),
               ("v1", "lpips_diversity"), ("v1", "is_exp"), ("v1", "cis_exp"))


def _finite(values: Sequence[Any]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _joint_statistic(results: list[dict], key: str, seed: int, n_resamples: int) -> dict | None:
    """IS / CIS over inputs: inputs resampled jointly across seeds, each seed's score recomputed, averaged."""
    per = [r.get("per_input") or {} for r in results]
    if key.startswith("is_"):
        if not all(p.get("marginal") and p.get("neg_entropy") for p in per):
            return None
        marg = [np.asarray(p["marginal"], dtype=np.float64) for p in per]
        neg = [np.asarray(p["neg_entropy"], dtype=np.float64) for p in per]

        def one(s: int, idx: np.ndarray) -> float:
            return is_from_summaries(marg[s][idx], neg[s][idx])[key]
    else:
        if not all(p.get("cis_kl") for p in per):
            return None
        kl = [np.asarray(p["cis_kl"], dtype=np.float64) for p in per]

        def one(s: int, idx: np.ndarray) -> float:
            m = float(kl[s][idx].mean())
            return m if key == "cis_kl" else math.exp(m)
    n = min(len(m) for m in (marg if key.startswith("is_") else kl))
    everything = np.arange(n)
    mean = float(np.mean([one(s, everything) for s in range(len(per))]))
    lo, hi = bootstrap_statistic_ci(n, lambda idx: float(np.mean([one(s, idx) for s in range(len(per))])),
                                    seed=seed, n_resamples=n_resamples)
    return interval_dict((mean, lo, hi))


def metric_summary(results: list[dict], key: str, *, seed: int = 0, n_resamples: int = 2000) -> dict | None:
    """One metric of one arm (``results``: the arm's results files, one per seed, in seed order); None when a seed
    has no value for it (e.g. guided metrics of a method that takes no style from an image)."""
    per_seed = [r["metrics"].get(key) for r in results]
    if any(v is None for v in per_seed):
        return None
    out: dict[str, Any] = {"per_seed": per_seed, "over_seeds": interval_dict(bootstrap_ci(per_seed, seed=seed, n_resamples=n_resamples))}
    if key in ("is_exp", "is_kl", "cis_exp", "cis_kl"):
        out["over_inputs"] = _joint_statistic(results, key, seed, n_resamples)
        out["n_inputs"] = len((results[0].get("per_input") or {}).get("cis_kl") or [])
        return out
    rows = [_finite((r.get("per_input") or {}).get(PER_INPUT_KEY.get(key, key)) or []) for r in results]
    out["n_inputs"] = sum(len(v) for v in rows)
    out["over_inputs"] = interval_dict(over_inputs(rows, seed=seed, n_resamples=n_resamples)) if all(rows) else None
    return out


def arm_metrics(paired: list[dict], v1: list[dict], paired_keys: Sequence[str], **kw) -> dict:
    """``{"paired-v1": {metric: summary}, "v1": {metric: summary}}`` of one arm (metrics without a value left out)."""
    out: dict[str, dict] = {"paired-v1": {}, "v1": {}}
    for protocol, results, keys in (("paired-v1", paired, paired_keys), ("v1", v1, V1_KEYS)):
        for key in keys:
            summary = metric_summary(results, key, **kw) if results else None
            if summary is not None:
                out[protocol][key] = summary
    return out


def _cell(iv: dict | None, digits: int = 3) -> str:
    if not iv or iv.get("mean") is None:
        return "-"
    return f"{iv['mean']:.{digits}f} [{iv['lo']:.{digits}f}, {iv['hi']:.{digits}f}]"


def markdown_tables(doc: dict, keys: Sequence[tuple[str, str]] = README_KEYS) -> str:
    """Two tables (interval over seeds; over inputs) with a row per arm, plus s/step and parameters."""
    arms = doc["arms"]
    s = doc["settings"]
    lines = [f"mini-INIT v2 {s['task']}, preset `{s['preset']}`, {s['steps']} steps, seeds {', '.join(map(str, s['seeds']))}; "
             f"mean [95 % percentile-bootstrap interval]. LPIPS backbone `{s['lpips_backbone']}`; v1 with "
             f"{s['v1_inputs']} inputs x {s['v1_samples']} samples at short side {s['v1_short_side']}."]
    if doc.get("quick"):
        lines.insert(0, "Smoke run (`--quick`): these numbers show that the pipeline runs end to end, not how the methods "
                        "compare.\n")
    header = ["arm", *(f"{k} ({p})" for p, k in keys), "s/step", "params (generators)"]
    for level in ("over_seeds", "over_inputs"):
        lines += ["", f"Interval {level.replace('_', ' ')}:", "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]
        for a in arms.values():
            cells = [_cell((a["metrics"][p].get(k) or {}).get(level)) for p, k in keys]
            sps = a.get("s_per_step") if level == "over_seeds" else None
            lines.append("| " + " | ".join([a["label"], *cells, _cell(sps, 3) if sps else "(above)", f"{a.get('params', 0):,}"]) + " |")
    return "\n".join(lines) + "\n"
