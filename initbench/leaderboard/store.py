"""The on-disk leaderboard: ``<root>/<benchmark>/<task>/<method>-<hash8>.json``, one file per entry.

Results files of measured entries are copied beside them, content-addressed, as
``<root>/<benchmark>/<task>/results/<sha256[:16]>.json``, so every hash stays checkable.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from initbench.digests import results_digest
from initbench.errors import DataFormatError, InitbenchError, UsageError
from initbench.files import write_atomic
from initbench.leaderboard.entry import Problem, entry_hash, read_entry, write_json_atomic
from initbench.leaderboard.validate import Report, validate_entry


class SubmissionError(InitbenchError):
    """The entry is invalid or already on the leaderboard (CLI exit code 1)."""

    exit_code = 1

    def __init__(self, message: str, report: Report | None = None):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class Submitted:
    path: Path
    hash: str
    copied_results: tuple[Path, ...]


def entry_filename(entry: dict) -> str:
    return f"{entry['method']}-{entry_hash(entry)[:8]}.json"


def iter_entry_files(root: str | os.PathLike, benchmark: str | None = None, task: str | None = None) -> Iterator[Path]:
    """Entry files under ``root`` (sorted), optionally of one benchmark and task; results folders skipped."""
    root = Path(root)
    if not root.is_dir():
        return
    for bench_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if benchmark is not None and bench_dir.name != benchmark:
            continue
        for task_dir in sorted(p for p in bench_dir.iterdir() if p.is_dir()):
            if task is not None and task_dir.name != task:
                continue
            yield from sorted(p for p in task_dir.glob("*.json") if not p.name.startswith("."))


def load_entries(root: str | os.PathLike, benchmark: str | None = None,
                 task: str | None = None) -> list[tuple[Path, dict]]:
    """Read every entry under ``root``; an unreadable file raises DataFormatError naming it."""
    return [(p, read_entry(p)) for p in iter_entry_files(root, benchmark, task)]


#: Note id added (in memory, never written) to an entry shown although its results files could not be checked.
UNVERIFIED_NOTE = "unverified"


def load_validated(root: str | os.PathLike, benchmark: str | None = None,
                   task: str | None = None) -> tuple[list[tuple[Path, dict]], Report]:
    """Entries under ``root`` that pass full validation (results files and checkpoints included), and the report.

    An entry with a problem is left out (its problems are in the report); one whose results files are not
    present is kept with an ``unverified`` note saying so, so a table never shows an unchecked number as checked.
    """
    report = Report()
    shown = []
    for path in iter_entry_files(root, benchmark, task):
        try:
            entry = read_entry(path)
        except DataFormatError as exc:
            report.problems.append(Problem(str(path), "$", str(exc)))
            continue
        r = validate_entry(entry, str(path), base_dir=path.parent)
        report.extend(r)
        if not r.ok:
            continue
        if r.unchecked:
            entry = copy.deepcopy(entry)
            entry["notes"] = list(entry.get("notes", [])) + [{
                "id": UNVERIFIED_NOTE, "text": "not verified against its results files: " + "; ".join(
                    line.removeprefix(f"{path}: ") for line in r.unchecked)}]
        shown.append((path, entry))
    return shown, report


def _run_hashes(entry: dict) -> frozenset[str]:
    return frozenset(r["results_file"]["sha256"] for r in entry.get("runs", []))


def submit(entry_path: str | os.PathLike, root: str | os.PathLike = "leaderboards") -> Submitted:
    """Validate the entry file, copy its results files, and write it atomically to the leaderboard.

    Refused (SubmissionError) when validation finds a problem, when the same entry is already
    there, or when another entry already holds the same results files (a resubmission with
    other metadata).
    """
    src = Path(entry_path)
    entry = read_entry(src)
    report = validate_entry(entry, str(src), base_dir=src.parent)
    if not report.ok:
        raise SubmissionError(f"{src}: {len(report.problems)} problem(s); nothing was written", report)
    root = Path(root)
    task_dir = root / entry["benchmark"] / entry["task"]
    new_runs = _run_hashes(entry)
    for other_path in iter_entry_files(root, entry["benchmark"], entry["task"]):
        try:
            other = read_entry(other_path)
        except DataFormatError:
            continue
        if entry_hash(other) == entry_hash(entry) or (new_runs and new_runs & _run_hashes(other)):
            raise SubmissionError(f"{src}: duplicate of {other_path} (same entry or same results files); "
                                  "nothing was written")
    entry = copy.deepcopy(entry)
    copied: list[Path] = []
    for run in entry.get("runs", []):
        rf = run["results_file"]
        rp = Path(rf["path"])
        rp = rp if rp.is_absolute() else src.parent / rp
        if not rp.is_file():
            continue  # stays as given; `validate` lists it as not checked
        dest = task_dir / "results" / f"{rf['sha256'][:16]}.json"
        if not dest.exists():
            data = rp.read_bytes()  # checked as copied: a file changed since validation is refused
            try:
                same = results_digest(json.loads(data)) == rf["sha256"]
            except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
                same = False
            if not same:
                raise SubmissionError(f"{rp}: changed while being copied; nothing was written")
            write_atomic(dest, data)
        copied.append(dest)
        rf["path"] = f"results/{dest.name}"
        # Checkpoints are not copied (too large) and a local path means nothing elsewhere: the
        # leaderboard keeps the sha256 as the checkpoint's identity.
        run["checkpoint"]["path"] = None
    dest = task_dir / entry_filename(entry)
    try:
        write_json_atomic(dest, entry, exclusive=True)
    except FileExistsError:
        raise SubmissionError(f"{src}: duplicate of {dest}; nothing was written") from None
    return Submitted(dest, entry_hash(entry), tuple(copied))


def check_root(root: str | os.PathLike) -> Path:
    p = Path(root)
    if p.exists() and not p.is_dir():
        raise UsageError(f"--root: expected a leaderboard folder; {p} is a file")
    return p
