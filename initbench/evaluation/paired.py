"""Protocol ``paired-v1``: a translation scored against its ground truth, in three steps.

1. :func:`collect_paired` (data): the source domain's test inputs that have a ground-truth file
   (``ground_truth/<source>2<target>/<relpath>``, written by ``initbench synth --paired``), their
   boxes from the official annotations (dataset layer), the inputs left out and why.
2. :func:`score_paired` (work): each input is encoded once, its K styles decoded, and every output
   scored against the truth with the pure functions of :mod:`initbench.evaluation.paired_metrics`;
   only numbers are kept.
3. :func:`paired_result` (record): one constructor turns the numbers into the results dict (the
   same shape as v1's: conformance, data fingerprint, fingerprints, per-input values).

:func:`evaluate_paired` runs the three. See :class:`initbench.evaluation.protocol.PairedProtocol` for
the protocol's choices.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from initbench.dataset import transforms as T
from initbench.dataset.png import read_rgb
from initbench.dataset.release import parse_task
from initbench.dataset.synthetic_v2 import GROUND_TRUTH_DIR, ground_truth_path
from initbench.digests import sha256_tensors
from initbench.errors import UsageError
from initbench.evaluation import images as I
from initbench.evaluation import paired_metrics as M
from initbench.evaluation.classifier import load_classifier
from initbench.evaluation.collect import choose_batch_sizes
from initbench.evaluation.conformance import conformance, data_fingerprint
from initbench.evaluation.evaluator import DIRECTIONS
from initbench.evaluation.result import device_info, versions
from initbench.evaluation.lpips_diversity import LpipsScorer, munit_pair_indices
from initbench.evaluation.protocol import PAIRED_V1, Protocol
from initbench.evaluation.scorers import exact_fp32
from initbench.evaluation.sharding import SINGLE, Shard, gather_to_main, place, run_inputs
from initbench.guided import guided_settings, guided_translate

Progress = Callable[[str, int, int], None]

#: The keys of ``metrics`` of a paired-v1 result, in table order.
L1_KEYS = ("l1_gt_frame", "l1_gt_background", "l1_gt_objects")
CLASS_KEYS = ("l1_gt_car", "l1_gt_sign", "l1_gt_person")
LPIPS_KEYS = ("lpips_gt_frame", "lpips_gt_objects")
GUIDED_KEYS = ("l1_gt_frame_guided", "l1_gt_objects_guided", "lpips_gt_frame_guided")
METRIC_KEYS = (
    *L1_KEYS, *(k + "_best" for k in L1_KEYS), *LPIPS_KEYS, *(k + "_best" for k in LPIPS_KEYS), *CLASS_KEYS,
    "domain_accuracy", "object_domain_accuracy", *GUIDED_KEYS, "lpips_diversity",
)
#: Higher is better for these; lower for every other paired-v1 metric.
HIGHER_IS_BETTER = frozenset({"domain_accuracy", "object_domain_accuracy", "lpips_diversity"})


# -- 1. collect -----------------------------------------------------------------------------------

@dataclass
class PairedData:
    """What :func:`collect_paired` found: the inputs with their truth and boxes, and what was left out."""

    root: Path
    task: str
    split: str
    inputs: list[str]                 # source keys, sorted
    truths: list[str]                 # ground-truth paths relative to root, one per input
    boxes: list[torch.Tensor]         # N x 5 [cls, x1, y1, x2, y2] per input, pixels of the file
    test_images: int                  # source test images under the split
    without_truth: list[str] = field(default_factory=list)


def collect_paired(root, task: str, protocol: Protocol = PAIRED_V1, *, skip_invalid: bool = False) -> PairedData:
    """The test inputs of ``task``'s source domain with a ground-truth file (see the module docstring).

    Raises UsageError when the source domain has no test image or no input has ground truth.
    """
    from initbench.dataset.index import index_root

    root = Path(root)
    source, target = parse_task(task)
    assignment = I.split_of_root(root, protocol.split)
    keys = I.require(I.domain_keys(assignment, source, "test"), f"{source} test images (split {protocol.split})", root)
    truth_of = {k: ground_truth_path(source, target, k.split("/", 1)[1]) for k in keys}
    have = [k for k in keys if (root / truth_of[k]).is_file()]
    if not have:
        raise UsageError(f"--data: expected ground truth under {root / GROUND_TRUTH_DIR / f'{source}2{target}'} for the "
                         f"{len(keys)} {source} test images; found none (make it with `initbench synth --paired`)")
    index = index_root(root, domains=[source], skip_invalid=skip_invalid)
    kept = [k for k in have if k in index]  # with skip_invalid, images with annotation errors are left out
    inputs = I.draw(kept, protocol.num_inputs or len(kept), protocol.input_seed)
    boxes = [torch.tensor([list(b) for b in index[k].boxes], dtype=torch.float64).reshape(-1, 5) for k in inputs]
    return PairedData(root=root, task=task, split=protocol.split, inputs=inputs, truths=[truth_of[k] for k in inputs],
                      boxes=boxes, test_images=len(keys), without_truth=sorted(set(keys) - set(have)))


def load_pair(root: Path, key: str, truth: str, boxes: torch.Tensor, short_side: int | None):
    """``(input 3 x H x W, truth 3 x H x W, boxes)`` in [-1, 1]; resized alike when ``short_side`` is set."""
    x, t = read_rgb(root / key), read_rgb(root / truth)
    if x.shape != t.shape:
        raise UsageError(f"--data: {root / truth} is {tuple(t.shape[1:])}, its input {key} is {tuple(x.shape[1:])}; "
                         "expected the ground truth at the input's size")
    if short_side is not None:
        x, boxes = T.resize_short_side(x, boxes.float(), short_side)
        t, _ = T.resize_short_side(t, torch.zeros(0, 5), short_side)
    return T.to_unit_range(x), T.to_unit_range(t), boxes


# -- 2. score ---------------------------------------------------------------------------------------

@dataclass
class Scores:
    """Per input, per metric: the values of its samples (lists of K, or of 1)."""

    samples: dict[str, list[list[float | None]]] = field(default_factory=dict)
    lpips_pairs: list[list[float]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, values: list) -> None:
        self.samples.setdefault(name, []).append(values)


def _batch_sizes(device, x: torch.Tensor, samples: int, P: Protocol) -> dict[str, int]:
    """v1's batch sizes for the frame, plus ``lpips_crops`` for the small box crops (by the same pixel budget)."""
    bs = choose_batch_sizes(device, x.shape[-2], x.shape[-1], samples, 64)
    bs["lpips_crops"] = choose_batch_sizes(device, P.object_crop, P.object_crop, samples, 64)["lpips"]
    return bs


def score_paired(translator, data: PairedData, protocol: Protocol, *, direction: str, lpips: LpipsScorer,
                 classifier=None, object_classifier=None, device="cpu", batch_sizes=None, truth_styles=None,
                 progress: Progress | None = None, shard: Shard = SINGLE) -> tuple[Scores | None, dict]:
    """Run every input through ``translator`` and score its outputs; returns ``(scores, batch sizes)``.

    ``translator`` None scores the ground truth itself (the reference row): its one output is the truth, and its
    diversity is that of ``truth_styles`` (:class:`initbench.evaluation.truth_styles.TruthStyles`) samples.
    ``shard``: this rank's share under ``torchrun`` (round-robin); rank 0 gets every input's scores in input
    order, the other ranks ``(None, batch sizes)``.
    """
    P = protocol
    _, target = parse_task(data.task)
    # every rank sizes its batches by input 0, as one process does
    x0, _, _ = load_pair(data.root, data.inputs[0], data.truths[0], data.boxes[0], P.short_side)
    bs = {**_batch_sizes(device, x0[None], P.samples_per_input, P), **(batch_sizes or {})}
    if translator is None:
        sc = Scores(timings={"rendering": 0.0, "scoring": 0.0})
        one = _truth_scorer(sc, data, P, target, lpips, classifier, object_classifier, device, bs, truth_styles)
    else:
        sc = Scores(timings={"encode_decode": 0.0, "scoring": 0.0})
        one = _translator_scorer(sc, translator, data, P, target, direction, lpips, classifier, object_classifier,
                                 device, bs)
    mine: list[int] = []  # the inputs this rank scored, in the order of its rows in ``sc``

    def score_and_note(i: int) -> None:
        one(i)
        mine.append(i)

    run_inputs(len(data.inputs), score_and_note, shard, progress)
    if not shard.enabled:
        return sc, bs
    parts = gather_to_main((mine, sc), shard)
    return (merge_scores(parts, len(data.inputs)) if shard.is_main else None), bs


def merge_scores(parts: list[tuple[list[int], Scores]], n: int) -> Scores:
    """One :class:`Scores` of ``n`` inputs in input order from each rank's ``(its input indices, its Scores)``;
    timings are summed over ranks."""
    out = Scores()
    names = [name for _, sc in parts for name in sc.samples]
    for name in dict.fromkeys(names):
        out.samples[name] = place([(ix, sc.samples[name]) for ix, sc in parts if name in sc.samples], n)
    out.lpips_pairs = place([(ix, sc.lpips_pairs) for ix, sc in parts], n)
    for _, sc in parts:
        for k, v in sc.timings.items():
            out.timings[k] = out.timings.get(k, 0.0) + v
    return out


def _translator_scorer(sc, translator, data, P, target, direction, lpips, classifier, object_classifier, device, bs):
    """``one(i)``: translate input ``i`` (its K styles seeded ``style_seed + i``) and add its numbers to ``sc``."""
    multimodal = translator.is_multimodal
    guided = multimodal and translator.takes_style_from_images
    S = P.samples_per_input
    n_gen = S if multimodal else 1
    pairs = munit_pair_indices(S, P.lpips_pairs())
    rep = translator.repeat_content

    def one(i: int) -> None:
        x, truth, boxes = load_pair(data.root, data.inputs[i], data.truths[i], data.boxes[i], P.short_side)
        x, truth = x[None].to(device), truth.to(device)
        t0 = time.perf_counter()
        content = translator.encode(x, direction=direction)
        gen = torch.Generator().manual_seed(P.style_seed + i)
        styles = translator.sample_style(S, generator=gen, device=device) if multimodal else None
        outs = []
        for s0 in range(0, n_gen, bs["decode"]):
            k = min(bs["decode"], n_gen - s0)
            style = styles[s0 : s0 + k] if multimodal else None
            outs.append(translator.decode(rep(content, k), direction=direction, style=style).clamp(-1, 1))
        y = torch.cat(outs)
        y_guided = None
        if guided:  # the truth shows the input's scene: its boxes are the input's (initbench.guided's rule)
            y_guided, _ = guided_translate(translator, x, truth[None], direction=direction, content=content, boxes=boxes,
                                           guide_boxes=boxes, generator=torch.Generator().manual_seed(P.style_seed + i))
            y_guided = y_guided.clamp(-1, 1)
        t1 = time.perf_counter()
        sc.timings["encode_decode"] += t1 - t0
        _score_one(sc, y, y_guided, truth, boxes, P, lpips, classifier, object_classifier, target, bs)
        if multimodal:
            ia, ib = zip(*pairs)
            sc.lpips_pairs.append(lpips.distances(y[list(ia)], y[list(ib)], bs["lpips"]).double().tolist())
        else:  # identical samples: the distance of the output to itself, for every pair (as v1)
            sc.lpips_pairs.append(lpips.distances(y, y, 1).double().repeat(len(pairs)).tolist())
        sc.timings["scoring"] += time.perf_counter() - t1

    return one


def _truth_scorer(sc, data, P, target, lpips, classifier, object_classifier, device, bs, truth_styles):
    """``one(i)``: score input ``i``'s ground truth as the output, its diversity from ``truth_styles``."""
    S = P.samples_per_input
    pairs = munit_pair_indices(S, P.lpips_pairs())

    def one(i: int) -> None:
        key = data.inputs[i]
        _, truth, boxes = load_pair(data.root, key, data.truths[i], data.boxes[i], P.short_side)
        truth = truth.to(device)
        t0 = time.perf_counter()
        truth_styles.check(data.root, key, target, data.truths[i])
        samples = truth_styles.samples(key, target, S, P.short_side).to(device)
        t1 = time.perf_counter()
        sc.timings["rendering"] += t1 - t0
        _score_one(sc, truth[None], None, truth, boxes, P, lpips, classifier, object_classifier, target, bs)
        ia, ib = zip(*pairs)
        sc.lpips_pairs.append(lpips.distances(samples[list(ia)], samples[list(ib)], bs["lpips"]).double().tolist())
        sc.timings["scoring"] += time.perf_counter() - t1

    return one


def _score_one(sc: Scores, y, y_guided, truth, boxes, P, lpips, classifier, object_classifier, target: str, bs) -> None:
    """Every per-sample number of one input (``y``: K outputs; ``y_guided``: 1 output or None)."""
    h, w = truth.shape[-2:]
    masks = {k: m.to(truth.device) for k, m in M.region_masks(boxes, h, w).items()}
    l1 = M.l1_per_region(y, truth, masks)
    for region in M.REGIONS:
        sc.add(f"l1_gt_{region}", l1[region])
    k = y.shape[0]
    sc.add("lpips_gt_frame", lpips.distances(y, truth[None].expand_as(y), bs["lpips"]).double().tolist())
    n_boxes = boxes.reshape(-1, 5).shape[0]
    crops_y = M.box_crops(y, boxes, P.object_crop)
    if n_boxes:
        crops_t = M.box_crops(truth[None], boxes, P.object_crop)
        d = lpips.distances(crops_y, crops_t.repeat(k, 1, 1, 1), bs["lpips_crops"]).double().reshape(k, n_boxes)
        sc.add("lpips_gt_objects", d.mean(1).tolist())
    else:
        sc.add("lpips_gt_objects", [None] * k)
    if classifier is not None:
        sc.add("domain_accuracy", M.share_in_target(classifier(y), classifier.domains.index(target)))
    if object_classifier is not None:
        hits = M.share_in_target(object_classifier(crops_y), object_classifier.domains.index(target)) if n_boxes else []
        sc.add("object_domain_accuracy", hits)
    if y_guided is not None:
        g = M.l1_per_region(y_guided, truth, {"frame": masks["frame"], "objects": masks["objects"]})
        sc.add("l1_gt_frame_guided", g["frame"])
        sc.add("l1_gt_objects_guided", g["objects"])
        sc.add("lpips_gt_frame_guided", lpips.distances(y_guided, truth[None], 1).double().tolist())


# -- 3. record --------------------------------------------------------------------------------------

def paired_metrics(sc: Scores) -> tuple[dict[str, float | None], dict[str, list]]:
    """``(metrics, per_input)`` from the per-sample numbers: every key of :data:`METRIC_KEYS` (None where not scored)."""
    metrics: dict[str, float | None] = {k: None for k in METRIC_KEYS}
    per_input: dict[str, list] = {}
    for name, rows in sc.samples.items():
        if name in ("domain_accuracy", "object_domain_accuracy"):
            # a share over all outputs (or crops): pooled, not a mean of per-input shares
            flat = [v for r in rows for v in r]
            metrics[name] = sum(flat) / len(flat) if flat else None
            per_input[name] = [sum(r) / len(r) if r else None for r in rows]
            continue
        mean, best, means, bests = M.summarise(rows)
        metrics[name] = mean
        per_input[name] = means
        if name + "_best" in metrics:
            metrics[name + "_best"] = best
            per_input[name + "_best"] = bests
    flat = [v for r in sc.lpips_pairs for v in r]
    metrics["lpips_diversity"] = M.mean_or_none(flat)
    per_input["lpips"] = [M.mean_or_none(r) for r in sc.lpips_pairs]
    per_input["lpips_pairs"] = sc.lpips_pairs
    return {k: metrics[k] for k in METRIC_KEYS}, per_input


def paired_result(translator, data: PairedData, sc: Scores, protocol: Protocol, *, method: str, checkpoint_sha256,
                  direction: str, model_task, lpips: LpipsScorer, lpips_seed: int, classifier_info, object_info,
                  device, batch_sizes, method_settings, started: float, shard: Shard = SINGLE) -> dict:
    """The results dict of a paired-v1 run (keys as v1's, plus ``method_settings`` and ``params``).

    ``shard``: recorded as ``world_size`` and ``per_input.rank`` (the rank that evaluated each input)."""
    P = protocol
    metrics, per_input = paired_metrics(sc)
    per_input = {"keys": data.inputs, "rank": [shard.rank_of(i) for i in range(len(data.inputs))], **per_input}
    fingerprint = dict(lpips.fingerprint)
    fingerprint["classifier"] = classifier_info["sha256"] if classifier_info else None
    fingerprint["classifier_arch"] = classifier_info["arch"] if classifier_info else None
    fingerprint["object_classifier"] = object_info["sha256"] if object_info else None
    skipped = {}
    if classifier_info is None:
        skipped["domain_accuracy"] = "no --classifier given"
    if object_info is None:
        skipped["object_domain_accuracy"] = "no --object-classifier given"
    multimodal = translator is not None and translator.is_multimodal
    if translator is None:
        skipped["guided"] = "ground-truth: its output is the truth itself (errors 0 by construction)"
    elif not (multimodal and translator.takes_style_from_images):
        skipped["guided"] = (f"{method} cannot take its style from an image (deterministic, or no style_from_images); "
                             "guided metrics are null")
    else:  # how the guided outputs were made (for INIT: which objects took the styles of the truth's crops)
        method_settings = {**method_settings, "guided": guided_settings(translator)}
    warnings = []
    if data.without_truth:
        warnings.append(f"{len(data.without_truth)} {data.task.split('2')[0]} test inputs have no ground truth and were "
                        f"left out, e.g. {data.without_truth[0]}")
    data_fp = data_fingerprint(P.split, data.inputs, data.truths)
    ok, reasons = conformance(P, task=data.task, test_images=data.test_images, lpips_backbone=lpips.backbone,
                              classifier_info=classifier_info, data_fingerprint=data_fp,
                              missing_ground_truth=len(data.without_truth))
    timings = {k: round(v, 4) for k, v in sc.timings.items()}
    timings["total"] = round(time.perf_counter() - started, 4)
    return {
        "protocol": P.version,
        "protocol_spec": P.to_dict(),
        "conformant": ok,
        "nonconformant_reasons": reasons,
        "task": data.task,
        "direction": direction,
        "model_task": model_task or data.task,
        "method": method,
        "method_settings": method_settings,
        "checkpoint_sha256": checkpoint_sha256,
        "weights_sha256": sha256_tensors(translator.state_dict() if translator is not None else {}),
        "params": sum(p.numel() for p in translator.parameters()) if translator is not None else 0,
        "seed": {"input_seed": P.input_seed, "style_seed": P.style_seed,
                 "lpips_seed": lpips_seed if lpips.backbone == "random" else None},
        "num_inputs": len(data.inputs),
        "samples_per_input": P.samples_per_input,
        "deterministic": not multimodal and translator is not None,
        "metrics": metrics,
        "metrics_extra": {"inputs_without_ground_truth": len(data.without_truth)},
        "per_input": per_input,
        "fingerprint": fingerprint,
        "skipped": skipped,
        "warnings": warnings,
        "data_fingerprint": data_fp,
        # ``reference`` holds the ground-truth files, so the fingerprint identifies the truth compared against
        "data": {"split": P.split, "inputs": data.inputs, "reference": data.truths,
                 "inputs_without_ground_truth": data.without_truth},
        "versions": versions(),
        "device": device_info(device),
        "world_size": shard.world_size,
        "precision": "fp32 (TF32 off)",
        "batch_sizes": batch_sizes,
        "timings": timings,
    }


def evaluate_paired(translator, root, task: str, *, protocol: Protocol = PAIRED_V1, method: str | None = None,
                    checkpoint_sha256: str | None = None, classifier=None, object_classifier=None,
                    direction: str = "a2b", model_task: str | None = None, lpips_backbone: str = "pretrained",
                    lpips_seed: int = 0, device="cpu", weights_dir=None, offline: bool = True, batch_sizes=None,
                    method_settings: dict | None = None, skip_invalid: bool = False, truth_styles=None,
                    progress: Progress | None = None, shard: Shard = SINGLE) -> dict | None:
    """Run protocol ``paired-v1`` on ``translator`` for ``task`` on the paired tree ``root``; returns the results dict.

    ``classifier`` / ``object_classifier``: files of ``train-classifier`` (without ``--objects`` / with it);
    None leaves ``domain_accuracy`` / ``object_domain_accuracy`` null with the reason in ``skipped``.
    ``method_settings``: how a floor was built (recorded as given). ``translator`` None with ``truth_styles``
    (:class:`initbench.evaluation.truth_styles.TruthStyles`): the ground truth's own row, method ``ground-truth``.
    ``shard``: this process's rank under ``torchrun``; the result is returned on rank 0 only (None elsewhere).
    """
    if translator is None and truth_styles is None:
        raise UsageError("--method ground-truth: needs the tree's synth parameters (--synth-params)")
    if direction not in DIRECTIONS:
        raise UsageError(f"--direction: expected one of {', '.join(DIRECTIONS)}; got {direction!r}")
    started = time.perf_counter()
    data = collect_paired(root, task, protocol, skip_invalid=skip_invalid)
    lp = LpipsScorer(lpips_backbone, seed=lpips_seed, device=device, weights_dir=weights_dir, offline=offline)
    clf, clf_info = load_classifier(classifier, device, kind="images") if classifier is not None else (None, None)
    obj, obj_info = (load_classifier(object_classifier, device, kind="objects")
                     if object_classifier is not None else (None, None))
    if translator is not None:
        translator = translator.to(device).eval()
    else:
        method_settings = {**(method_settings or {}), "truth_styles": truth_styles.params}
    with torch.inference_mode(), exact_fp32():
        sc, bs = score_paired(translator, data, protocol, direction=direction, lpips=lp, classifier=clf,
                              object_classifier=obj, device=device, batch_sizes=batch_sizes, truth_styles=truth_styles,
                              progress=progress, shard=shard)
    if sc is None:  # not rank 0: its share went to rank 0
        return None
    name = method or ("ground-truth" if translator is None else translator.name or type(translator).__name__)
    return paired_result(translator, data, sc, protocol, method=name, checkpoint_sha256=checkpoint_sha256,
                         direction=direction, model_task=model_task, lpips=lp, lpips_seed=lpips_seed,
                         classifier_info=clf_info, object_info=obj_info, device=device, batch_sizes=bs,
                         method_settings=method_settings or {}, started=started, shard=shard)

