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
Both must agree on every metric and every pair to 1e-6. On a CPU the evaluator's classifier runs
channels-last with batch norm folded (:mod:`initbench.evaluation.fast_inference`); a third side,
``ours-eager``, is the evaluator with ``INITBENCH_EAGER=1`` (batching alone).

The sides run in alternating rounds (naive, ours, ours-eager, naive, ...; ``--rounds``), each run in
a fresh process, and the report takes each side's median, so load on a shared machine falls on all
sides alike; the load average before and after every run is recorded. ``classifier_variants``
times the classifier alone (batch 1 eager, and each change on its own) on the same outputs.

Sizes: one synthetic mini-INIT (64 x 40 frames, 600 per domain so the source domain has 100 test
images) read at short side 40 (``mini``, its own size) and at 360 (``360``, the protocol's: the
network work of 360 x 576 inputs). Full run (100 inputs x 100 samples; on a 2-core CPU the 360 px
case takes hours for the naive loop; ``--num-inputs`` shortens it, and is recorded):

    python benchmarks/evaluator_throughput.py --out benchmarks/out/evaluator_throughput.json [--device cuda]

The committed CPU figure (shared 2-core machine, 1 thread per side):

    python benchmarks/evaluator_throughput.py --sizes mini --num-inputs 2 --samples-per-input 40 --threads 1 \
        --rounds 2 --out benchmarks/results/evaluator_throughput_cpu.json

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
            "batch_sizes": r["batch_sizes"], "stage_seconds": r["timings"], "precision": r["precision"]}


KINDS = ("naive", "ours", "ours-eager")


def _worker(kind, root, task, overrides, classifier_path, device, threads, conn):
    import torch

    from initbench.evaluation.fast_inference import SWITCH

    if kind == "ours-eager":
        os.environ[SWITCH] = "1"
    torch.set_num_threads(threads)
    from initbench.evaluation.protocol import V1

    protocol = V1.with_overrides(**overrides)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    out = (naive_loop if kind == "naive" else ours)(root, task, protocol, classifier_path, device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    out["seconds"] = time.perf_counter() - t
    out["peak_rss_mb"] = peak_rss_mb()
    out["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
    conn.send(out)
    conn.close()


def peak_rss_mb() -> float:
    """This process's peak resident memory: ``VmHWM`` (Linux), else ``ru_maxrss``.

    Not ``ru_maxrss`` on Linux: a spawned child's starts at its parent's peak (the kernel keeps it across
    ``exec``), so every side would report the parent's memory.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_in_process(*args):
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_worker, args=(*args, child))
    p.start()
    out = parent.recv()
    p.join()
    return out


def _case(runs: dict[str, list[dict]], per_domain: int, short: int, overrides: dict) -> dict:
    """One size's report: each side's median seconds and peak memory, the ratios, and how far the numbers differ."""
    import statistics

    med = {k: statistics.median(o["seconds"] for o in v) for k, v in runs.items()}
    naive = runs["naive"][0]

    def diffs(kind):
        m = max(abs(o["metrics"][k] - naive["metrics"][k]) for o in runs[kind] for k in METRICS if naive["metrics"][k] is not None)
        p = max(abs(a - b) for o in runs[kind] for ra, rb in zip(o["lpips_pairs"], naive["lpips_pairs"]) for a, b in zip(ra, rb))
        return m, p

    (dm, dp), (em, ep) = diffs("ours"), diffs("ours-eager")
    return {
        "frames": f"synthetic 64 x 40, {per_domain} per domain", "short_side": short, "overrides": overrides,
        "conformant": not {k for k in overrides if k != "short_side"} and short == 360,
        "seconds_median": {k: round(v, 3) for k, v in med.items()},
        "seconds_runs": {k: [round(o["seconds"], 3) for o in v] for k, v in runs.items()},
        "ratio_naive_over_ours": round(med["naive"] / med["ours"], 3),
        "ratio_naive_over_ours_eager": round(med["naive"] / med["ours-eager"], 3),
        "ratio_ours_eager_over_ours": round(med["ours-eager"] / med["ours"], 3),
        "peak_rss_mb_max": {k: round(max(o["peak_rss_mb"] for o in v), 1) for k, v in runs.items()},
        "peak_cuda_mb_max": {k: (max(o["peak_cuda_mb"] for o in v) if v[0]["peak_cuda_mb"] is not None else None) for k, v in runs.items()},
        "load_avg_runs": {k: [[o["load_avg_before"][0], o["load_avg_after"][0]] for o in v] for k, v in runs.items()},
        "max_metric_abs_diff": dm, "max_pair_abs_diff": dp,
        "ours_eager_max_metric_abs_diff": em, "ours_eager_max_pair_abs_diff": ep,
        "same_numbers_1e-6": dm <= 1e-6 and dp <= 1e-6,
        "metrics": {"naive": naive["metrics"], "ours": runs["ours"][0]["metrics"], "ours-eager": runs["ours-eager"][0]["metrics"]},
        "ours_precision": runs["ours"][0]["precision"], "ours_eager_precision": runs["ours-eager"][0]["precision"],
        "batch_sizes": runs["ours"][0]["batch_sizes"], "ours_stage_seconds": runs["ours"][0]["stage_seconds"],
    }


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


def classifier_variants(root, task, short_side: int, classifier_path, threads: int, n: int = 8, batch: int = 4,
                        reps: int = 2) -> dict:
    """The classifier alone on ``n`` translator outputs: ms per image (median of ``reps`` interleaved passes) and
    the largest logit difference from eager batch 1, for eager batch 1 (the naive loop's), eager batch ``batch``,
    and channels-last, batch norm folded, both (this evaluator's) at batch ``batch``."""
    import copy
    import statistics

    import torch

    from initbench.dataset.release import parse_task
    from initbench.evaluation import images as I
    from initbench.evaluation.classifier import load_classifier
    from initbench.evaluation.fast_inference import ChannelsLast, fold_batch_norms

    torch.set_num_threads(threads)
    clf, _ = load_classifier(classifier_path)
    keys = I.domain_keys(I.split_of_root(root), parse_task(task)[0], "test")[:n]
    n = len(keys)
    tr = make_translator().eval()
    with torch.no_grad():
        src = torch.stack([I.load_image(I.key_path(root, k), short_side) for k in keys])
        x = tr.translate(src, style=tr.sample_style(n, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    folded = copy.deepcopy(clf)
    fold_batch_norms(folded)
    variants = {"eager_batch1": (clf, 1), f"eager_batch{batch}": (clf, batch),
                f"channels_last_batch{batch}": (ChannelsLast(copy.deepcopy(clf)), batch),
                f"bn_folded_batch{batch}": (folded, batch),
                f"channels_last_bn_folded_batch{batch}": (ChannelsLast(copy.deepcopy(folded)), batch)}
    times = {k: [] for k in variants}
    outs = {}
    with torch.inference_mode():
        for k, (f, b) in variants.items():  # warm-up (oneDNN primitives), and the logits
            outs[k] = torch.cat([f(x[s : s + b]) for s in range(0, n, b)])
        for _ in range(reps):
            for k, (f, b) in variants.items():
                t = time.perf_counter()
                for s in range(0, n, b):
                    f(x[s : s + b])
                times[k].append((time.perf_counter() - t) / n * 1000)
    base = statistics.median(times["eager_batch1"])
    return {"images": n, "threads": threads, "reps": reps, "load_avg_after": list(os.getloadavg()),
            "variants": {k: {"ms_per_image": round(statistics.median(times[k]), 1), "ms_per_image_runs": [round(t, 1) for t in times[k]],
                             "speedup_over_eager_batch1": round(base / statistics.median(times[k]), 3),
                             "max_logit_abs_diff": float((outs[k] - outs["eager_batch1"]).abs().max())} for k in variants},
            "logit_scale": float(outs["eager_batch1"].abs().max())}


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
    ap.add_argument("--rounds", type=int, default=1, help="alternating rounds of the sides (medians are reported)")
    ap.add_argument("--no-variants", action="store_true", help="skip timing the classifier variants alone")
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
    from bench_common import machine

    report = {"machine": machine(threads=args.threads, torch=torch.__version__, device=args.device,
                                 cuda=torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None,
                                 load_avg_at_start=list(os.getloadavg())),
              "task": args.task, "classifier_arch": arch, "quick": args.quick, "rounds": args.rounds,
              "command": "python benchmarks/evaluator_throughput.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "cases": {}}
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
            runs = {k: [] for k in KINDS}
            for r in range(args.rounds):
                for kind in KINDS:
                    load0 = os.getloadavg()
                    out = run_in_process(kind, str(root), args.task, overrides, str(clf_path), args.device, args.threads)
                    out["load_avg_before"], out["load_avg_after"] = list(load0), list(os.getloadavg())
                    runs[kind].append(out)
                    print(f"[{size}] round {r + 1} {kind}: {out['seconds']:.1f} s, load {load0[0]:.1f}", file=sys.stderr, flush=True)
            report["cases"][size] = _case(runs, per_domain, short, overrides)
            _write(report, args.out)
            if not args.no_variants and args.device == "cpu":
                print(f"[{size}] classifier variants ...", file=sys.stderr, flush=True)
                report["cases"][size]["classifier_variants"] = classifier_variants(root, args.task, short, clf_path, args.threads)
            _write(report, args.out)  # after each case, so a stopped run keeps what it measured
    _write(report, args.out)
    print(json.dumps(report, indent=2))
    return 0 if all(c["same_numbers_1e-6"] for c in report["cases"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
