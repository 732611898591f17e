"""INIT against MUNIT on the mini-INIT v2 (sunny2night), with the controls that isolate INIT's instance branch
(issue 13 item 4).

Arms (each trained with ``--seeds``, by ``initbench train --split-rule drives`` so that no test drive of
paired-v1 is a training image):

* ``init-ds``: INIT, its default ``ds`` variant (one discriminator for images and objects);
* ``init-no-ds``: INIT with a separate object discriminator;
* ``munit``, ``cyclegan``: the baselines;
* ``init-no-objects``: ``init-ds`` with every object loss weighted 0
  (:func:`initbench.methods.init.object_loss_overrides`): the instance branch still runs, but no
  gradient comes from it; it should behave like MUNIT (plus INIT's image cycle);
* ``init-shuffled-boxes``: ``init-ds`` fed the boxes of other images (``--shuffle-boxes``): do the
  boxes themselves matter, or only the extra crops?

Each checkpoint is scored by ``initbench evaluate --protocol paired-v1`` (errors to the paired ground
truth, domain and object-domain accuracy) and by protocol v1 with small overrides (LPIPS diversity,
IS, CIS; no FID), with ``--lpips-backbone random`` (no pretrained weights offline) and the small
classifiers of ``leaderboards/mini-init-v2/make_entries.sh`` (pass that script's ``clf.pt`` and
``obj.pt`` with ``--classifier`` / ``--object-classifier`` so the entries share the floors' group).
Every number is reported with 95 % bootstrap intervals over inputs and over seeds
(``init_vs_munit_summary.py``), with s/step (training seconds per step, checkpoints included)
and the inference parameter count.

Everything is resumable: a finished run or results file is reused (results only while their
checkpoint's sha256 matches), an unfinished run is resumed. Before training, a budget line gives
the estimated training time from a few measured steps per arm (``--budget-only`` stops there).

    python benchmarks/init_vs_munit.py --budget-only                      # the estimate only
    python benchmarks/init_vs_munit.py --steps 20000 --seeds 0,1,2 \\
        --classifier W/clf.pt --object-classifier W/obj.pt --submit-to leaderboards
    python benchmarks/init_vs_munit.py --quick                             # smoke run, ~2 minutes

Writes ``--out`` (JSON: settings, machine and load average, per arm: runs, metrics, s/step, params),
the Markdown tables beside it (``.md``), and one leaderboard entry per arm under ``WORK/entries/``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_common import log, machine  # noqa: E402


@dataclass(frozen=True)
class Arm:
    name: str
    method: str
    label: str
    variant: str | None = None
    sets: dict = field(default_factory=dict)
    shuffle_boxes: bool = False


def all_arms() -> dict[str, Arm]:
    from initbench.methods.init import object_loss_overrides

    arms = [Arm("init-ds", "init", "INIT (ds)", "ds"), Arm("init-no-ds", "init", "INIT (no-ds)", "no-ds"),
            Arm("munit", "munit", "MUNIT"), Arm("cyclegan", "cyclegan", "CycleGAN"),
            Arm("init-no-objects", "init", "INIT (ds), object losses 0", "ds", sets=object_loss_overrides(0.0)),
            Arm("init-shuffled-boxes", "init", "INIT (ds), shuffled boxes", "ds", shuffle_boxes=True)]
    return {a.name: a for a in arms}


def default_preset() -> str:
    from initbench.training.config import TRAIN_PRESETS

    return "small" if "small" in TRAIN_PRESETS else "tiny"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default=None, help="Folder of data, runs, results, logs (default benchmarks/out/init_vs_munit[_quick])")
    p.add_argument("--out", default=None, help="JSON to write (default benchmarks/results/init_vs_munit[_smoke].json)")
    p.add_argument("--data", default=None, help="A mini-INIT v2 root drawn with --paired (default: WORK/data, drawn by initbench synth)")
    p.add_argument("--task", default="sunny2night")
    p.add_argument("--preset", default=None, help="Training preset (default: small if the trainer has it, else tiny)")
    p.add_argument("--steps", type=int, default=None, help="Training steps per run (default: the preset's)")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--arms", default=None, help="Comma-separated subset of: " + ", ".join(all_arms()))
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 suits tiny models on a shared CPU)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--classifier", default=None, help="Domain classifier (default: WORK/clf.pt, trained if missing)")
    p.add_argument("--object-classifier", default=None, help="Object-domain classifier (default: WORK/obj.pt, trained if missing)")
    p.add_argument("--lpips-backbone", default="random", choices=["random", "pretrained"])
    p.add_argument("--paired-inputs", type=int, default=None, help="paired-v1 --num-inputs override (default: the protocol's, all)")
    p.add_argument("--paired-samples", type=int, default=None, help="paired-v1 --samples-per-input override")
    p.add_argument("--v1-inputs", type=int, default=8)
    p.add_argument("--v1-samples", type=int, default=10)
    p.add_argument("--v1-short-side", type=int, default=160, help="v1 --short-side (mini-INIT v2 frames are 256 x 160)")
    p.add_argument("--probe-steps", type=int, default=6, help="Steps per arm timed for the budget line")
    p.add_argument("--budget-only", action="store_true", help="Print the budget line and stop")
    p.add_argument("--bootstrap", type=int, default=2000, help="Bootstrap resamples")
    p.add_argument("--code-url", default=None, help="For the entries (default: https://github.com/initbench/initbench@HEAD)")
    p.add_argument("--submit-to", default=None, help="Also submit the entries to this leaderboards root")
    p.add_argument("--quick", action="store_true", help="Smoke run: tiny preset, 2 steps, seed 0, few inputs")
    a = p.parse_args(argv)
    suffix = "_quick" if a.quick else ""
    a.work = Path(a.work or REPO / "benchmarks" / "out" / f"init_vs_munit{suffix}")
    a.out = Path(a.out or REPO / "benchmarks" / "results" / ("init_vs_munit_smoke.json" if a.quick else "init_vs_munit.json"))
    if a.quick:
        a.preset, a.steps, a.seeds = a.preset or "tiny", a.steps or 2, "0"
        a.paired_inputs, a.paired_samples = a.paired_inputs or 3, a.paired_samples or 2
        a.v1_inputs, a.v1_samples, a.probe_steps, a.bootstrap = 2, 2, 2, 200
    a.preset = a.preset or default_preset()
    if a.steps is None:
        from initbench.training.config import TRAIN_PRESETS

        a.steps = int(TRAIN_PRESETS[a.preset]["max_steps"])
    a.seed_list = [int(s) for s in str(a.seeds).split(",")]
    arms = all_arms()
    names = a.arms.split(",") if a.arms else list(arms)
    unknown = [n for n in names if n not in arms]
    if unknown:
        p.error(f"--arms: unknown {unknown}; expected some of {', '.join(arms)}")
    a.arm_list = [arms[n] for n in names]
    return a


class Cli:
    """``initbench`` commands run in this process (one import of torch for all of them), each with its output
    in ``WORK/logs/NAME.log``; a failing command raises with the end of its log."""

    def __init__(self, work: Path, threads: int):
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.threads = threads

    def __call__(self, name: str, args: list[str]) -> None:
        import torch

        from initbench.cli import main

        path = self.logs / f"{name}.log"
        code = 0
        with open(path, "w") as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
            print("initbench " + " ".join(map(str, args)), flush=True)
            try:
                main.main(args=[str(a) for a in args], prog_name="initbench", standalone_mode=False)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        if self.threads:
            torch.set_num_threads(self.threads)  # a command may have changed it
        if code:
            tail = path.read_text().strip().splitlines()[-3:]
            raise RuntimeError(f"initbench {args[0]} failed (exit {code}); see {path}: " + " | ".join(tail))


def prepare(a, cli: Cli) -> tuple[Path, Path, Path]:
    """The data and both classifiers (drawn / trained into WORK when not given)."""
    data = Path(a.data) if a.data else a.work / "data"
    if not (data / "sunny").is_dir():
        log(f"synth: mini-INIT v2 with paired ground truth -> {data}")
        cli("synth", ["synth", data, "--paired"])
    clf = Path(a.classifier) if a.classifier else a.work / "clf.pt"
    obj = Path(a.object_classifier) if a.object_classifier else a.work / "obj.pt"
    quick = ["--epochs", "1"] if a.quick else []
    for path, extra in ((clf, []), (obj, ["--objects"])):
        if not path.is_file():
            log(f"train-classifier {' '.join(extra)} -> {path}")
            cli(f"classifier{'-objects' if extra else ''}",
                ["train-classifier", data, "--small", "--split", "drives", "--out", path, *extra, *quick])
    return data, clf, obj


def train_args(arm: Arm, a, data, out: Path, seed: int, steps: int, log_every: int | None = None) -> list[str]:
    args = ["train", "--method", arm.method, "--data", data, "--task", a.task, "--preset", a.preset, "--out", out,
            "--max-steps", steps, "--seed", seed, "--split-rule", "drives", "--threads", a.threads, "--device", a.device]
    args += ["--variant", arm.variant] if arm.variant else []
    args += ["--shuffle-boxes"] if arm.shuffle_boxes else []
    args += ["--log-every", log_every] if log_every else []
    for k, v in arm.sets.items():
        args += ["--set", f"{k}={json.dumps(v)}"]
    return args


def command_line(arm: Arm, a) -> str:
    """The exact training command of an arm's checkpoints (``SEED`` per seed, ``DATA`` the mini-INIT v2 root)."""
    args = train_args(arm, a, "DATA", Path("RUN"), 0, a.steps)
    args[args.index("--seed") + 1] = "SEED"
    return "initbench " + " ".join(map(str, args))


def _step(ckpt: Path) -> int:
    from initbench.training.checkpoints import load_checkpoint

    return int(load_checkpoint(ckpt)["step"]) if ckpt.is_file() else 0


def train_run(arm: Arm, a, data, seed: int, cli: Cli) -> dict:
    """Train (or resume, or reuse) one run; returns its checkpoint, steps and measured s/step."""
    run = a.work / "runs" / arm.name / f"seed{seed}"
    ckpt, segments = run / "checkpoint.pt", run / "segments.jsonl"
    done = _step(ckpt)
    if done < a.steps:
        log(f"train {arm.name} seed {seed}: steps {done} -> {a.steps}")
        args = train_args(arm, a, data, run, seed, a.steps)
        if done:
            args = ["train", "--method", arm.method, "--out", run, "--resume", "--max-steps", a.steps]
        summary_path = run.parent / f"seed{seed}.summary.json"
        cli(f"train-{arm.name}-s{seed}", [*args, "--json", summary_path])
        summary = json.loads(summary_path.read_text())
        with open(segments, "a") as fh:
            fh.write(json.dumps({"from": summary["resumed_from"], "to": summary["steps"], "seconds": summary["seconds"],
                                 "loadavg": os.getloadavg()}) + "\n")
    segs = [json.loads(line) for line in segments.read_text().splitlines()] if segments.is_file() else []
    trained = sum(s["to"] - s["from"] for s in segs)
    seconds = sum(s["seconds"] for s in segs)
    return {"seed": seed, "run": str(run), "checkpoint": str(ckpt), "steps": _step(ckpt), "train_seconds": seconds,
            "s_per_step": seconds / trained if trained else None}


def probe(arm: Arm, a, data, cli: Cli) -> float:
    """Median seconds per step of ``--probe-steps`` steps (the first left out), from a run under WORK/probe."""
    run = a.work / "probe" / f"{arm.name}-{a.preset}"
    if _step(run / "checkpoint.pt") < a.probe_steps:
        if run.exists():
            shutil.rmtree(run)
        cli(f"probe-{arm.name}", train_args(arm, a, data, run, 0, a.probe_steps, log_every=1))
    with open(run / "losses.csv") as fh:
        times = [float(r["seconds"]) for r in csv.DictReader(fh)]
    return statistics.median(times[1:] or times)


def evaluate_run(arm: Arm, a, data, clf, obj, run: dict, cli: Cli) -> dict:
    """paired-v1 and v1 results files of one run (reused while they name the same checkpoint)."""
    from initbench.digests import sha256_file

    sha = sha256_file(run["checkpoint"])
    base = ["evaluate", "--method", arm.method, "--ckpt", run["checkpoint"], "--data", data, "--task", a.task,
            "--lpips-backbone", a.lpips_backbone, "--classifier", clf, "--device", a.device]
    plans = {
        "paired-v1": ["--protocol", "paired-v1", "--object-classifier", obj,
                      *(["--num-inputs", a.paired_inputs] if a.paired_inputs else []),
                      *(["--samples-per-input", a.paired_samples] if a.paired_samples else [])],
        "v1": ["--protocol", "v1", "--num-inputs", a.v1_inputs, "--samples-per-input", a.v1_samples,
               "--short-side", a.v1_short_side, "--no-fid"],
    }
    out = {}
    for protocol, extra in plans.items():
        path = a.work / "results" / arm.name / f"seed{run['seed']}-{protocol}.json"
        if not (path.is_file() and json.loads(path.read_text()).get("checkpoint_sha256") == sha):
            log(f"evaluate {arm.name} seed {run['seed']}: {protocol}")
            path.parent.mkdir(parents=True, exist_ok=True)
            cli(f"evaluate-{arm.name}-s{run['seed']}-{protocol}", [*base, *extra, "--out", path])
        out[protocol] = path
    return out


def make_entry(arm: Arm, a, runs: list[dict], paths: list[dict], cli: Cli) -> dict:
    """The arm's leaderboard entry (``leaderboard from-results``), submitted to ``--submit-to`` when given."""
    entry = a.work / "entries" / f"{arm.name}.json"
    args = ["leaderboard", "from-results", *[p["paired-v1"] for p in paths], "--benchmark", "mini-init-v2",
            "--method", arm.method, "--label", arm.label, "--seeds", ",".join(str(r["seed"]) for r in runs),
            "--code-url", a.code_url, "--command", command_line(arm, a), "--out", entry]
    args += ["--variant", arm.variant] if arm.variant else []
    for r in runs:
        args += ["--checkpoint", r["checkpoint"]]
    cli(f"entry-{arm.name}", args)
    out = {"entry": str(entry), "submitted": None}
    if a.submit_to:
        from initbench.leaderboard.store import SubmissionError, submit

        try:
            out["submitted"] = str(submit(entry, a.submit_to).path)
        except SubmissionError as exc:
            if "duplicate of" not in str(exc):
                raise
            out["submitted"] = "already there: " + str(exc).split("duplicate of ", 1)[1].split(" ", 1)[0]
    return out


def _code_url() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        head = "unknown"
    return f"https://github.com/initbench/initbench@{head}"


def budget(a, data, cli: Cli) -> dict:
    """Measured s/step per arm and the estimated training time of the runs still to train."""
    left = {arm.name: sum(max(0, a.steps - _step(a.work / "runs" / arm.name / f"seed{s}" / "checkpoint.pt"))
                          for s in a.seed_list) for arm in a.arm_list}
    per_step = {arm.name: probe(arm, a, data, cli) for arm in a.arm_list if left[arm.name]}
    total = sum(per_step[n] * left[n] for n in per_step)
    line = (f"budget: {len(a.arm_list)} arms x {len(a.seed_list)} seeds x {a.steps} steps ({a.preset}); "
            f"{sum(left.values())} steps left; s/step " + ", ".join(f"{n} {v:.3f}" for n, v in per_step.items())
            + f"; training ~ {total / 3600:.2f} h on this machine now (load average {os.getloadavg()[0]:.2f}); "
            "evaluation not included (its time is in the results files)")
    return {"steps_left": left, "s_per_step_probe": per_step, "training_seconds_estimate": total, "line": line}


def main(argv=None) -> dict:
    a = parse_args(argv)
    import torch

    from initbench.evaluation.intervals import bootstrap_ci, interval_dict
    from initbench.evaluation.paired import METRIC_KEYS as PAIRED_KEYS
    from initbench.leaderboard.results import checkpoint_facts

    from init_vs_munit_summary import arm_metrics, markdown_tables

    torch.set_num_threads(a.threads)
    a.code_url = a.code_url or _code_url()
    cli = Cli(a.work, a.threads)
    t0, c0 = time.perf_counter(), time.process_time()
    data, clf, obj = prepare(a, cli)
    plan = budget(a, data, cli)
    log(plan["line"])
    if a.budget_only:
        return plan
    arms_doc = {}
    for arm in a.arm_list:
        runs = [train_run(arm, a, data, s, cli) for s in a.seed_list]
        paths = [evaluate_run(arm, a, data, clf, obj, r, cli) for r in runs]
        paired = [json.loads(p["paired-v1"].read_text()) for p in paths]
        v1 = [json.loads(p["v1"].read_text()) for p in paths]
        for r, path, p, v in zip(runs, paths, paired, v1):
            r.update(paired_results=str(path["paired-v1"]), v1_results=str(path["v1"]),
                     eval_seconds={"paired-v1": p["timings"]["total"], "v1": v["timings"]["total"]},
                     trained_with=p.get("method_settings", {}).get("trained_with"))
        sps = [r["s_per_step"] for r in runs if r["s_per_step"]]
        arms_doc[arm.name] = {
            "label": arm.label, "method": arm.method, "variant": arm.variant, "sets": arm.sets,
            "shuffle_boxes": arm.shuffle_boxes, "command": command_line(arm, a),
            # as the leaderboard counts them (generators, what inference uses), and all trained (discriminators too)
            "params": checkpoint_facts(runs[0]["checkpoint"])["params"], "params_with_discriminators": paired[0].get("params"),
            "s_per_step": interval_dict(bootstrap_ci(sps, n_resamples=a.bootstrap)) if sps else None,
            "runs": runs,
            "metrics": arm_metrics(paired, v1, PAIRED_KEYS, n_resamples=a.bootstrap),
            "leaderboard": make_entry(arm, a, runs, paths, cli),
        }
        log(f"{arm.name}: done")
    doc = {
        "benchmark": "init_vs_munit", "quick": a.quick,
        "settings": {"task": a.task, "preset": a.preset, "steps": a.steps, "seeds": a.seed_list, "threads": a.threads,
                     "device": a.device, "split_rule": "drives", "lpips_backbone": a.lpips_backbone,
                     "paired_overrides": {"num_inputs": a.paired_inputs, "samples_per_input": a.paired_samples},
                     "v1_inputs": a.v1_inputs, "v1_samples": a.v1_samples, "v1_short_side": a.v1_short_side,
                     "bootstrap_resamples": a.bootstrap, "level": 0.95, "data": str(data),
                     "classifier": str(clf), "object_classifier": str(obj), "code_url": a.code_url},
        "machine": machine(torch=torch.__version__, load_average=list(os.getloadavg())),
        "budget": plan,
        "seconds": time.perf_counter() - t0,
        # every command runs in this process: its CPU time against the wall time shows how busy the machine was
        "cpu_seconds": time.process_time() - c0,
        "arms": arms_doc,
    }
    from initbench.files import write_atomic

    write_atomic(a.out, json.dumps(doc, indent=2) + "\n")
    write_atomic(a.out.with_suffix(".md"), markdown_tables(doc))
    log(f"wrote {a.out} and {a.out.with_suffix('.md')} in {doc['seconds']:.0f} s ({doc['cpu_seconds']:.0f} s of CPU)")
    return doc


if __name__ == "__main__":
    main()
