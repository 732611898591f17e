"""The numbers of a report's tables: each metric of each result with a bootstrap interval over inputs,
means over seeds with a t interval, and the per-region and per-class breakdowns of paired-v1.

Pure functions of loaded results (:mod:`initbench.report.results_set`); the HTML is drawn elsewhere.
An interval is over the result's per-input values (``per_input``): for a metric recorded as a share
pooled over all outputs (``object_domain_accuracy``) the mean of per-input values can differ from the
recorded value, and ``mean_of_inputs`` says so. Metrics without per-input values (IS, FID, KID) get
the recorded value and no interval.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable

from initbench.evaluation.intervals import bootstrap_ci, t_interval
from initbench.report.results_set import LoadedResult, Section


@dataclass(frozen=True)
class MetricSpec:
    """A metric of a table: its key in ``metrics``, the ``per_input`` list behind it (None: none), a
    transform of the mean (``exp`` for the exp-form CIS), and which way is better."""

    key: str
    per_input: str | None
    higher_is_better: bool
    transform: str | None = None
    label: str = ""


V1_METRICS = (
    MetricSpec("lpips_diversity", "lpips", True, label="LPIPS diversity"),
    MetricSpec("cis_kl", "cis_kl", True, label="CIS (mean KL)"),
    MetricSpec("cis_exp", "cis_kl", True, transform="exp", label="CIS (exp)"),
    MetricSpec("is_kl", None, True, label="IS (mean KL)"),
    MetricSpec("is_exp", None, True, label="IS (exp)"),
    MetricSpec("is_exp_10split", None, True, label="IS (exp, 10 splits)"),
    MetricSpec("fid", None, False, label="FID"),
    MetricSpec("kid", None, False, label="KID"),
)


def _paired_specs() -> tuple[MetricSpec, ...]:
    from initbench.evaluation.paired import HIGHER_IS_BETTER, METRIC_KEYS

    return tuple(MetricSpec(k, "lpips" if k == "lpips_diversity" else k, k in HIGHER_IS_BETTER, label=k)
                 for k in METRIC_KEYS)


def metric_specs(protocol: str) -> tuple[MetricSpec, ...]:
    return V1_METRICS if protocol == "v1" else _paired_specs()


#: paired-v1 breakdowns: table name -> (column label, metric key)
REGION_COLUMNS = (("frame", "l1_gt_frame"), ("background", "l1_gt_background"), ("objects", "l1_gt_objects"))
CLASS_COLUMNS = (("car", "l1_gt_car"), ("sign", "l1_gt_sign"), ("person", "l1_gt_person"))
LPIPS_REGION_COLUMNS = (("frame", "lpips_gt_frame"), ("objects", "lpips_gt_objects"))


@dataclass(frozen=True)
class Cell:
    """One result's number for one metric: ``value`` as recorded; ``mean``, ``lo``, ``hi`` from the per-input
    values (None without them); ``n`` inputs with a value; ``mean_of_inputs``: ``mean`` differs from ``value``."""

    value: float | None
    mean: float | None = None
    lo: float | None = None
    hi: float | None = None
    n: int = 0
    mean_of_inputs: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


_TRANSFORMS: dict[str | None, Callable[[float], float]] = {None: lambda v: v, "exp": math.exp}


def cell(result: LoadedResult, spec: MetricSpec, *, seed: int, n_resamples: int, level: float) -> Cell:
    """The :class:`Cell` of ``spec`` for ``result`` (bootstrap seeded ``seed``: the same numbers every run)."""
    value = result.doc.get("metrics", {}).get(spec.key)
    values = result.doc.get("per_input", {}).get(spec.per_input) if spec.per_input else None
    nums = [v for v in (values or []) if v is not None]
    if not nums:
        return Cell(value=value)
    f = _TRANSFORMS[spec.transform]
    mean, lo, hi = (f(x) for x in bootstrap_ci(nums, seed=seed, n_resamples=n_resamples, level=level))
    differs = value is None or not math.isclose(mean, value, rel_tol=1e-6, abs_tol=1e-9)
    return Cell(value=value, mean=mean, lo=lo, hi=hi, n=len(nums), mean_of_inputs=differs)


@dataclass(frozen=True)
class SeedCell:
    """The mean over a method's seeds (results from different checkpoints) of a recorded value, with a t interval."""

    mean: float | None
    lo: float | None
    hi: float | None
    n: int

    def to_dict(self) -> dict:
        return asdict(self)


def seed_cell(results: list[LoadedResult], key: str, level: float) -> SeedCell:
    vals = [r.doc["metrics"].get(key) for r in results]
    nums = [v for v in vals if v is not None]
    if not nums:
        return SeedCell(None, None, None, 0)
    mean, lo, hi = t_interval(nums, level=level)
    return SeedCell(mean, lo, hi, len(nums))


def section_numbers(section: Section, *, seed: int = 0, n_resamples: int = 2000, level: float = 0.95) -> dict:
    """Every number of a section's tables as plain data (the HTML and ``--json`` both use it):
    ``{"metrics": {key: [cell per result]}, "seeds": {method: {key: seed cell}}, "specs": [...]}``."""
    specs = metric_specs(section.protocol)
    cells = {s.key: [cell(r, s, seed=seed, n_resamples=n_resamples, level=level) for r in section.results] for s in specs}
    seeds = {m: {s.key: seed_cell(rs, s.key, level) for s in specs} for m, rs in section.seed_groups().items()}
    return {"specs": specs, "metrics": cells, "seeds": seeds}


def best_row(cells: list[Cell], higher_is_better: bool) -> int | None:
    """Index of the best recorded value (None when no value)."""
    vals = [(c.value, i) for i, c in enumerate(cells) if c.value is not None]
    if not vals:
        return None
    return (max if higher_is_better else min)(vals)[1]
