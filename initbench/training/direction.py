"""Which way a model translates for a task: ``a2b`` for the task it was trained on, ``b2a`` for its reverse.

A model trained for ``sunny2night`` has domain A = sunny and B = night. Evaluating or translating
``night2sunny`` with it uses its ``b2a`` generators; any other task (``sunny2rainy``) is refused,
since no generator of the model was trained for it. The model's task comes from the native
checkpoint (its training config) or, for the authors' files, from ``--ckpt-task``.
"""

from __future__ import annotations

from initbench.dataset.release import parse_task
from initbench.errors import UsageError


def direction_for(model_task: str | None, task: str, option: str = "--task") -> str:
    """``"a2b"`` when ``task`` is ``model_task``, ``"b2a"`` when it is the reverse; else a :class:`UsageError`
    naming both tasks. ``model_task`` None (a file that records no task) is taken as ``task`` itself."""
    source, target = parse_task(task)
    if model_task is None:
        return "a2b"
    a, b = parse_task(model_task)
    if (source, target) == (a, b):
        return "a2b"
    if (source, target) == (b, a):
        return "b2a"
    raise UsageError(
        f"{option} {task}: the model was trained for {model_task} (a = {a}, b = {b}); "
        f"it translates {model_task} (a2b) or {b}2{a} (b2a) only"
    )


def task_for(model_task: str | None, direction: str) -> str | None:
    """The task a ``direction`` of a model trained for ``model_task`` performs (None when the task is unknown)."""
    if model_task is None:
        return None
    a, b = parse_task(model_task)
    return model_task if direction == "a2b" else f"{b}2{a}"


def resolve_direction(translator, task: str | None = None, direction: str | None = None) -> tuple[str, str | None]:
    """``(direction, task)`` for a run of ``translator`` (its ``task`` attribute is the model's task).

    Give ``task`` (checked against the model's) or ``direction`` or neither (``a2b``: the model's own task);
    a direction the translator holds no weights for (``loaded_directions``, e.g. a single CycleGAN
    generator file) is refused here, before any work.
    """
    model_task = translator.task
    if task is not None and direction is not None:
        raise UsageError(f"--direction: give --task or --direction, not both (--task {task} already implies a direction)")
    if task is not None:
        direction = direction_for(model_task, task)
    else:
        direction = direction or "a2b"
        if direction not in ("a2b", "b2a"):
            raise UsageError(f"--direction: expected a2b or b2a; got {direction!r}")
        task = task_for(model_task, direction)
    loaded = translator.loaded_directions
    if direction not in loaded:
        what = f"--task {task} needs" if task else f"--direction {direction} needs"
        raise UsageError(f"{what} the {direction} generator; the loaded file holds only {', '.join(sorted(loaded))}")
    return direction, task
