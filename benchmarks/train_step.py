"""Training-step cost of INIT against MUNIT at the same image size, batch and width, where INIT's time goes, and
what freezing the groups outside a phase saves (issue 11 item 3).

Both methods are built from their registered presets (``tiny``: width 8, 2 residual blocks,
MLP 32, discriminator width 8 with 3 layers and 2 scales; ``paper``: MUNIT's sizes, width 64,
4 residual blocks, MLP 256, discriminator 64/4 layers/3 scales), so the encoders, decoders and
discriminators have equal widths. MUNIT's ``tiny`` preset has the cross-cycle term on
(``recon_x_cyc_w`` 10) like INIT's; its ``paper`` preset keeps the authors' default (0).

A step is the trainer's own :func:`initbench.training.step.run_step` (per phase: forward ``phase_losses``
with the step's shared dict, backward, Adam step; synchronised on CUDA), on the same batches of random pairs
in the loaders' format with ``--boxes`` objects per image (crops of ``--crop-size``). Step times come from one process
that alternates one step of each configuration per round (a shared machine's changing load then
slows all of them alike); peak memory from a fresh process per configuration. Configurations:

* ``munit``: MUNIT;
* ``init``: INIT (``ds``) with its object branch;
* ``init_no_objects``: the same INIT on the same batches with every crop count set to 0, i.e.
  its image-level work alone; ``init - init_no_objects`` is the object branch's cost;
* ``unit``, ``cyclegan``: the other baselines that train at the quick size (DRIT needs batch 2 and 64 px).

Each configuration runs twice per round: as the trainer does now (``frozen``: the parameters of the groups
outside the current phase have ``requires_grad`` off, so no weight gradients for D during the G phase) and as
it did before (``unfrozen``, ``run_step(freeze_others=False)``): ``results[name]`` is the frozen run,
``results[name]["unfrozen"]`` the other, ``freeze_saving`` the share of the step time saved. Losses and
updates are bit-identical in both (``tests/training/test_step.py``).

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
    method = "init" if args["name"].startswith("init") else args["name"]
    model = get_method(method).cls(build_method_config(method, args["preset"])).to(device)
    model.train()
    model.optimizer_specs_cached = model.optimizer_specs()  # the trainer builds the specs once, too
    opts = build_optimizers(model.optimizer_specs_cached)
    ds = RandomPairs(n=4 * args["batch"], size=tuple(args["size"]), crop_size=args["crop_size"], max_boxes=args["boxes"], min_boxes=args["boxes"], seed=0)
    batches = []
    for i in range(4):
        b = default_collate([ds[i * args["batch"] + j] for j in range(args["batch"])])
        if args["name"] == "init_no_objects":
            b["a_ncrops"] = torch.zeros_like(b["a_ncrops"])
            b["b_ncrops"] = torch.zeros_like(b["b_ncrops"])
        batches.append(to_device(b, device))
    return model, opts, batches, device


def one_step(model, opts, batch, step, device, phases: dict, freeze: bool = True) -> float:
    """One trainer step (``run_step``); adds per-phase forward/backward/optimizer seconds to ``phases``; returns its seconds."""
    from initbench.training.step import run_step

    _sync(device)
    t_step = time.perf_counter()
    run_step(model, model.optimizer_specs_cached, opts, batch, step, device=device, freeze_others=freeze, timings=phases,
             sync=lambda: _sync(device))
    _sync(device)
    return time.perf_counter() - t_step


def time_interleaved(common: dict, names: list[str]) -> dict:
    """Step times of all configurations in one process, alternating one step of each per round, so that a
    machine whose load changes over time slows every configuration alike."""
    import torch

    from initbench.methods.base import count_parameters

    if common["threads"]:
        torch.set_num_threads(common["threads"])
    runs = [(n, freeze) for n in names for freeze in (True, False)]
    built = {run: build(dict(common, name=run[0])) for run in runs}
    times = {run: [] for run in runs}
    phases = {run: {} for run in runs}
    for r in range(common["warmup"] + common["steps"]):
        for n in (runs if r % 2 == 0 else runs[::-1]):  # alternate the order: neither mode always runs first
            model, opts, batches, device = built[n]
            scratch: dict = {}
            t = one_step(model, opts, batches[r % len(batches)], r, device, scratch, freeze=n[1])
            if r >= common["warmup"]:
                times[n].append(t)
                for ph, d in scratch.items():
                    acc = phases[n].setdefault(ph, {k: 0.0 for k in d})
                    for k, v in d.items():
                        acc[k] += v
    out = {}
    for n in runs:
        k = len(times[n])
        out[n] = {
            "name": n[0],
            "parameters": count_parameters([built[n][0]]),
            "seconds_per_step": sum(times[n]) / k,
            "seconds_per_step_median": sorted(times[n])[k // 2],
            "seconds_per_step_min": min(times[n]),
            "phases": {ph: {kk: v / k for kk, v in d.items()} for ph, d in phases[n].items()},
        }
    return {n: {**out[(n, True)], "unfrozen": out[(n, False)]} for n in names}


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
        one_step(model, opts, batches[step % len(batches)], step, device, {}, freeze=args.get("freeze", True))
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
    ap.add_argument("--notes", default="", help="recorded in the JSON (e.g. how loaded the machine was)")
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
    names = ["munit", "init", "init_no_objects", "unit", "cyclegan"]
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        results = pool.apply(time_interleaved, (common, names))
    for name in names:
        for r, freeze in ((results[name], True), (results[name]["unfrozen"], False)):
            with ctx.Pool(1) as pool:
                r.update(pool.apply(memory_one, (dict(common, name=name, freeze=freeze),)))
            print(f"{name:16s} {'frozen' if freeze else 'unfrozen':8s} {r['seconds_per_step']:.4f} s/step "
                  f"(median {r['seconds_per_step_median']:.4f})  peak {r['peak_memory_bytes'] / 2**20:.1f} MiB  "
                  f"params {r['parameters']:,}", file=sys.stderr)
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
        # 1 - frozen / unfrozen: the share of the step time freezing the other groups saves (median steps)
        "freeze_saving": {n: 1.0 - results[n]["seconds_per_step_median"] / results[n]["unfrozen"]["seconds_per_step_median"]
                          for n in names},
        "notes": a.notes,
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
    print(json.dumps({k: report[k] for k in report if k.startswith(("ratio", "init_", "freeze"))}, indent=2))
    if a.out:
        p = Path(a.out)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(report, indent=2, default=str) + "\n")
        os.replace(tmp, p)


if __name__ == "__main__":
    main()
