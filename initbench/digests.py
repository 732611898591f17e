"""sha256 digests that identify things by content: files, weights, JSON documents.

Usable from every layer (like ``errors.py``). A file's bytes can carry incidental facts (a training
time, the folder a run was in), so weights are identified by their tensors and results by their
content without timings: identical weights or numbers give identical digests, whatever the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

import torch

#: Keys of a results document that describe how and where a run went, not what it found (left out of its
#: digest): its timings, the checkpoint file's own hash, whose bytes hold the run's folder, and the bundled
#: model's name and file hash (``--pretrained``; the same file given as ``--ckpt`` finds the same); the
#: weights themselves are identified by ``weights_sha256``, which stays in.
VOLATILE_RESULT_KEYS = ("timings", "checkpoint_sha256", "pretrained")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def sha256_tensors(tensors: Mapping[str, torch.Tensor]) -> str:
    """sha256 of named tensors in canonical form: sorted names, each with dtype, shape and raw bytes.

    Independent of the file they came from, of the device they live on, of key order and of
    memory layout (tensors are made contiguous on the CPU first). Non-tensor values are refused.
    """
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name]
        if not torch.is_tensor(t):
            raise TypeError(f"sha256_tensors: {name!r} is a {type(t).__name__}, not a tensor")
        t = t.detach().to("cpu").contiguous()
        header = json.dumps([name, str(t.dtype).removeprefix("torch."), list(t.shape)], separators=(",", ":"))
        h.update(len(header).to_bytes(8, "little") + header.encode("utf-8"))
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


def canonical_json_bytes(obj: Any) -> bytes:
    """Key-sorted, whitespace-free UTF-8 JSON (the bytes a document's digest is taken over)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_json(obj: Any) -> str:
    """sha256 of ``obj``'s canonical JSON, hex."""
    return hashlib.sha256(canonical_json_bytes(obj)).hexdigest()


def results_digest(results: Mapping[str, Any]) -> str:
    """sha256 of an evaluator results document without :data:`VOLATILE_RESULT_KEYS`: equal for two runs that found the same."""
    return sha256_json({k: v for k, v in results.items() if k not in VOLATILE_RESULT_KEYS})
