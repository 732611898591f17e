"""Evaluator throughput: protocol v1 for one task, our streamed evaluator vs a naive MUNIT-style loop.

Both run in the same invocation, each in its own fresh process (so peak memory is its own),
on the same synthetic mini-INIT, the same tiny translator (a few conv layers, style-modulated),
the same seeded inputs and style codes, the same LPIPS network (AlexNet, random backbone: the
compute of the pretrained one, recorded as random) and the same domain classifier (Inception-v3
architecture from a random start by default, or ``--classifier-arch small``). FID/KID are off in
both (no Inception weights offline; it would be the same extractor work in both anyway).

The naive loop is written the way MUNIT's ``test_batch.py`` works: batch size 1; for each input
and each of the 100 styles, ``translate`` (encode + decode) one output and call the classifier
on it; then, for LPIPS, generate the 19 pairs again (two more ``translate`` calls per pair) and
call ``lpips`` once per pair. Our evaluator encodes each input once, decodes styles in batches,
classifies whole batches and takes the LPIPS pairs from the CIS samples (sample 2k vs 2k+1).
Both must agree on every metric and every pair to 1e-5.

Sizes: one synthetic mini-INIT (64 x 40 frames, 600 per domain so the source domain has 100 test
images) read at short side 40 (``mini``, its own size) and at 360 (``360``, the protocol's: the
network work of 360 x 576 inputs). Full run (100 inputs x 100 samples; on a 2-core CPU the 360 px
case takes hours for the naive loop; ``--num-inputs`` shortens it, and is recorded):

    python benchmarks/evaluator_throughput.py --out benchmarks/out/evaluator_throughput.json [--device cuda]

Smoke run (seconds): ``python benchmarks/evaluator_throughput.py --quick``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

METRICS = ("lpips_diversity", "is_exp", "is_kl", "is_exp_10split", "cis_exp", "cis_kl")


def make_translator(style_dim: int = 8, seed: int = 0):
    import torch
    from torch import nn

    from initbench.methods.base import Translator

    class BenchTranslator(Translator):
        """Conv encoder (stride 2), style-modulated residual block, upsampling decoder, tanh."""

        name = "bench-tiny"

        def __init__(self):
            super().__init__()
            self.style_dim = style_dim
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.enc = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 4, stride=2, padding=1), nn.ReLU())
                self.mod = nn.Linear(style_dim, 64)
                self.res = nn.Conv2d(32, 32, 3, padding=1)
                self.dec = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(32, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 3, 3, padding=1))

        def encode(self, images, *, direction="a2b"):
            return self.enc(images)

        def decode(self, content, *, direction="a2b", style=None):
            gamma, beta = self.mod(style)[:, :, None, None].chunk(2, dim=1)
            h = content + torch.relu(self.res(content) * (1 + gamma) + beta)
            return torch.tanh(self.dec(h))

    return BenchTranslator()


def naive_loop(root, task, protocol, classifier_path, device, lpips_seed=0) -> dict:
    """MUNIT's script, restated: batch 1 everywhere, LPIPS outputs generated again, one lpips call per pair."""
    import torch

    from initbench.dataset.release import parse_task
    from initbench.evaluation import images as I
    from initbench.evaluation import inception as IS
    from initbench.evaluation.classifier import load_classifier
    from initbench.evaluation.scorers import exact_fp32
    from initbench.evaluation.lpips_diversity import LpipsScorer

    P = protocol
    source, _ = parse_task(task)
    inputs = I.draw(I.domain_keys(I.split_of_root(root), source, "test"), P.num_inputs, P.input_seed)
    clf, _ = load_classifier(classifier_path, device)
    lp = LpipsScorer("random", seed=lpips_seed, device=device).model
    tr = make_translator().to(device).eval()
    groups, pairs = [], []
    with torch.no_grad(), exact_fp32():
        for i, key in enumerate(inputs):
            x = I.load_image(I.key_path(root, key), P.short_side)[None].to(device)
            styles = tr.sample_style(P.samples_per_input, generator=torch.Generator().manual_seed(P.style_seed + i), device=device)
            logits = []
            for s in range(P.samples_per_input):
                y = tr.translate(x, style=styles[s : s + 1]).clamp(-1, 1)
                logits.append(clf(y).double().cpu())
            groups.append(torch.cat(logits))
            row = []
            for k in range(P.lpips_pairs()):
                a = tr.translate(x, style=styles[2 * k : 2 * k + 1]).clamp(-1, 1)
                b = tr.translate(x, style=styles[2 * k + 1 : 2 * k + 2]).clamp(-1, 1)
                row.append(float(lp(a, b).reshape(())))
            pairs.append(row)
    allg = torch.cat(groups)
    flat = [v for r in pairs for v in r]
    is1, cis = IS.inception_score(allg), IS.conditional_inception_score(groups)
    return {
        "metrics": {"lpips_diversity": sum(flat) / len(flat), "is_exp": is1["exp"], "is_kl": is1["kl"],
                    "is_exp_10split": IS.inception_score_splits(allg, 10, rng_seed=P.isc_rng_seed)["mean"] if allg.shape[0] >= 10 else None,
                    "cis_exp": cis["exp"], "cis_kl": cis["kl"]},
        "lpips_pairs": pairs,
    }


def ours(root, task, protocol, classifier_path, device) -> dict:
    from initbench.evaluation.evaluator import evaluate

    r = evaluate(make_translator(), root, task, protocol=protocol, classifier=classifier_path, lpips_backbone="random",
                 device=device, fid=False)
    return {"metrics": {k: r["metrics"][k] for k in METRICS}, "lpips_pairs": r["per_input"]["lpips_pairs"],
            "batch_sizes": r["batch_sizes"], "stage_seconds": r["timings"]}


def _worker(kind, root, task, overrides, classifier_path, device, threads, conn):
    import torch

    torch.set_num_threads(threads)
    from initbench.evaluation.protocol import V1

    protocol = V1.with_overrides(**overrides)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    out = (ours if kind == "ours" else naive_loop)(root, task, protocol, classifier_path, device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    out["seconds"] = time.perf_counter() - t
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
    conn.send(out)
    conn.close()


def run_in_process(*args):
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_worker, args=(*args, child))
    p.start()
    out = parent.recv()
    p.join()
    return out


def make_classifier(arch: str, root: Path, task: str, short_side: int, path: Path) -> None:
    """A domain classifier from a random start (no weights offline), saved to ``path``.

    A random network with fresh batch-norm statistics (and a random head) saturates to one class
    for every image, which would make IS/CIS trivial; so the batch-norm statistics are set on the
    translator's outputs for 8 source images, and the head is drawn to give logits of order 1 on the
    eval-mode features of those and 8 more outputs.
    Both sides of the comparison use this same file.
    """
    import torch

    from initbench.dataset.release import parse_task
    from initbench.evaluation import images as I
    from initbench.evaluation.classifier import build_classifier, save_classifier

    clf, init = build_classifier(arch, from_scratch=True, seed=0)
    keys = I.domain_keys(I.split_of_root(root), parse_task(task)[0], "test")[:8]
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        src = torch.stack([I.load_image(I.key_path(root, k), short_side) for k in keys])
        tr = make_translator().eval()
        x = tr.translate(src, style=tr.sample_style(src.shape[0], generator=g)).clamp(-1, 1)
        for m in clf.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None  # cumulative average: one pass sets the statistics
        clf.train()
        clf(x)  # batch-norm statistics from these outputs
        clf.eval()
        feats = {}
        hook = clf.net.fc.register_forward_hook(lambda m, i, o: feats.update(f=i[0]))
        y = tr.translate(src, style=tr.sample_style(src.shape[0], generator=g)).clamp(-1, 1)
        clf(torch.cat([x, y]))  # eval-mode features of 16 outputs
        hook.remove()
        f = feats["f"]
        sd = f.std(0)
        sd = sd.clamp(min=float(sd.median()) + 1e-6)  # near-constant features must not get huge weights
        w = torch.randn(clf.net.fc.weight.shape, generator=g) * 2 / (sd * f.shape[1] ** 0.5)
        clf.net.fc.weight.copy_(w)
        clf.net.fc.bias.copy_(-(w @ f.mean(0)))
    save_classifier(clf.eval(), path, init=init)


def _write(report: dict, out: Path | None) -> None:
    if out is None:
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 inputs x 4 samples, small classifier, small frames")
    ap.add_argument("--out", type=Path, default=None, help="write the JSON report here")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--task", default="sunny2night")
    ap.add_argument("--sizes", default="mini,360", help="comma list of mini and 360")
    ap.add_argument("--num-inputs", type=int, default=None, help="override the protocol's 100 inputs (recorded)")
    ap.add_argument("--samples-per-input", type=int, default=None, help="override the protocol's 100 samples (recorded)")
    ap.add_argument("--classifier-arch", choices=["inception_v3", "small"], default=None)
    ap.add_argument("--data-dir", type=Path, default=None, help="keep the synthetic datasets here and reuse them (default: a temporary folder)")
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    args = ap.parse_args(argv)

    import torch

    from initbench.dataset.synthetic import synthesize

    arch = args.classifier_arch or ("small" if args.quick else "inception_v3")
    n_in = args.num_inputs or (2 if args.quick else None)
    n_s = args.samples_per_input or (4 if args.quick else None)
    # One synthetic mini-INIT (64 x 40 frames; 600 per domain, so that sunny has >= 100 test images
    # under split v1), read at two short sides: 40 (its own size) and 360 (the protocol's; the
    # network work is that of 360 x 576 inputs).
    shorts = {"mini": 40, "360": 90 if args.quick else 360}
    per_domain = 40 if args.quick else 600
    report = {"machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                          "threads": args.threads, "torch": torch.__version__, "device": args.device,
                          "cuda": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None},
              "task": args.task, "classifier_arch": arch, "quick": args.quick, "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        base = args.data_dir if args.data_dir is not None else Path(tmp)
        root = base / f"mini-init-{per_domain}"
        if not (root / ".complete").is_file():  # synthesized once per data dir (deterministic: seed 0)
            synthesize(root, per_domain=per_domain, size=(64, 40), seed=0, generator="v1")
            (root / ".complete").write_text(f"seed 0, {per_domain} per domain, 64 x 40\n")
        for size in [s for s in args.sizes.split(",") if s]:
            short = shorts[size]
            overrides = {"num_inputs": n_in, "samples_per_input": n_s, "short_side": short}
            overrides = {k: v for k, v in overrides.items() if v is not None}
            clf_path = Path(tmp) / f"clf-{size}.pt"
            make_classifier(arch, root, args.task, short, clf_path)
            res = {}
            for kind in ("ours", "naive"):
                print(f"[{size}] {kind} ...", file=sys.stderr, flush=True)
                res[kind] = run_in_process(kind, str(root), args.task, overrides, str(clf_path), args.device, args.threads)
                print(f"[{size}] {kind}: {res[kind]['seconds']:.1f} s", file=sys.stderr, flush=True)
            diff = max(abs(res["ours"]["metrics"][k] - res["naive"]["metrics"][k]) for k in METRICS if res["naive"]["metrics"][k] is not None)
            pair_diff = max(abs(a - b) for ra, rb in zip(res["ours"]["lpips_pairs"], res["naive"]["lpips_pairs"]) for a, b in zip(ra, rb))
            report["cases"][size] = {
                "frames": f"synthetic 64 x 40, {per_domain} per domain", "short_side": short, "overrides": overrides,
                "conformant": not {k for k in overrides if k != "short_side"} and short == 360,
                "ours_seconds": round(res["ours"]["seconds"], 3), "naive_seconds": round(res["naive"]["seconds"], 3),
                "ratio_naive_over_ours": round(res["naive"]["seconds"] / res["ours"]["seconds"], 3),
                "ours_peak_rss_mb": round(res["ours"]["peak_rss_mb"], 1), "naive_peak_rss_mb": round(res["naive"]["peak_rss_mb"], 1),
                "ours_peak_cuda_mb": res["ours"]["peak_cuda_mb"], "naive_peak_cuda_mb": res["naive"]["peak_cuda_mb"],
                "max_metric_abs_diff": diff, "max_pair_abs_diff": pair_diff, "same_numbers_1e-5": diff <= 1e-5 and pair_diff <= 1e-5,
                "metrics": res["ours"]["metrics"], "batch_sizes": res["ours"]["batch_sizes"], "ours_stage_seconds": res["ours"]["stage_seconds"],
            }
            _write(report, args.out)  # after each case, so a stopped run keeps what it measured
    _write(report, args.out)
    print(json.dumps(report, indent=2))
    return 0 if all(c["same_numbers_1e-5"] for c in report["cases"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
