"""The quickstart's stages, each a small adapter over another part of the package.

``synth`` (mini-INIT v2 with paired ground truth) -> ``verify`` -> ``classifier`` and ``object-classifier``
(the small CNNs of paired-v1's domain accuracies) -> ``model-<m>`` for INIT, MUNIT and CycleGAN (the bundled
reference model, its sha256 checked; with ``--from-scratch`` trained by the ``small`` recipe) ->
``evaluate-<s>`` (protocol paired-v1, for the models and the two floors) -> ``train-short`` and
``evaluate-short-init`` (a short INIT run: training works, and a few hundred steps are not the recipe) ->
``leaderboard`` (mini-init-v2 entries, ranked) -> ``report`` (``OUT/report.html``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from initbench.errors import InitbenchError
from initbench.leaderboard.entry import read_entry, sha256_file, write_json_atomic
from initbench.quickstart.engine import Context, Stage
from initbench.quickstart.options import BENCHMARK, FLOORS, MODELS, QuickstartOptions, command_line

SHORT = "short-init"


class QuickstartError(InitbenchError):
    """A stage of the quickstart failed its own check (CLI exit code 1)."""

    exit_code = 1


def stage_synth(ctx: Context) -> dict:
    from initbench.dataset.synthetic import synthesize

    o = ctx.opts
    summary = synthesize(ctx.data, per_domain=o.per_domain, size=o.size, seed=o.seed, generator="v2", paired=True,
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


def stage_classifier(ctx: Context, objects: bool) -> dict:
    from initbench.evaluation.classifier import train_classifier

    name = "object-classifier" if objects else "classifier"
    path = ctx.out / f"{name}.pt"
    rep = train_classifier(ctx.data, path, small=True, objects=objects, split="drives", device=ctx.opts.device,
                           epochs=ctx.opts.classifier_epochs, seed=ctx.opts.seed,
                           progress=lambda d, t, info: ctx.tick(name, d, t, f"loss {info.get('loss', 0):.3f}"))
    return {"path": str(path), "sha256": rep["sha256"], "accuracy": rep.get("accuracy"), "seconds": rep.get("seconds")}


def train_run(ctx: Context, method: str, run: Path, steps: int | None, stage: str) -> dict:
    """Train ``method`` with the ``small`` preset into ``run`` (an interrupted run resumes exactly)."""
    from initbench.training.config import preset_config
    from initbench.training.trainer import train

    o = ctx.opts
    pending = ctx.out / ".stages" / f"{stage}.pending"
    key = ctx.keys[stage]
    resume = (run / "checkpoint.pt").is_file() and pending.is_file() and pending.read_text() == key
    if not resume and run.exists():
        shutil.rmtree(run)  # a run of other settings (or none finished a checkpoint): start over
    pending.parent.mkdir(parents=True, exist_ok=True)
    pending.write_text(key)
    cfg = preset_config("small", method=method, data=str(ctx.data), task=o.task, out=str(run), seed=o.seed,
                        max_steps=steps, device=o.device, amp="off", split_rule="drives")
    summary = train(cfg, resume=resume, progress=lambda d, t, sc, s: ctx.tick(stage, d, t, f"{s:.2f} s/step"))
    pending.unlink(missing_ok=True)
    return {"run": str(run), "checkpoint": summary["checkpoint"], "steps": summary["steps"],
            "seconds": summary["seconds"], "checkpoint_sha256": sha256_file(summary["checkpoint"]), "pretrained": None}


def stage_model(ctx: Context, method: str) -> dict:
    """The bundled reference model (checked by sha256), or with ``--from-scratch`` one trained by the recipe."""
    o = ctx.opts
    if o.from_scratch:
        return train_run(ctx, method, ctx.out / "runs" / method, o.scratch_steps, f"model-{method}")
    from initbench.pretrained import resolve_pretrained

    pm = resolve_pretrained(f"{BENCHMARK}/{o.task}/{method}")
    training = pm.entry["training"]
    return {"run": None, "checkpoint": str(pm.path), "steps": training["steps"], "seconds": training["seconds"],
            "checkpoint_sha256": pm.sha256, "pretrained": pm.record()}


def stage_train_short(ctx: Context) -> dict:
    return train_run(ctx, "init", ctx.out / "runs" / SHORT, ctx.opts.steps, "train-short")


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


def _model_stage(subject: str) -> str:
    return "train-short" if subject == SHORT else f"model-{subject}"


def stage_evaluate(ctx: Context, subject: str) -> dict:
    """Protocol paired-v1 on ``subject`` (a model, the short run or a floor); the results file under OUT/results/."""
    from initbench.evaluation.paired import evaluate_paired
    from initbench.methods.base import count_parameters

    o = ctx.opts
    backbone, why = lpips_backbone(o.lpips_backbone)
    if subject in FLOORS:
        from initbench.evaluation.floors import build_floor

        translator, settings = build_floor(subject, ctx.data, o.task, split="drives", short_side=None)
        facts = dict(method=subject, checkpoint_sha256=None, model_task=o.task, method_settings=settings)
        model = {}
    else:
        from initbench.training.checkpoints import load_translator

        model = ctx.results[_model_stage(subject)]
        translator = load_translator(model["checkpoint"], device=o.device)
        facts = dict(method=translator.name, checkpoint_sha256=model["checkpoint_sha256"], model_task=translator.task)
    res = evaluate_paired(translator, ctx.data, o.task, classifier=ctx.results["classifier"]["path"],
                          object_classifier=ctx.results["object-classifier"]["path"], lpips_backbone=backbone,
                          device=o.device, progress=lambda st, d, t: ctx.tick(f"evaluate-{subject}", d, t, st), **facts)
    if model.get("pretrained"):
        res["pretrained"] = model["pretrained"]
    path = ctx.out / "results" / f"{subject}-{o.task}.json"
    write_json_atomic(path, res)
    params = count_parameters(translator.generator_modules()) if hasattr(translator, "generator_modules") else 0
    return {"results": str(path), "sha256": sha256_file(path), "metrics": res["metrics"], "lpips_backbone": backbone,
            "lpips_note": why, "skipped": res.get("skipped", {}), "params": params}


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


def _note(ctx: Context, subject: str) -> str:
    if subject in FLOORS:
        return f"floor {subject} on the synthetic mini-INIT v2."
    m = ctx.results[_model_stage(subject)]
    how = (f"bundled reference model {m['pretrained']['name']}" if m.get("pretrained")
           else f"trained here, small preset, {m['steps']} steps")
    return f"mini-INIT v2 (synthetic), {how}; LPIPS backbone: {ctx.results[f'evaluate-{subject}']['lpips_backbone']}."


def stage_leaderboard(ctx: Context) -> dict:
    from initbench.leaderboard.render import build_tables
    from initbench.leaderboard.results import build_entry
    from initbench.leaderboard.store import load_entries

    o = ctx.opts
    entries_dir = ctx.out / "entries"
    submitted, extra = {}, {}
    for subject in o.subjects:
        ev = ctx.results[f"evaluate-{subject}"]
        ckpt = None if subject in FLOORS else ctx.results[_model_stage(subject)]["checkpoint"]
        method = "init" if subject == SHORT else subject
        entry = build_entry([ev["results"]], benchmark=BENCHMARK, method=method, code_url=CODE_URL,
                            command=command_line(o), label=subject, params=ev["params"] or None, seeds=[o.seed],
                            entry_dir=entries_dir, checkpoint_paths=[ckpt],
                            notes=[{"id": "synthetic-benchmark", "text": _note(ctx, subject)}])
        f = write_json_atomic(entries_dir / f"{subject}.json", entry)
        submitted[subject] = str(_submit_idempotent(f, ctx.out / "leaderboards"))
        if o.submit_to:
            extra[subject] = str(_submit_idempotent(f, Path(o.submit_to)))
    tables = build_tables(load_entries(ctx.out / "leaderboards", BENCHMARK, o.task))
    ranking = {t.metric: [(r.rank, r.label, r.text) for r in t.rows] for t in tables}
    return {"entries": submitted, "submitted_to": extra, "ranking": ranking}


def _subject_name(ctx: Context, subject: str) -> str:
    model = ctx.results[_model_stage(subject)]
    return (model.get("pretrained") or {}).get("name") or ("init" if subject == SHORT else subject)


def stage_report(ctx: Context, subjects: tuple[str, ...]) -> dict:
    """``OUT/report.html`` for ``subjects``: written once the models are scored, again with the short run."""
    from initbench.report.document import ReportOptions, write_report

    o = ctx.opts
    paths = [ctx.results[f"evaluate-{s}"]["results"] for s in subjects]
    models = [s for s in subjects if s not in FLOORS]
    # keyed as the results name them: a bundled model by its name, a model trained here by its method
    ckpts = {_subject_name(ctx, s): ctx.results[_model_stage(s)]["checkpoint"] for s in models}
    runs = [r["run"] for s in models if (r := ctx.results[_model_stage(s)]).get("run")]
    summary = write_report(paths, ctx.out / "report.html",
                           ReportOptions(ckpts=ckpts, data=str(ctx.data), runs=runs, grid_inputs=o.grid_inputs,
                                         grid_styles=o.grid_styles, seed=o.seed, device=o.device),
                           progress=lambda st, d, t: ctx.tick("report", d, t, st))
    return {"path": summary["out"], "bytes": summary["bytes"]}


CODE_URL = "initbench (`initbench quickstart`)"


def stages(o: QuickstartOptions) -> list[Stage]:
    """The quickstart's stages in order: the bundled models are scored and reported before the short run trains."""
    data = {"per_domain": o.per_domain, "size": list(o.size), "seed": o.seed, "generator": "v2"}
    clf = {"epochs": o.classifier_epochs, "seed": o.seed}
    out = [Stage("synth", "synthesise mini-INIT v2 (paired ground truth)", stage_synth, data),
           Stage("verify", "verify it", stage_verify, {}, ("synth",)),
           Stage("classifier", "train the small domain classifier", lambda c: stage_classifier(c, False), clf, ("synth",)),
           Stage("object-classifier", "train the small object-domain classifier", lambda c: stage_classifier(c, True),
                 clf, ("synth",))]
    how = "train (small recipe)" if o.from_scratch else "load the bundled"
    for m in MODELS:
        out.append(Stage(f"model-{m}", f"{how} {m}", lambda c, m=m: stage_model(c, m),
                         {"from_scratch": o.from_scratch, "steps": o.scratch_steps, "task": o.task, "seed": o.seed},
                         ("synth",)))
    scored = MODELS + FLOORS
    for s in scored:
        deps = ("classifier", "object-classifier") + (() if s in FLOORS else (f"model-{s}",))
        out.append(Stage(f"evaluate-{s}", f"evaluate {s} (paired-v1, {o.task})", lambda c, s=s: stage_evaluate(c, s),
                         {"lpips": o.lpips_backbone}, deps))
    out.append(Stage("report-models", "write the HTML report of the models and floors",
                     lambda c: stage_report(c, scored), {"grid": [o.grid_inputs, o.grid_styles], "version": 2},
                     tuple(f"evaluate-{s}" for s in scored)))
    if o.from_scratch:  # the models were trained here: no short run to show
        return out
    out.append(Stage("train-short", f"train a short INIT run ({o.steps} steps)", stage_train_short,
                     {"steps": o.steps, "seed": o.seed, "task": o.task}, ("synth",)))
    out.append(Stage(f"evaluate-{SHORT}", "evaluate the short run", lambda c: stage_evaluate(c, SHORT),
                     {"lpips": o.lpips_backbone}, ("classifier", "object-classifier", "train-short")))
    evals = tuple(f"evaluate-{s}" for s in o.subjects)
    out.append(Stage("leaderboard", "write and rank the leaderboard entries", stage_leaderboard,
                     {"submit_to": o.submit_to}, evals))
    out.append(Stage("report", "write the HTML report with the short run", lambda c: stage_report(c, o.subjects),
                     {"grid": [o.grid_inputs, o.grid_styles], "version": 2}, ("leaderboard",) + evals))
    return out
