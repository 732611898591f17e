"""The catalogue of bundled reference models: where it and the files are, its schema, names and file names.

``catalogue.json`` (package data, beside this module) lists each model; ``catalogue.schema.json``
describes it. A model's name is ``BENCHMARK/TASK/METHOD[-VARIANT]`` (``mini-init-v2/sunny2night/init``)
and its file is ``files/<name with '/' replaced by '__'>.pt``.

Two environment variables point elsewhere (tests, users with their own copies):
``INITBENCH_PRETRAINED_DIR`` the folder of the files, ``INITBENCH_PRETRAINED_CATALOGUE`` the catalogue.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from initbench.errors import DataFormatError
from initbench.files import read_json

FORMAT = "initbench-pretrained-catalogue"
FORMAT_VERSION = 1
CATALOGUE_FILE = "catalogue.json"
SCHEMA_FILE = "catalogue.schema.json"
FILES_DIR_ENV = "INITBENCH_PRETRAINED_DIR"
CATALOGUE_ENV = "INITBENCH_PRETRAINED_CATALOGUE"

#: A bundled file may not exceed this (the schema's ``size_bytes`` maximum says the same).
MAX_FILE_BYTES = 8 * 1024 * 1024
#: Nor may all of them together: the package stays small.
MAX_TOTAL_BYTES = 30 * 1024 * 1024

#: The metrics a catalogue entry keeps of a results file, per protocol (the rest are in the file).
HEADLINE = {
    "paired-v1": ("l1_gt_frame", "l1_gt_objects", "lpips_gt_frame", "domain_accuracy", "lpips_diversity"),
    "v1": ("lpips_diversity", "is_exp", "cis_exp"),
}


def _package_dir() -> Path:
    return Path(str(resources.files("initbench.pretrained")))


def files_dir() -> Path:
    """The folder of the bundled files: ``$INITBENCH_PRETRAINED_DIR``, else the package's ``files/``."""
    env = os.environ.get(FILES_DIR_ENV)
    return Path(env) if env else _package_dir() / "files"


def catalogue_path() -> Path:
    """The catalogue file: ``$INITBENCH_PRETRAINED_CATALOGUE``, else the package's ``catalogue.json``."""
    env = os.environ.get(CATALOGUE_ENV)
    return Path(env) if env else _package_dir() / CATALOGUE_FILE


def empty_catalogue() -> dict[str, Any]:
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "models": []}


def file_name(name: str) -> str:
    """``mini-init-v2/sunny2night/init`` -> ``mini-init-v2__sunny2night__init.pt``."""
    return name.replace("/", "__") + ".pt"


def model_name(benchmark: str, task: str, method: str, variant: str | None) -> str:
    """``BENCHMARK/TASK/METHOD[-VARIANT]``."""
    return f"{benchmark}/{task}/{method}" + (f"-{variant}" if variant else "")


@lru_cache(maxsize=1)
def catalogue_schema() -> dict:
    """The catalogue's JSON Schema (package data)."""
    return json.loads((_package_dir() / SCHEMA_FILE).read_text(encoding="utf-8"))


def catalogue_problems(doc: Any) -> list[str]:
    """What makes ``doc`` not a valid catalogue: ``"$.path: message"`` per problem (empty: valid).

    Beyond the schema: names are unique and each agrees with its benchmark, task, method and variant,
    and each file name with its name.
    """
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(catalogue_schema()).iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    problems = [f"{_json_path(e.absolute_path)}: {e.message}" for e in errors]
    if problems:
        return problems
    seen: set[str] = set()
    for i, m in enumerate(doc["models"]):
        where = f"$.models[{i}]"
        expected = model_name(m["benchmark"], m["task"], m["method"], m["variant"])
        if m["name"] != expected:
            problems.append(f"{where}.name: expected {expected!r} (benchmark/task/method[-variant]); found {m['name']!r}")
        if m["file"] != file_name(m["name"]):
            problems.append(f"{where}.file: expected {file_name(m['name'])!r}; found {m['file']!r}")
        if m["name"] in seen:
            problems.append(f"{where}.name: {m['name']!r} is listed twice")
        seen.add(m["name"])
    return problems


def _json_path(parts) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def load_catalogue(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The catalogue at ``path`` (default :func:`catalogue_path`), checked; a missing file is an empty catalogue."""
    p = Path(path) if path is not None else catalogue_path()
    if not p.is_file():
        if path is None and CATALOGUE_ENV not in os.environ:
            raise DataFormatError("the package's catalogue of reference models is missing (a broken install?)", str(p))
        return empty_catalogue()
    doc = read_json(p, "not a readable catalogue JSON")
    problems = catalogue_problems(doc)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise DataFormatError("not a valid catalogue of reference models: " + "; ".join(problems[:3]) + more, str(p))
    return doc


def catalogue_entries(path: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """The catalogue's models, in its order (by name)."""
    return list(load_catalogue(path)["models"])
