"""FID/KID reference features of a target domain, cached on disk so that a second run does not extract them again.

A cache entry is ``<dir>/<key>.pt``; the key is the sha256 of what decides the features:

* the reference images, as ``[key, sha256 of the file's bytes]`` in order (a changed image is a new key);
* the feature extractor's sha256 (its weights file's, or its tensors' for an extractor without a file);
* the protocol version and the image size it reads at (``short_side``; an override changes the features).

So a changed image or extractor is a miss, never a stale hit. The files are hashed, not taken from a
manifest: the evaluator reads the images on disk, and a manifest's hash is only as good as the last
check of the copy against it. Hashing costs little beside extracting (2-core CPU, shared): the 11 night
test images of a 256 x 160 mini-INIT hash in 0.4 ms each, while reading, resizing to 360 and running
Inception-v3 at 299 x 299 took 560 ms each; a 7 MB 1208 x 1920 PNG hashes in 6 ms, its decode and
resize alone take 29 ms.

The default folder follows torch's convention for downloaded and derived files: under
``torch.hub.get_dir()`` (``$TORCH_HOME/hub``), in ``initbench/fid_reference``. Entries are written
atomically (:mod:`initbench.files`) and read with ``torch.load(weights_only=True)``; an unreadable or
inconsistent entry is a miss and is rewritten.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Callable

import torch

from initbench.digests import sha256_file, sha256_json, sha256_tensors
from initbench.files import write_atomic

#: Bumped when the entry layout or the key's fields change (old entries are then never hit).
CACHE_FORMAT = 1
_HEX64 = re.compile(r"[0-9a-f]{64}")


def default_cache_dir() -> Path:
    """``<torch.hub.get_dir()>/initbench/fid_reference`` (``$TORCH_HOME/hub/...``)."""
    return Path(torch.hub.get_dir()) / "initbench" / "fid_reference"


def extractor_sha256(stream) -> str:
    """sha256 identifying a :class:`initbench.evaluation.fid_kid.FeatureStream`'s network and layer.

    Inception's ``stream.sha256`` is its weights file's hash; another registered extractor is named
    only by ``extractor:<name>``, so its tensors are hashed (a changed extractor of the same name misses).
    """
    own = getattr(stream, "sha256", "")
    if not _HEX64.fullmatch(own or ""):
        own = sha256_json([own, sha256_tensors(stream.fe.state_dict())])
    return sha256_json([own, getattr(stream, "layer", None)])


def reference_key(root, keys: list[str], *, extractor: str, protocol_version: str, short_side: int | None) -> str:
    """The cache key of the reference images ``keys`` under ``root`` (see the module docstring)."""
    images = [[k, sha256_file(Path(root) / k)] for k in keys]
    return sha256_json({"format": CACHE_FORMAT, "protocol": protocol_version, "short_side": short_side,
                        "extractor": extractor, "images": images})


class FeatureCache:
    """Reference feature rows on disk under ``directory`` (None: :func:`default_cache_dir`).

    ``hits``/``misses`` count this object's lookups (a run reports them; tests read them).
    """

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.hits = self.misses = 0

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.pt"

    def load(self, key: str) -> torch.Tensor | None:
        """The rows stored under ``key``, or None when absent, unreadable or not an entry for ``key``."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            entry = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # truncated, overwritten, not a torch file: a miss, rewritten by the caller
            return None
        ok = (isinstance(entry, dict) and entry.get("format") == CACHE_FORMAT and entry.get("key") == key
              and torch.is_tensor(entry.get("rows")) and entry["rows"].dim() == 2)
        return entry["rows"] if ok else None

    def save(self, key: str, rows: torch.Tensor) -> Path:
        """Store ``rows`` under ``key`` atomically (a reader never sees half an entry); returns the path."""
        buf = io.BytesIO()
        torch.save({"format": CACHE_FORMAT, "key": key, "rows": rows.detach().cpu().contiguous()}, buf)
        write_atomic(self.path(key), buf.getvalue())
        return self.path(key)

    def get_or_compute(self, key: str, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The cached rows of ``key``, or ``compute()``'s, stored before they are returned."""
        rows = self.load(key)
        if rows is not None:
            self.hits += 1
            return rows
        self.misses += 1
        rows = compute()
        self.save(key, rows)
        return rows
