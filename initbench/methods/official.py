"""Reading and writing the authors' released checkpoint files (CycleGAN, UNIT, MUNIT, DRIT).

What every baseline's ``load_official`` shares:

* :func:`read_checkpoint`: ``torch.load(weights_only=True)`` with a typed error for unreadable,
  truncated or non-PyTorch files (both the zip format and the legacy pre-1.6 format load).
* :func:`drop_legacy_entries`: the *legacy-key filter*. It removes exactly what the authors' own
  loaders remove before their strict load: the ``running_mean``/``running_var`` buffers that
  PyTorch <= 0.3 (and CycleGAN's mid-2018 ``track_running_stats=True``) saved for instance-norm
  layers that have no such buffers today, and (CycleGAN's shim only) the instance-norm
  ``num_batches_tracked`` counters. Those buffers never changed an output: instance norm always
  used per-instance statistics. Nothing else is dropped.
* :func:`load_strict`: ``load_state_dict(strict=True)`` that, on any mismatch, raises a
  :class:`~initbench.errors.CheckpointError` listing missing keys, unexpected keys and shape
  mismatches, plus the method's guess of the likely cause (``diagnose`` callback).
* :func:`save_atomic`: ``torch.save`` to a temporary name, then ``os.replace``.
* :func:`read_yaml_config`: the authors' YAML files (MUNIT, UNIT) as a plain dict.
* :func:`load_official`: the architecture's ``load_official(method, checkpoint, config=None)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from initbench.digests import sha256_file
from initbench.errors import CheckpointError, DataFormatError, UsageError
from initbench.files import atomic_write

#: How many keys of each kind an error message lists before it says "... and N more".
MAX_LISTED = 12

LEGACY_IN_STATS = ("running_mean", "running_var")


def read_checkpoint(path: str | os.PathLike) -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)`` with typed errors."""
    p = Path(path)
    if not p.exists():
        raise UsageError(f"checkpoint {p}: no such file")
    if p.is_dir():
        raise UsageError(f"checkpoint {p}: is a directory; expected a .pt/.pth file")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError, zipfile errors...
        raise CheckpointError(
            f"checkpoint {p}: cannot be read as a PyTorch file ({p.stat().st_size} bytes; {load_failure_reason(p, exc)})"
        ) from None


def load_failure_reason(path: Path, exc: BaseException) -> str:
    """Why ``torch.load(path, weights_only=True)`` failed, in our words.

    torch's own messages are not quoted: they advise re-running with ``weights_only=False``, which runs
    any code a file carries; initbench never does that.
    """
    import pickle
    import zipfile

    with open(path, "rb") as fh:
        head = fh.read(2)
    is_zip = zipfile.is_zipfile(path)
    # an intact pickle naming a class or function: what code-carrying (or merely foreign) files do
    refused = isinstance(exc, pickle.UnpicklingError) and "unsupported global" in str(exc).lower()
    if refused:
        return "it stores Python objects other than tensors and plain data, which initbench does not load"
    if is_zip or head == b"PK":
        return "a damaged PyTorch zip archive: the file is truncated or corrupt; copy or download it again"
    if head[:1] != b"\x80":
        return "neither a PyTorch zip archive nor a legacy PyTorch pickle: not a checkpoint, or corrupt"
    return "a damaged legacy PyTorch pickle: the file is truncated or corrupt; copy or download it again"


def as_state_dict(obj: Any, path: str | os.PathLike, where: str = "") -> dict[str, torch.Tensor]:
    """Check that ``obj`` is a ``name -> tensor`` mapping; ``where`` names the entry (e.g. ``['a']``)."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"checkpoint {path}{where}: expected a state dict (name -> tensor); found {describe_top_level(obj)}")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(
            f"checkpoint {path}{where}: expected a state dict (name -> tensor); found {describe_top_level(obj)}, "
            f"whose entries {_listing([str(k) for k in bad], 6)} are not tensors"
        )
    return dict(obj)


def describe_top_level(obj: Any) -> str:
    """A short guess of what a loaded checkpoint object is, for error messages."""
    if not isinstance(obj, Mapping):
        return f"a {type(obj).__name__}"
    keys = set(map(str, obj.keys()))
    if {"enc_c", "enc_a", "gen"} <= keys:
        return "a DRIT checkpoint (enc_c, enc_a, gen)"
    if {"a", "b"} <= keys and len(keys) == 2:
        return "a MUNIT/UNIT generator file {'a', 'b'}"
    if "method" in keys and ("state_dicts" in keys or "model" in keys or "config" in keys):
        return "an initbench native checkpoint (use --ckpt, not --official-ckpt)"
    if keys and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return f"a bare state dict with {len(keys)} tensors (e.g. {_listing(sorted(keys), 3)})"
    return f"a dict with keys {_listing(sorted(keys), 8)}"


def _resolve_module(model: nn.Module, key: str) -> tuple[nn.Module | None, str]:
    """The module a state-dict key belongs to, and the attribute name (None if no such module)."""
    *path, attr = key.split(".")
    mod: nn.Module | None = model
    for part in path:
        if mod is None:
            break
        mod = mod._modules.get(part)
    return mod, attr


def drop_legacy_entries(
    state_dict: Mapping[str, torch.Tensor], model: nn.Module, *, num_batches_tracked: bool = False
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Remove the legacy instance-norm entries the authors' loaders remove; returns ``(kept, dropped)``.

    Drops ``<in>.running_mean``/``<in>.running_var`` where ``<in>`` is an ``nn.InstanceNorm*`` of
    ``model`` that keeps no running statistics, and, with ``num_batches_tracked``, any
    ``<in>.num_batches_tracked`` (CycleGAN's ``__patch_instance_norm_state_dict``). Every other
    entry is kept, so anything else that does not fit still fails the strict load.
    """
    kept: dict[str, torch.Tensor] = {}
    dropped: list[str] = []
    for key, value in state_dict.items():
        mod, attr = _resolve_module(model, key)
        is_in = isinstance(mod, nn.modules.instancenorm._InstanceNorm)
        if is_in and attr in LEGACY_IN_STATS and getattr(mod, attr, None) is None:
            dropped.append(key)
        elif is_in and num_batches_tracked and attr == "num_batches_tracked" and getattr(mod, attr, None) is None:
            dropped.append(key)
        else:
            kept[key] = value
    return kept, dropped


def _listing(keys: list[str], limit: int = MAX_LISTED) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... and {len(keys) - limit} more" if len(keys) > limit else "")


def compare_keys(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor]
) -> tuple[list[str], list[str], list[tuple[str, tuple, tuple]]]:
    """``(missing, unexpected, shape_mismatches)`` of ``state_dict`` against ``model.state_dict()``."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [
        (k, tuple(state_dict[k].shape), tuple(own[k].shape))
        for k in own
        if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)
    ]
    return missing, unexpected, shapes


Diagnose = Callable[[list[str], list[str], list[tuple[str, tuple, tuple]]], str | None]


def load_strict(
    model: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    *,
    path: str | os.PathLike,
    where: str,
    what: str,
    diagnose: Diagnose | None = None,
    assign: bool = False,
) -> None:
    """Strictly load ``state_dict`` into ``model``; on mismatch a :class:`CheckpointError` lists every difference.

    ``where`` names the entry in the file (``['a']``, ``['gen']`` or ``""``), ``what`` the
    network and its config (``"MUNIT AdaINGen (dim=64, ...)"``), ``diagnose`` returns the likely
    cause from the differences, or None. ``assign`` takes the file's tensors as the parameters
    (for models built on the ``meta`` device, which skips a pointless random initialisation).
    """
    missing, unexpected, shapes = compare_keys(model, state_dict)
    if missing or unexpected or shapes:
        lines = [f"checkpoint {path}{where} does not match {what}:"]
        if missing:
            lines.append(f"  missing keys ({len(missing)}): {_listing(missing)}")
        if unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): {_listing(unexpected)}")
        if shapes:
            shown = [f"{k} file {tuple(a)} vs model {tuple(b)}" for k, a, b in shapes]
            lines.append(f"  shape mismatches ({len(shapes)}): {_listing(shown, 6)}")
        cause = diagnose(missing, unexpected, shapes) if diagnose is not None else None
        lines.append(f"  likely cause: {cause}" if cause else "  likely cause: a different architecture or config than the one given")
        raise CheckpointError("\n".join(lines))
    model.load_state_dict(state_dict, strict=True, assign=assign)
    if assign:
        left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
        if left:
            raise CheckpointError(f"checkpoint {path}{where}: internal error, tensors left unloaded: {_listing(left)}")


def tensors_of(module: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of ``module.state_dict()`` (what the authors' ``torch.save`` writes)."""
    return {k: v.detach().to("cpu").clone() for k, v in module.state_dict().items()}


def save_atomic(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to a temporary sibling, then rename onto ``path``; returns the path."""
    p = Path(path)
    with atomic_write(p) as fh:
        torch.save(obj, fh)
    return p


def read_yaml_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read one of the authors' YAML config files (MUNIT/UNIT ``configs/*.yaml``) as a dict."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"--config: {p}: no such file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise DataFormatError(f"not valid YAML ({getattr(exc, 'problem', exc)})", str(p), line) from None
    if not isinstance(data, dict):
        raise DataFormatError(f"expected a mapping of option names at the top level; found {type(data).__name__}", str(p))
    return data


def official_options(config: Any, method: str) -> tuple[Mapping[str, Any], str]:
    """The authors' options as a mapping, from their YAML/JSON file path or a dict, with a name for
    error messages (``--config FILE`` or ``config``)."""
    source = "config"
    if isinstance(config, (str, os.PathLike)):
        source = f"--config {config}"
        config = read_yaml_config(config)
    if not isinstance(config, Mapping):
        raise UsageError(f"{method} config: expected the authors' YAML file or a dict of their options; got {type(config).__name__}")
    return config, source


def load_official(method: str, checkpoint: str | os.PathLike, config: Any = None):
    """Build a :class:`~initbench.methods.base.Translator` from the authors' released file.

    ``config`` is the authors' YAML path (MUNIT, UNIT), a dict of their option names
    (CycleGAN ``ngf``/``netG``/``norm``/``no_dropout``, DRIT ``concat``/``nz``), the method's
    config dataclass, or None for the defaults of the released models.
    """
    from initbench.methods.base import get_method

    entry = get_method(method)
    if entry.load_official is None:
        raise UsageError(f"--method: {method!r} has no official checkpoints to load")
    return entry.load_official(checkpoint, config)


def options_to_dataclass(cls: type, values: Mapping[str, Any], *, source: str, ignore_unknown: bool = False):
    """Build the dataclass ``cls`` from option names and values, checking names and types.

    Nested dataclass fields take nested mappings (the YAML ``gen:`` and ``dis:`` blocks). An
    unknown option is an error that names it and lists the known ones, unless ``ignore_unknown``
    (the authors' YAML files also hold data paths and logging options that do not shape a model).
    """
    import dataclasses

    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        if name not in fields:
            if ignore_unknown:
                continue
            raise UsageError(f"{source}: unknown option {name!r}; known options are: {', '.join(fields)}")
        default = _field_default(fields[name])
        if dataclasses.is_dataclass(default):
            if isinstance(value, Mapping):
                value = options_to_dataclass(type(default), value, source=f"{source}: {name}")
            elif not isinstance(value, type(default)):
                raise UsageError(f"{source}: option {name!r}: expected a block of options; found {value!r}")
        else:
            value = _check_type(name, value, default, source)
        kwargs[name] = value
    return cls(**kwargs)


def _field_default(f) -> Any:
    import dataclasses

    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def _check_type(name: str, value: Any, default: Any, source: str) -> Any:
    if default is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        expected = "true/false (or 1/0)"
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        expected = "an integer"
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        expected = "a number"
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
        expected = "a string"
    elif isinstance(default, tuple):
        if isinstance(value, (list, tuple)):
            return tuple(value)
        expected = "a list"
    else:
        return value
    raise UsageError(f"{source}: option {name!r}: expected {expected}; found {value!r}")


def check_image_size(images: torch.Tensor, multiple: int, method: str) -> None:
    """Raise a :class:`UsageError` unless ``images`` is ``B x 3 x H x W`` with H, W multiples of ``multiple``."""
    if images.dim() != 4 or images.size(1) != 3:
        raise UsageError(f"{method}: expected images B x 3 x H x W; got shape {tuple(images.shape)}")
    h, w = images.shape[-2:]
    if h % multiple or w % multiple:
        raise UsageError(
            f"{method}: image height and width must be multiples of {multiple} (the generator down- and "
            f"up-samples); got {h} x {w}. Resize or crop first."
        )


def check_choice(name: str, value: Any, choices: tuple, source: str = "config") -> None:
    """Raise a :class:`UsageError` naming the option when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise UsageError(f"{source}: option {name!r}: expected one of {', '.join(map(str, choices))}; found {value!r}")


def export_checked(translator: nn.Module, out: str | os.PathLike) -> dict[str, Any]:
    """Export ``translator`` in the authors' format, load the result back with ``load_official``
    (strict, the same config) and check that every exported tensor is bit-identical.

    Returns ``{"method", "out", "files": [{"path", "bytes", "sha256"}], "tensors_checked"}``.
    """
    from initbench.methods.base import get_method

    entry = get_method(translator.name)
    if entry.export_official is None:
        raise UsageError(f"--method: {translator.name!r} has no authors' format to export to")
    paths = entry.export_official(translator, out)
    reloaded = entry.load_official(out, translator.config)
    skip: tuple[str, ...] = ()
    if getattr(reloaded, "loaded_directions", None) is not None:  # CycleGAN: a single file holds one direction
        skip = tuple(f"netG_{'A' if d == 'a2b' else 'B'}." for d in ("a2b", "b2a") if d not in reloaded.loaded_directions)
    mine, back = translator.state_dict(), reloaded.state_dict()
    checked = 0
    for key, value in back.items():
        if key.startswith(skip):
            continue
        if key not in mine or not torch.equal(mine[key].detach().cpu(), value.detach().cpu()):
            raise CheckpointError(f"export to {out}: tensor {key} differs after loading the exported file back")
        checked += 1
    files = [{"path": str(p), "bytes": Path(p).stat().st_size, "sha256": sha256_file(p)} for p in paths]
    return {"method": translator.name, "out": str(out), "files": files, "tensors_checked": checked}
