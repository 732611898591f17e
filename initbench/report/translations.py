"""Where a report's translations come from: pluggable sources of models, one per method and task.

A :class:`SourceFinder` answers ``find(method, task)`` with a :class:`ModelSource` or None and the reason.
:class:`Sources` asks its finders in order: today a native checkpoint given per method
(``--ckpt METHOD=PATH``), then the registry's floors (``identity``, ``colour-transfer`` fitted on the
``train`` split of ``--data``, as ``evaluate`` does without a checkpoint). A finder for bundled models
(``--pretrained``) is one more class with the same ``find``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch

from initbench.errors import UsageError


@dataclass
class ModelSource:
    """A translator and what it is (``description``: the checkpoint, or how a floor was built).

    ``train_config``: the checkpoint's training settings (image and crop sizes), empty for a floor.
    """

    method: str
    translator: object
    description: str
    train_config: dict = field(default_factory=dict)
    #: What the report calls it (a bundled model's name, or the method).
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or self.method

    def direction(self, task: str) -> str:
        """``a2b`` for the model's task, ``b2a`` for its reverse; UsageError for any other task."""
        from initbench.training.direction import resolve_direction

        return resolve_direction(self.translator, task=task)[0]

    @torch.inference_mode()
    def outputs(self, image: torch.Tensor, task: str, k: int, seed: int) -> torch.Tensor:
        """``k`` translations of ``image`` (``3 x H x W`` in [-1, 1]) for ``task``: ``k x 3 x H x W`` (1 row for a
        deterministic method). Styles drawn from ``torch.Generator().manual_seed(seed)``, as the evaluator draws
        an input's samples (``seed = style_seed + input index`` gives its first ``k`` samples)."""
        t = self.translator
        direction = self.direction(task)
        x = image[None].to(t.device)
        content = t.encode(x, direction=direction)
        if not t.is_multimodal:
            return t.decode(content, direction=direction).clamp(-1, 1).cpu()
        style = t.sample_style(k, generator=torch.Generator().manual_seed(seed), device=t.device)
        return t.decode(t.repeat_content(content, k), direction=direction, style=style).clamp(-1, 1).cpu()


def source_from_checkpoint(blob: dict, path, name: str, device: str, description: str) -> ModelSource:
    """The :class:`ModelSource` of a loaded checkpoint ``blob`` (read from ``path``), called ``name`` in the report."""
    from initbench.training.checkpoints import build_from_checkpoint

    model = build_from_checkpoint(blob, path=str(path))
    tc = blob.get("train_config") or {}
    model.task = tc.get("task")
    return ModelSource(blob.get("method"), model.to(device).eval(), description, dict(tc), name=name)


class SourceFinder(Protocol):
    def find(self, method: str, task: str, scored: frozenset[str] = frozenset()) -> tuple[ModelSource | None, str]:
        """``(source, "")`` or ``(None, why there is none)``; ``scored``: the sha256s of the checkpoints the
        subject's results scored (empty: unknown)."""


def parse_ckpt_options(items: list[str] | tuple[str, ...]) -> dict[str, Path]:
    """``["init=runs/a/checkpoint.pt", ...]`` -> ``{method: path}``; UsageError naming ``--ckpt`` otherwise."""
    out: dict[str, Path] = {}
    for item in items:
        method, sep, path = item.partition("=")
        if not sep or not method or not path:
            raise UsageError(f"--ckpt: expected METHOD=PATH (e.g. init=runs/init/checkpoint.pt); got {item!r}")
        if method in out:
            raise UsageError(f"--ckpt: method {method!r} given twice")
        if not Path(path).is_file():
            raise UsageError(f"--ckpt {item}: expected a checkpoint file; {path} does not exist")
        out[method] = Path(path)
    return out


class CheckpointFinder:
    """Native checkpoints given per method; each is loaded once (its ``train_config`` kept)."""

    def __init__(self, ckpts: dict[str, Path], device: str = "cpu"):
        self.ckpts, self.device = ckpts, device
        self._loaded: dict[str, ModelSource] = {}

    def find(self, name: str, task: str, scored: frozenset[str] = frozenset()) -> tuple[ModelSource | None, str]:
        """``name``: a method name, another name results are known by (a bundled model's), or a subject with a
        recipe note (``init [shuffle_boxes true]``): its own ``--ckpt`` if given, else its method's when that file
        is one of the checkpoints ``scored`` (so one method's checkpoint never stands in for another recipe)."""
        method = name if name in self.ckpts else name.split(" [", 1)[0]
        if method not in self.ckpts:
            return None, f"no --ckpt {name}=PATH given"
        if method != name:
            from initbench.digests import sha256_file

            if sha256_file(self.ckpts[method]) not in scored:
                return None, (f"--ckpt {method}={self.ckpts[method]} is not a checkpoint the results of {name} "
                              f"scored; give --ckpt '{name}=PATH'")
        if method not in self._loaded:
            from initbench.methods.base import method_names
            from initbench.training.checkpoints import load_checkpoint

            path = self.ckpts[method]
            blob = load_checkpoint(path, option=f"--ckpt {method}=")
            if method in method_names() and blob.get("method") != method:
                raise UsageError(f"--ckpt {method}={path}: the checkpoint is a {blob.get('method')!r} model, not {method!r}")
            task = (blob.get("train_config") or {}).get("task")
            self._loaded[method] = source_from_checkpoint(blob, path, method, self.device,
                                                          f"checkpoint {path} (step {blob.get('step')}, trained for {task})")
        return self._loaded[method], ""


class PretrainedFinder:
    """Bundled reference models (``initbench pretrained``), found by the name their results record."""

    def __init__(self, device: str = "cpu"):
        self.device = device
        self._loaded: dict[str, ModelSource] = {}

    def find(self, name: str, task: str, scored: frozenset[str] = frozenset()) -> tuple[ModelSource | None, str]:
        from initbench.pretrained import catalogue_entries, resolve_pretrained

        if name not in {e["name"] for e in catalogue_entries()}:
            return None, ""
        if name not in self._loaded:
            from initbench.training.checkpoints import load_checkpoint

            pm = resolve_pretrained(name)
            blob = load_checkpoint(pm.path, option=f"--pretrained {name}")
            self._loaded[name] = source_from_checkpoint(blob, pm.path, name, self.device,
                                                        f"bundled model {name} (sha256 {pm.sha256[:12]})")
        return self._loaded[name], ""


class FloorFinder:
    """The registry's floors without a checkpoint, built per task on ``root`` (colour-transfer fitted there)."""

    def __init__(self, root: str | os.PathLike | None, split: str = "v1", short_side: int | None = None):
        self.root, self.split, self.short_side = root, split, short_side
        self._built: dict[tuple[str, str], ModelSource] = {}

    def find(self, method: str, task: str, scored: frozenset[str] = frozenset()) -> tuple[ModelSource | None, str]:
        from initbench.evaluation.floors import FLOORS, build_floor

        if method not in FLOORS:
            return None, f"no --ckpt {method}=PATH given"
        if self.root is None and method != "identity":
            return None, f"{method} is fitted on the data: give --data"
        if (method, task) not in self._built:
            model, settings = build_floor(method, self.root or ".", task, split=self.split, short_side=self.short_side)
            how = "fitted on the train split of --data" if settings.get("fitted_at_evaluation") else "no weights"
            self._built[method, task] = ModelSource(method, model.eval(), f"registry floor ({how})")
        return self._built[method, task], ""


class Sources:
    """Finders asked in order; the first source found wins; otherwise every finder's reason, joined."""

    def __init__(self, finders: list[SourceFinder]):
        self.finders = finders

    def find(self, method: str, task: str, scored: frozenset[str] = frozenset()) -> tuple[ModelSource | None, str]:
        reasons = []
        for f in self.finders:
            src, why = f.find(method, task, scored)
            if src is not None:
                return src, ""
            if why and why not in reasons:
                reasons.append(why)
        return None, "; ".join(reasons) or "no model"

    def models(self) -> list[ModelSource]:
        """The checkpoint models already resolvable (for the style-space figure)."""
        out = []
        for f in self.finders:
            if isinstance(f, CheckpointFinder):
                out.extend(f.find(m, "")[0] for m in f.ckpts)
        return out
