"""Inception Score and Conditional Inception Score from classifier logits, in float64.

Notation: ``p_ij = softmax(logits_ij)`` is the classifier's distribution over the domains for
output ``j`` of input ``i``; ``KL(p || q) = sum_c p_c (log p_c - log q_c)`` with ``log p`` from
``log_softmax`` (so a zero probability contributes exactly 0).

* IS: ``q`` = mean of all ``p_ij``; ``is_kl`` = mean_ij KL(p_ij || q); ``is_exp`` = exp(is_kl)
  (1 split, MUNIT's code). :func:`inception_score_splits` is torch-fidelity's 10-split convention.
* CIS: ``q_i`` = mean_j p_ij (the input's own marginal); ``cis_kl`` = mean_ij KL(p_ij || q_i);
  ``cis_exp`` = exp(cis_kl). A deterministic translator gives ``p_ij = p_i``, so cis_kl = 0 and
  cis_exp = 1.

The per-input summaries of :func:`input_summary` (marginal ``q_i``, mean negative entropy, CIS
KL) are enough to recompute IS(1 split) and CIS exactly:
``is_kl = mean_i negent_i - sum_c q_c log q_c`` with ``q = mean_i q_i`` (equal samples per input).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from initbench.errors import UsageError


def _check_logits(logits: torch.Tensor, name: str = "logits") -> torch.Tensor:
    if not torch.is_tensor(logits) or logits.dim() != 2 or logits.shape[0] < 1 or logits.shape[1] < 2:
        shape = tuple(logits.shape) if torch.is_tensor(logits) else type(logits).__name__
        raise UsageError(f"{name}: expected a tensor N x C with N >= 1, C >= 2; got {shape}")
    return logits.detach().to("cpu", torch.float64)


def kl_to_marginal(logits: torch.Tensor) -> torch.Tensor:
    """KL(p_j || mean_j p_j) for each row of ``logits`` (``N x C``): a float64 tensor of length N."""
    lg = _check_logits(logits)
    if bool((lg == lg[:1]).all()):
        # Identical rows (a deterministic translator): the KL is exactly 0, not a rounding residue.
        return torch.zeros(lg.shape[0], dtype=torch.float64)
    log_p = lg.log_softmax(dim=1)
    p = log_p.exp()
    log_q = p.mean(dim=0, keepdim=True).log()
    return _kl_rows(p, log_p, log_q)


def _kl_rows(p: torch.Tensor, log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    # A class with p == 0 (underflow) contributes 0, not 0 * inf.
    return torch.where(p > 0, p * (log_p - log_q), torch.zeros_like(p)).sum(dim=1)


def inception_score(logits: torch.Tensor) -> dict[str, float]:
    """IS with one split over all rows: ``{"kl": mean KL, "exp": exp(mean KL)}``."""
    kl = float(kl_to_marginal(logits).mean())
    return {"kl": kl, "exp": math.exp(kl)}


def inception_score_splits(logits: torch.Tensor, splits: int = 10, shuffle: bool = True,
                           rng_seed: int = 2020) -> dict[str, float]:
    """torch-fidelity's IS: rows shuffled by ``RandomState(rng_seed).permutation``, cut into
    ``splits`` chunks at ``i * N // splits``; mean and population std of exp(mean KL) per chunk."""
    lg = _check_logits(logits)
    n = lg.shape[0]
    if splits < 1 or splits > n:
        raise UsageError(f"splits: expected 1 <= splits <= number of outputs ({n}); got {splits}")
    if shuffle:
        lg = lg[torch.from_numpy(np.random.RandomState(rng_seed).permutation(n))]
    scores = [math.exp(float(kl_to_marginal(lg[i * n // splits : (i + 1) * n // splits]).mean())) for i in range(splits)]
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores))}


def input_summary(logits: torch.Tensor) -> dict:
    """Per-input values of one input's outputs (``logits``: ``S x C``).

    Returns ``marginal`` (list of C floats, q_i), ``neg_entropy`` (mean_j sum_c p log p) and
    ``cis_kl`` (mean_j KL(p_ij || q_i)).
    """
    lg = _check_logits(logits)
    log_p = lg.log_softmax(dim=1)
    p = log_p.exp()
    q = p.mean(dim=0)
    neg_entropy = float(torch.xlogy(p, p).sum(dim=1).mean())
    cis_kl = float(kl_to_marginal(lg).mean())
    return {"marginal": [float(v) for v in q], "neg_entropy": neg_entropy, "cis_kl": cis_kl}


def conditional_inception_score(groups: list[torch.Tensor]) -> dict[str, float]:
    """CIS over inputs: ``groups[i]`` holds the logits (``S_i x C``) of input i's outputs.

    ``kl`` is the mean over all outputs (MUNIT's code pools every output's KL), ``exp`` its exp.
    """
    if not groups:
        raise UsageError("groups: expected the logits of at least one input; got none")
    kls = torch.cat([kl_to_marginal(g) for g in groups])
    kl = float(kls.mean())
    return {"kl": kl, "exp": math.exp(kl)}


def is_from_summaries(marginal, neg_entropy) -> dict[str, float]:
    """IS (1 split) from per-input ``marginal`` q_i and ``neg_entropy`` (:func:`input_summary`), equal sample counts:
    ``is_kl = mean_i negent_i - sum_c q_c log q_c`` with ``q = mean_i q_i``."""
    q = torch.tensor([list(m) for m in marginal], dtype=torch.float64).mean(dim=0)
    is_kl = float(np.mean(neg_entropy)) - float(torch.xlogy(q, q).sum())
    return {"is_kl": is_kl, "is_exp": math.exp(is_kl)}


def cis_from_summaries(cis_kl) -> dict[str, float]:
    """CIS from per-input ``cis_kl`` (equal sample counts): their mean, and its exp."""
    kl = float(np.mean(cis_kl))
    return {"cis_kl": kl, "cis_exp": math.exp(kl)}


def scores_from_summaries(summaries: list[dict]) -> dict[str, float]:
    """IS (1 split) and CIS recomputed from :func:`input_summary` values of inputs with equal sample counts."""
    return {**is_from_summaries([s["marginal"] for s in summaries], [s["neg_entropy"] for s in summaries]),
            **cis_from_summaries([s["cis_kl"] for s in summaries])}
