"""`initbench quickstart`: the whole pipeline on the synthetic mini-INIT, in minutes on a CPU.

Stages, in order (each a small adapter over another part of the package):

``synth`` (dataset.synthetic) -> ``verify`` (dataset.verify) -> ``classifier`` (evaluation.classifier,
the small CNN) -> ``train-<method>`` for INIT and MUNIT (training.trainer, ``tiny`` preset) ->
``evaluate-<method>`` (evaluation.evaluator, protocol v1 with fewer inputs and samples, recorded as
overrides) -> ``leaderboard`` (entries under benchmark ``mini-init``, submitted to
``OUT/leaderboards`` and, with ``submit_to``, to a second leaderboard folder) -> ``report``
(``OUT/report.html``).

Rerun safety: a stage is finished when its marker ``OUT/.stages/<stage>.json`` exists (written
last, atomically) and holds the stage's key: a digest of its settings and of the keys of the
stages it uses. A rerun reuses finished stages and redoes the rest; a training stage that was
interrupted resumes from its last checkpoint (the trainer resumes exactly). Every file is written
under a temporary name and renamed, so Ctrl-C leaves finished files or none, never half of one.

Library code: returns values, never prints. ``progress(stage, done, total, info)`` and
``on_stage(event, stage, detail)`` (event: ``start``, ``reused``, ``done``) let the CLI draw bars.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from initbench import __version__
from initbench.errors import InitbenchError, UsageError
from initbench.leaderboard.entry import canonical_bytes, read_entry, sha256_file, write_json_atomic

Progress = Callable[[str, int, int, str], None]
OnStage = Callable[[str, str, str], None]

BENCHMARK = "mini-init"
CODE_URL = f"initbench=={__version__} (`initbench quickstart`)"


class QuickstartError(InitbenchError):
    """A stage of the quickstart failed its own check (CLI exit code 1)."""

    exit_code = 1


@dataclass(frozen=True)
class QuickstartOptions:
    """Every setting of a quickstart run. Defaults fit ~10 minutes on a 2-core laptop CPU."""

    out: str = "quickstart-out"
    steps: int = 400
    device: str = "cpu"
    task: str = "sunny2night"
    methods: tuple[str, ...] = ("init", "munit")
    seed: int = 0
    per_domain: int = 48
    #: 104 x 64: about the release's aspect (1.625 vs 1.589), trained at its native short side 64
    #: (the tiny preset's), and evaluated at 64 x 104, a multiple of 4 as MUNIT's generator needs.
    size: tuple[int, int] = (104, 64)
    classifier_epochs: int = 4
    eval_inputs: int = 8
    eval_samples: int = 8
    eval_short_side: int = 64
    grid_inputs: int = 4
    grid_styles: int = 4
    lpips_backbone: str = "auto"
    submit_to: str | None = None
    #: torch CPU threads while the quickstart runs (0: torch's default). The models are tiny, so
    #: one thread wastes nothing and avoids the oversubscription that makes a busy CPU crawl.
    threads: int = 1

    def validate(self) -> "QuickstartOptions":
        from initbench.dataset.release import parse_task

        parse_task(self.task)
        if self.steps < 1:
            raise UsageError(f"--steps: expected a positive number; got {self.steps}")
        if self.lpips_backbone not in ("auto", "pretrained", "random"):
            raise UsageError(f"--lpips-backbone: expected auto, pretrained or random; got {self.lpips_backbone!r}")
        if self.eval_short_side % 4 or round(self.size[0] * self.eval_short_side / self.size[1]) % 4:
            raise UsageError(f"--size/--eval-short-side: the evaluated images ({self.eval_short_side} px short side of "
                             f"{self.size[0]}x{self.size[1]}) must have both sides a multiple of 4 (the generators "
                             "down- and up-sample twice)")
        if self.eval_samples < 2:
            raise UsageError(f"--eval-samples: expected at least 2 (one LPIPS pair); got {self.eval_samples}")
        return self


@dataclass
class Context:
    opts: QuickstartOptions
    out: Path
    progress: Progress | None
    results: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.out / "data"

    def tick(self, stage: str, done: int, total: int, info: str = "") -> None:
        if self.progress is not None:
            self.progress(stage, done, total, info)


# -- stages -------------------------------------------------------------------------------------

def stage_synth(ctx: Context) -> dict:
    from initbench.dataset.synthetic import synthesize

    o = ctx.opts
    summary = synthesize(ctx.data, per_domain=o.per_domain, size=o.size, seed=o.seed, generator="v1",
                         progress=lambda d, t: ctx.tick("synth", d, t))
    return {"root": str(ctx.data), "images": summary["images"], "boxes": summary["boxes"], "size": summary["size"]}


def stage_verify(ctx: Context) -> dict:
    from initbench.dataset.verify import verify_dataset

    rep = verify_dataset(ctx.data, progress=lambda d, t: ctx.tick("verify", d, t))
    if rep["errors"]:
        first = rep["findings"][0] if rep["findings"] else {}
        raise QuickstartError(f"verify: the synthetic tree {ctx.data} has {rep['errors']} error(s), e.g. "
                              f"{first.get('path')}:{first.get('line')}: {first.get('message')}")
    return {"files_checked": rep["files_checked"], "errors": rep["errors"], "warnings": rep["warnings"],
            "images": {d: v["images"] for d, v in rep["domains"].items()}}


def stage_classifier(ctx: Context) -> dict:
    from initbench.evaluation.classifier import train_classifier

    path = ctx.out / "classifier.pt"
    rep = train_classifier(ctx.data, path, small=True, device=ctx.opts.device, epochs=ctx.opts.classifier_epochs,
                           seed=ctx.opts.seed, progress=lambda d, t, info: ctx.tick("classifier", d, t,
                                                                                     f"loss {info.get('loss', 0):.3f}"))
    return {"path": str(path), "sha256": rep["sha256"], "accuracy": rep.get("accuracy"),
            "per_domain_accuracy": rep.get("per_domain_accuracy"), "seconds": rep.get("seconds")}


def _ensure_method(method: str) -> None:
    """Import the method's module so it registers, whether or not ``initbench.methods`` lists it yet."""
    import importlib

    from initbench.methods.base import _REGISTRY

    if method not in _REGISTRY:
        importlib.import_module(f"initbench.methods.{method}")


def stage_train(ctx: Context, method: str) -> dict:
    from initbench.training.config import preset_config
    from initbench.training.trainer import train

    _ensure_method(method)
    o = ctx.opts
    run = ctx.out / "runs" / method
    pending = ctx.out / ".stages" / f"train-{method}.pending"
    key = ctx.keys[f"train-{method}"]
    resume = (run / "checkpoint.pt").is_file() and pending.is_file() and pending.read_text() == key
    if not resume and run.exists():
        shutil.rmtree(run)  # a run of other settings (or none finished a checkpoint): start over
    pending.parent.mkdir(parents=True, exist_ok=True)
    pending.write_text(key)
    every = max(1, min(100, o.steps))
    cfg = preset_config("tiny", method=method, data=str(ctx.data), task=o.task, out=str(run), seed=o.seed,
                        max_steps=o.steps, device=o.device, log_every=max(1, o.steps // 100),
                        sample_every=o.steps, checkpoint_every=every,
                        # fp32: the tiny models gain nothing from autocast, and bf16 autocast
                        # currently fails in the AdaIN batch-norm backward on a GPU.
                        amp="off")
    summary = train(cfg, resume=resume,
                    progress=lambda d, t, sc, s: ctx.tick(f"train-{method}", d, t, f"{s:.2f} s/step"))
    pending.unlink(missing_ok=True)
    return {"run": str(run), "checkpoint": summary["checkpoint"], "steps": summary["steps"],
            "resumed_from": summary["resumed_from"], "seconds": summary["seconds"],
            "checkpoint_sha256": sha256_file(summary["checkpoint"])}


def lpips_backbone(choice: str) -> tuple[str, str]:
    """(backbone, why): ``pretrained`` when the AlexNet file is present and intact, else ``random``."""
    from initbench.evaluation import weights as W

    if choice != "auto":
        return choice, f"--lpips-backbone {choice}"
    w = W.get_weights("alexnet")
    info = W.inspect(w)
    if info.get("status") == "intact":
        return "pretrained", f"pretrained AlexNet found at {info.get('path')}"
    return "random", (f"the pretrained AlexNet file {w.filename} is not at {W.location_of(w)} "
                      f"({info.get('status')}); LPIPS uses a random backbone, recorded as 'random': "
                      "these numbers are not comparable with LPIPS anywhere else")


def stage_evaluate(ctx: Context, method: str) -> dict:
    from initbench.evaluation.evaluator import evaluate
    from initbench.evaluation.protocol import V1
    from initbench.methods.base import count_parameters
    from initbench.training.checkpoints import load_translator

    _ensure_method(method)
    o = ctx.opts
    trained = ctx.results[f"train-{method}"]
    translator = load_translator(trained["checkpoint"], device=o.device)
    backbone, why = lpips_backbone(o.lpips_backbone)
    protocol = V1.with_overrides(num_inputs=o.eval_inputs, samples_per_input=o.eval_samples,
                                 short_side=o.eval_short_side)
    res = evaluate(translator, ctx.data, o.task, protocol=protocol, method=method,
                   checkpoint_sha256=trained["checkpoint_sha256"], classifier=ctx.results["classifier"]["path"],
                   lpips_backbone=backbone, device=o.device, fid=True,
                   progress=lambda st, d, t: ctx.tick(f"evaluate-{method}", d, t, st))
    path = ctx.out / "results" / f"{method}-{o.task}.json"
    write_json_atomic(path, res)
    return {"results": str(path), "sha256": sha256_file(path), "metrics": res["metrics"], "lpips_backbone": backbone,
            "lpips_note": why, "skipped": res.get("skipped", {}),
            "params": count_parameters(translator.generator_modules())}


def _submit_idempotent(entry_file: Path, root: Path) -> Path:
    """Submit, or find the entry already holding these results (a rerun submits nothing twice)."""
    from initbench.leaderboard.store import SubmissionError, iter_entry_files, submit

    try:
        return submit(entry_file, root).path
    except SubmissionError as exc:
        if exc.report is not None:
            raise QuickstartError(f"leaderboard: {exc}: " + "; ".join(map(str, exc.report.problems))) from None
        entry = read_entry(entry_file)
        mine = {r["results_file"]["sha256"] for r in entry["runs"]}
        for p in iter_entry_files(root, entry["benchmark"], entry["task"]):
            if mine & {r["results_file"]["sha256"] for r in read_entry(p).get("runs", [])}:
                return p
        raise


def stage_leaderboard(ctx: Context) -> dict:
    from initbench.leaderboard.render import build_tables
    from initbench.leaderboard.results import build_entry
    from initbench.leaderboard.store import load_entries

    o = ctx.opts
    entries_dir = ctx.out / "entries"
    command = command_line(o)
    submitted, extra = {}, {}
    for method in o.methods:
        ev = ctx.results[f"evaluate-{method}"]
        notes = [{"id": "synthetic-benchmark", "text": "mini-INIT (synthetic), tiny preset, "
                  f"{ctx.results[f'train-{method}']['steps']} steps; LPIPS backbone: {ev['lpips_backbone']}; "
                  "protocol v1 with fewer inputs and samples (see protocol_overrides). A smoke benchmark."}]
        entry = build_entry([ev["results"]], benchmark=BENCHMARK, code_url=CODE_URL, command=command,
                            label=method, params=ev["params"], seeds=[o.seed], entry_dir=entries_dir, notes=notes,
                            checkpoint_paths=[ctx.results[f"train-{method}"]["checkpoint"]])
        f = write_json_atomic(entries_dir / f"{method}.json", entry)
        submitted[method] = str(_submit_idempotent(f, ctx.out / "leaderboards"))
        if o.submit_to:
            extra[method] = str(_submit_idempotent(f, Path(o.submit_to)))
    tables = build_tables(load_entries(ctx.out / "leaderboards", BENCHMARK, o.task))
    ranking = {t.metric: [(r.rank, r.label, r.text) for r in t.rows] for t in tables}
    return {"entries": submitted, "submitted_to": extra, "ranking": ranking}


def stage_report(ctx: Context) -> dict:
    from initbench.report.quickstart_report import write_report

    path = write_report(ctx, ctx.out / "report.html")
    return {"path": str(path), "bytes": path.stat().st_size}


# -- the pipeline -------------------------------------------------------------------------------

def command_line(o: QuickstartOptions) -> str:
    """The exact command that reproduces these results (every setting that changes a number)."""
    return (f"initbench quickstart --steps {o.steps} --device {o.device} --task {o.task} --seed {o.seed} "
            f"--per-domain {o.per_domain} --size {o.size[0]}x{o.size[1]} --classifier-epochs {o.classifier_epochs} "
            f"--eval-inputs {o.eval_inputs} --eval-samples {o.eval_samples} --lpips-backbone {o.lpips_backbone}")


def stages(o: QuickstartOptions) -> list[tuple[str, str, Callable[[Context], dict], dict, list[str]]]:
    """(name, title, function, settings that define its result, upstream stages)."""
    out: list = [
        ("synth", "synthesise the mini-INIT", stage_synth,
         {"per_domain": o.per_domain, "size": list(o.size), "seed": o.seed}, []),
        ("verify", "verify it", stage_verify, {}, ["synth"]),
        ("classifier", "train the small domain classifier", stage_classifier,
         {"epochs": o.classifier_epochs, "seed": o.seed}, ["synth"]),
    ]
    for m in o.methods:
        out.append((f"train-{m}", f"train {m} (tiny preset, {o.steps} steps)", lambda c, m=m: stage_train(c, m),
                    {"method": m, "steps": o.steps, "seed": o.seed, "task": o.task}, ["synth"]))
    for m in o.methods:
        out.append((f"evaluate-{m}", f"evaluate {m} on {o.task}", lambda c, m=m: stage_evaluate(c, m),
                    {"inputs": o.eval_inputs, "samples": o.eval_samples, "short_side": o.eval_short_side,
                     "lpips": o.lpips_backbone}, [f"train-{m}", "classifier"]))
    out.append(("leaderboard", "write and rank the leaderboard entries", stage_leaderboard,
                {"submit_to": o.submit_to}, [f"evaluate-{m}" for m in o.methods]))
    out.append(("report", "write the HTML report", stage_report,
                {"grid": [o.grid_inputs, o.grid_styles], "version": 1}, ["leaderboard"] + [f"train-{m}" for m in o.methods]))
    return out


def run_quickstart(opts: QuickstartOptions, *, progress: Progress | None = None,
                   on_stage: OnStage | None = None) -> dict:
    """Run (or finish) the quickstart in ``opts.out``; returns ``{"stages": {name: result}, "seconds": {...}}``."""
    import torch

    opts.validate()
    before = torch.get_num_threads()
    if opts.threads > 0:
        torch.set_num_threads(opts.threads)
    try:
        return _run(opts, progress, on_stage)
    finally:
        torch.set_num_threads(before)


def _run(opts: QuickstartOptions, progress: Progress | None, on_stage: OnStage | None) -> dict:
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(opts, out, progress)
    markers = out / ".stages"
    seconds: dict[str, float] = {}
    reused: list[str] = []
    for name, title, fn, settings, deps in stages(opts):
        key = hashlib.sha256(canonical_bytes({"stage": name, "settings": settings, "after": [ctx.keys[d] for d in deps],
                                              "version": __version__})).hexdigest()[:16]
        ctx.keys[name] = key
        marker = markers / f"{name}.json"
        if marker.is_file():
            try:
                done = json.loads(marker.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                done = {}
            if done.get("key") == key and _outputs_exist(done.get("result", {})):
                ctx.results[name] = done["result"]
                seconds[name] = 0.0
                reused.append(name)
                if on_stage:
                    on_stage("reused", name, title)
                continue
        if on_stage:
            on_stage("start", name, title)
        t0 = time.perf_counter()
        result = fn(ctx)
        seconds[name] = time.perf_counter() - t0
        ctx.results[name] = result
        write_json_atomic(marker, {"key": key, "stage": name, "seconds": round(seconds[name], 2), "result": result})
        if on_stage:
            on_stage("done", name, f"{title} ({seconds[name]:.1f} s)")
    return {"out": str(out), "stages": ctx.results, "seconds": seconds, "reused": reused,
            "options": asdict(opts)}


def _outputs_exist(result: dict) -> bool:
    """A marker counts only while the files it names are still there (someone may have deleted them)."""
    for k in ("path", "checkpoint", "results", "root"):
        if k in result and not Path(result[k]).exists():
            return False
    return True
