"""The results files a report is made of: read, checked against the results schema, grouped.

A report takes any set of evaluator results files (protocols ``v1`` and ``paired-v1``). Files are
grouped into *sections* by (protocol, task): the rows of one table. Within a section, files of the
same method *and training recipe* (``method_settings.trained_with`` but its seed) are *seeds* of it when they
come from different checkpoints; where one method comes with several recipes, each recipe is a subject of its
own, named by what differs (``init [shuffle_boxes true]``). A file that cannot be read,
is not a results document or has another protocol is refused with a DataFormatError naming it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from initbench.errors import DataFormatError

#: The protocols a report can tabulate.
PROTOCOLS = ("v1", "paired-v1")


@dataclass(frozen=True)
class LoadedResult:
    """One results file: its path, its document and its place in the command line (``index``)."""

    path: Path
    doc: dict
    index: int
    #: What sets this result's training recipe apart from other recipes of its method in its section
    #: (set by :func:`sections`; empty when the method comes with one recipe).
    recipe_note: str = ""

    @property
    def method(self) -> str:
        return self.doc["method"]

    @property
    def task(self) -> str:
        return self.doc["task"]

    @property
    def protocol(self) -> str:
        return self.doc["protocol"]

    @property
    def recipe(self) -> dict:
        """How the scored checkpoint was trained (``method_settings.trained_with``) without its seed; {} if unknown."""
        trained = (self.doc.get("method_settings") or {}).get("trained_with") or {}
        return {k: v for k, v in trained.items() if k != "seed"}

    @property
    def subject(self) -> str:
        """What was scored: the bundled model's name (``--pretrained``) when the result records one, else the method,
        with :attr:`recipe_note` when the method comes with several recipes. Results of one subject from different
        checkpoints are seeds of it; a grid shows each subject once."""
        base = (self.doc.get("pretrained") or {}).get("name") or self.method
        return f"{base} [{self.recipe_note}]" if self.recipe_note else base

    @property
    def label(self) -> str:
        """``subject`` and the file's name: the row label of tables."""
        return f"{self.subject} ({self.path.name})"

    @property
    def input_keys(self) -> list[str]:
        return list(self.doc.get("per_input", {}).get("keys") or self.doc.get("data", {}).get("inputs") or [])


@dataclass
class Section:
    """The results of one (protocol, task): rows of the same tables."""

    protocol: str
    task: str
    results: list[LoadedResult] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.task} · protocol {self.protocol}"

    def seed_groups(self) -> dict[str, list[LoadedResult]]:
        """``{subject: results}`` for subjects with two or more results from different checkpoints (seeds)."""
        by: dict[str, list[LoadedResult]] = {}
        for r in self.results:
            by.setdefault(r.subject, []).append(r)
        out = {}
        for m, rs in by.items():
            ids = {r.doc.get("checkpoint_sha256") or r.doc.get("weights_sha256") or str(r.path) for r in rs}
            if len(rs) >= 2 and len(ids) == len(rs):
                out[m] = rs
        return out

    def data_mismatch(self) -> list[str]:
        """Files of this section whose data fingerprint differs from the first file's (their inputs differ)."""
        first = self.results[0].doc.get("data_fingerprint")
        return [str(r.path) for r in self.results if r.doc.get("data_fingerprint") != first]


def read_result(path: str | Path, index: int = 0) -> LoadedResult:
    """One results file, checked; DataFormatError (naming the file, and the line for bad JSON) otherwise."""
    from initbench.evaluation.result import schema_problems

    p = Path(path)
    if not p.is_file():
        raise DataFormatError("expected an evaluator results JSON file; it does not exist or is not a file", str(p))
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"expected a UTF-8 results JSON file; cannot read it ({exc.__class__.__name__})", str(p))
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"expected JSON; {exc.msg} (column {exc.colno})", str(p), exc.lineno) from None
    if not isinstance(doc, dict) or "protocol" not in doc or "per_input" not in doc:
        raise DataFormatError("expected an evaluator results document (keys protocol, method, task, per_input, ...); "
                              "found " + (f"keys {', '.join(sorted(doc)[:6])}" if isinstance(doc, dict) else type(doc).__name__)
                              + " (a leaderboard entry? pass the results file it was made from)", str(p))
    if doc["protocol"] not in PROTOCOLS:
        raise DataFormatError(f"expected protocol {' or '.join(PROTOCOLS)}; found {doc['protocol']!r}", str(p))
    problems = schema_problems(doc)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise DataFormatError(f"not a valid results document: {problems[0]}{more}", str(p))
    return LoadedResult(path=p, doc=doc, index=index)


def load_results(paths: Iterable[str | Path]) -> list[LoadedResult]:
    """Every file, in the given order; the same file twice is refused (it would count as two seeds)."""
    out: list[LoadedResult] = []
    seen: dict[Path, str] = {}
    for i, path in enumerate(paths):
        real = Path(path).resolve()
        if real in seen:
            raise DataFormatError(f"given twice (also as {seen[real]}); each results file counts once", str(path))
        seen[real] = str(path)
        out.append(read_result(path, i))
    if not out:
        raise DataFormatError("expected at least one results file; got none", "RESULTS")
    return out


def sections(results: list[LoadedResult]) -> list[Section]:
    """Results grouped by (protocol, task), in order of first appearance; rows keep the given order. Within a
    section, results of one method trained with different recipes get a :attr:`~LoadedResult.recipe_note`."""
    by: dict[tuple[str, str], Section] = {}
    for r in results:
        by.setdefault((r.protocol, r.task), Section(r.protocol, r.task)).results.append(r)
    for section in by.values():
        section.results = _note_recipes(section.results)
    return list(by.values())


def _note_recipes(results: list[LoadedResult]) -> list[LoadedResult]:
    """``results`` with a recipe note on each result whose subject comes with more than one recipe: the recipe's
    entries that differ between them (``variant ds, shuffle_boxes true``)."""
    recipes: dict[str, list[dict]] = {}
    for r in results:
        recipes.setdefault(r.subject, []).append(r.recipe)
    out = []
    for r in results:
        group = recipes[r.subject]
        keys = sorted({k for rec in group for k in rec})
        differ = [k for k in keys if len({json.dumps(rec.get(k), sort_keys=True) for rec in group}) > 1]
        note = ", ".join(f"{k} {json.dumps(r.recipe.get(k), sort_keys=True)}" for k in differ)
        out.append(dataclasses.replace(r, recipe_note=note) if note else r)
    return out
