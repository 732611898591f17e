"""Check leaderboard entries: schema, recomputed statistics, hashes, and the benchmark's rules.

Every problem is one :class:`~initbench.leaderboard.entry.Problem` naming the file and the JSON
path inside it. What could not be checked (a results file or checkpoint that is not present)
is listed separately in :attr:`Report.unchecked`, never silently passed over.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from jsonschema import Draft202012Validator

from initbench.digests import results_digest
from initbench.errors import DataFormatError, InitbenchError
from initbench.leaderboard.benchmarks import BENCHMARKS, METRIC_NETWORK
from initbench.leaderboard.entry import (
    AS_REPORTED,
    Problem,
    close,
    json_path,
    load_schema,
    mean,
    read_entry,
    unbiased_std,
)
from initbench.leaderboard.results import (
    checkpoint_weights_sha256,
    conformance_of,
    data_problem,
    direction_check,
    model_sha256,
    protocol_overrides,
    recompute_metrics,
)

#: Fields of a measured entry that entries built before the evaluator decided conformance lack.
TRUTH_FIELDS = ("conformant", "nonconformant_reasons", "data_fingerprint")

#: Note id that must record a reported average which its own components do not give.
AVERAGE_NOTE = "average-mismatch"


@dataclass
class Report:
    """Outcome of validating one or more entry files."""

    problems: list[Problem] = field(default_factory=list)
    #: Human-readable lines: what was checked against which file, and what could not be.
    checked: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def extend(self, other: "Report") -> None:
        self.problems += other.problems
        self.checked += other.checked
        self.unchecked += other.unchecked


def _schema_problems(entry: dict, file: str) -> list[Problem]:
    validator = Draft202012Validator(load_schema())
    out: list[Problem] = []
    for err in sorted(validator.iter_errors(entry), key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        parts = list(err.absolute_path)
        if err.validator == "required":
            # "'task' is a required property" -> "$.task: required field missing"
            missing = err.message.split("'")[1] if "'" in err.message else err.message
            hint = (" (an entry built before results recorded conformance and their data: rebuild it from results of "
                    "the current evaluator)") if missing in TRUTH_FIELDS and not parts else ""
            out.append(Problem(file, json_path(parts + [missing]), "required field missing" + hint))
        elif err.validator == "additionalProperties" and "unexpected" in err.message:
            out.append(Problem(file, json_path(parts), err.message.replace("Additional properties", "unknown field(s)")))
        elif err.validator == "not" and err.validator_value and "anyOf" in err.validator_value:
            names = [next(iter(s["required"])) for s in err.validator_value["anyOf"]]
            out.append(Problem(file, json_path(parts), f"fields {names} are not allowed for kind {entry.get('kind')!r}"))
        else:
            out.append(Problem(file, json_path(parts), err.message))
    return out


def _rounding_tolerance(as_printed: str) -> float:
    """Half a unit in the last printed digit (plus float slack): what rounding alone can explain."""
    decimals = len(as_printed.split(".")[1]) if "." in as_printed else 0
    return 0.5 * 10.0 ** (-decimals) + 1e-9


def _check_benchmark(entry: dict, file: str, report: Report) -> None:
    bench = BENCHMARKS.get(entry["benchmark"])
    if bench is None:
        report.problems.append(Problem(file, "$.benchmark", f"unknown benchmark {entry['benchmark']!r}; "
                                       f"expected one of {', '.join(BENCHMARKS)}"))
        return
    # A publication's own split and protocol are recorded as they were; such entries are never
    # ranked with measured ones, so only measured entries must follow the benchmark's.
    for key in ("split", "protocol") if entry["kind"] == "measured" else ():
        expected = getattr(bench, key)
        if entry[key] != expected:
            report.problems.append(Problem(file, f"$.{key}", f"benchmark {bench.name} uses {key} {expected!r}; "
                                           f"found {entry[key]!r}"))
    tasks = entry.get("over_tasks", []) if entry["task"] == "average" else [entry["task"]]
    where = "$.over_tasks" if entry["task"] == "average" else "$.task"
    for t in tasks:
        if t not in bench.tasks:
            report.problems.append(Problem(file, where, f"unknown task {t!r} for benchmark {bench.name}; "
                                           f"expected one of {', '.join(bench.tasks)}"))
    if entry["kind"] == "reported":
        return  # a publication's networks are recorded as 'unpublished'; such entries form their own group
    reasons = entry["nonconformant_reasons"]
    if entry["conformant"] == bool(reasons):
        report.problems.append(Problem(file, "$.conformant", f"is {entry['conformant']} with reasons {reasons}; "
                                       "expected true exactly when there are no reasons"))
    elif not entry["conformant"] and bench.require_conformant:
        report.problems.append(Problem(file, "$.conformant", f"benchmark {bench.name} ranks conformant results "
                                       f"only; these are not: {'; '.join(reasons)}"))
    if entry["protocol_overrides"] and not bench.allow_protocol_overrides:
        report.problems.append(Problem(file, "$.protocol_overrides", f"benchmark {bench.name} needs the published "
                                       f"protocol {bench.protocol}; the results override "
                                       f"{sorted(entry['protocol_overrides'])}"))
    fp = entry["fingerprint"]
    for metric in entry["metrics"]:
        key = METRIC_NETWORK[metric]
        if key is not None and fp.get(key) is None:  # None: the metric needs no network (L1 to the ground truth)
            report.problems.append(Problem(file, f"$.fingerprint.{key}", f"required by metric {metric!r}; found "
                                           f"{'nothing' if key not in fp else 'null'}"))
    for key, value in fp.items():
        expected = bench.check_fingerprint(key, value)
        if expected is not None:
            report.problems.append(Problem(file, f"$.fingerprint.{key}", f"benchmark {bench.name} expects "
                                           f"{expected}; found {value!r}"))


def _check_measured(entry: dict, file: str, base: Path, report: Report, check_files: bool) -> None:
    seeds = entry["seeds"]
    run_seeds = [r["seed"] for r in entry["runs"]]
    if run_seeds != seeds:
        report.problems.append(Problem(file, "$.runs", f"seeds of the runs {run_seeds} differ from $.seeds {seeds}"))
    cks = [r["checkpoint"]["sha256"] for r in entry["runs"]]
    if len(set(cks)) != len(cks):
        report.problems.append(Problem(file, "$.runs", "two runs have the same checkpoint sha256; "
                                       "each seed must be its own trained model"))
    for name, m in entry["metrics"].items():
        p = f"$.metrics.{name}"
        vals = m["per_seed"]
        if len(vals) != len(seeds):
            report.problems.append(Problem(file, f"{p}.per_seed", f"expected {len(seeds)} values (one per seed "
                                           f"{seeds}); found {len(vals)}"))
            continue
        if not all(math.isfinite(v) for v in vals):
            report.problems.append(Problem(file, f"{p}.per_seed", f"expected finite numbers; found {vals}"))
            continue
        want_mean, want_std = mean(vals), unbiased_std(vals)
        if not close(m["mean"], want_mean):
            report.problems.append(Problem(file, f"{p}.mean", f"the per-seed values {vals} give mean "
                                           f"{want_mean!r}; found {m['mean']!r}"))
        if not close(m["std"], want_std):
            report.problems.append(Problem(file, f"{p}.std", f"the per-seed values {vals} give unbiased std "
                                           f"(n - 1) {want_std!r}; found {m['std']!r}"))
    if check_files:
        for i, run in enumerate(entry["runs"]):
            _check_run(entry, file, base, i, run, report)


def _resolve(base: Path, rel: str) -> Path:
    p = Path(rel)
    return p if p.is_absolute() else base / p


def _check_checkpoint(file: str, rp: str, cpath: Path, want: str, report: Report) -> None:
    """The weights in ``cpath`` have the sha256 the entry states (an unreadable file is one problem)."""
    try:
        found = checkpoint_weights_sha256(cpath)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one finding, never a traceback
        why = str(exc) if isinstance(exc, InitbenchError) else type(exc).__name__
        report.problems.append(Problem(file, f"{rp}.checkpoint.path", f"{cpath}: not a readable initbench checkpoint, "
                                       f"so its weights cannot be checked ({why})"))
        return
    if found != want:
        report.problems.append(Problem(file, f"{rp}.checkpoint.sha256", f"{cpath} holds weights of sha256 {found}; "
                                       f"the entry says {want}"))
    else:
        report.checked.append(f"{file}: checkpoint {cpath}: weights sha256 matches")


def _check_run(entry: dict, file: str, base: Path, i: int, run: dict, report: Report) -> None:
    rp = f"$.runs[{i}]"
    ck = run["checkpoint"]
    if ck.get("path"):
        cpath = _resolve(base, ck["path"])
        if cpath.is_file():
            _check_checkpoint(file, rp, cpath, ck["sha256"], report)
        else:
            report.unchecked.append(f"{file}: {rp}.checkpoint: {cpath} is not present; sha256 not checked")
    rf = run["results_file"]
    path = _resolve(base, rf["path"])
    if not path.is_file():
        report.unchecked.append(f"{file}: {rp}.results_file: {path} is not present; hash and values not checked")
        return
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.problems.append(Problem(file, f"{rp}.results_file.path", f"{path}: not readable JSON ({exc})"))
        return
    found = results_digest(results) if isinstance(results, dict) else None
    if found != rf["sha256"]:
        report.problems.append(Problem(file, f"{rp}.results_file.sha256", f"{path} has content sha256 {found} "
                                       f"(timings left out); the entry says {rf['sha256']}"))
        return
    checks = [
        ("task", entry["task"]), ("protocol", entry["protocol"]), ("method", entry["method"]),
        ("model sha256", ck["sha256"]), ("fingerprint", entry["fingerprint"]),
        ("protocol overrides", entry["protocol_overrides"]), ("data_fingerprint", entry["data_fingerprint"]),
        ("conformance", [entry["conformant"], entry["nonconformant_reasons"]]),
    ]
    derived = {"protocol overrides": protocol_overrides(results), "conformance": list(conformance_of(results)),
               "model sha256": model_sha256(results)}
    for key, want in checks:
        got = derived[key] if key in derived else results.get(key)
        if got != want:
            report.problems.append(Problem(file, rp, f"results file {path}: {key} is {got!r}; the entry has {want!r}"))
    problem, unknown = direction_check(results)
    for msg in (problem, data_problem(results)):
        if msg:
            report.problems.append(Problem(file, rp, f"results file {path}: {msg}"))
    if unknown:
        report.unchecked.append(f"{file}: {rp}: results file {path} {unknown}")
    if entry["data_fingerprint"] is None:
        report.unchecked.append(f"{file}: {rp}: results file {path} records no data_fingerprint: the data is unknown")
    res_metrics = results.get("metrics") or {}
    recomputed = recompute_metrics(results)
    for name, m in entry["metrics"].items():
        if i >= len(m["per_seed"]):
            continue
        got = res_metrics.get(name)
        if not close(got, m["per_seed"][i]):
            report.problems.append(Problem(file, f"$.metrics.{name}.per_seed[{i}]", f"results file {path} "
                                           f"has {name} = {got!r}; the entry has {m['per_seed'][i]!r}"))
        if name in recomputed and got is not None and not math.isclose(recomputed[name], got, rel_tol=1e-6, abs_tol=1e-9):
            report.problems.append(Problem(file, f"$.metrics.{name}.per_seed[{i}]", f"results file {path}: its "
                                           f"per-input values give {name} = {recomputed[name]!r}; it states {got!r}"))
    report.checked.append(f"{file}: results {path}: sha256 and values match"
                          f" ({len(recomputed)} metric(s) recomputed from per-input values)")


def _check_reported(entry: dict, file: str, report: Report) -> None:
    src = entry["source"]
    if src["status"] != AS_REPORTED:  # the schema pins it; kept for entries validated without it
        report.problems.append(Problem(file, "$.source.status", f"expected {AS_REPORTED!r}"))
    noted = {m for n in entry["notes"] if n["id"] == AVERAGE_NOTE for m in n.get("metrics", [])}
    for name, m in entry["metrics"].items():
        p = f"$.metrics.{name}"
        if float(m["as_printed"]) != m["value"]:
            report.problems.append(Problem(file, f"{p}.value", f"the printed value {m['as_printed']!r} is "
                                           f"{float(m['as_printed'])!r}; found {m['value']!r}"))
        comps = m.get("components")
        if entry["task"] != "average":
            if comps is not None:
                report.problems.append(Problem(file, f"{p}.components", "only an 'average' entry has components"))
            continue
        if comps is None:
            report.problems.append(Problem(file, f"{p}.components", "required field missing (an average "
                                           "must list the values it averages)"))
            continue
        if sorted(comps) != sorted(entry["over_tasks"]):
            report.problems.append(Problem(file, f"{p}.components", f"expected one value per task of $.over_tasks "
                                           f"{entry['over_tasks']}; found {sorted(comps)}"))
            continue
        avg = mean(list(comps.values()))
        off = abs(avg - m["value"]) > _rounding_tolerance(m["as_printed"])
        if off and name not in noted:
            report.problems.append(Problem(file, f"{p}.value", f"the reported average {m['as_printed']} is not the "
                                           f"mean of its components ({avg:.4f}) and no note with id "
                                           f"{AVERAGE_NOTE!r} lists {name!r}"))
        elif not off and name in noted:
            report.problems.append(Problem(file, "$.notes", f"note {AVERAGE_NOTE!r} lists {name!r}, but its "
                                           f"average {m['as_printed']} is the mean of its components ({avg:.4f})"))


def validate_entry(entry: dict, file: str = "<entry>", *, base_dir: str | Path | None = None,
                   check_files: bool = True) -> Report:
    """Validate one entry dict. ``base_dir`` is where relative paths in ``runs`` resolve
    (the entry file's folder); ``check_files=False`` skips results files and checkpoints."""
    report = Report()
    report.problems += _schema_problems(entry, file)
    if report.problems:
        return report  # later checks read fields the schema has just found missing or mistyped
    _check_benchmark(entry, file, report)
    base = Path(base_dir) if base_dir is not None else Path(".")
    if entry["kind"] == "measured":
        _check_measured(entry, file, base, report, check_files)
    else:
        _check_reported(entry, file, report)
    return report


def _check_average_components(entries: list[tuple[str, dict]], report: Report) -> None:
    """An average's components must equal the per-task reported entries of the same method and source."""
    per_task: dict[tuple, dict] = {}
    for _, e in entries:
        if e.get("kind") == "reported" and e.get("task") != "average":
            key = (e["benchmark"], e["method"], e.get("variant"), e["source"]["citation"], e["task"])
            per_task[key] = e
    for file, e in entries:
        if e.get("kind") != "reported" or e.get("task") != "average":
            continue
        for name, m in e["metrics"].items():
            for task, v in (m.get("components") or {}).items():
                other = per_task.get((e["benchmark"], e["method"], e.get("variant"), e["source"]["citation"], task))
                if other is None or name not in other["metrics"]:
                    continue
                if other["metrics"][name]["value"] != v:
                    report.problems.append(Problem(file, f"$.metrics.{name}.components.{task}", f"{v!r} differs "
                                                   f"from the {task} entry's reported {other['metrics'][name]['value']!r}"))


def validate_files(paths: Iterable[str | Path], *, check_files: bool = True) -> Report:
    """Validate entry files; an unreadable file is a problem of that file, not an exception.
    Averages are also checked against the per-task entries among the same files."""
    report = Report()
    good: list[tuple[str, dict]] = []
    for path in paths:
        p = Path(path)
        try:
            entry = read_entry(p)
        except DataFormatError as exc:
            where = f"{p}:{exc.line}: " if exc.line is not None else f"{p}: "
            line = f"line {exc.line}: " if exc.line is not None else ""
            report.problems.append(Problem(str(p), "$", line + str(exc).removeprefix(where)))
            continue
        r = validate_entry(entry, str(p), base_dir=p.parent, check_files=check_files)
        report.extend(r)
        if r.ok:
            good.append((str(p), entry))
    _check_average_components(good, report)
    return report
