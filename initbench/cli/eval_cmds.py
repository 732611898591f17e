"""Commands of the evaluator: ``weights``, ``train-classifier``, ``evaluate``."""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from initbench.cli.common import console, err_console, handle_errors, json_option, pretrained_option, write_json
from initbench.errors import UsageError


@contextmanager
def _bar():
    """A rich progress bar on stderr; yields ``progress(stage, done, total)``."""
    cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*cols, console=err_console, transient=True) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int, *_):
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def _progress(shard):
    """Rank 0's progress bars (:func:`_bar`); on the other ranks a callback that shows nothing."""
    return _bar() if shard.is_main else nullcontext(lambda *_: None)


def _fmt(v, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


@click.command("weights")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None, help="Folder holding the files (default: torch hub's cache).")
@click.option("--offline", is_flag=True, help="Never touch the network; exit 1 naming each missing file and where to place it.")
@click.option("--fetch", is_flag=True, help="Download missing files (not with --offline).")
@click.option("--no-hash", is_flag=True, help="Do not hash the files (status 'present' instead of intact/corrupt).")
@json_option("the table")
@handle_errors
def weights_cmd(directory, offline, fetch, no_hash, json_out):
    """Pretrained files the evaluator uses: where they are looked for, expected sha256, status."""
    from initbench.evaluation import weights as W

    if offline and fetch:
        raise UsageError("--fetch: cannot download with --offline")
    if fetch:
        for key, w in W.WEIGHTS.items():
            if w.location == "hub" and W.inspect(w, directory, check_hash=False)["status"] == "missing":
                W.resolve(key, directory, offline=False)
    rows = W.table(directory, check_hash=not no_hash)
    if json_out:
        write_json(json_out, rows)
    if json_out != "-":
        t = Table(title="pretrained files")
        for col in ("file", "used for", "expected sha256", "status", "path"):
            t.add_column(col, overflow="fold")
        colour = {"intact": "green", "present": "yellow", "corrupt": "red", "missing": "red"}
        for r in rows:
            t.add_row(r["file"], r["used_for"], r["expected_sha256_prefix"] or "(not established)", f"[{colour[r['status']]}]{r['status']}[/]", r["path"])
        console.print(t)
    bad = [r for r in rows if r["status"] in ("missing", "corrupt")]
    if offline and bad:
        for r in bad:
            err_console.print(f"[red]{r['status']}:[/] {r['file']}: place it at {r['path']} (from {r['url']})", highlight=False)
        raise SystemExit(1)
    raise SystemExit(1 if any(r["status"] == "corrupt" for r in rows) else 0)


@click.command("train-classifier")
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Where to write the classifier file.")
@click.option("--small", is_flag=True, help="The compact CNN (64 x 64 input) for the mini-INIT on a CPU.")
@click.option("--from-scratch", is_flag=True, help="Inception-v3 from a random start instead of ImageNet weights (recorded).")
@click.option("--epochs", type=int, default=None, help="Override the recipe's epochs (recorded).")
@click.option("--lr", type=float, default=None, help="Override the recipe's learning rate (recorded).")
@click.option("--batch-size", type=int, default=None, help="Override the recipe's batch size (recorded).")
@click.option("--max-per-domain", type=int, default=None, help="Train on at most N images per domain (seeded draw; recorded).")
@click.option("--seed", type=int, default=None, help="Recipe seed (default 0).")
@click.option("--objects", is_flag=True, help="Classify real box crops (the object-domain classifier of paired-v1's "
              "object_domain_accuracy, for evaluate --object-classifier) instead of whole images.")
@click.option("--split", "split_rule", type=click.Choice(["v1", "drives"]), default="v1", show_default=True,
              help="Split rule (drives: the mini-INIT v2's).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--workers", type=int, default=0, show_default=True, help="DataLoader workers.")
@click.option("--weights-dir", type=click.Path(file_okay=False), default=None, help="Folder with inception_v3_google-0cc3c7bd.pth.")
@click.option("--offline", is_flag=True, help="Never download the ImageNet weights.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None, help="Also write the report as JSON ('-' for stdout).")
@handle_errors
def train_classifier_cmd(root, out, small, from_scratch, epochs, lr, batch_size, max_per_domain, seed, objects, split_rule, device,
                         workers, weights_dir, offline, json_out):
    """Train the 4-way domain classifier for IS/CIS (or, with --objects, of box crops); report per-domain test
    accuracy and the confusion matrix."""
    from initbench.evaluation.classifier import train_classifier

    with _bar() as bar:
        report = train_classifier(
            root, out, small=small, from_scratch=from_scratch, device=device, weights_dir=weights_dir, offline=offline,
            num_workers=workers, progress=lambda d, t, info: bar("train", d, t),
            epochs=epochs, lr=lr, batch_size=batch_size, max_per_domain=max_per_domain, seed=seed,
            objects=objects, split=split_rule,
        )
    domains = list(report["per_domain_accuracy"])
    t = Table(title=f"{report['arch']} ({report['init']}, {report['kind']}): test accuracy {_fmt(report['accuracy'], 3)}")
    t.add_column("true \\ predicted")
    for d in domains:
        t.add_column(d, justify="right")
    t.add_column("accuracy", justify="right")
    for i, d in enumerate(domains):
        t.add_row(d, *[str(v) for v in report["confusion"][i]], _fmt(report["per_domain_accuracy"][d], 3))
    console.print(t)
    console.print(f"wrote {out}  sha256 {report['sha256']}  ({report['seconds']} s)", highlight=False)
    if json_out:
        write_json(json_out, report)


@click.command("evaluate")
@click.option("--method", required=True, help="A registered method, 'real' (the target domain's own diversity) or, "
              "with paired-v1, 'ground-truth' (the truth's own row). "
              "identity and colour-transfer run without --ckpt (colour-transfer is then fitted on the train split).")
@pretrained_option(exclusive=("ckpt", "official_ckpt"))
@click.option("--ckpt", type=click.Path(exists=True, dir_okay=False), default=None, help="A native checkpoint.")
@click.option("--official-ckpt", type=click.Path(exists=True, dir_okay=False), default=None, help="The authors' released file.")
@click.option("--config", type=click.Path(exists=True, dir_okay=False), default=None, help="The authors' YAML config (with --official-ckpt).")
@click.option("--ckpt-task", default=None, help="With --official-ckpt (required): the task the file was trained for, "
              "e.g. sunny2night (a = sunny, b = night).")
@click.option("--data", "root", required=True, type=click.Path(exists=True, file_okay=False), help="Dataset root (the release or the mini-INIT).")
@click.option("--task", required=True, help="e.g. sunny2night; 'all': every task of the protocol the subject can run "
              "(a model: its own pair, both directions), one results file each (--out is then a folder) and one table.")
@click.option("--classifier", type=click.Path(exists=True, dir_okay=False), default=None, help="Domain classifier file (train-classifier); without it IS/CIS are null.")
@click.option("--object-classifier", type=click.Path(exists=True, dir_okay=False), default=None,
              help="paired-v1: object-domain classifier file (train-classifier --objects); without it "
              "object_domain_accuracy is null.")
@click.option("--protocol", "protocol_name", default="v1", show_default=True, help="v1 or paired-v1.")
@click.option("--synth-params", default="64,0,256x160", show_default=True,
              help="--method ground-truth: PER_DOMAIN,SEED,WxH the tree was drawn with (`initbench synth`); checked "
              "against its ground-truth files.")
@click.option("--lpips-backbone", type=click.Choice(["pretrained", "random"]), default="pretrained", show_default=True)
@click.option("--lpips-seed", type=int, default=0, show_default=True, help="Seed of a random LPIPS backbone.")
@click.option("--pairing", type=click.Choice(["munit", "drit"]), default=None, help="LPIPS pairing (default: the protocol's, munit).")
@click.option("--num-inputs", type=int, default=None, help="Override (recorded; the result is then not protocol-conformant).")
@click.option("--samples-per-input", type=int, default=None, help="Override (recorded; not conformant).")
@click.option("--short-side", type=int, default=None, help="Override the input size (recorded; not conformant), e.g. for the mini-INIT.")
@click.option("--no-fid", is_flag=True, help="Skip FID/KID (paired-v1 computes none).")
@click.option("--skip-invalid", is_flag=True, help="paired-v1: leave out images with annotation errors (recorded) "
              "instead of refusing the copy.")
@click.option("--weights-dir", type=click.Path(file_okay=False), default=None, help="Folder with the pretrained files (default: torch hub's cache).")
@click.option("--offline", is_flag=True, help="Never download pretrained files; fail naming the missing file.")
@click.option("--out", type=click.Path(), default=None,
              help="Write the results JSON here (with --task all: a folder that gets OUT/<task>.json).")
@json_option("the results (the same document as --out; with --task all {results: {task: ...}, skipped: {task: why}})")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Folder of the cached FID/KID reference features (default: <torch hub dir>/initbench/fid_reference).")
@click.option("--no-cache", is_flag=True,
              help="Extract the FID/KID reference features every run; neither read nor write the cache.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda (under torchrun: each rank's cuda:LOCAL_RANK).")
@click.option("--dist-timeout", type=click.FloatRange(min=1), default=1800, show_default=True,
              help="Under torchrun: seconds a rank waits for the others before it stops with an error naming the step.")
@handle_errors
def evaluate_cmd(method, ckpt, pretrained, official_ckpt, config, ckpt_task, root, task, classifier, object_classifier,
                 protocol_name, synth_params, lpips_backbone, lpips_seed, pairing, num_inputs, samples_per_input,
                 short_side, no_fid, skip_invalid, weights_dir, offline, out, json_out, cache_dir, no_cache, device,
                 dist_timeout):
    """Run an evaluation protocol on a translator or on real images: v1 (LPIPS diversity, IS, CIS, FID/KID) or
    paired-v1 (errors to the paired ground truth of the synthetic mini-INIT v2). ``--task all``: every task of the
    protocol the subject can run, with one model load.

    Under `torchrun --nproc-per-node N -m initbench evaluate ...` the inputs are shared by N processes (gloo on
    CPUs, NCCL on GPUs); rank 0 shows the progress and writes the results, with the same numbers."""
    from initbench.evaluation import sharding

    shard, device = sharding.start(device, dist_timeout)
    try:
        _evaluate(shard, method, ckpt, official_ckpt, config, ckpt_task, root, task, classifier, object_classifier,
                  protocol_name, synth_params, lpips_backbone, lpips_seed, pairing, num_inputs, samples_per_input,
                  short_side, no_fid, skip_invalid, weights_dir, offline, out, json_out, cache_dir, no_cache, device,
                  pretrained)
    except Exception as exc:  # under torchrun: every rank learns which rank failed and why (sharding.fail)
        failed = sharding.fail(shard, exc)
        if not isinstance(failed, sharding.RankFailed):
            raise
        if shard.is_main:  # rank 0 says it, once, before any rank exits (torchrun stops the rest at the first exit)
            err_console.print(f"[bold red]error:[/] {failed}", highlight=False, markup=True, soft_wrap=True)
        sharding.settle(shard, failed)
        raise SystemExit(failed.exit_code) from None
    finally:
        sharding.stop(shard)


def _evaluate(shard, method, ckpt, official_ckpt, config, ckpt_task, root, task, classifier, object_classifier,
              protocol_name, synth_params, lpips_backbone, lpips_seed, pairing, num_inputs, samples_per_input, short_side,
              no_fid, skip_invalid, weights_dir, offline, out, json_out, cache_dir, no_cache, device, pretrained=None) -> None:
    """The evaluation the options ask for; rank 0 alone shows progress, writes and prints."""
    from initbench.evaluation.feature_cache import FeatureCache
    from initbench.evaluation.protocol import get_protocol
    from initbench.evaluation.tasks import ALL

    protocol = get_protocol(protocol_name).with_overrides(
        num_inputs=num_inputs, samples_per_input=samples_per_input, short_side=short_side, pairing=pairing
    )
    paired = protocol.version == "paired-v1"
    if object_classifier and not paired:
        raise UsageError(f"--object-classifier: only with --protocol paired-v1; got --protocol {protocol_name}")
    if skip_invalid and not paired:
        raise UsageError(f"--skip-invalid: only with --protocol paired-v1; got --protocol {protocol_name}")
    if cache_dir and no_cache:
        raise UsageError("--cache-dir: not with --no-cache")
    common = dict(protocol=protocol, classifier=classifier, lpips_backbone=lpips_backbone, lpips_seed=lpips_seed,
                  device=device, weights_dir=weights_dir, offline=offline)
    options = _RunOptions(root, protocol, common, object_classifier, skip_invalid, synth_params, no_fid,
                          None if no_cache else FeatureCache(cache_dir), shard)
    subject = _Subject(method, ckpt, official_ckpt, config, ckpt_task, protocol, device, pretrained)
    if task == ALL:
        _evaluate_all(subject, options, out, json_out)
        return
    if out and Path(out).is_dir():
        raise UsageError(f"--out: expected a file for one task (a folder only with --task all); got the folder {out}")
    with _progress(shard) as bar:
        result = subject.evaluate(task, subject.direction(task), options, bar)
    if result is None:  # a rank other than 0: its share went to rank 0, which writes and prints
        return
    if out:
        write_json(out, result)
    if json_out:
        write_json(json_out, result)
    if json_out != "-":  # with the document on stdout, the table would only repeat it
        _print_result(result, out)
        _print_cache(options.cache)


def _truth_styles(text: str):
    """``--synth-params PER_DOMAIN,SEED,WxH`` as a :class:`TruthStyles`."""
    from initbench.evaluation.truth_styles import TruthStyles

    try:
        per_domain, seed, size = text.split(",")
        w, h = size.lower().split("x")
        return TruthStyles(int(per_domain), int(seed), (int(w), int(h)))
    except ValueError:
        raise UsageError(f"--synth-params: expected PER_DOMAIN,SEED,WxH (e.g. 64,0,256x160); got {text!r}") from None


@dataclass
class _RunOptions:
    """The options of ``evaluate`` every task's run shares (``common``: the evaluators' shared keywords)."""

    root: str
    protocol: object
    common: dict
    object_classifier: str | None
    skip_invalid: bool
    synth_params: str
    no_fid: bool
    cache: object  # a FeatureCache, or None with --no-cache
    shard: object  # initbench.evaluation.sharding.Shard: this process's rank among those sharing the inputs


class _Subject:
    """What ``evaluate`` scores: real images, the ground truth, a floor (built per task) or a model, loaded once here.

    Bad combinations of options are refused here, before any work.
    """

    def __init__(self, method, ckpt, official_ckpt, config, ckpt_task, protocol, device, pretrained=None):
        from initbench.evaluation.floors import FLOORS
        from initbench.evaluation.weights import sha256_file

        self.method, self.translator, self.facts = method, None, {}
        self.pretrained = pretrained  # a bundled model (--pretrained): its name and sha256 go into every result
        paired = protocol.version == "paired-v1"
        if method == "real":
            if ckpt or official_ckpt:
                raise UsageError("--method real: takes no --ckpt/--official-ckpt")
            if paired:
                raise UsageError("--method real: protocol paired-v1 scores translations against the ground truth; "
                                 "use --protocol v1 for the real images' own diversity")
            return
        if method == "ground-truth":
            if ckpt or official_ckpt or not paired:
                raise UsageError("--method ground-truth: only with --protocol paired-v1 and without --ckpt/--official-ckpt")
            return
        if config and not official_ckpt:
            raise UsageError("--config: only with --official-ckpt")
        if not ckpt and not official_ckpt and method in FLOORS:
            if ckpt_task:
                raise UsageError("--ckpt-task: only with --official-ckpt")
            return  # built (colour-transfer fitted) per task, in translator()
        if bool(ckpt) == bool(official_ckpt):
            raise UsageError("--ckpt / --official-ckpt: expected exactly one of them")
        from initbench.training.checkpoints import resolve_translator

        self.translator = resolve_translator(method, ckpt=ckpt, official_ckpt=official_ckpt, config=config, device=device,
                                             ckpt_task=ckpt_task, need_task=True)
        self.facts = dict(method=method, checkpoint_sha256=sha256_file(ckpt or official_ckpt),
                          model_task=getattr(self.translator, "task", None),
                          method_settings={"trained_with": self.translator.trained_with} if self.translator.trained_with else {})

    def plan(self, tasks):
        """:func:`initbench.evaluation.tasks.plan_tasks` for this subject."""
        from initbench.evaluation.tasks import plan_tasks

        if self.translator is None:
            return plan_tasks(tasks, trained=False)
        return plan_tasks(tasks, self.translator.task, self.translator.loaded_directions)

    def direction(self, task: str) -> str:
        """The direction a single ``--task`` runs in; an unrelated task is refused here (exit 2), before any work."""
        if self.translator is None:
            return "a2b"
        from initbench.training.direction import resolve_direction

        # sunny2night weights evaluated on night2sunny run b2a
        return resolve_direction(self.translator, task=task)[0]

    def translator_for(self, task: str, direction: str, o: _RunOptions):
        """``(translator, facts)`` for ``task``; facts: method, checkpoint_sha256, direction, model_task, method_settings."""
        if self.translator is not None:
            return self.translator, {**self.facts, "direction": direction}
        from initbench.evaluation.floors import build_floor

        translator, settings = build_floor(self.method, o.root, task, split=o.protocol.split,
                                           short_side=o.protocol.short_side, skip_invalid=o.skip_invalid)
        return translator, dict(method=self.method, checkpoint_sha256=None, direction="a2b", model_task=task,
                                method_settings=settings)

    def evaluate(self, task: str, direction: str, o: _RunOptions, progress) -> dict:
        """The results dict of one task."""
        paired = o.protocol.version == "paired-v1"
        if self.method == "real":
            from initbench.evaluation.real import evaluate_real

            # the real images' own diversity is not sharded: rank 0 computes it, the other ranks have nothing to do
            return evaluate_real(o.root, task, progress=progress, **o.common) if o.shard.is_main else None
        if self.method == "ground-truth":
            from initbench.evaluation.paired import evaluate_paired

            return evaluate_paired(None, o.root, task, object_classifier=o.object_classifier, skip_invalid=o.skip_invalid,
                                   truth_styles=_truth_styles(o.synth_params), progress=progress, shard=o.shard,
                                   **o.common)
        translator, facts = self.translator_for(task, direction, o)
        if paired:
            from initbench.evaluation.paired import evaluate_paired

            return self._named(evaluate_paired(translator, o.root, task, object_classifier=o.object_classifier,
                                               skip_invalid=o.skip_invalid, progress=progress, shard=o.shard, **facts,
                                               **o.common))
        from initbench.evaluation.evaluator import evaluate

        settings = facts.pop("method_settings")
        result = evaluate(translator, o.root, task, fid=not o.no_fid, progress=progress, feature_cache=o.cache,
                          shard=o.shard, **facts, **o.common)
        if settings and result is not None:
            result["method_settings"] = settings
        return self._named(result)

    def _named(self, result: dict | None) -> dict | None:
        """``result`` with the bundled model's name and sha256 (``pretrained``) when the model is one."""
        if result is not None and self.pretrained is not None:
            result["pretrained"] = self.pretrained.record()
        return result


def _evaluate_all(subject: _Subject, o: _RunOptions, out, json_out) -> None:
    """``--task all``: each task of the protocol the subject can run, ``OUT/<task>.json`` each, one table."""
    from initbench.evaluation.tasks import skipped

    if out and Path(out).exists() and not Path(out).is_dir():
        raise UsageError(f"--out: with --task all expected a folder (it gets OUT/<task>.json); got the file {out}")
    plans = subject.plan(o.protocol.tasks)
    left_out = skipped(plans)
    if not any(p.runs for p in plans):
        raise UsageError(f"--task all: no task of protocol {o.protocol.version} can run: "
                         + "; ".join(f"{t}: {why}" for t, why in left_out.items()))
    results = {}
    with _progress(o.shard) as bar:
        for p in (p for p in plans if p.runs):
            stages = (lambda stage, d, t, *_, k=p.task: bar(f"{k} {stage}", d, t))  # a bar per task and stage
            results[p.task] = subject.evaluate(p.task, p.direction, o, stages)
            if out and o.shard.is_main:  # each as it is done: an interrupted run keeps the tasks it finished
                write_json(Path(out) / f"{p.task}.json", results[p.task])
    if not o.shard.is_main:  # the other ranks' shares went to rank 0, which writes and prints
        return
    doc = {"results": results, "skipped": left_out}
    if json_out:
        write_json(json_out, doc)
    if json_out != "-":
        _print_all(subject.method, o.protocol.version, plans, results, out)
        _print_cache(o.cache)


def _print_all(method: str, protocol: str, plans, results: dict, out) -> None:
    """One table for ``--task all``: a row per task of the protocol (run or skipped), a column per metric that any
    task computed; then the skipped tasks and why, and each other note once with the tasks it concerns."""
    metrics = list(dict.fromkeys(k for r in results.values() for k, v in r["metrics"].items() if v is not None))
    t = Table(title=f"{method}: protocol {protocol}, every task")
    t.add_column("task", no_wrap=True, min_width=12)
    t.add_column("direction", no_wrap=True)
    t.add_column("conformant", no_wrap=True)
    for k in metrics:
        t.add_column(k, justify="right")
    for p in plans:
        r = results.get(p.task)
        if r is None:
            t.add_row(p.task, "-", "skipped", *["-"] * len(metrics))
        else:
            t.add_row(p.task, r["direction"], "yes" if r["conformant"] else "no", *[_fmt(r["metrics"][k], 4) for k in metrics])
    console.print(t)
    for p in plans:
        if not p.runs:
            console.print(f"[yellow]{p.task} skipped:[/] {p.skip_reason}", highlight=False, soft_wrap=True)
    notes: dict[str, list[str]] = {}  # the same note for several tasks is printed once, naming them
    for task, r in results.items():
        if not r["conformant"]:
            notes.setdefault("not conformant: " + "; ".join(r["nonconformant_reasons"]), []).append(task)
        for k, why in r["skipped"].items():
            notes.setdefault(f"{k} not computed: {why}", []).append(task)
        for line in r.get("warnings", []):
            notes.setdefault(f"warning: {line}", []).append(task)
    for note, tasks in notes.items():
        console.print(f"{', '.join(tasks)}: {note}", highlight=False, soft_wrap=True)
    if out:
        console.print(f"wrote {len(results)} results files to {out} (<task>.json)", highlight=False)


def _print_cache(cache) -> None:
    """Where the FID/KID reference features came from (when the run used them)."""
    if cache is not None and cache.hits + cache.misses:
        console.print(f"reference features: {cache.hits} from the cache, {cache.misses} extracted and stored "
                      f"({cache.directory})", highlight=False, soft_wrap=True)


def _print_result(r: dict, out) -> None:
    conf = "conformant" if r["conformant"] else "NOT conformant: " + "; ".join(r["nonconformant_reasons"])
    console.print(f"{r['method']} {r['task']}: protocol {r['protocol']}, {conf}", highlight=False, soft_wrap=True)
    t = Table()
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k, v in r["metrics"].items():
        t.add_row(k, _fmt(v, 6))
    console.print(t)
    fp = r["fingerprint"]
    short = {k: (v[:12] if isinstance(v, str) and len(v) == 64 else v) for k, v in fp.items()}
    if r["method"] == "real":
        size = (f"{r['num_inputs']} slots x {len(r['per_input']['lpips_pairs'][0])} pairs "
                f"({r['metrics_extra'].get('lpips_distinct_pairs')} distinct pairs scored)")
    else:
        size = f"inputs {r['num_inputs']} x samples {r['samples_per_input']}"
    if r.get("method_settings", {}).get("fitted_at_evaluation"):
        ms = r["method_settings"]
        size += f"; fitted on {ms['split']} {ms['split_part']} {ms['train_images']}"
    console.print(f"{size}; fingerprint {short}", highlight=False)
    for k, why in r["skipped"].items():
        console.print(f"[yellow]{k} not computed:[/] {why}", highlight=False)
    for line in r.get("warnings", []):
        console.print(f"[yellow]warning:[/] {line}", highlight=False)
    console.print(f"data {r['data_fingerprint'][:12]} (split {r['data']['split']}, {len(r['data']['inputs'])} input keys, "
                  f"{len(r['data']['reference'])} reference keys)", highlight=False)
    console.print(f"device {r['device']}; total {r['timings']['total']:.1f} s" + (f"; wrote {out}" if out else ""), highlight=False)


def register(group: click.Group) -> None:
    """Add this module's commands to the ``initbench`` group."""
    for cmd in (weights_cmd, train_classifier_cmd, evaluate_cmd):
        group.add_command(cmd)
