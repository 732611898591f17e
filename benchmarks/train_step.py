"""Training-step cost of INIT against MUNIT at the same image size, batch and width, and where INIT's time goes.

Both methods are built from their registered presets (``tiny``: width 8, 2 residual blocks,
MLP 32, discriminator width 8 with 3 layers and 2 scales; ``paper``: MUNIT's sizes, width 64,
4 residual blocks, MLP 256, discriminator 64/4 layers/3 scales), so the encoders, decoders and
discriminators have equal widths. MUNIT's ``tiny`` preset has the cross-cycle term on
(``recon_x_cyc_w`` 10) like INIT's; its ``paper`` preset keeps the authors' default (0).

A step is timed exactly as the trainer runs it (per phase: forward ``phase_losses``, backward,
Adam step; synchronised on CUDA), on the same batches of random pairs in the loaders' format
with ``--boxes`` objects per image (crops of ``--crop-size``). Step times come from one process
that alternates one step of each configuration per round (a shared machine's changing load then
slows all of them alike); peak memory from a fresh process per configuration. Configurations:

* ``munit``: MUNIT;
* ``init``: INIT (``ds``) with its object branch;
* ``init_no_objects``: the same INIT on the same batches with every crop count set to 0, i.e.
  its image-level work alone; ``init - init_no_objects`` is the object branch's cost.

Peak memory: on CUDA ``torch.cuda.max_memory_allocated``; on CPU the growth of the process's
peak RSS during the timed steps (plus the peak itself).

Full runs (the lead; the GPU one also with the paper preset):

    python benchmarks/train_step.py --out benchmarks/out/train_step_cpu.json --device cpu
    python benchmarks/train_step.py --out benchmarks/out/train_step_gpu_tiny.json --device cuda
    python benchmarks/train_step.py --out benchmarks/out/train_step_gpu_paper.json --device cuda --preset paper

Smoke run (seconds): ``python benchmarks/train_step.py --quick``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

SIZES = {"tiny": dict(size=[64, 64], crop_size=24, batch=2), "paper": dict(size=[360, 568], crop_size=120, batch=1)}


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build(args: dict):
    """Model, optimisers and 4 batches of one configuration."""
    import torch
    from torch.utils.data import default_collate

    from initbench.methods.base import get_method
    from initbench.training.config import build_method_config
    from initbench.training.data import to_device
    from initbench.training.optim import build_optimizers
    from initbench.training.toy_data import RandomPairs

    device = torch.device(args["device"])
    torch.manual_seed(0)
    method = "munit" if args["name"] == "munit" else "init"
    model = get_method(method).cls(build_method_config(method, args["preset"])).to(device)
    model.train()
    opts = build_optimizers(model.optimizer_specs())
    ds = RandomPairs(n=4 * args["batch"], size=tuple(args["size"]), crop_size=args["crop_size"], max_boxes=args["boxes"], min_boxes=args["boxes"], seed=0)
    batches = []
    for i in range(4):
        b = default_collate([ds[i * args["batch"] + j] for j in range(args["batch"])])
        if args["name"] == "init_no_objects":
            b["a_ncrops"] = torch.zeros_like(b["a_ncrops"])
            b["b_ncrops"] = torch.zeros_like(b["b_ncrops"])
        batches.append(to_device(b, device))
    return model, opts, batches, device


def one_step(model, opts, batch, step, device, phases: dict) -> float:
    """One trainer-style step; adds per-phase forward/backward/optimiser seconds to ``phases``; returns its seconds."""
    _sync(device)
    t_step = time.perf_counter()
    for phase in model.phases(step):
        opts[phase].zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        losses = model.phase_losses(phase, batch, step)
        _sync(device)
        t1 = time.perf_counter()
        losses["total"].backward()
        _sync(device)
        t2 = time.perf_counter()
        opts[phase].step()
        _sync(device)
        t3 = time.perf_counter()
        p = phases.setdefault(phase, {"forward": 0.0, "backward": 0.0, "optimizer": 0.0})
        p["forward"] += t1 - t0
        p["backward"] += t2 - t1
        p["optimizer"] += t3 - t2
    return time.perf_counter() - t_step


def time_interleaved(common: dict, names: list[str]) -> dict:
    """Step times of all configurations in one process, alternating one step of each per round, so that a
    machine whose load changes over time slows every configuration alike."""
    import torch

    from initbench.methods.base import count_parameters

    if common["threads"]:
        torch.set_num_threads(common["threads"])
    built = {n: build(dict(common, name=n)) for n in names}
    times = {n: [] for n in names}
    phases = {n: {} for n in names}
    for r in range(common["warmup"] + common["steps"]):
        for n in names:
            model, opts, batches, device = built[n]
            scratch: dict = {}
            t = one_step(model, opts, batches[r % len(batches)], r, device, scratch)
            if r >= common["warmup"]:
                times[n].append(t)
                for ph, d in scratch.items():
                    acc = phases[n].setdefault(ph, {k: 0.0 for k in d})
                    for k, v in d.items():
                        acc[k] += v
    out = {}
    for n in names:
        k = len(times[n])
        out[n] = {
            "name": n,
            "parameters": count_parameters([built[n][0]]),
            "seconds_per_step": sum(times[n]) / k,
            "seconds_per_step_median": sorted(times[n])[k // 2],
            "seconds_per_step_min": min(times[n]),
            "phases": {ph: {kk: v / k for kk, v in d.items()} for ph, d in phases[n].items()},
        }
    return out


def memory_one(args: dict) -> dict:
    """Peak memory of one configuration in this (fresh) process over ``warmup + 2`` steps."""
    import torch

    if args["threads"]:
        torch.set_num_threads(args["threads"])
    model, opts, batches, device = build(args)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for step in range(args["warmup"] + 2):
        one_step(model, opts, batches[step % len(batches)], step, device, {})
    out = {}
    if device.type == "cuda":
        out["peak_memory_bytes"] = torch.cuda.max_memory_allocated(device)
        out["memory_kind"] = "cuda max_memory_allocated"
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out["peak_memory_bytes"] = (peak - rss_before) * 1024
        out["peak_rss_bytes"] = peak * 1024
        out["memory_kind"] = "growth of peak RSS during the timed steps"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 32 px, batch 1, 2 timed steps")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda")
    ap.add_argument("--preset", default="tiny", choices=sorted(SIZES))
    ap.add_argument("--size", type=int, nargs=2, default=None, metavar=("H", "W"), help="image size (default: the preset's)")
    ap.add_argument("--crop-size", type=int, default=None)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--boxes", type=int, default=4, help="objects per image (INIT's max_objects is 4 / 3 in tiny)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--out", default=None, help="JSON file (default: print only)")
    a = ap.parse_args()
    import torch

    device = a.device if a.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    sizes = dict(SIZES[a.preset])
    if a.quick:
        sizes.update(size=[32, 32], crop_size=16, batch=1)
        a.steps, a.warmup = 2, 1
    for k in ("size", "crop_size", "batch"):
        if getattr(a, k) is not None:
            sizes[k] = list(getattr(a, k)) if k == "size" else getattr(a, k)
    common = dict(preset=a.preset, device=device, boxes=a.boxes, steps=a.steps, warmup=a.warmup, threads=a.threads, **sizes)
    names = ["munit", "init", "init_no_objects"]
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        results = pool.apply(time_interleaved, (common, names))
    for name in names:
        with ctx.Pool(1) as pool:
            results[name].update(pool.apply(memory_one, (dict(common, name=name),)))
        r = results[name]
        print(f"{name:16s} {r['seconds_per_step']:.4f} s/step (median {r['seconds_per_step_median']:.4f})  "
              f"peak {r['peak_memory_bytes'] / 2**20:.1f} MiB  params {r['parameters']:,}", file=sys.stderr)
    init, munit, image_only = results["init"], results["munit"], results["init_no_objects"]
    report = {
        "benchmark": "train_step",
        "quick": a.quick,
        "settings": common,
        "results": results,
        "ratio_init_over_munit_step_time": init["seconds_per_step"] / munit["seconds_per_step"],
        "ratio_init_over_munit_median_step_time": init["seconds_per_step_median"] / munit["seconds_per_step_median"],
        "ratio_init_over_munit_peak_memory": init["peak_memory_bytes"] / max(1, munit["peak_memory_bytes"]),
        "init_object_branch_share_of_step_time": 1.0 - image_only["seconds_per_step"] / init["seconds_per_step"],
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpu_count": os.cpu_count(),
            "torch_threads": a.threads or torch.get_num_threads(),
            "device": torch.cuda.get_device_name(0) if device.startswith("cuda") else platform.processor() or "cpu",
            "load_average": os.getloadavg(),
        },
    }
    print(json.dumps({k: report[k] for k in report if k.startswith("ratio") or k.startswith("init_")}, indent=2))
    if a.out:
        p = Path(a.out)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(report, indent=2, default=str) + "\n")
        os.replace(tmp, p)


if __name__ == "__main__":
    main()
