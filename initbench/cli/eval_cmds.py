"""Commands of the evaluator: ``weights``, ``train-classifier``, ``evaluate``."""

from __future__ import annotations

from contextlib import contextmanager, nullcontext

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from initbench.cli.common import console, err_console, handle_errors, json_option, write_json
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
@click.option("--ckpt", type=click.Path(exists=True, dir_okay=False), default=None, help="A native checkpoint.")
@click.option("--official-ckpt", type=click.Path(exists=True, dir_okay=False), default=None, help="The authors' released file.")
@click.option("--config", type=click.Path(exists=True, dir_okay=False), default=None, help="The authors' YAML config (with --official-ckpt).")
@click.option("--ckpt-task", default=None, help="With --official-ckpt (required): the task the file was trained for, "
              "e.g. sunny2night (a = sunny, b = night).")
@click.option("--data", "root", required=True, type=click.Path(exists=True, file_okay=False), help="Dataset root (the release or the mini-INIT).")
@click.option("--task", required=True, help="e.g. sunny2night.")
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
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the results JSON here.")
@json_option("the results (the same document as --out)")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda (under torchrun: each rank's cuda:LOCAL_RANK).")
@click.option("--dist-timeout", type=click.FloatRange(min=1), default=1800, show_default=True,
              help="Under torchrun: seconds a rank waits for the others before it stops with an error naming the step.")
@handle_errors
def evaluate_cmd(method, ckpt, official_ckpt, config, ckpt_task, root, task, classifier, object_classifier, protocol_name,
                 synth_params, lpips_backbone, lpips_seed, pairing, num_inputs, samples_per_input, short_side, no_fid, skip_invalid,
                 weights_dir, offline, out, json_out, device, dist_timeout):
    """Run an evaluation protocol on a translator or on real images: v1 (LPIPS diversity, IS, CIS, FID/KID) or
    paired-v1 (errors to the paired ground truth of the synthetic mini-INIT v2).

    Under `torchrun --nproc-per-node N -m initbench evaluate ...` the inputs are shared by N processes (gloo on
    CPUs, NCCL on GPUs); rank 0 shows the progress and writes the one results file, with the same numbers."""
    from initbench.evaluation import sharding

    shard, device = sharding.start(device, dist_timeout)
    try:
        result = _evaluate(shard, method, ckpt, official_ckpt, config, ckpt_task, root, task, classifier,
                           object_classifier, protocol_name, synth_params, lpips_backbone, lpips_seed, pairing, num_inputs,
                           samples_per_input, short_side, no_fid, skip_invalid, weights_dir, offline, device)
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
    if result is None:  # a rank other than 0: its share went to rank 0, which writes and prints
        return
    if out:
        write_json(out, result)
    if json_out:
        write_json(json_out, result)
    if json_out != "-":  # with the document on stdout, the table would only repeat it
        _print_result(result, out)


def _evaluate(shard, method, ckpt, official_ckpt, config, ckpt_task, root, task, classifier, object_classifier,
              protocol_name, synth_params, lpips_backbone, lpips_seed, pairing, num_inputs, samples_per_input, short_side,
              no_fid, skip_invalid, weights_dir, offline, device):
    """The results dict the options ask for (None on a rank other than 0; progress on rank 0 only)."""
    from initbench.evaluation.protocol import get_protocol

    protocol = get_protocol(protocol_name).with_overrides(
        num_inputs=num_inputs, samples_per_input=samples_per_input, short_side=short_side, pairing=pairing
    )
    paired = protocol.version == "paired-v1"
    if object_classifier and not paired:
        raise UsageError(f"--object-classifier: only with --protocol paired-v1; got --protocol {protocol_name}")
    if skip_invalid and not paired:
        raise UsageError(f"--skip-invalid: only with --protocol paired-v1; got --protocol {protocol_name}")
    common = dict(protocol=protocol, classifier=classifier, lpips_backbone=lpips_backbone, lpips_seed=lpips_seed,
                  device=device, weights_dir=weights_dir, offline=offline)
    with _bar() if shard.is_main else nullcontext() as bar:
        if method == "real":
            if ckpt or official_ckpt:
                raise UsageError("--method real: takes no --ckpt/--official-ckpt")
            if paired:
                raise UsageError("--method real: protocol paired-v1 scores translations against the ground truth; "
                                 "use --protocol v1 for the real images' own diversity")
            from initbench.evaluation.real import evaluate_real

            # the real images' own diversity is not sharded: rank 0 computes it, the other ranks have nothing to do
            result = evaluate_real(root, task, progress=bar, **common) if shard.is_main else None
        elif method == "ground-truth":
            if ckpt or official_ckpt or not paired:
                raise UsageError("--method ground-truth: only with --protocol paired-v1 and without --ckpt/--official-ckpt")
            from initbench.evaluation.paired import evaluate_paired

            result = evaluate_paired(None, root, task, object_classifier=object_classifier, skip_invalid=skip_invalid,
                                     truth_styles=_truth_styles(synth_params), progress=bar, shard=shard, **common)
        else:
            translator, facts = _translator(method, ckpt, official_ckpt, config, ckpt_task, root, task, protocol,
                                            device, skip_invalid)
            if paired:
                from initbench.evaluation.paired import evaluate_paired

                result = evaluate_paired(translator, root, task, object_classifier=object_classifier,
                                         skip_invalid=skip_invalid, progress=bar, shard=shard, **facts, **common)
            else:
                from initbench.evaluation.evaluator import evaluate

                settings = facts.pop("method_settings")
                result = evaluate(translator, root, task, fid=not no_fid, progress=bar, shard=shard, **facts, **common)
                if settings and result is not None:
                    result["method_settings"] = settings
    return result


def _truth_styles(text: str):
    """``--synth-params PER_DOMAIN,SEED,WxH`` as a :class:`TruthStyles`."""
    from initbench.evaluation.truth_styles import TruthStyles

    try:
        per_domain, seed, size = text.split(",")
        w, h = size.lower().split("x")
        return TruthStyles(int(per_domain), int(seed), (int(w), int(h)))
    except ValueError:
        raise UsageError(f"--synth-params: expected PER_DOMAIN,SEED,WxH (e.g. 64,0,256x160); got {text!r}") from None


def _translator(method, ckpt, official_ckpt, config, ckpt_task, root, task, protocol, device, skip_invalid):
    """``(translator, facts)`` named by the options; facts: method, checkpoint_sha256, direction, model_task,
    method_settings. A floor method without a checkpoint is built (and colour-transfer fitted) here."""
    from initbench.evaluation.floors import FLOORS, build_floor
    from initbench.evaluation.weights import sha256_file
    from initbench.training.direction import resolve_direction

    if config and not official_ckpt:
        raise UsageError("--config: only with --official-ckpt")
    if not ckpt and not official_ckpt and method in FLOORS:
        if ckpt_task:
            raise UsageError("--ckpt-task: only with --official-ckpt")
        translator, settings = build_floor(method, root, task, split=protocol.split, short_side=protocol.short_side,
                                           skip_invalid=skip_invalid)
        return translator, dict(method=method, checkpoint_sha256=None, direction="a2b", model_task=task,
                                method_settings=settings)
    if bool(ckpt) == bool(official_ckpt):
        raise UsageError("--ckpt / --official-ckpt: expected exactly one of them")
    from initbench.training.checkpoints import resolve_translator

    translator = resolve_translator(method, ckpt=ckpt, official_ckpt=official_ckpt, config=config, device=device,
                                    ckpt_task=ckpt_task, need_task=True)
    # sunny2night weights evaluated on night2sunny run b2a; an unrelated task is refused here (exit 2)
    direction, _ = resolve_direction(translator, task=task)
    return translator, dict(method=method, checkpoint_sha256=sha256_file(ckpt or official_ckpt), direction=direction,
                            model_task=getattr(translator, "task", None), method_settings={})


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
