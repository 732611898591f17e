"""Fixtures of the dataset tests: pixel digests of the committed mini-INIT manifests."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest

from initbench.dataset.manifest import read_manifest
from initbench.dataset.png import read_rgb
from initbench.digests import sha256_tensors

REPO = Path(__file__).resolve().parents[2]


def pixel_digest(path: Path) -> str:
    """sha256 of a PNG's decoded pixels (uint8 3 x H x W, :func:`initbench.digests.sha256_tensors`): zlib-independent."""
    return sha256_tensors({"rgb": read_rgb(path)})


@pytest.fixture(scope="session")
def check_committed_synth():
    """``check(root, manifest_dir)``: the tree at ``root`` has the manifest's files with the committed pixels.

    A committed manifest holds sha256 of PNG bytes, which depend on the zlib build that compressed them
    (``pixels.json`` names it); decoded pixels do not. Returns whether the local zlib is that build, i.e.
    whether the bytes, and so the manifest's sha256, are a contract here too.
    """

    def check(root: Path, manifest_dir: Path) -> bool:
        rows = read_manifest(manifest_dir / "manifest.csv.gz")
        committed = json.loads((manifest_dir / "pixels.json").read_text())
        on_disk = sorted(p.relative_to(root).as_posix() for d in ("sunny", "night", "cloudy", "rainy")
                         for p in (root / d).rglob("*.png"))
        assert on_disk == sorted(r.key for r in rows) == sorted(committed["images"])
        differ = [r.key for r in rows if pixel_digest(root / r.key) != committed["images"][r.key]]
        assert not differ, f"{len(differ)} image(s) with other pixels than committed, e.g. {differ[:3]}"
        return zlib.ZLIB_RUNTIME_VERSION == committed["zlib"]

    return check
