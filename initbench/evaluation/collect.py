"""Step 1 of 3 (collect): translate the inputs and feed the scorers; keep only what the metrics need.

Each input is read and encoded once (``Translator.encode``); its ``samples_per_input`` styles are
decoded in batches (``Translator.decode``); each decoded batch goes to the classifier (IS/CIS), to
LPIPS (the pairs ``(2k, 2k+1)`` it contains) and to the FID feature extractor, then is dropped. A
deterministic translator (``style_dim == 0``) is decoded once per input; its classifier and LPIPS
values are repeated ``samples_per_input`` times (its samples are identical) while FID/KID take each
distinct output once. What is kept is a :class:`Collected`: per-input logits, LPIPS pair values,
FID feature rows, sample 0 of each input (pairing ``drit``) and the seconds spent per network.
Outputs are clamped to [-1, 1] before scoring (a tanh generator is already inside).

Under ``torchrun`` each rank collects its share of the inputs (:mod:`initbench.evaluation.sharding`)
and :func:`merge_collected` puts the shares together on rank 0 in input order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from initbench.errors import UsageError
from initbench.evaluation import images as I
from initbench.evaluation.lpips_diversity import drit_pair_indices, munit_pair_indices
from initbench.evaluation.protocol import Protocol
from initbench.evaluation.scorers import Scorers
from initbench.evaluation.sharding import SINGLE, Shard, gather_to_main, place, run_inputs

Progress = Callable[[str, int, int], None]


def choose_batch_sizes(device: str | torch.device, height: int, width: int, samples: int,
                       classifier_size: int = 299) -> dict[str, int]:
    """Batch sizes by device and image size.

    Measured on a 2-core CPU: LPIPS at 360 x 640 costs ~0.11 s per pair at batch 1 and more per
    pair at batch 8, while at 40 x 64 batch 32 is 8x cheaper per pair than batch 1; so on a CPU
    the batch holds about 2**18 pixels per image side. GPUs take 2**23. The classifier gets its
    own batch from its input size: on a CPU, a decode batch of 100 mini-INIT outputs upsampled to
    299 x 299 made Inception-v3 slower per image than batches of 2 and doubled peak memory, while
    batches of 4 ran 1.3x faster per image than batches of 1 (eager and channels-last alike), so a
    CPU batch holds 4 x 299 x 299 classifier pixels (``benchmarks/results/evaluator_throughput_cpu*.json``).
    """
    px = max(1, height * width)
    cuda = torch.device(device).type == "cuda"
    budget = 2**23 if cuda else 2**18
    lp = max(1, min(64, budget // px))
    gen = max(2, min(samples, (4 * budget) // px))
    gen -= gen % 2  # even, so that pair (2k, 2k+1) never straddles two batches
    cls = max(1, min(64, (budget if cuda else 4 * 299 * 299) // max(1, classifier_size * classifier_size)))
    return {"decode": max(2, gen), "lpips": lp, "classifier": cls, "fid": 32}


@dataclass
class Collected:
    """What one pass produced: everything the metrics (:mod:`initbench.evaluation.metrics`) read.

    ``lpips_pairs[i]``: LPIPS of input i's pairs (2k, 2k+1); ``logit_groups[i]``: its ``S x C``
    classifier logits (float64; empty without a classifier); ``fid_rows``: one feature row per
    distinct output (None: FID off); ``firsts``: sample 0 of each input (pairing ``drit`` only);
    ``drit_pairs``/``drit_values``: the drit pairs and their LPIPS (:func:`collect_drit_lpips`);
    ``timings``: seconds per network (``encode_decode``, ``classifier``, ``lpips``, ``fid_features``; summed over
    ranks when sharded); ``fid_counts[i]``: input i's rows in ``fid_rows``; ``ranks[i]``: the rank that evaluated it.
    """

    batch_sizes: dict[str, int] | None = None
    lpips_pairs: list[list[float]] = field(default_factory=list)
    logit_groups: list[torch.Tensor] = field(default_factory=list)
    fid_rows: torch.Tensor | None = None
    firsts: list[torch.Tensor] = field(default_factory=list)
    drit_pairs: list[tuple[int, int]] = field(default_factory=list)
    drit_values: list[float] = field(default_factory=list)
    fid_counts: list[int] = field(default_factory=list)
    ranks: list[int] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("encode_decode", "classifier", "lpips", "fid_features"), 0.0))

    def timed(self, key: str, fn, *args, **kwargs):
        """``fn(*args, **kwargs)``, its seconds added to ``timings[key]``."""
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        self.timings[key] = self.timings.get(key, 0.0) + time.perf_counter() - t
        return out


class _Pass:
    """One translator's pass over the inputs (the state :func:`collect_translator` shares between its steps)."""

    def __init__(self, translator, P: Protocol, scorers: Scorers, direction: str, device):
        self.translator, self.P, self.scorers, self.direction, self.device = translator, P, scorers, direction, device
        self.multimodal = translator.is_multimodal
        self.pairs = munit_pair_indices(P.samples_per_input, P.lpips_pairs())
        self.rep = translator.repeat_content  # declared on Translator (methods/base.py), overridable
        self.out = Collected()

    def batch_sizes(self, x: torch.Tensor, overrides: dict[str, int] | None) -> dict[str, int]:
        csize = getattr(self.scorers.classifier, "input_size", 299)
        bs = {**choose_batch_sizes(self.device, x.shape[-2], x.shape[-1], self.P.samples_per_input, csize), **(overrides or {})}
        if bs["decode"] % 2:
            raise UsageError(f"batch_sizes['decode']: expected an even number (pairs 2k, 2k+1 share a batch); got {bs['decode']}")
        return bs

    def input(self, i: int, x: torch.Tensor) -> None:
        """Encode input ``i`` once, decode its samples batch by batch, score each batch and drop it."""
        c, bs, S = self.out, self.out.batch_sizes, self.P.samples_per_input
        content = c.timed("encode_decode", self.translator.encode, x, direction=self.direction)
        n_gen = S if self.multimodal else 1
        styles = None
        if self.multimodal:
            styles = self.translator.sample_style(S, generator=torch.Generator().manual_seed(self.P.style_seed + i),
                                                  device=self.device)
        logits, lp = [], []
        for s0 in range(0, n_gen, bs["decode"]):
            k = min(bs["decode"], n_gen - s0)
            style = styles[s0 : s0 + k] if self.multimodal else None
            y = c.timed("encode_decode", self.translator.decode, self.rep(content, k), direction=self.direction,
                        style=style).clamp(-1, 1)
            self.score(y, s0, logits, lp)
        c.lpips_pairs.append(torch.cat(lp).double().tolist())
        c.fid_counts.append(n_gen if self.scorers.fid is not None else 0)
        if logits:
            g = torch.cat(logits)
            c.logit_groups.append(g if self.multimodal else g.repeat(S, 1))

    def score(self, y: torch.Tensor, s0: int, logits: list, lp: list) -> None:
        """Classifier logits, LPIPS of the pairs inside samples ``s0 ..``, FID rows and sample 0 of one decoded batch."""
        c, bs, sc, k = self.out, self.out.batch_sizes, self.scorers, y.shape[0]
        if sc.classifier is not None:
            cb = bs["classifier"]
            chunks = [c.timed("classifier", sc.classifier, y[j : j + cb]) for j in range(0, k, cb)]
            logits.append(torch.cat(chunks).double().cpu())
        if self.multimodal:
            inside = [(a - s0, b - s0) for a, b in self.pairs if s0 <= a and b < s0 + k]
            if inside:
                ia, ib = zip(*inside)
                lp.append(c.timed("lpips", sc.lpips.distances, y[list(ia)], y[list(ib)], bs["lpips"]))
        else:  # identical samples: the distance of an output to itself, for every pair
            lp.append(c.timed("lpips", sc.lpips.distances, y, y, 1).repeat(len(self.pairs)))
        if sc.fid is not None:
            # Each distinct output once: a deterministic translator's one output per input is not
            # repeated (repeated rows shrink the covariance and moved a toy KID from -0.005 to 0.067).
            sc.fid.add_features(c.timed("fid_features", sc.fid.features, I.to_uint8(y)))
        if self.P.pairing == "drit" and s0 == 0:
            c.firsts.append(y[:1].cpu())


def collect_translator(translator, root, inputs: list[str], P: Protocol, scorers: Scorers, *, direction: str = "a2b",
                       device: str | torch.device = "cpu", batch_sizes: dict[str, int] | None = None,
                       progress: Progress | None = None, shard: Shard = SINGLE) -> Collected | None:
    """Translate ``inputs`` (keys under ``root``) with ``translator`` (moved to ``device``, eval mode) and score them.

    Call inside ``torch.inference_mode()`` and :func:`initbench.evaluation.scorers.exact_fp32`.
    ``batch_sizes`` overrides :func:`choose_batch_sizes` (``decode`` even); they change speed, not results.
    ``shard``: this rank's share (round-robin); the merged :class:`Collected` is returned on rank 0, None elsewhere.
    """
    run = _Pass(translator.to(device).eval(), P, scorers, direction, device)
    mine: list[int] = []

    def one(i: int) -> None:
        x = I.load_image(I.key_path(root, inputs[i]), P.short_side)[None].to(device)
        run.input(i, x)
        mine.append(i)

    # every rank sizes its batches by input 0, as one process does, so that the recorded sizes agree
    x0 = I.load_image(I.key_path(root, inputs[0]), P.short_side)[None]
    run.out.batch_sizes = run.batch_sizes(x0, batch_sizes)
    run_inputs(len(inputs), one, shard, progress)
    if scorers.fid is not None and mine:
        run.out.fid_rows = scorers.fid.matrix()
    out = run.out
    if shard.enabled:
        parts = gather_to_main((mine, out), shard)
        if not shard.is_main:
            return None
        out = merge_collected(parts, len(inputs), shard)
    else:
        out.ranks = [0] * len(inputs)
    if P.pairing == "drit":
        collect_drit_lpips(out, scorers, P)
    return out


def merge_collected(parts: list[tuple[list[int], Collected]], n: int, shard: Shard) -> Collected:
    """One :class:`Collected` of ``n`` inputs, in input order, from each rank's ``(its input indices, its Collected)``.

    FID rows are split by input (``fid_counts``) and stacked in input order, so the matrix is one process's.
    """
    out = Collected(batch_sizes=parts[0][1].batch_sizes)
    out.lpips_pairs = place([(ix, c.lpips_pairs) for ix, c in parts], n)
    if any(c.logit_groups for _, c in parts):
        out.logit_groups = place([(ix, c.logit_groups) for ix, c in parts], n)
    out.firsts = place([(ix, c.firsts) for ix, c in parts if c.firsts], n) if any(c.firsts for _, c in parts) else []
    out.fid_counts = place([(ix, c.fid_counts) for ix, c in parts], n)
    if any(c.fid_rows is not None for _, c in parts):
        rows = place([(ix, list(torch.split(c.fid_rows, c.fid_counts))) for ix, c in parts if c.fid_rows is not None], n)
        out.fid_rows = torch.cat(rows)
    out.ranks = [shard.rank_of(i) for i in range(n)]
    for _, c in parts:
        for k, v in c.timings.items():
            out.timings[k] = out.timings.get(k, 0.0) + v
    return out


def collect_drit_lpips(c: Collected, scorers: Scorers, P: Protocol) -> None:
    """LPIPS of DRIT's pairs of first samples of two different inputs, into ``c.drit_pairs``/``c.drit_values``."""
    dp = drit_pair_indices(len(c.firsts), P.drit_pairs, P.pair_seed)
    chunk, parts = 4 * c.batch_sizes["lpips"], []
    for s in range(0, len(dp), chunk):  # pairs stacked a chunk at a time, not all at once
        a = torch.cat([c.firsts[p] for p, _ in dp[s : s + chunk]])
        b = torch.cat([c.firsts[q] for _, q in dp[s : s + chunk]])
        parts.append(c.timed("lpips", scorers.lpips.distances, a, b, c.batch_sizes["lpips"]))
    c.drit_pairs = dp
    c.drit_values = torch.cat(parts).double().tolist()


def collect_reference(scorers: Scorers, root, keys: list[str], target: str, P: Protocol, bs: int,
                      progress: Progress | None = None, cache=None) -> torch.Tensor:
    """FID feature rows of the ``target`` test images ``keys`` (the FID/KID reference), ``bs`` images at a time.

    ``cache``: a :class:`initbench.evaluation.feature_cache.FeatureCache`; the rows are then read from it
    when the images, the extractor and the protocol are those they were stored for, else extracted and stored.
    """
    I.require(keys, f"{target} test images (FID/KID reference)", root)
    if cache is not None:
        from initbench.evaluation.feature_cache import extractor_sha256, reference_key

        key = reference_key(root, keys, extractor=extractor_sha256(scorers.fid), protocol_version=P.version,
                            short_side=P.short_side)
        rows = cache.get_or_compute(key, lambda: collect_reference(scorers, root, keys, target, P, bs, progress))
        if progress:  # a hit extracts nothing: the stage is done all the same
            progress("reference", len(keys), len(keys))
        return rows
    rows = []
    for s in range(0, len(keys), bs):
        batch = torch.stack([I.load_image(I.key_path(root, k), P.short_side) for k in keys[s : s + bs]])
        rows.append(scorers.fid.features(I.to_uint8(batch)))
        if progress:
            progress("reference", min(s + bs, len(keys)), len(keys))
    return torch.cat(rows)
