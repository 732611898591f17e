"""``--method real``: the dataset's own diversity (the paper's "real images" row).

LPIPS between pairs of real target-domain test images, structured like a translator's run:
``num_inputs`` slots of ``lpips_pairs_per_input`` (19) pairs, each pair two different images
drawn uniformly (with a generator seeded ``pair_seed``) from the target domain's test split,
read like the inputs (short side ``short_side``). Each distinct ordered pair is scored once (a
small test set repeats pairs; the values are the same). IS (1 and 10 splits) is computed over the
distinct images that appear in the pairs; CIS and FID/KID are undefined here and reported null
with the reason.
"""

from __future__ import annotations

import time

import torch

from initbench.dataset.release import parse_task
from initbench.evaluation import images as I
from initbench.evaluation import inception as IS
from initbench.evaluation.conformance import conformance, data_fingerprint
from initbench.evaluation.evaluator import METRIC_KEYS, _Scorers, choose_batch_sizes, device_info, exact_fp32, versions
from initbench.evaluation.protocol import V1, Protocol
from initbench.errors import UsageError


def evaluate_real(root, task: str, *, protocol: Protocol = V1, classifier=None, lpips_backbone: str = "pretrained",
                  lpips_seed: int = 0, device="cpu", weights_dir=None, offline: bool = True, progress=None) -> dict:
    """Protocol ``protocol``'s diversity and IS of real ``target`` test images of ``task``."""
    P = protocol
    _source, target = parse_task(task)
    t0 = time.perf_counter()
    assignment = I.split_of_root(root, P.split)
    keys = I.require(I.domain_keys(assignment, target, "test"), f"{target} test images", root)
    if len(keys) < 2:
        raise UsageError(f"--method real: needs at least 2 {target} test images under {root}; found {len(keys)}")
    scorers = _Scorers(classifier=classifier, lpips_backbone=lpips_backbone, lpips_seed=lpips_seed, device=device,
                       weights_dir=weights_dir, offline=offline, fid=False, fid_extractor="")
    scorers.skipped["fid_kid"] = "undefined for real images (the reference would be compared with itself)"
    scorers.skipped["cis"] = "undefined for real images (no input with several outputs)"
    n_pairs = P.lpips_pairs()
    g = torch.Generator().manual_seed(P.pair_seed)
    slots = []  # per slot, its pairs as (index a, index b) into keys
    for _slot in range(P.num_inputs):
        a = torch.randint(len(keys), (n_pairs,), generator=g)
        b = torch.randint(len(keys) - 1, (n_pairs,), generator=g)
        slots.append(list(zip(a.tolist(), (b + (b >= a).long()).tolist())))
    # A small test set repeats pairs many times: each distinct (ordered) pair is scored once.
    distinct = list(dict.fromkeys(p for slot in slots for p in slot))
    cache: dict[str, torch.Tensor] = {}
    logits: dict[str, torch.Tensor] = {}
    values: dict[tuple[int, int], float] = {}
    bs = None

    def image(j: int) -> torch.Tensor:
        k = keys[j]
        if k not in cache:
            if len(cache) >= 256:
                cache.pop(next(iter(cache)))
            cache[k] = I.load_image(I.key_path(root, k), P.short_side)
        if scorers.classifier is not None and k not in logits:
            logits[k] = scorers.classifier(cache[k][None].to(device)).double().cpu()
        return cache[k]

    with torch.inference_mode(), exact_fp32():
        chunk = 64
        for c in range(0, len(distinct), chunk):
            part = distinct[c : c + chunk]
            x0 = torch.stack([image(i) for i, _ in part])
            x1 = torch.stack([image(j) for _, j in part])
            if bs is None:
                bs = choose_batch_sizes(device, x0.shape[-2], x0.shape[-1], 2)
            values.update(zip(part, scorers.lpips.distances(x0, x1, bs["lpips"]).double().tolist()))
            if progress:
                progress("pairs", min(c + chunk, len(distinct)), len(distinct))
    per_lpips = [[values[p] for p in slot] for slot in slots]
    used = sorted({keys[j] for p in distinct for j in p})
    metrics = {k: None for k in METRIC_KEYS}
    flat = [v for r in per_lpips for v in r]
    metrics["lpips_diversity"] = sum(flat) / len(flat)
    extra = {}
    if logits:
        all_logits = torch.cat([logits[k] for k in sorted(logits)])
        is1 = IS.inception_score(all_logits)
        metrics.update(is_kl=is1["kl"], is_exp=is1["exp"])
        if all_logits.shape[0] >= 10:
            metrics["is_exp_10split"] = IS.inception_score_splits(all_logits, 10, rng_seed=P.isc_rng_seed)["mean"]
        extra["is_images"] = all_logits.shape[0]
    data_fp = data_fingerprint(P.split, used, [])
    ok, reasons = conformance(P, task=task, test_images=len(keys), lpips_backbone=lpips_backbone,
                              classifier_info=scorers.classifier_info, data_fingerprint=data_fp)
    return {
        "protocol": P.version,
        "protocol_spec": P.to_dict(),
        "conformant": ok,
        "nonconformant_reasons": reasons,
        "task": task,
        "direction": None,
        "model_task": None,
        "method": "real",
        "checkpoint_sha256": None,
        "seed": {"pair_seed": P.pair_seed, "isc_rng_seed": P.isc_rng_seed, "lpips_seed": lpips_seed if lpips_backbone == "random" else None},
        "num_inputs": P.num_inputs,
        "samples_per_input": None,
        "deterministic": False,
        "metrics": metrics,
        "metrics_extra": {**extra, "lpips_distinct_pairs": len(distinct)},
        "per_input": {"lpips": [sum(r) / len(r) for r in per_lpips], "lpips_pairs": per_lpips,
                      "pair_keys": [[[keys[i], keys[j]] for i, j in slot] for slot in slots]},
        "fingerprint": scorers.fingerprint,
        "skipped": scorers.skipped,
        "warnings": [],
        "data_fingerprint": data_fp,
        "data": {"split": P.split, "inputs": used, "reference": []},
        "versions": versions(),
        "device": device_info(device),
        "precision": "fp32 (TF32 off)",
        "batch_sizes": bs,
        "timings": {"total": round(time.perf_counter() - t0, 4)},
    }
