"""Which of a protocol's tasks one evaluated subject runs (``evaluate --task all``), and why the others are skipped.

A model trained for ``sunny2night`` translates sunny2night (``a2b``) and night2sunny (``b2a``); the
other tasks of the protocol have no generator of it and are skipped, each with a reason. A direction
whose weights the loaded file lacks (``loaded_directions``: e.g. a single CycleGAN generator) is
skipped too. Subjects with no trained task (``--method real``, the floors, the ground truth) run
every task. The rules are :mod:`initbench.training.direction`'s, so ``--task all`` runs exactly the
tasks a single ``--task`` would accept.
"""

from __future__ import annotations

from dataclasses import dataclass

from initbench.dataset.release import parse_task
from initbench.errors import UsageError
from initbench.training.direction import direction_for

#: The value of ``--task`` that runs every task of the protocol.
ALL = "all"


@dataclass(frozen=True)
class TaskPlan:
    """One task of the protocol: run in ``direction``, or skipped (``direction`` None) for ``skip_reason``."""

    task: str
    direction: str | None
    skip_reason: str | None = None

    @property
    def runs(self) -> bool:
        return self.direction is not None


def plan_tasks(tasks, model_task: str | None = None, loaded_directions=("a2b", "b2a"),
               trained: bool = True) -> list[TaskPlan]:
    """A :class:`TaskPlan` per task of ``tasks`` (the protocol's, in its order).

    ``trained`` False (real images, floors, ground truth): every task runs ``a2b``. Otherwise
    ``model_task`` (None: a file that records no task) and ``loaded_directions`` decide, by
    :func:`initbench.training.direction.direction_for`.
    """
    if not trained:
        return [TaskPlan(t, "a2b") for t in tasks]
    if model_task is None:
        # A file that records no task could be any of them; guessing would score the wrong generator.
        raise UsageError("--task all: the checkpoint records no task it was trained for; give --task (or --ckpt-task "
                         "with --official-ckpt)")
    a, b = parse_task(model_task)
    plans = []
    for task in tasks:
        try:
            direction = direction_for(model_task, task)
        except UsageError:
            plans.append(TaskPlan(task, None, f"the model was trained for {model_task} (a = {a}, b = {b}); "
                                              f"it has no generator for {task}"))
            continue
        if direction not in loaded_directions:
            held = ", ".join(sorted(loaded_directions))
            plans.append(TaskPlan(task, None, f"needs the {direction} generator; the loaded file holds only {held}"))
        else:
            plans.append(TaskPlan(task, direction))
    return plans


def skipped(plans: list[TaskPlan]) -> dict[str, str]:
    """``{task: reason}`` of the skipped plans."""
    return {p.task: p.skip_reason for p in plans if not p.runs}
