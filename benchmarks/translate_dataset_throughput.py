"""translate-dataset throughput against ``initbench translate`` on the same images, model and K.

Target (issue 15): ``translate-dataset`` reaches at least 0.8 x the images/s of ``initbench translate``. Both
translate the sunny images of a synthetic mini-INIT (``--per-domain`` images at ``--size``) with K styles each,
with the INIT ``tiny`` preset (untrained weights: speed does not depend on their values), one torch thread per
process. translate-dataset reads the COCO file ``initbench export coco`` writes (so it also checks every entry
and PNG header before it starts, and writes the COCO file of the copy); translate reads a folder holding the
same PNGs (symbolic links) and writes ``OUT/translate.json``.

Each process count is one launch of this script as a worker (``--worker``; under ``torchrun`` for 2 processes)
that runs both commands in turn, ``--rounds`` times each, alternating which goes first, into fresh folders: the
two share the processes, their warm state and the machine's load of the moment. Each run is timed from a barrier
to a barrier: the whole command (``initbench.cli.main``: options, model load, checks, translation, output files)
until every process is done; Python and torch start-up (the same for both, and most of a small run on a busy
machine) is left out. With 2 processes translate-dataset shares the images through its torchrun sharding; the
alternative is what a user of ``translate`` would do: two ``translate`` commands at once, each on half of the
images. The result holds every round's times and the ratio of the medians, in wall seconds (what the target
is about) and in CPU seconds of the processes (summed), which the other jobs of a shared machine disturb far
less: on a 2-core machine with a load average of 15, one run's wall time varied 3x between rounds.

    python benchmarks/translate_dataset_throughput.py --out benchmarks/results/translate_dataset_throughput.json
    python benchmarks/translate_dataset_throughput.py --quick --out /tmp/td_quick.json       # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import log  # noqa: E402
from bench_common import machine  # noqa: E402

TARGET_RATIO = 0.8


def prepare(tmp: Path, per_domain: int, size: tuple[int, int]) -> dict:
    """The images, their COCO file, a flat folder of links for translate (two halves too), and the checkpoint."""
    import torch

    from initbench.dataset.export import export
    from initbench.dataset.synthetic import synthesize
    from initbench.methods.base import count_parameters, get_method
    from initbench.training.checkpoints import save_checkpoint

    root = tmp / "mini"
    synthesize(root, per_domain=per_domain, size=size, seed=0, generator="v1")
    coco = tmp / "sunny.json"
    export("coco", root, coco, domains=["sunny"])
    files = [root / img["file_name"] for img in json.loads(coco.read_text())["images"]]
    flat = tmp / "flat"
    halves = [tmp / "half0", tmp / "half1"]
    for i, f in enumerate(files):
        for folder in (flat, halves[i % 2]):
            folder.mkdir(exist_ok=True)
            (folder / f"{i:05d}_{f.name}").symlink_to(f)
    entry = get_method("init")
    torch.manual_seed(0)
    model = entry.cls(entry.presets["tiny"]())
    ckpt = tmp / "init-tiny.pt"
    save_checkpoint(ckpt, method="init", config=model.config_dict(), model_state=model.state_dict(), step=0,
                    train_config={"task": "sunny2night"})
    return {"root": root, "coco": coco, "flat": flat, "halves": halves, "ckpt": ckpt, "images": len(files),
            "params": count_parameters([model])}


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def worker(plan_file: str, result_file: str) -> None:
    """One process of a launch: imports done, then each planned run timed from a barrier to a barrier."""
    import torch
    import torch.distributed as dist
    import torchvision.io  # noqa: F401  (what the commands import lazily: loaded before any clock starts)

    import initbench.training.checkpoints  # noqa: F401
    import initbench.translate_dataset  # noqa: F401
    from initbench.cli import main as cli

    torch.set_num_threads(1)
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    if world > 1:
        dist.init_process_group("gloo")
    sync = dist.barrier if world > 1 else (lambda: None)
    plan = json.loads(Path(plan_file).read_text())
    times = []
    for run in plan["runs"]:
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            cli(run["argvs"][rank % len(run["argvs"])], prog_name="initbench", standalone_mode=False)
        except SystemExit as exc:
            if exc.code:
                raise
        cpu = time.process_time() - c0  # before the barrier: a rank's wait for its peer is not its work
        sync()
        seconds = time.perf_counter() - t0
        times.append({"name": run["name"], "seconds": seconds, "cpu_seconds": cpu})
        if rank == 0:
            out = Path(run["out"])
            written = sum(1 for _ in out.rglob("*.png"))
            if written != plan["expected_pngs"]:
                raise RuntimeError(f"{run['name']}: expected {plan['expected_pngs']} PNGs, found {written}")
            shutil.rmtree(out)
            print(f"{run['name']} x{world}: {seconds:.2f} s (rank 0 CPU {cpu:.2f} s)", file=sys.stderr, flush=True)
    Path(f"{result_file}.rank{rank}").write_text(json.dumps(times))
    if world > 1:
        dist.destroy_process_group()


def launch(procs: int, d: dict, tmp: Path, k: int, rounds: int) -> tuple[dict[str, list[float]], dict[str, list[float]], float]:
    """Both commands ``rounds`` times each on ``procs`` processes, in one launch: (wall seconds per command, CPU seconds
    per command summed over the processes, launch seconds)."""
    runs = []
    for r in range(rounds):
        for config in (["translate", "translate-dataset"] if r % 2 == 0 else ["translate-dataset", "translate"]):
            out = tmp / f"out-{procs}-{r}-{config}"
            if config == "translate":
                inputs = [d["flat"]] if procs == 1 else d["halves"]
                argvs = [["translate", "--method", "init", "--ckpt", str(d["ckpt"]), "--input", str(src), "--out",
                          str(out / f"part{i}"), "--num-styles", str(k)] for i, src in enumerate(inputs)]
            else:
                argvs = [["translate-dataset", "--method", "init", "--ckpt", str(d["ckpt"]), "--coco", str(d["coco"]),
                          "--images", str(d["root"]), "--out", str(out), "--num-styles", str(k)]]
            runs.append({"name": config, "argvs": argvs, "out": str(out)})
    spec, result = tmp / f"plan-{procs}.json", tmp / f"result-{procs}.json"
    spec.write_text(json.dumps({"runs": runs, "expected_pngs": d["images"] * k}))
    prefix = [] if procs == 1 else ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(procs)]
    cmd = [sys.executable, *prefix, str(Path(__file__).resolve()), "--worker", str(spec), str(result)]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"the {procs}-process launch exited {p.returncode}: {p.stderr[-3000:]}")
    log(p.stderr.strip())
    ranks = [json.loads(Path(f"{result}.rank{r}").read_text()) for r in range(procs)]
    times: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    for j, t in enumerate(ranks[0]):
        times.setdefault(t["name"], []).append(round(t["seconds"], 3))
        cpu.setdefault(t["name"], []).append(round(sum(r[j]["cpu_seconds"] for r in ranks), 3))
    return times, cpu, round(time.perf_counter() - t0, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-domain", type=int, default=16, help="sunny images translated (the mini-INIT's per-domain count)")
    ap.add_argument("--size", default="256x160", help="WIDTHxHEIGHT of the images")
    ap.add_argument("--num-styles", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="smoke run: 8 images, 64 x 40, 1 round")
    ap.add_argument("--out", default=None, help="JSON file (default: stdout)")
    ap.add_argument("--worker", nargs=2, metavar=("ARGV_JSON", "RESULT_JSON"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    per_domain, size, rounds = (8, "64x40", 1) if args.quick else (args.per_domain, args.size, args.rounds)
    w, h = (int(v) for v in size.split("x"))
    results = {}
    with tempfile.TemporaryDirectory(prefix="td_bench_") as tmp_name:
        tmp = Path(tmp_name)
        d = prepare(tmp, per_domain, (w, h))
        log(f"{d['images']} images of {w} x {h}, K = {args.num_styles}, INIT tiny ({d['params']:,} parameters)")
        for procs in (1, 2):
            times, cpu, launch_seconds = launch(procs, d, tmp, args.num_styles, rounds)
            base_t, mine_t = times["translate"], times["translate-dataset"]
            base, mine = statistics.median(base_t), statistics.median(mine_t)
            base_c, mine_c = statistics.median(cpu["translate"]), statistics.median(cpu["translate-dataset"])
            results[f"processes_{procs}"] = {
                "translate_seconds": base_t, "translate_dataset_seconds": mine_t,
                "translate_images_per_s": round(d["images"] / base, 3),
                "translate_dataset_images_per_s": round(d["images"] / mine, 3),
                "ratio": round(base / mine, 3), "per_round_ratio": [round(b / m, 3) for b, m in zip(base_t, mine_t)],
                "translate_cpu_seconds": cpu["translate"], "translate_dataset_cpu_seconds": cpu["translate-dataset"],
                "translate_images_per_cpu_s": round(d["images"] / base_c, 3),
                "translate_dataset_images_per_cpu_s": round(d["images"] / mine_c, 3),
                "cpu_ratio": round(base_c / mine_c, 3),
                "launch_seconds_with_startup": launch_seconds}
            log(f"{procs} process(es): ratio {base / mine:.3f} (wall), {base_c / mine_c:.3f} (CPU)")
    doc = {
        "benchmark": "translate_dataset_throughput",
        "what": "seconds: the whole command after imports (options, model load, checks, translation, output files) until "
                "every process is done; images/s = source images / seconds, median of the rounds; ratio = "
                "translate-dataset images/s / translate images/s; both commands alternate in the same processes; "
                "cpu_*: the same runs in CPU seconds of the processes (summed over them; a rank's wait for its peer at "
                "the final barrier left out), which other jobs on a shared machine disturb far less than wall time",
        "images": d["images"], "size": [h, w], "num_styles": args.num_styles, "outputs_per_run": d["images"] * args.num_styles,
        "model": {"method": "init", "preset": "tiny", "params": d["params"], "weights": "untrained (seeded)"},
        "threads_per_process": 1, "rounds": rounds, "quick": args.quick, "target_ratio": TARGET_RATIO,
        "results": results, "meets_target": all(v["ratio"] >= TARGET_RATIO for v in results.values()),
        "machine": machine(load_average=[round(x, 2) for x in os.getloadavg()]),
    }
    text = json.dumps(doc, indent=2) + "\n"
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        log(f"wrote {args.out}")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
