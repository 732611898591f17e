"""The CPU training recipe, found by measurement: INIT / MUNIT / CycleGAN on mini-INIT v2 sunny2night,
trained in stages and scored with ``paired-v1`` at every stage, beside the two floors.

Usage (from the repository root, after ``initbench synth DATA --paired`` and the two small classifiers,
``initbench train-classifier DATA --small --split drives [--objects] --out clf.pt|obj.pt``)::

    python benchmarks/recipe_sweep.py --data DATA --classifier clf.pt --object-classifier obj.pt \
        --work WORK --arms benchmarks/recipe_arms.json --out benchmarks/results/recipe_sweep.json

``recipe_arms.json`` is a list of ``{"name", "method", "stages": [steps...], "set": {FIELD: VALUE}}``. An arm
trains with ``initbench train --preset small`` (one CPU thread) to its first stage, then continues with
``--resume --max-steps S`` to each next stage, keeping ``ckpt_<S>.pt``; the trainer resumes exactly, so the
stage checkpoints are those of one uninterrupted run. Each stage checkpoint is evaluated with
``initbench evaluate --protocol paired-v1`` (random LPIPS backbone: no ImageNet weights offline). Finished
stages and evaluations are reused, so the script can be rerun to extend a sweep. The JSON holds, per arm and
stage, the training seconds of that stage, seconds per step, the load average while it ran (the machine may be
shared; s/step is then an upper bound) and the headline metrics, with the floors' rows beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import log, machine  # noqa: E402

HEADLINE = ("l1_gt_frame", "l1_gt_frame_best", "l1_gt_objects", "l1_gt_objects_best", "lpips_gt_frame",
            "lpips_gt_frame_best", "l1_gt_frame_guided", "l1_gt_objects_guided", "lpips_gt_frame_guided",
            "domain_accuracy", "object_domain_accuracy", "lpips_diversity")
FLOORS = ("identity", "colour-transfer")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "initbench", *args]


def train_stage(arm: dict, run: Path, steps: int, data: str, log_file: Path) -> dict:
    """Train ``arm`` in ``run`` up to ``steps`` (resuming the run's checkpoint); keeps ``ckpt_<steps>.pt``."""
    keep = run / f"ckpt_{steps}.pt"
    record = run / f"stage_{steps}.json"
    if keep.is_file() and record.is_file():
        return json.loads(record.read_text())
    if (run / "checkpoint.pt").is_file():
        cmd = _cli("train", "--out", str(run), "--resume", "--max-steps", str(steps), "--threads", "1")
    else:
        cmd = _cli("train", "--method", arm["method"], "--data", data, "--task", "sunny2night", "--preset", "small",
                   "--out", str(run), "--max-steps", str(steps), "--threads", "1", "--device", "cpu",
                   *[a for k, v in arm.get("set", {}).items() for a in ("--set", f"{k}={json.dumps(v)}")])
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    with open(log_file, "a") as f:
        subprocess.run(cmd, check=True, stdout=f, stderr=f)
    seconds = time.perf_counter() - t0
    keep.write_bytes((run / "checkpoint.pt").read_bytes())
    rec = {"steps": steps, "seconds": round(seconds, 1), "load_average": [round(load_before, 2),
                                                                          round(os.getloadavg()[0], 2)]}
    record.write_text(json.dumps(rec))
    return rec


def evaluate(method: str, ckpt: Path | None, out: Path, args) -> dict:
    if not out.is_file():
        cmd = _cli("evaluate", "--method", method, "--data", args.data, "--task", "sunny2night", "--protocol",
                   "paired-v1", "--lpips-backbone", "random", "--classifier", args.classifier, "--object-classifier",
                   args.object_classifier, "--device", "cpu", "--out", str(out))
        if ckpt is not None:
            cmd += ["--ckpt", str(ckpt)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    res = json.loads(out.read_text())
    return {k: res["metrics"].get(k) for k in HEADLINE}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--classifier", required=True)
    p.add_argument("--object-classifier", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--arms", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    floors = {m: evaluate(m, None, work / f"floor-{m}.json", args) for m in FLOORS}
    rows = []
    for arm in json.loads(Path(args.arms).read_text()):
        run = work / arm["name"]
        prev = 0
        for steps in arm["stages"]:
            rec = train_stage(arm, run, steps, args.data, work / f"{arm['name']}.log")
            metrics = evaluate(arm["method"], run / f"ckpt_{steps}.pt", run / f"paired_{steps}.json", args)
            rows.append({"arm": arm["name"], "method": arm["method"], "set": arm.get("set", {}), **rec,
                         "seconds_per_step": round(rec["seconds"] / (steps - prev), 3), "metrics": metrics})
            prev = steps
            log(json.dumps({"arm": arm["name"], "steps": steps, "s/step": rows[-1]["seconds_per_step"],
                            **{k: round(v, 4) for k, v in metrics.items() if isinstance(v, float)}}))
    doc = {"benchmark": "recipe_sweep", "preset": "small", "task": "sunny2night", "protocol": "paired-v1",
           "machine": machine(threads_per_run=1, load_average_end=[round(v, 2) for v in os.getloadavg()]),
           "floors": floors, "arms": rows}
    tmp = Path(args.out + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
