"""Pretrained files the evaluator uses: where they are looked for, their sha256, offline behaviour.

One table, :data:`WEIGHTS`. A file is looked for in the folder the user names (``--dir``) or,
by default, in torch hub's cache ``<torch.hub.get_dir()>/checkpoints`` (``$TORCH_HOME/hub/checkpoints``),
which is where torchvision and torch-fidelity download them. torchvision names its files
``<name>-<first 8 hex digits of the sha256>.pth`` and checks that prefix only when it downloads;
a file already in the cache is never re-hashed, so :func:`inspect` hashes it.

Statuses: ``intact`` (present, sha256 matches the expected prefix or digest), ``corrupt``
(present, does not match), ``present`` (present, not hashed: ``check_hash=False`` or a file whose
name carries no sha256 convention), ``missing``.

torch-fidelity's Inception file ends in ``6726825d`` but torch-fidelity never checks a hash, and
whether that fragment is a sha256 prefix is not established; it is reported ``present`` with its
full sha256 (which every result records) rather than called intact or corrupt on a guess.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from initbench.digests import sha256_file  # noqa: F401 - W.sha256_file, as callers use it
from initbench.errors import UsageError, WeightsMissingError

STATUSES = ("intact", "corrupt", "present", "missing")


_HUB_HASH = re.compile(r"-([a-f0-9]{8,})\.")


def hub_hash_prefix(filename: str) -> str | None:
    """The sha256 prefix torch hub reads from a file name (``alexnet-owt-7be5be79.pth`` -> ``7be5be79``)."""
    m = _HUB_HASH.search(filename)
    return m.group(1) if m else None


@dataclass(frozen=True)
class WeightsFile:
    key: str
    filename: str
    url: str
    used_for: str
    #: Expected sha256 prefix (torch hub naming convention) or None when not established.
    sha256_prefix: str | None
    #: "hub": looked for in the torch hub cache or --dir; "lpips-wheel": shipped inside lpips.
    location: str = "hub"
    #: Full expected sha256, where known.
    sha256: str | None = None


WEIGHTS: dict[str, WeightsFile] = {
    w.key: w
    for w in (
        WeightsFile(
            "alexnet",
            "alexnet-owt-7be5be79.pth",
            "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
            "LPIPS backbone (torchvision AlexNet, ImageNet)",
            hub_hash_prefix("alexnet-owt-7be5be79.pth"),
        ),
        WeightsFile(
            "lpips-alex-v0.1",
            "alex.pth",
            "(inside the lpips wheel: lpips/weights/v0.1/alex.pth)",
            "LPIPS v0.1 linear layers",
            "df73285e",
            location="lpips-wheel",
            sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
        ),
        WeightsFile(
            "inception-fid",
            "weights-inception-2015-12-05-6726825d.pth",
            "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
            "FID/KID features (torch-fidelity inception-v3-compat)",
            None,
        ),
        WeightsFile(
            "inception-v3",
            "inception_v3_google-0cc3c7bd.pth",
            "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
            "domain classifier initialisation (torchvision Inception-v3, ImageNet)",
            hub_hash_prefix("inception_v3_google-0cc3c7bd.pth"),
        ),
        WeightsFile(
            "resnet50",
            "resnet50-0676ba61.pth",
            "https://download.pytorch.org/models/resnet50-0676ba61.pth",
            "detection-benchmark backbone (torchvision ResNet-50, ImageNet)",
            hub_hash_prefix("resnet50-0676ba61.pth"),
        ),
    )
}


def get_weights(key: str) -> WeightsFile:
    if key not in WEIGHTS:
        raise UsageError(f"weights: unknown file {key!r}; available are: {', '.join(WEIGHTS)}")
    return WEIGHTS[key]


def hub_checkpoints_dir() -> Path:
    """torch hub's download cache (``$TORCH_HOME/hub/checkpoints`` by default)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def lpips_weights_dir() -> Path:
    import lpips

    return Path(lpips.__file__).resolve().parent / "weights" / "v0.1"


def location_of(w: WeightsFile, directory: str | os.PathLike | None = None) -> Path:
    """Where ``w`` is looked for: ``directory/filename`` if given, else its default location."""
    if w.location == "lpips-wheel":
        return lpips_weights_dir() / w.filename
    base = Path(directory) if directory is not None else hub_checkpoints_dir()
    return base / w.filename


def inspect(w: WeightsFile, directory: str | os.PathLike | None = None, check_hash: bool = True) -> dict:
    """One row of the table: key, file, used_for, path, expected prefix, status, sha256 (or None)."""
    path = location_of(w, directory)
    row = {
        "key": w.key,
        "file": w.filename,
        "used_for": w.used_for,
        "path": str(path),
        "expected_sha256_prefix": w.sha256_prefix,
        "url": w.url,
        "sha256": None,
    }
    if not path.is_file():
        row["status"] = "missing"
        return row
    if not check_hash:
        row["status"] = "present"
        return row
    digest = sha256_file(path)
    row["sha256"] = digest
    if w.sha256 is not None:
        row["status"] = "intact" if digest == w.sha256 else "corrupt"
    elif w.sha256_prefix is not None:
        row["status"] = "intact" if digest.startswith(w.sha256_prefix) else "corrupt"
    else:
        row["status"] = "present"
    return row


def table(directory: str | os.PathLike | None = None, check_hash: bool = True) -> list[dict]:
    """:func:`inspect` for every file of :data:`WEIGHTS`."""
    return [inspect(w, directory, check_hash) for w in WEIGHTS.values()]


def resolve(key: str, directory: str | os.PathLike | None = None, offline: bool = True) -> tuple[Path, str]:
    """The path and sha256 of an intact (or unhashable but present) file ``key``.

    Missing and ``offline``: :class:`WeightsMissingError` naming the file, the URL and the path to
    place it. Missing and online: downloaded to that path with torch hub (which checks the sha256
    prefix where the name carries one). Corrupt: always an error (never silently re-downloaded).
    """
    w = get_weights(key)
    row = inspect(w, directory)
    path = Path(row["path"])
    if row["status"] == "missing":
        if offline or w.location != "hub":
            raise WeightsMissingError(
                f"{w.filename} ({w.used_for}) is missing: expected it at {path}; offline, so nothing was "
                f"downloaded. Place the file there (from {w.url}), or name the folder that holds it "
                "(--weights-dir; `initbench weights --dir`)."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part-{os.getpid()}")
        try:
            torch.hub.download_url_to_file(w.url, str(tmp), hash_prefix=w.sha256_prefix, progress=False)
        except (OSError, RuntimeError) as exc:  # no network (URLError is an OSError), or a hash mismatch
            tmp.unlink(missing_ok=True)
            raise WeightsMissingError(
                f"{w.filename} ({w.used_for}) is missing at {path} and could not be downloaded from {w.url} "
                f"({exc}). Place the file there, or name the folder that holds it (--weights-dir; `initbench weights --dir`)."
            ) from None
        os.replace(tmp, path)
        row = inspect(w, directory)
    if row["status"] == "corrupt":
        raise WeightsMissingError(
            f"{w.filename} at {path} is corrupt: its sha256 {row['sha256'][:16]}... does not start with "
            f"the expected {w.sha256_prefix or (w.sha256 or '')[:8]}; replace it (from {w.url})."
        )
    return path, row["sha256"]
