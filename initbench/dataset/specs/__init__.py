"""Versioned data shipped with the package: the release spec, the split rule, the mini-INIT manifest.

The same files are committed under ``manifests/`` at the top of the repository (for people who
read them without installing); a test keeps the two copies byte-identical. The package reads
its own copy, so an installed initbench needs no checkout.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from initbench.errors import DataFormatError

#: file name in this package -> path of the copy under the repository's ``manifests/``.
MIRRORED = {
    "release.json": "manifests/init-v1/release.json",
    "split-v1.json": "manifests/init-v1/split-v1.json",
    "mini-init-manifest.csv.gz": "manifests/mini-init/manifest.csv.gz",
}


def spec_path(name: str):
    """A Traversable for a shipped file (use ``.read_bytes()`` or ``resources.as_file``)."""
    p = resources.files(__name__) / name
    if not p.is_file():
        raise DataFormatError(f"expected the packaged file {name!r} in initbench/dataset/specs/; it is missing (broken install?)")
    return p


def load_json(name: str) -> dict[str, Any]:
    return json.loads(spec_path(name).read_text(encoding="utf-8"))
