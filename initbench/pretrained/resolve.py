"""A bundled reference model by name: its file, checked against the catalogue's sha256 (once per process).

Statuses of a file (``initbench pretrained``): ``intact`` (its sha256 is the catalogue's), ``corrupt``
(present, another sha256), ``present`` (present, not hashed), ``missing``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from initbench.digests import sha256_file
from initbench.errors import UsageError, WeightsMissingError
from initbench.pretrained.catalogue import FILES_DIR_ENV, catalogue_entries, catalogue_path, files_dir

STATUSES = ("intact", "corrupt", "present", "missing")

#: sha256 found per file, keyed by (resolved path, size, modification time): each file is hashed once per process.
_HASHED: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of ``path``'s bytes, computed once per process while the file is unchanged (size and mtime)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHED:
        _HASHED[key] = sha256_file(path)
    return _HASHED[key]


@dataclass(frozen=True)
class PretrainedModel:
    """A bundled model whose file was found intact: ``path`` to load, ``entry`` its catalogue entry."""

    name: str
    path: Path
    entry: dict[str, Any]

    @property
    def method(self) -> str:
        return self.entry["method"]

    @property
    def sha256(self) -> str:
        return self.entry["sha256"]

    def record(self) -> dict[str, str]:
        """What a results document records of it: ``{"name", "sha256"}``."""
        return {"name": self.name, "sha256": self.sha256}


def find_entry(name: str, entries: list[dict] | None = None) -> dict[str, Any]:
    """The catalogue entry called ``name``; an unknown name is a :class:`UsageError` listing the available ones."""
    entries = catalogue_entries() if entries is None else entries
    for e in entries:
        if e["name"] == name:
            return e
    have = ", ".join(e["name"] for e in entries) if entries else f"none (no model is bundled; catalogue {catalogue_path()})"
    raise UsageError(f"--pretrained: unknown model {name!r}; available are: {have}")


def entry_path(entry: dict[str, Any]) -> Path:
    """Where ``entry``'s file is looked for (:func:`~initbench.pretrained.catalogue.files_dir`)."""
    return files_dir() / entry["file"]


def inspect(entry: dict[str, Any], check_hash: bool = True) -> dict[str, Any]:
    """``{"status", "path", "found_sha256"}`` of an entry's file (``found_sha256`` None when not hashed or missing)."""
    path = entry_path(entry)
    if not path.is_file():
        return {"status": "missing", "path": str(path), "found_sha256": None}
    if not check_hash:
        return {"status": "present", "path": str(path), "found_sha256": None}
    found = file_sha256(path)
    return {"status": "intact" if found == entry["sha256"] else "corrupt", "path": str(path), "found_sha256": found}


def resolve_pretrained(name: str) -> PretrainedModel:
    """The bundled model ``name`` (``BENCHMARK/TASK/METHOD[-VARIANT]``), its file verified by sha256.

    Errors: an unknown name (:class:`UsageError`, listing the available names); a missing file or one whose
    sha256 is not the catalogue's (:class:`WeightsMissingError`, with the path and both sha256).
    """
    entry = find_entry(name)
    state = inspect(entry)
    path = state["path"]
    if state["status"] == "missing":
        raise WeightsMissingError(f"--pretrained {name}: its file is missing: expected {path} (sha256 {entry['sha256']}); "
                                  f"reinstall initbench, or set {_env_hint()} to a folder holding {entry['file']}")
    if state["status"] == "corrupt":
        raise WeightsMissingError(f"--pretrained {name}: {path} is corrupt: expected sha256 {entry['sha256']}, "
                                  f"found {state['found_sha256']}")
    return PretrainedModel(name=name, path=Path(path), entry=entry)


def _env_hint() -> str:
    here = os.environ.get(FILES_DIR_ENV)
    return f"{FILES_DIR_ENV} (now {here})" if here else FILES_DIR_ENV
