"""Step 2 of 3 (metrics): pure functions from collected values to the protocol's numbers.

Nothing here runs a network: each function takes what :mod:`initbench.evaluation.collect` kept
(LPIPS pair values, classifier logits, FID feature rows) or what a results file's ``per_input``
records, and returns a :class:`Scores` (headline ``metrics``, ``metrics_extra``, ``per_input``
values, ``warnings``). The evaluator, ``--method real`` and the leaderboard's recomputation
(:func:`initbench.leaderboard.results.recompute_metrics`) all use these functions, so a number
has one definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from initbench.evaluation import inception as IS
from initbench.evaluation.fid_kid import fid_kid_from_features

METRIC_KEYS = ("lpips_diversity", "is_exp", "is_kl", "is_exp_10split", "cis_exp", "cis_kl", "fid", "kid")


@dataclass
class Scores:
    """Parts of a result: ``metrics`` (a subset of :data:`METRIC_KEYS`), ``extra``, ``per_input``, ``warnings``."""

    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    per_input: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def combine(*parts: Scores) -> Scores:
    """One :class:`Scores` from several, in order; every metric key present (null when none computed it)."""
    out = Scores(metrics=dict.fromkeys(METRIC_KEYS))
    for p in parts:
        out.metrics.update(p.metrics)
        out.extra.update(p.extra)
        out.per_input.update(p.per_input)
        out.warnings += p.warnings
    return out


def mean_lpips(values: Sequence[float]) -> float | None:
    """LPIPS diversity under pairing ``munit``: the mean over every scored pair (None without pairs)."""
    return sum(values) / len(values) if values else None


def mean_drit_lpips(values: Sequence[float]) -> float | None:
    """LPIPS diversity under pairing ``drit``: the mean of DRIT's pair values (None without pairs).

    torch's float64 mean (pairwise summation), as drit results have always been computed; it differs from
    :func:`mean_lpips`'s left-to-right sum in the last bit for about 2 lists in 3, so each pairing keeps its own.
    """
    return float(torch.tensor(list(values), dtype=torch.float64).mean()) if len(values) else None


def lpips_to_metrics(lpips_pairs: list[list[float]], drit_pairs: Sequence[tuple[int, int]] = (),
                     drit_values: Sequence[float] | None = None) -> Scores:
    """LPIPS diversity from each input's pair values (pairing ``munit``), or from DRIT's pairs when ``drit_values``
    is given (the ``munit`` value is then kept as ``metrics_extra.lpips_munit_pairing``)."""
    munit = mean_lpips([v for row in lpips_pairs for v in row])
    per_input = {"lpips": [mean_lpips(r) for r in lpips_pairs], "lpips_pairs": lpips_pairs}
    if drit_values is None:
        return Scores(metrics={"lpips_diversity": munit}, per_input=per_input)
    per_input["lpips_drit_pairs"] = [[p, q, v] for (p, q), v in zip(drit_pairs, drit_values)]
    return Scores(metrics={"lpips_diversity": mean_drit_lpips(drit_values)}, extra={"lpips_munit_pairing": munit},
                  per_input=per_input)


def inception_score_metrics(logits: torch.Tensor, isc_rng_seed: int) -> Scores:
    """IS over all rows of ``logits`` (``N x C``): 1 split (``is_kl``, ``is_exp``) and, with at least 10 rows,
    torch-fidelity's 10 shuffled splits (``is_exp_10split``; its std in ``extra``)."""
    is1 = IS.inception_score(logits)
    out = Scores(metrics={"is_kl": is1["kl"], "is_exp": is1["exp"]})
    if logits.shape[0] >= 10:
        is10 = IS.inception_score_splits(logits, 10, shuffle=True, rng_seed=isc_rng_seed)
        out.metrics["is_exp_10split"] = is10["mean"]
        out.extra["is_exp_10split_std"] = is10["std"]
    return out


def inception_to_metrics(groups: list[torch.Tensor], isc_rng_seed: int) -> Scores:
    """IS and CIS of a translator's outputs (``groups[i]``: input i's logits), with the per-input summaries
    (``cis_kl``, ``marginal``, ``neg_entropy``) that :func:`summaries_to_metrics` recomputes them from."""
    out = inception_score_metrics(torch.cat(groups), isc_rng_seed)
    cis = IS.conditional_inception_score(groups)
    out.metrics.update(cis_kl=cis["kl"], cis_exp=cis["exp"])
    summaries = [IS.input_summary(g) for g in groups]
    out.per_input = {k: [s[k] for s in summaries] for k in ("cis_kl", "marginal", "neg_entropy")}
    return out


def summaries_to_metrics(cis_kl: Sequence[float] | None = None, marginal: Sequence[Sequence[float]] | None = None,
                         neg_entropy: Sequence[float] | None = None) -> dict[str, float]:
    """IS (1 split) and CIS from recorded per-input summaries (inputs with equal sample counts); each needs its own."""
    out: dict[str, float] = {}
    if cis_kl:
        out.update(IS.cis_from_summaries(cis_kl))
    if marginal and neg_entropy:
        out.update(IS.is_from_summaries(marginal, neg_entropy))
    return out


def fid_warnings(n_outputs: int, n_reference: int, dim: int) -> list[str]:
    """Warnings of a FID/KID from ``n_outputs`` distinct outputs and ``n_reference`` images of ``dim`` features."""
    out = []
    for what, n in (("distinct outputs", n_outputs), ("reference images", n_reference)):
        if n < dim:
            out.append(f"FID/KID from {n} {what}, fewer than the feature dimension {dim}: the covariance is "
                       "singular and FID is not comparable with one from more samples")
    return out


def fid_kid_to_metrics(outputs: torch.Tensor, reference: torch.Tensor, *, kid_subsets: int, kid_subset_size: int,
                       rng_seed: int) -> Scores:
    """FID and KID between output and reference feature rows, with KID's std and the counts."""
    fk = fid_kid_from_features(outputs, reference, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size,
                               rng_seed=rng_seed)
    return Scores(metrics={"fid": fk["fid"], "kid": fk["kid"]},
                  extra={"kid_std": fk["kid_std"], "kid_subset_size": fk["kid_subset_size"],
                         "fid_reference_images": reference.shape[0], "fid_outputs": outputs.shape[0]},
                  warnings=fid_warnings(outputs.shape[0], reference.shape[0], outputs.shape[1]))
