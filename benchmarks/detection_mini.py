"""Detection with translated data, in miniature (issue 15, item 3) on the paired mini-INIT v2.

The paper's second experiment asks whether night copies of sunny training images, made by a translation model,
help a detector at night. Here, on mini-INIT v2 (test split ``drives``: whole drives held out):

- arm ``real``: a detector trained on the real sunny training images alone;
- one arm per ``--copies`` name (default ``init,munit,colour-transfer``): trained on the real sunny training images
  plus their sunny -> night copy, made here by ``initbench translate-dataset`` (one style per image) with the
  bundled model of that name, or for ``colour-transfer`` with the global colour map fitted on the training
  images (the floor a translation model has to beat);
- one arm per ``--arm NAME=ANN.json:IMAGES``: the same with a copy made elsewhere (e.g. by your own model;
  ``translate-dataset`` output: its ``annotations.json`` and ``images`` folder);
- ``--oracle``: an arm ``real-night`` trained on the sunny plus the real night training images (other scenes).

Each arm is tested on two sets: the real night test images, and the ground-truth night renderings of the sunny
test frames (``ground_truth/sunny2night/...``; their COCO file is the sunny test file with the paths changed,
the same boxes). Every arm runs with every seed of ``--seeds``; the same seed gives every arm the same initial
weights (the data order differs, since the arms' training sets differ). Reported per arm and test set: AP, AP50, AP75 and AP per class,
each as the mean over seeds with a 95 % Student t interval (mean +- t(0.975, n-1) * sd / sqrt(n), sd with n-1;
none for one seed), and per non-``real`` arm the paired difference to ``real`` (same seeds) with its t interval.
Seconds per epoch and per run are recorded to size a run.

    python benchmarks/detection_mini.py --work /tmp/detmini --oracle --out benchmarks/results/detection_mini.json
    python benchmarks/detection_mini.py --work /tmp/detmini --copies '' --arm mine=OUT/annotations.json:OUT/images
    python benchmarks/detection_mini.py --quick --work /tmp/detmini-quick --oracle --out /tmp/detection_mini_quick.json

Data (made in ``WORK/data`` unless ``--data``): ``initbench synth WORK/data --paired --per-domain N``, then
``initbench manifest build ... --split drives`` and ``initbench export coco`` for each set. A run whose results
file in ``WORK/runs`` already matches its settings is reused, so an interrupted experiment continues.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import log  # noqa: E402
from bench_common import machine as bench_machine  # noqa: E402

from initbench.files import write_atomic  # noqa: E402

METRICS = ("AP", "AP50", "AP75")
TESTS = ("night_test", "gt_night_test")


def initbench(*args: str) -> list[str]:
    """Run ``python -m initbench ARGS`` (the same commands a user types); returns the command."""
    cmd = [sys.executable, "-m", "initbench", *args]
    repo = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p)}
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return cmd[2:]


def subset(doc: dict, n: int | None) -> dict:
    """The first ``n`` images of a COCO dict and their boxes (all when ``n`` is None)."""
    if n is None:
        return doc
    keep = {im["id"] for im in doc["images"][:n]}
    return {**doc, "images": doc["images"][:n], "annotations": [a for a in doc["annotations"] if a["image_id"] in keep]}


def prepare_data(args) -> tuple[dict[str, str], list[list[str]]]:
    """The COCO sets as ``ANN.json:IMAGES`` specs (``sunny_train``, ``night_train``, ``night_test``,
    ``gt_night_test``) and the commands that made them."""
    from initbench.dataset.synthetic_v2 import ground_truth_path

    work = Path(args.work)
    root = Path(args.data) if args.data else work / "data"
    commands = []
    if not args.data and not (root / "ground_truth").is_dir():
        commands.append(initbench("synth", str(root), "--paired", "--per-domain", str(args.per_domain), "--seed", "0"))
    manifest = work / "manifest.csv"
    if not manifest.is_file():
        commands.append(initbench("manifest", "build", str(root), "--out", str(manifest), "--split", "drives"))
    specs = {}
    for name, split, domain, cap in (("sunny_train", "train", "sunny", args.max_train), ("night_train", "train", "night",
                                      args.max_train), ("night_test", "test", "night", args.max_test),
                                     ("sunny_test", "test", "sunny", args.max_test)):
        full = work / f"{name}.full.json"
        if not full.is_file():
            commands.append(initbench("export", "coco", str(root), str(full), "--split", split, "--domain", domain,
                                      "--manifest", str(manifest)))
        doc = subset(json.loads(full.read_text()), cap)
        if name == "sunny_test":  # the same frames and boxes, rendered at night
            name = "gt_night_test"
            for im in doc["images"]:
                im["file_name"] = ground_truth_path("sunny", "night", im["file_name"].split("/", 1)[1])
                im["domain"] = "night"
        path = work / f"{name}.json"
        write_atomic(path, json.dumps(doc) + "\n")
        specs[name] = f"{path}:{root}"
    for name in args.copies:
        specs[f"copy:{name}"], made = make_copy(name, work, root, work / "sunny_train.full.json", args.copy_seed)
        commands += made
    return specs, commands


#: The translated copies ``--copies`` can make, and the model each is made with: the bundled sunny2night models
#: (trained on the default mini-INIT v2, split ``drives``: the test frames here were never seen) and the global
#: colour map fitted on the ``drives`` training images, the floor.
COPY_MODELS = {"init": "mini-init-v2/sunny2night/init", "munit": "mini-init-v2/sunny2night/munit",
               "colour-transfer": None}


def make_copy(name: str, work: Path, root: Path, sunny_train: Path, seed: int) -> tuple[str, list[str]]:
    """A sunny -> night copy of the sunny training images (``sunny_train``, a COCO file) by ``name`` (a key of
    :data:`COPY_MODELS`), one style per image drawn with ``seed``; returns its ``ANN.json:IMAGES`` spec and the
    commands. ``initbench translate-dataset`` reuses a finished copy, so a rerun costs nothing."""
    out = work / "copies" / name
    commands = []
    model = ["--pretrained", COPY_MODELS[name]] if COPY_MODELS[name] else []
    if name == "colour-transfer":
        ckpt = work / "copies" / "colour-transfer.pt"
        if not ckpt.is_file():
            from initbench.evaluation.floors import build_floor

            floor, _ = build_floor("colour-transfer", root, "sunny2night", split="drives", short_side=None)
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            floor.save(ckpt)
            commands.append(["python: initbench.evaluation.floors.build_floor('colour-transfer', DATA, 'sunny2night', "
                             f"split='drives', short_side=None).save({ckpt})"])
        model = ["--ckpt", str(ckpt)]
    commands.append(initbench("translate-dataset", "--method", name, *model, "--coco", str(sunny_train), "--images",
                              str(root), "--out", str(out), "--num-styles", "1", "--seed", str(seed), "--device", "cpu"))
    return f"{out / 'annotations.json'}:{out / 'images'}", commands


def keep_categories(name: str, spec: str, keep: list[str], work: Path) -> tuple[str, str]:
    """The arm ``NAME-only-CATS`` training on the copy ``spec`` with the boxes of the categories ``keep`` only (the
    others become background): a diagnostic of what a copy's boxes teach. Returns its name and spec."""
    from initbench.detection.coco_data import parse_spec

    copy = parse_spec(spec, "--copies")
    doc = json.loads(copy.ann.read_text())
    ids = {c["id"] for c in doc["categories"] if c["name"] in keep}
    unknown = sorted(set(keep) - {c["name"] for c in doc["categories"]})
    if unknown:
        raise SystemExit(f"--copy-categories: unknown {unknown}; the copy's categories are "
                         + ", ".join(c["name"] for c in doc["categories"]))
    doc["annotations"] = [a for a in doc["annotations"] if a["category_id"] in ids]
    arm = f"{name}-only-" + "+".join(c.replace(" ", "-") for c in keep)
    path = work / f"copy-{arm}.json"
    write_atomic(path, json.dumps(doc) + "\n")
    return arm, f"{path}:{copy.images}"


def confident_car_iou(detections: Path, test_ann: Path, threshold: float = 0.5) -> dict:
    """How well the confident car detections (score > ``threshold``) of one test set sit on true cars: per
    detection, the IoU with its best-overlapping true car of the same image (0 when none). Returns their count,
    median, lowest and highest: a detector can score AP 0 because it finds nothing or because its boxes are
    misplaced, and this tells which."""
    from torchvision.ops import box_iou
    import torch

    doc = json.loads(test_ann.read_text())
    car = next(c["id"] for c in doc["categories"] if c["name"] == "car")
    truth: dict[int, list] = {}
    for a in doc["annotations"]:
        if a["category_id"] == car:
            truth.setdefault(a["image_id"], []).append(a["bbox"])
    xyxy = lambda b: [b[0], b[1], b[0] + b[2], b[1] + b[3]]  # noqa: E731
    ious = []
    for d in json.loads(detections.read_text()):
        if d["category_id"] != car or d["score"] <= threshold:
            continue
        gt = truth.get(d["image_id"], [])
        ious.append(float(box_iou(torch.tensor([xyxy(d["bbox"])]), torch.tensor([xyxy(b) for b in gt])).max()) if gt else 0.0)
    return {"count": len(ious), "median": statistics.median(ious) if ious else None,
            "min": min(ious, default=None), "max": max(ious, default=None), "score_threshold": threshold}


def reusable(path: Path, want: dict) -> dict | None:
    """The results at ``path`` when they were made with the settings ``want`` (else None)."""
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    have = {"seed": doc["seed"], "epochs": doc["epochs"], "arch": doc["detector"]["arch"], "size": doc["image_size"],
            "lr": doc["recipe"]["lr"], "batch_size": doc["recipe"]["batch_size"],
            "train": [s["sha256"] for s in doc["train_sets"]], "test": [s["sha256"] for s in doc["tests"]]}
    return doc if have == want else None


def t_interval(values: list[float]) -> dict:
    """Mean, sd (n-1) and the 95 % Student t interval of ``values`` (interval None for fewer than 2)."""
    from scipy.stats import t

    n = len(values)
    mean = statistics.fmean(values)
    if n < 2:
        return {"mean": mean, "sd": None, "ci95": None, "n": n}
    sd = statistics.stdev(values)
    half = float(t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return {"mean": mean, "sd": sd, "ci95": [mean - half, mean + half], "n": n}


def summarise(runs: list[dict], arms: list[str], categories: list[str]) -> dict:
    """Per arm and test set: each metric's t interval over seeds; per non-real arm the paired difference to real."""
    out = {}
    by = {(r["arm"], r["seed"]): r for r in runs}
    seeds = sorted({r["seed"] for r in runs})
    for arm in arms:
        out[arm] = {}
        for test in TESTS:
            keys = [*METRICS, *(f"AP {c}" for c in categories)]
            vals = {k: [by[arm, s]["metrics"][test][k] for s in seeds] for k in keys}
            entry = {k: t_interval(v) for k, v in vals.items()}
            if arm != "real":
                entry["minus_real"] = {k: t_interval([a - b for a, b in zip(v, (by["real", s]["metrics"][test][k]
                                                                              for s in seeds))]) for k, v in vals.items()}
            out[arm][test] = entry
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", required=True, help="folder for the data, the COCO files and the runs")
    ap.add_argument("--data", default=None, help="an existing paired mini-INIT v2 (default: made in WORK/data)")
    ap.add_argument("--per-domain", type=int, default=64, help="images per domain when the data is made here")
    ap.add_argument("--arm", action="append", default=[], metavar="NAME=ANN.json:IMAGES",
                    help="a translated sunny->night copy of the sunny training images (repeatable)")
    ap.add_argument("--copies", default="init,munit,colour-transfer",
                    help="arms whose copy is made here: comma-separated from " + ", ".join(COPY_MODELS) + " ('' for none)")
    ap.add_argument("--copy-seed", type=int, default=0, help="translate-dataset --seed of the copies made here")
    ap.add_argument("--copy-categories", default=None,
                    help="diagnostic: keep only these categories' boxes in the --copies arms (comma-separated names, "
                         "e.g. car); the arms are named NAME-only-CATS")
    ap.add_argument("--oracle", action="store_true", help="add the arm real-night (sunny + real night training images)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--arch", default="tiny")
    ap.add_argument("--epochs", type=int, default=100, help="from scratch a detector needs thousands of steps")
    ap.add_argument("--size", type=int, default=160, help="short side (mini-INIT v2 frames are 256 x 160)")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-train", type=int, default=None, help="use only the first N images of each training set")
    ap.add_argument("--max-test", type=int, default=None, help="use only the first N images of each test set")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 16 images per domain made, 1 seed, 1 epoch, 8 training and 4 test images per set")
    ap.add_argument("--out", default="benchmarks/results/detection_mini.json")
    args = ap.parse_args()
    if args.quick:
        args.per_domain, args.seeds, args.epochs, args.max_train, args.max_test = 16, "0", 1, 8, 4
    args.copies = [c for c in args.copies.split(",") if c]
    args.copy_categories = [c for c in (args.copy_categories or "").split(",") if c]
    unknown = sorted(set(args.copies) - set(COPY_MODELS))
    if unknown:
        raise SystemExit(f"--copies: unknown {unknown}; expected some of {', '.join(COPY_MODELS)}")
    import torch

    from initbench.detection.benchmark import detections_path, run_detection_benchmark
    from initbench.detection.coco_data import load_set, parse_spec

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    specs, commands = prepare_data(args)
    arms = {"real": [specs["sunny_train"]]}
    if args.oracle:
        arms["real-night"] = [specs["sunny_train"], specs["night_train"]]
    for name in args.copies:  # the copies of the first --max-train images, as for --arm below
        spec = specs[f"copy:{name}"]
        if args.copy_categories:
            name, spec = keep_categories(name, spec, args.copy_categories, work)
        args.arm.append(f"{name}={spec}")
    for item in args.arm:
        name, sep, spec = item.partition("=")
        if not sep or not name or name in arms:
            raise SystemExit(f"--arm: expected a new NAME=ANN.json:IMAGES; got {item!r}")
        if args.max_train is not None:  # the copy of the same first images
            given = parse_spec(spec, "--arm")
            capped = work / f"arm-{name}.json"
            write_atomic(capped, json.dumps(subset(json.loads(given.ann.read_text()), args.max_train)) + "\n")
            spec = f"{capped}:{given.images}"
        arms[name] = [specs["sunny_train"], spec]
    tests = [specs[t] for t in TESTS]
    sha = {s: load_set(parse_spec(s, "--train")).sha256 for s in {x for v in arms.values() for x in v} | set(tests)}
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = []
    for arm, train in arms.items():
        for seed in seeds:
            out = work / "runs" / arm / f"seed{seed}" / "R.json"
            want = {"seed": seed, "epochs": args.epochs, "arch": args.arch, "size": args.size, "lr": args.lr,
                    "batch_size": args.batch_size, "train": [sha[s] for s in train], "test": [sha[s] for s in tests]}
            start, cpu_start = time.perf_counter(), time.process_time()
            doc = reusable(out, want)
            reused = doc is not None
            if not reused:
                log(f"{arm} seed {seed}: training on {len(train)} set(s) ...")
                doc = run_detection_benchmark(train, tests, out, arch=args.arch, epochs=args.epochs, seed=seed,
                                              device=args.device, batch_size=args.batch_size, size=args.size, lr=args.lr)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
            metrics = {t: {**{k: s["metrics"][k] for k in METRICS},
                           **{f"AP {c}": v for c, v in s["metrics"]["AP_per_class"].items()}}
                       for t, s in zip(TESTS, doc["tests"])}
            localisation = {t: confident_car_iou(detections_path(out, i + 1), parse_spec(spec, "--test").ann)
                            for i, (t, spec) in enumerate(zip(TESTS, tests))}
            runs.append({"arm": arm, "seed": seed, "results": str(out), "reused": reused, "car_iou": localisation,
                         "run_seconds": None if reused else seconds, "run_cpu_seconds": None if reused else cpu_seconds,
                         "seconds_per_epoch": doc["timings"]["seconds_per_epoch"],
                         "cpu_seconds_per_epoch": statistics.fmean(doc["timings"]["epoch_cpu_seconds"]),
                         "train_images": sum(s["num_images"] for s in doc["train_sets"]), "metrics": metrics})
            log(f"{arm} seed {seed}: AP night {metrics['night_test']['AP']:.4f}, AP truth-night "
                f"{metrics['gt_night_test']['AP']:.4f}, {doc['timings']['seconds_per_epoch']:.1f} s/epoch")
    categories = list(doc["categories"].values())
    result = {
        "experiment": "detection with translated data (issue 15 item 3), miniature on mini-INIT v2",
        "quick": args.quick,
        "interval": "95 % Student t interval over seeds: mean +- t(0.975, n-1) * sd / sqrt(n); paired differences to "
                    "arm real use the same seeds",
        "settings": {"arch": args.arch, "backbone_weights": doc["detector"]["backbone_weights"], "epochs": args.epochs,
                     "size": args.size, "batch_size": args.batch_size, "lr": args.lr, "seeds": seeds,
                     "device": args.device, "threads": args.threads, "max_train": args.max_train,
                     "max_test": args.max_test, "per_domain": None if args.data else args.per_domain},
        "arms": arms, "tests": dict(zip(TESTS, tests)), "data_commands": commands,
        "machine": bench_machine(torch=torch.__version__, device=doc["machine"]["device"],
                                 load_average_1_5_15_min=list(os.getloadavg())),
        "runs": runs,
        "summary": summarise(runs, list(arms), categories),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out, json.dumps(result, indent=2) + "\n")
    log(f"wrote {args.out}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
