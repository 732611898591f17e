"""Protocol v1 on any Translator: LPIPS diversity, IS, CIS, FID/KID, in one streamed pass.

:func:`evaluate` runs three steps, like torch-fidelity: **collect**
(:mod:`initbench.evaluation.collect`: translate each input once and feed the scorers; only logits,
LPIPS values and FID feature rows are kept), **metrics** (:mod:`initbench.evaluation.metrics`: pure
functions of what was collected) and **result** (:func:`initbench.evaluation.result.build_result`,
the one constructor of the results dict, also used by ``--method real``).

Every result says whether it is ``conformant`` and, if not, why (:mod:`initbench.evaluation.conformance`),
and records the data it used (``data``: split, input and FID-reference keys; ``data_fingerprint``).
``initbench evaluate`` writes the dict as JSON; ``results.schema.json`` describes it.

Under ``torchrun`` (``shard``, :mod:`initbench.evaluation.sharding`) the collect step is split across ranks;
rank 0 gathers it and computes the metrics and the FID reference alone, and the other ranks return None.
"""

from __future__ import annotations

import time

import torch

from initbench.dataset.release import parse_task
from initbench.digests import sha256_tensors
from initbench.errors import UsageError
from initbench.evaluation import images as I
from initbench.evaluation.collect import Collected, Progress, choose_batch_sizes, collect_reference, collect_translator
from initbench.evaluation.fid_kid import DEFAULT_EXTRACTOR
from initbench.evaluation.metrics import (METRIC_KEYS, Scores, combine, fid_kid_to_metrics, fid_warnings, inception_to_metrics,
                                          lpips_to_metrics)
from initbench.evaluation.protocol import V1, Protocol
from initbench.evaluation.result import DataUsed, Subject, build_result, device_info, versions
from initbench.evaluation.scorers import Scorers, exact_fp32
from initbench.evaluation.sharding import SINGLE, Shard
from initbench.methods.base import repeat_content

DIRECTIONS = ("a2b", "b2a")
#: Names other modules and scripts import from here (the steps live in their own modules).
__all__ = ["DIRECTIONS", "METRIC_KEYS", "Progress", "choose_batch_sizes", "device_info", "evaluate", "exact_fp32",
           "fid_warnings", "repeat_content", "versions"]
TRANSLATOR_SEEDS = ("input_seed", "style_seed", "pair_seed", "isc_rng_seed")


def evaluate(
    translator,
    root,
    task: str,
    *,
    protocol: Protocol = V1,
    method: str | None = None,
    checkpoint_sha256: str | None = None,
    classifier=None,
    direction: str = "a2b",
    model_task: str | None = None,
    lpips_backbone: str = "pretrained",
    lpips_seed: int = 0,
    device: str | torch.device = "cpu",
    weights_dir=None,
    offline: bool = True,
    fid: bool = True,
    fid_extractor: str = DEFAULT_EXTRACTOR,
    batch_sizes: dict[str, int] | None = None,
    progress: Progress | None = None,
    feature_cache=None,
    shard: Shard = SINGLE,
) -> dict | None:
    """Run ``protocol`` on ``translator`` (a :class:`initbench.methods.base.Translator`) for ``task``.

    ``direction`` (``a2b`` or ``b2a``) is passed to every ``translator.encode/decode`` call; it and
    ``model_task`` (the task the model was trained on; None: ``task``) are recorded.
    ``classifier``: path of a file from ``train-classifier`` (None: IS/CIS are null, with the
    reason). ``batch_sizes`` overrides :func:`choose_batch_sizes` (``decode`` even, ``lpips``,
    ``fid``); they change speed, not results. ``feature_cache``: a
    :class:`initbench.evaluation.feature_cache.FeatureCache` for the FID/KID reference features (None: extracted
    every run). The translator is moved to ``device`` and put in
    eval mode. ``progress(stage, done, total)`` is called as work advances. Returns the results dict
    (keys: protocol, protocol_spec, conformant, task, method, checkpoint_sha256 (the file's), weights_sha256
    (the evaluated weights' canonical tensors, :func:`initbench.digests.sha256_tensors`), seed, inputs,
    metrics, metrics_extra, per_input, fingerprint, skipped, versions, device, batch_sizes, timings,
    direction, model_task, nonconformant_reasons, data_fingerprint, data, warnings, world_size).
    ``shard``: this process's rank under ``torchrun``; the result is returned on rank 0 only (None elsewhere),
    with ``world_size`` and ``per_input.rank`` (the rank that evaluated each input).
    """
    P = protocol
    if direction not in DIRECTIONS:
        raise UsageError(f"--direction: expected one of {', '.join(DIRECTIONS)}; got {direction!r}")
    source, target = parse_task(task)
    t_start = time.perf_counter()
    assignment = I.split_of_root(root, P.split)
    source_keys = I.require(I.domain_keys(assignment, source, "test"), f"{source} test images", root)
    # Fewer test images than the protocol's inputs: all are used; conformance says so.
    inputs = I.draw(source_keys, P.num_inputs, P.input_seed)
    reference = I.draw(I.domain_keys(assignment, target, "test"), P.fid_max_reference, P.input_seed)
    scorers = Scorers(classifier=classifier, lpips_backbone=lpips_backbone, lpips_seed=lpips_seed, device=device,
                      weights_dir=weights_dir, offline=offline, fid=fid, fid_extractor=fid_extractor)
    with torch.inference_mode(), exact_fp32():
        c = collect_translator(translator, root, inputs, P, scorers, direction=direction, device=device,
                               batch_sizes=batch_sizes, progress=progress, shard=shard)
        if c is None:  # not rank 0: its share went to rank 0
            return None
        scores = combine(Scores(per_input={"keys": inputs, "rank": c.ranks}),
                         _scores(c, scorers, root, reference, target, P, progress, feature_cache))
    c.timings["total"] = time.perf_counter() - t_start
    multimodal = translator.is_multimodal
    subject = Subject(method=method or translator.name or type(translator).__name__,
                      num_inputs=len(inputs), samples_per_input=P.samples_per_input, deterministic=not multimodal,
                      seed_names=TRANSLATOR_SEEDS, direction=direction, model_task=model_task or task,
                      checkpoint_sha256=checkpoint_sha256, weights_sha256=sha256_tensors(translator.state_dict()))
    return build_result(P, task, subject, scores, scorers, DataUsed(inputs, reference, len(source_keys)),
                        device=device, batch_sizes=c.batch_sizes, timings=c.timings, world_size=shard.world_size)


def _scores(c: Collected, scorers: Scorers, root, reference: list[str], target: str, P: Protocol,
            progress: Progress | None, feature_cache=None) -> Scores:
    """The metrics step of a translator's run: LPIPS, IS/CIS (with a classifier), FID/KID (with features; the
    reference images' features are collected here, after the outputs', as they always were)."""
    parts = [lpips_to_metrics(c.lpips_pairs, c.drit_pairs, c.drit_values if P.pairing == "drit" else None)]
    if c.logit_groups:
        parts.append(c.timed("is_cis", inception_to_metrics, c.logit_groups, P.isc_rng_seed))
    if scorers.fid is not None:
        if progress:  # the reference stage's clock starts before its first batch
            progress("reference", 0, len(reference))
        ref = c.timed("reference", collect_reference, scorers, root, reference, target, P, c.batch_sizes["fid"], progress,
                      feature_cache)
        parts.append(fid_kid_to_metrics(c.fid_rows, ref, kid_subsets=P.kid_subsets, kid_subset_size=P.kid_subset_size,
                                        rng_seed=P.isc_rng_seed))
    return combine(*parts)
