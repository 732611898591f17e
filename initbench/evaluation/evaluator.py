"""Protocol v1 on any Translator: LPIPS diversity, IS, CIS, FID/KID, in one streamed pass.

Work is done once: each input is read and encoded once (``Translator.encode``); its
``samples_per_input`` styles are decoded in batches (``Translator.decode``); each decoded batch
goes to the classifier (IS/CIS), to LPIPS (the pairs ``(2k, 2k+1)`` it contains) and to the FID
feature extractor, then is dropped. Only per-output logits (``N x 4``), LPIPS values and FID
feature rows are kept. A deterministic translator (``style_dim == 0``) is decoded once per input
and its classifier and LPIPS values are repeated ``samples_per_input`` times (its samples are
identical); FID/KID take each distinct output once (one row per input for such a translator).

Every result says whether it is ``conformant`` and, if not, why (:mod:`initbench.evaluation.conformance`),
and records the data it used (``data``: split, input and FID-reference keys; ``data_fingerprint``).

Outputs are clamped to [-1, 1] before scoring (a tanh generator is already inside).

The result is a plain dict (see :func:`evaluate`); ``initbench evaluate`` writes it as JSON.
"""

from __future__ import annotations

import platform
import time
from contextlib import contextmanager
from importlib import metadata
from typing import Any, Callable

import torch

from initbench.dataset.release import parse_task
from initbench.digests import sha256_tensors
from initbench.errors import UsageError, WeightsMissingError
from initbench.evaluation import images as I
from initbench.evaluation import inception as IS
from initbench.evaluation.classifier import load_classifier
from initbench.evaluation.conformance import conformance, data_fingerprint
from initbench.evaluation.fid_kid import DEFAULT_EXTRACTOR, FeatureStream, fid_kid_from_features
from initbench.evaluation.lpips_diversity import LpipsScorer, drit_pair_indices, munit_pair_indices
from initbench.evaluation.protocol import V1, Protocol

DIRECTIONS = ("a2b", "b2a")
METRIC_KEYS = ("lpips_diversity", "is_exp", "is_kl", "is_exp_10split", "cis_exp", "cis_kl", "fid", "kid")
Progress = Callable[[str, int, int], None]


def choose_batch_sizes(device: str | torch.device, height: int, width: int, samples: int, classifier_size: int = 299) -> dict[str, int]:
    """Batch sizes by device and image size.

    Measured on a 2-core CPU: LPIPS at 360 x 640 costs ~0.11 s per pair at batch 1 and more per
    pair at batch 8, while at 40 x 64 batch 32 is 8x cheaper per pair than batch 1; so on a CPU
    the batch holds about 2**18 pixels per image side. GPUs take 2**23. The classifier gets its
    own batch from its input size: on a CPU, a decode batch of 100 mini-INIT outputs upsampled to
    299 x 299 made Inception-v3 slower per image than batches of 2 and doubled peak memory
    (``benchmarks/results/evaluator_throughput_cpu_*.json``).
    """
    px = max(1, height * width)
    budget = 2**23 if torch.device(device).type == "cuda" else 2**18
    lp = max(1, min(64, budget // px))
    gen = max(2, min(samples, (4 * budget) // px))
    gen -= gen % 2  # even, so that pair (2k, 2k+1) never straddles two batches
    cls = max(1, min(64, budget // max(1, classifier_size * classifier_size)))
    return {"decode": max(2, gen), "lpips": lp, "classifier": cls, "fid": 32}


def repeat_content(content: Any, k: int) -> Any:
    """Repeat an encoded content of one image ``k`` times along the batch dimension.

    Tensors whose first dimension is 1 are expanded; tuples, lists and dicts are walked; anything
    else is passed through. A Translator may define ``repeat_content(content, k)`` to override.
    """
    if torch.is_tensor(content):
        return content.expand(k, *content.shape[1:]) if content.dim() >= 1 and content.shape[0] == 1 else content
    if isinstance(content, tuple):
        return type(content)(*(repeat_content(c, k) for c in content)) if hasattr(content, "_fields") else tuple(repeat_content(c, k) for c in content)
    if isinstance(content, list):
        return [repeat_content(c, k) for c in content]
    if isinstance(content, dict):
        return {key: repeat_content(v, k) for key, v in content.items()}
    return content


@contextmanager
def exact_fp32():
    """Convolutions and matrix products in full fp32 while evaluating (TF32 off; restored after).

    cuDNN's default TF32 convolutions move LPIPS values by ~1e-4 and make them depend on the batch
    size; the protocol's numbers are fp32.
    """
    old = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("initbench", "torch", "torchvision", "lpips", "torch-fidelity", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def device_info(device: str | torch.device) -> str:
    dev = torch.device(device)
    if dev.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(dev)}"
    return f"cpu:{platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


class _Scorers:
    """The networks a run uses, built once, with the fingerprint and the reasons for nulls."""

    def __init__(self, *, classifier, lpips_backbone, lpips_seed, device, weights_dir, offline, fid, fid_extractor):
        self.fingerprint: dict[str, Any] = {}
        self.skipped: dict[str, str] = {}
        self.lpips = LpipsScorer(lpips_backbone, seed=lpips_seed, device=device, weights_dir=weights_dir, offline=offline)
        self.fingerprint.update(self.lpips.fingerprint)
        self.classifier = None
        self.classifier_info: dict | None = None  # arch, init, recipe: what conformance reads
        if classifier is None:
            self.skipped["is_cis"] = "no --classifier given"
            self.fingerprint["classifier"] = None
        else:
            self.classifier, info = load_classifier(classifier, device)
            self.classifier_info = info
            self.fingerprint["classifier"] = info["sha256"]
            self.fingerprint["classifier_arch"] = info["arch"]
        self.fid = None
        self.fingerprint["fid_features"] = None
        if fid:
            try:
                self.fid = FeatureStream(fid_extractor, device=device, weights_dir=weights_dir, offline=offline)
                self.fingerprint["fid_features"] = self.fid.sha256
            except WeightsMissingError as exc:
                self.skipped["fid_kid"] = str(exc)
        else:
            self.skipped["fid_kid"] = "FID/KID not requested"


def fid_warnings(n_outputs: int, n_reference: int, dim: int) -> list[str]:
    """Warnings of a FID/KID from ``n_outputs`` distinct outputs and ``n_reference`` images of ``dim`` features."""
    out = []
    for what, n in (("distinct outputs", n_outputs), ("reference images", n_reference)):
        if n < dim:
            out.append(f"FID/KID from {n} {what}, fewer than the feature dimension {dim}: the covariance is "
                       "singular and FID is not comparable with one from more samples")
    return out


def _fid_reference(scorers: _Scorers, root, keys: list[str], target: str, P: Protocol, bs: int,
                   progress: Progress | None) -> torch.Tensor:
    I.require(keys, f"{target} test images (FID/KID reference)", root)
    rows = []
    for s in range(0, len(keys), bs):
        batch = torch.stack([I.load_image(I.key_path(root, k), P.short_side) for k in keys[s : s + bs]])
        rows.append(scorers.fid.features(I.to_uint8(batch)))
        if progress:
            progress("reference", min(s + bs, len(keys)), len(keys))
    return torch.cat(rows)


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
) -> dict:
    """Run ``protocol`` on ``translator`` (a :class:`initbench.methods.base.Translator`) for ``task``.

    ``direction`` (``a2b`` or ``b2a``) is passed to every ``translator.encode/decode`` call; it and
    ``model_task`` (the task the model was trained on; None: ``task``) are recorded.
    ``classifier``: path of a file from ``train-classifier`` (None: IS/CIS are null, with the
    reason). ``batch_sizes`` overrides :func:`choose_batch_sizes` (``decode`` even, ``lpips``,
    ``fid``); they change speed, not results. The translator is moved to ``device`` and put in
    eval mode. ``progress(stage, done, total)`` is called as work advances. Returns the results dict
    (keys: protocol, protocol_spec, conformant, task, method, checkpoint_sha256 (the file's), weights_sha256
    (the evaluated weights' canonical tensors, :func:`initbench.digests.sha256_tensors`), seed, inputs,
    metrics, metrics_extra, per_input, fingerprint, skipped, versions, device, batch_sizes, timings,
    direction, model_task, nonconformant_reasons, data_fingerprint, data, warnings).
    """
    P = protocol
    if direction not in DIRECTIONS:
        raise UsageError(f"--direction: expected one of {', '.join(DIRECTIONS)}; got {direction!r}")
    source, target = parse_task(task)
    t_start = time.perf_counter()
    timings = {"encode_decode": 0.0, "classifier": 0.0, "lpips": 0.0, "fid_features": 0.0}
    assignment = I.split_of_root(root, P.split)
    source_keys = I.require(I.domain_keys(assignment, source, "test"), f"{source} test images", root)
    # Fewer test images than the protocol's inputs: all are used; conformance says so.
    inputs = I.draw(source_keys, P.num_inputs, P.input_seed)
    reference = I.draw(I.domain_keys(assignment, target, "test"), P.fid_max_reference, P.input_seed)
    scorers = _Scorers(classifier=classifier, lpips_backbone=lpips_backbone, lpips_seed=lpips_seed, device=device,
                       weights_dir=weights_dir, offline=offline, fid=fid, fid_extractor=fid_extractor)
    translator = translator.to(device).eval()
    S = P.samples_per_input
    multimodal = bool(getattr(translator, "is_multimodal", False))
    pairs = munit_pair_indices(S, P.lpips_pairs())
    per_lpips: list[list[float]] = []
    groups: list[torch.Tensor] = []
    firsts: list[torch.Tensor] = []  # sample 0 of each input, for pairing "drit" only
    bs = None
    rep = getattr(translator, "repeat_content", None) or repeat_content

    def timed(key, fn, *a, **kw):
        t = time.perf_counter()
        out = fn(*a, **kw)
        timings[key] += time.perf_counter() - t
        return out

    with torch.inference_mode(), exact_fp32():
        for i, key in enumerate(inputs):
            x = I.load_image(I.key_path(root, key), P.short_side)[None].to(device)
            if bs is None:
                csize = getattr(scorers.classifier, "input_size", 299)
                bs = {**choose_batch_sizes(device, x.shape[-2], x.shape[-1], S, csize), **(batch_sizes or {})}
                if bs["decode"] % 2:
                    raise UsageError(f"batch_sizes['decode']: expected an even number (pairs 2k, 2k+1 share a batch); got {bs['decode']}")
            content = timed("encode_decode", translator.encode, x, direction=direction)
            n_gen = S if multimodal else 1
            styles = None
            if multimodal:
                styles = translator.sample_style(S, generator=torch.Generator().manual_seed(P.style_seed + i), device=device)
            logits, lp = [], []
            for s0 in range(0, n_gen, bs["decode"]):
                k = min(bs["decode"], n_gen - s0)
                style = styles[s0 : s0 + k] if multimodal else None
                y = timed("encode_decode", translator.decode, rep(content, k), direction=direction, style=style).clamp(-1, 1)
                if scorers.classifier is not None:
                    cb = bs["classifier"]
                    logits.append(torch.cat([timed("classifier", scorers.classifier, y[c : c + cb]) for c in range(0, k, cb)]).double().cpu())
                if multimodal:
                    inside = [(a - s0, b - s0) for a, b in pairs if s0 <= a and b < s0 + k]
                    if inside:
                        ia, ib = zip(*inside)
                        lp.append(timed("lpips", scorers.lpips.distances, y[list(ia)], y[list(ib)], bs["lpips"]))
                else:  # identical samples: the distance of an output to itself, for every pair
                    lp.append(timed("lpips", scorers.lpips.distances, y, y, 1).repeat(len(pairs)))
                if scorers.fid is not None:
                    # Each distinct output once: a deterministic translator's one output per input is not
                    # repeated (repeated rows shrink the covariance and moved a toy KID from -0.005 to 0.067).
                    scorers.fid.add_features(timed("fid_features", scorers.fid.features, I.to_uint8(y)))
                if P.pairing == "drit" and s0 == 0:
                    firsts.append(y[:1].cpu())
            per_lpips.append(torch.cat(lp).double().tolist())
            if logits:
                g = torch.cat(logits)
                groups.append(g if multimodal else g.repeat(S, 1))
            if progress:
                progress("inputs", i + 1, len(inputs))

        metrics = {k: None for k in METRIC_KEYS}
        extra: dict[str, Any] = {}
        warnings: list[str] = []
        all_pairs = [v for row in per_lpips for v in row]
        metrics_munit = sum(all_pairs) / len(all_pairs) if all_pairs else None
        per_input: dict[str, Any] = {"keys": inputs, "lpips": [sum(r) / len(r) if r else None for r in per_lpips], "lpips_pairs": per_lpips}
        if P.pairing == "drit":
            dp = drit_pair_indices(len(firsts), P.drit_pairs, P.pair_seed)
            chunk, parts = 4 * bs["lpips"], []
            for c in range(0, len(dp), chunk):  # pairs stacked a chunk at a time, not all at once
                a = torch.cat([firsts[p] for p, _ in dp[c : c + chunk]])
                b = torch.cat([firsts[q] for _, q in dp[c : c + chunk]])
                parts.append(timed("lpips", scorers.lpips.distances, a, b, bs["lpips"]))
            dvals = torch.cat(parts).double()
            metrics["lpips_diversity"] = float(dvals.mean())
            extra["lpips_munit_pairing"] = metrics_munit
            per_input["lpips_drit_pairs"] = [[p, q, v] for (p, q), v in zip(dp, dvals.tolist())]
        else:
            metrics["lpips_diversity"] = metrics_munit
        if groups:
            t = time.perf_counter()
            all_logits = torch.cat(groups)
            is1 = IS.inception_score(all_logits)
            cis = IS.conditional_inception_score(groups)
            metrics.update(is_kl=is1["kl"], is_exp=is1["exp"], cis_kl=cis["kl"], cis_exp=cis["exp"])
            if all_logits.shape[0] >= 10:
                is10 = IS.inception_score_splits(all_logits, 10, shuffle=True, rng_seed=P.isc_rng_seed)
                metrics["is_exp_10split"] = is10["mean"]
                extra["is_exp_10split_std"] = is10["std"]
            summaries = [IS.input_summary(g) for g in groups]
            per_input["cis_kl"] = [s["cis_kl"] for s in summaries]
            per_input["marginal"] = [s["marginal"] for s in summaries]
            per_input["neg_entropy"] = [s["neg_entropy"] for s in summaries]
            timings["is_cis"] = time.perf_counter() - t
        if scorers.fid is not None:
            t = time.perf_counter()
            ref = _fid_reference(scorers, root, reference, target, P, bs["fid"], progress)
            timings["reference"] = time.perf_counter() - t
            outs = scorers.fid.matrix()
            fk = fid_kid_from_features(outs, ref, kid_subsets=P.kid_subsets,
                                       kid_subset_size=P.kid_subset_size, rng_seed=P.isc_rng_seed)
            metrics["fid"], metrics["kid"] = fk["fid"], fk["kid"]
            extra.update(kid_std=fk["kid_std"], kid_subset_size=fk["kid_subset_size"], fid_reference_images=ref.shape[0],
                         fid_outputs=outs.shape[0])
            warnings += fid_warnings(outs.shape[0], ref.shape[0], outs.shape[1])

    timings["total"] = time.perf_counter() - t_start
    data_fp = data_fingerprint(P.split, inputs, reference)
    ok, reasons = conformance(P, task=task, test_images=len(source_keys), lpips_backbone=lpips_backbone,
                              classifier_info=scorers.classifier_info, data_fingerprint=data_fp)
    return {
        "protocol": P.version,
        "protocol_spec": P.to_dict(),
        "conformant": ok,
        "nonconformant_reasons": reasons,
        "task": task,
        "direction": direction,
        "model_task": model_task or task,
        "method": method or getattr(translator, "name", "") or type(translator).__name__,
        "checkpoint_sha256": checkpoint_sha256,
        "weights_sha256": sha256_tensors(translator.state_dict()),
        "seed": {"input_seed": P.input_seed, "style_seed": P.style_seed, "pair_seed": P.pair_seed,
                 "isc_rng_seed": P.isc_rng_seed, "lpips_seed": lpips_seed if lpips_backbone == "random" else None},
        "num_inputs": len(inputs),
        "samples_per_input": S,
        "deterministic": not multimodal,
        "metrics": metrics,
        "metrics_extra": extra,
        "per_input": per_input,
        "fingerprint": scorers.fingerprint,
        "skipped": scorers.skipped,
        "warnings": warnings,
        "data_fingerprint": data_fp,
        "data": {"split": P.split, "inputs": inputs, "reference": reference},
        "versions": versions(),
        "device": device_info(device),
        "precision": "fp32 (TF32 off)",
        "batch_sizes": bs,
        "timings": {k: round(v, 4) for k, v in timings.items()},
    }

