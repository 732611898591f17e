"""Leaderboard entries as data: the JSON Schema, statistics, hashing, and reading entry files.

An entry is a plain dict that follows ``entry.schema.json`` (shipped in the package). Two kinds:

* ``measured``: per-seed raw scores copied from evaluator results files; ``mean`` and ``std``
  are stored for readers but the validator recomputes them from ``per_seed`` (and ``per_seed``
  from the results files when they are present) and refuses any that do not match;
* ``reported``: numbers copied from a publication, taken as given and always shown as
  "as reported, not reproduced". They have no seeds, so nothing is recomputed from them.

The standard deviation is the unbiased sample std (divisor n - 1), as OGB's leaderboard
rules ask for; with a single seed it is ``null``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Sequence

from initbench.digests import canonical_json_bytes, sha256_file  # noqa: F401 - sha256_file re-exported
from initbench.errors import DataFormatError
from initbench.files import atomic_write

SCHEMA_ID = "initbench-leaderboard-entry/1"
AS_REPORTED = "as reported, not reproduced"

#: Two recomputed numbers agree when within this relative (or absolute) tolerance; entries are
#: written with full float precision, so anything larger is a typed-in or edited number.
REL_TOL = 1e-9
ABS_TOL = 1e-12


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an entry: the file, the JSON path inside it (``$.metrics.fid.mean``), what."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}"


@lru_cache(maxsize=1)
def load_schema() -> dict:
    """The entry JSON Schema shipped as package data."""
    text = resources.files("initbench.leaderboard").joinpath("entry.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def json_path(parts: Iterable[Any]) -> str:
    """``["metrics", "fid", "per_seed", 0]`` -> ``$.metrics.fid.per_seed[0]``."""
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean (math.fsum, so the order of seeds does not change the last bit much)."""
    return math.fsum(values) / len(values)


def unbiased_std(values: Sequence[float]) -> float | None:
    """Sample standard deviation with divisor n - 1 (as OGB); None for fewer than two values."""
    n = len(values)
    if n < 2:
        return None
    m = mean(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (n - 1))


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


#: Key-sorted, whitespace-free UTF-8 JSON: the bytes an entry's identity hash is taken over.
canonical_bytes = canonical_json_bytes


#: Entry fields that say when it was made, not what it is: left out of its identity (hash and file name).
NOT_IDENTITY = ("created",)


def entry_hash(entry: dict) -> str:
    """sha256 of the canonical JSON of ``entry`` without ``created`` (hex); its first 8 characters name the file.

    Two runs that produced the same numbers from the same weights give the same entry identity.
    """
    return hashlib.sha256(canonical_bytes({k: v for k, v in entry.items() if k not in NOT_IDENTITY})).hexdigest()


def read_entry(path: str | os.PathLike) -> dict:
    """Read one entry file; unreadable or non-object JSON is a DataFormatError naming the file and line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFormatError(f"cannot read the entry: {exc.strerror or exc}", str(p)) from exc
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"not valid JSON: {exc.msg} (column {exc.colno})", str(p), exc.lineno) from exc
    if not isinstance(obj, dict):
        raise DataFormatError(f"expected a JSON object (one leaderboard entry); found {type(obj).__name__}", str(p))
    return obj


def write_json_atomic(path: str | os.PathLike, obj: Any, *, exclusive: bool = False) -> Path:
    """Write ``obj`` as indented JSON under a temporary name in the same folder, then move it in place.

    ``exclusive=True`` refuses to replace an existing file, atomically (``os.link`` fails if the
    name exists), so two concurrent submissions cannot overwrite each other.
    """
    p = Path(path)
    with atomic_write(p, exclusive=exclusive) as f:
        f.write((json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return p


def display_value(metric: dict) -> float:
    """The number an entry is ranked by: the mean over seeds, or the reported value."""
    return metric["mean"] if "mean" in metric else metric["value"]
