"""``--method real``: the dataset's own diversity (the paper's "real images" row).

LPIPS between pairs of real target-domain test images, structured like a translator's run:
``num_inputs`` slots of ``lpips_pairs_per_input`` (19) pairs, each pair two different images
drawn uniformly (with a generator seeded ``pair_seed``) from the target domain's test split,
read like the inputs (short side ``short_side``). Each distinct ordered pair is scored once (a
small test set repeats pairs; the values are the same). IS (1 and 10 splits) is computed over the
distinct images that appear in the pairs; CIS and FID/KID are undefined here and reported null
with the reason. The same three steps as the translator's evaluator: collect (:func:`collect_real`),
metrics (:mod:`initbench.evaluation.metrics`), result (:func:`initbench.evaluation.result.build_result`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from initbench.dataset.release import parse_task
from initbench.errors import UsageError
from initbench.evaluation import images as I
from initbench.evaluation.collect import choose_batch_sizes
from initbench.evaluation.metrics import Scores, combine, inception_score_metrics, lpips_to_metrics
from initbench.evaluation.protocol import V1, Protocol
from initbench.evaluation.result import DataUsed, Subject, build_result
from initbench.evaluation.scorers import Scorers, exact_fp32

REAL_SEEDS = ("pair_seed", "isc_rng_seed")
CACHE_IMAGES = 256  # decoded images kept between chunks of pairs (a small test set is read once)


def draw_pair_slots(n_keys: int, P: Protocol) -> list[list[tuple[int, int]]]:
    """``num_inputs`` slots of ``lpips_pairs()`` ordered pairs ``(a, b)``, ``a != b``, of indices below ``n_keys``."""
    n_pairs = P.lpips_pairs()
    g = torch.Generator().manual_seed(P.pair_seed)
    slots = []
    for _slot in range(P.num_inputs):
        a = torch.randint(n_keys, (n_pairs,), generator=g)
        b = torch.randint(n_keys - 1, (n_pairs,), generator=g)
        slots.append(list(zip(a.tolist(), (b + (b >= a).long()).tolist())))
    return slots


@dataclass
class RealCollected:
    """LPIPS of each distinct pair (``values``), classifier logits per image key, the batch sizes used."""

    values: dict[tuple[int, int], float] = field(default_factory=dict)
    logits: dict[str, torch.Tensor] = field(default_factory=dict)
    batch_sizes: dict[str, int] | None = None


def collect_real(root, keys: list[str], distinct: list[tuple[int, int]], P: Protocol, scorers: Scorers, device,
                 progress=None, chunk: int = 64) -> RealCollected:
    """Score each distinct pair of ``keys`` once (``chunk`` pairs at a time) and classify each image it reads once."""
    out, cache = RealCollected(), {}

    def image(j: int) -> torch.Tensor:
        k = keys[j]
        if k not in cache:
            if len(cache) >= CACHE_IMAGES:
                cache.pop(next(iter(cache)))
            cache[k] = I.load_image(I.key_path(root, k), P.short_side)
        if scorers.classifier is not None and k not in out.logits:
            out.logits[k] = scorers.classifier(cache[k][None].to(device)).double().cpu()
        return cache[k]

    for c in range(0, len(distinct), chunk):
        part = distinct[c : c + chunk]
        x0 = torch.stack([image(i) for i, _ in part])
        x1 = torch.stack([image(j) for _, j in part])
        if out.batch_sizes is None:
            out.batch_sizes = choose_batch_sizes(device, x0.shape[-2], x0.shape[-1], 2)
        out.values.update(zip(part, scorers.lpips.distances(x0, x1, out.batch_sizes["lpips"]).double().tolist()))
        if progress:
            progress("pairs", min(c + chunk, len(distinct)), len(distinct))
    return out


def evaluate_real(root, task: str, *, protocol: Protocol = V1, classifier=None, lpips_backbone: str = "pretrained",
                  lpips_seed: int = 0, device="cpu", weights_dir=None, offline: bool = True, progress=None) -> dict:
    """Protocol ``protocol``'s diversity and IS of real ``target`` test images of ``task``."""
    P = protocol
    _source, target = parse_task(task)
    t0 = time.perf_counter()
    keys = I.require(I.domain_keys(I.split_of_root(root, P.split), target, "test"), f"{target} test images", root)
    if len(keys) < 2:
        raise UsageError(f"--method real: needs at least 2 {target} test images under {root}; found {len(keys)}")
    scorers = Scorers(classifier=classifier, lpips_backbone=lpips_backbone, lpips_seed=lpips_seed, device=device,
                      weights_dir=weights_dir, offline=offline, fid=False)
    scorers.skipped["fid_kid"] = "undefined for real images (the reference would be compared with itself)"
    scorers.skipped["cis"] = "undefined for real images (no input with several outputs)"
    slots = draw_pair_slots(len(keys), P)
    # A small test set repeats pairs many times: each distinct (ordered) pair is scored once.
    distinct = list(dict.fromkeys(p for slot in slots for p in slot))
    with torch.inference_mode(), exact_fp32():
        c = collect_real(root, keys, distinct, P, scorers, device, progress)
    parts = [lpips_to_metrics([[c.values[p] for p in slot] for slot in slots])]
    if c.logits:
        all_logits = torch.cat([c.logits[k] for k in sorted(c.logits)])
        # the image count, not the 10-split std, is what real has always reported beside IS
        parts.append(Scores(metrics=inception_score_metrics(all_logits, P.isc_rng_seed).metrics,
                            extra={"is_images": all_logits.shape[0]}))
    parts.append(Scores(extra={"lpips_distinct_pairs": len(distinct)},
                        per_input={"pair_keys": [[[keys[i], keys[j]] for i, j in slot] for slot in slots]}))
    used = sorted({keys[j] for p in distinct for j in p})
    subject = Subject(method="real", num_inputs=P.num_inputs, samples_per_input=None, deterministic=False,
                      seed_names=REAL_SEEDS)
    return build_result(P, task, subject, combine(*parts), scorers, DataUsed(used, [], len(keys)), device=device,
                        batch_sizes=c.batch_sizes, timings={"total": time.perf_counter() - t0})
