"""Training-step time of the CPU detectors (``tiny``, ``small``) with their proposal and RoI-sample counts
(:data:`initbench.detection.detector.CUSTOM_SAMPLING`) against torchvision's defaults (2000 proposals kept per
image in training, 512 RoIs sampled per image), in the same run, alternating rounds.

Each round builds both detectors from the same seed, and times ``--steps`` SGD steps of each (the first step
left out) on the same batch: ``--batch-size`` random 256 x 160 images with 4 boxes each, as on the mini-INIT v2.
Reported: median CPU seconds per step of each (process time, which a shared machine inflates less than the
wall clock), the ratio, the wall-clock medians beside them, and the machine.

    python benchmarks/detector_step_speed.py --out benchmarks/results/detector_step_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import log, machine  # noqa: E402


def batch(n: int, seed: int):
    import torch

    g = torch.Generator().manual_seed(seed)
    images = [torch.rand(3, 160, 256, generator=g) for _ in range(n)]
    targets = []
    for _ in range(n):
        xy = torch.rand(4, 2, generator=g) * torch.tensor([200.0, 110.0])
        wh = 8 + torch.rand(4, 2, generator=g) * 40
        targets.append({"boxes": torch.cat([xy, xy + wh], 1), "labels": torch.randint(1, 4, (4,), generator=g)})
    return images, targets


def time_steps(model, images, targets, steps: int) -> tuple[list[float], list[float]]:
    import torch

    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    cpu, wall = [], []
    for _ in range(steps + 1):
        c, w = time.process_time(), time.perf_counter()
        loss = sum(model(images, targets).values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return cpu[1:], wall[1:]


def torchvision_defaults(model) -> None:
    """Put torchvision's default proposal and RoI-sample counts back into a custom detector."""
    model.rpn._pre_nms_top_n = {"training": 2000, "testing": 1000}
    model.rpn._post_nms_top_n = {"training": 2000, "testing": 1000}
    model.roi_heads.fg_bg_sampler.batch_size_per_image = 512


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="tiny", choices=["tiny", "small"])
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/detector_step_speed.json")
    args = ap.parse_args()
    import torch

    from initbench.detection.detector import CUSTOM_SAMPLING, build_detector

    torch.set_num_threads(args.threads)
    images, targets = batch(args.batch_size, 0)
    times = {"initbench": {"cpu": [], "wall": []}, "torchvision_defaults": {"cpu": [], "wall": []}}
    for r in range(args.rounds):
        for name in times:
            torch.manual_seed(r)
            model, _ = build_detector(args.arch, 4, size=160, seed=0)
            if name == "torchvision_defaults":
                torchvision_defaults(model)
            cpu, wall = time_steps(model, images, targets, args.steps)
            times[name]["cpu"] += cpu
            times[name]["wall"] += wall
            log(f"round {r + 1}: {name} {statistics.median(cpu):.3f} CPU-s/step")
    med = {n: {k: statistics.median(v) for k, v in t.items()} for n, t in times.items()}
    doc = {"benchmark": "detector training step, CPU sampling counts against torchvision's defaults",
           "arch": args.arch, "batch_size": args.batch_size, "image_size": [160, 256], "boxes_per_image": 4,
           "steps_per_round": args.steps, "rounds": args.rounds, "threads": args.threads,
           "initbench_sampling": CUSTOM_SAMPLING,
           "torchvision_defaults": {"rpn_pre_nms_top_n_train": 2000, "rpn_post_nms_top_n_train": 2000,
                                    "box_batch_size_per_image": 512},
           "median_cpu_seconds_per_step": {n: m["cpu"] for n, m in med.items()},
           "median_wall_seconds_per_step": {n: m["wall"] for n, m in med.items()},
           "speedup_cpu": med["torchvision_defaults"]["cpu"] / med["initbench"]["cpu"],
           "speedup_wall": med["torchvision_defaults"]["wall"] / med["initbench"]["wall"],
           "machine": machine(torch=torch.__version__, load_average_1_5_15_min=list(os.getloadavg()))}
    from initbench.files import write_atomic

    write_atomic(args.out, json.dumps(doc, indent=2) + "\n")
    log(f"speed-up {doc['speedup_cpu']:.2f}x (CPU time per step); wrote {args.out}")


if __name__ == "__main__":
    main()
