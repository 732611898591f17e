"""Every setting of a quickstart run, checked before any work, and the command line that reproduces it."""

from __future__ import annotations

from dataclasses import dataclass

from initbench.errors import UsageError

#: The methods whose reference models the package bundles (``initbench pretrained``), and the floors.
MODELS = ("init", "munit", "cyclegan")
FLOORS = ("identity", "colour-transfer")
#: The benchmark the bundled models were trained and scored on.
BENCHMARK = "mini-init-v2"
BUNDLED_TASK = "sunny2night"


@dataclass(frozen=True)
class QuickstartOptions:
    """Defaults: mini-INIT v2 (64 frames per domain, 256 x 160, paired ground truth), the bundled models
    and a short INIT run, scored with protocol paired-v1; about 6 minutes on 2 CPU cores."""

    out: str = "quickstart-out"
    device: str = "cpu"
    task: str = BUNDLED_TASK
    seed: int = 0
    per_domain: int = 64
    size: tuple[int, int] = (256, 160)
    #: Train INIT, MUNIT and CycleGAN with the ``small`` recipe instead of using the bundled models.
    from_scratch: bool = False
    #: Steps of each ``--from-scratch`` model (None: the recipe's, as the bundled models were trained).
    scratch_steps: int | None = None
    #: Steps of the short INIT run that shows training works (``small`` preset).
    steps: int = 200
    classifier_epochs: int | None = None
    grid_inputs: int = 3
    grid_styles: int = 3
    lpips_backbone: str = "auto"
    submit_to: str | None = None
    #: torch CPU threads while the quickstart runs (0: torch's default).
    threads: int = 0

    def validate(self) -> "QuickstartOptions":
        from initbench.dataset.release import parse_task

        parse_task(self.task)
        if self.steps < 1:
            raise UsageError(f"--steps: expected a positive number; got {self.steps}")
        if self.scratch_steps is not None and self.scratch_steps < 1:
            raise UsageError(f"--scratch-steps: expected a positive number; got {self.scratch_steps}")
        if self.scratch_steps is not None and not self.from_scratch:
            raise UsageError("--scratch-steps: only with --from-scratch (the bundled models are already trained)")
        if not self.from_scratch and self.task != BUNDLED_TASK:
            raise UsageError(f"--task: the bundled models translate {BUNDLED_TASK}; got {self.task!r} "
                             "(add --from-scratch to train models for another task)")
        if self.lpips_backbone not in ("auto", "pretrained", "random"):
            raise UsageError(f"--lpips-backbone: expected auto, pretrained or random; got {self.lpips_backbone!r}")
        if any(v % 4 for v in self.size):
            raise UsageError(f"--size: both sides must be multiples of 4 (the generators down- and up-sample twice); "
                             f"got {self.size[0]}x{self.size[1]}")
        return self

    @property
    def subjects(self) -> tuple[str, ...]:
        """What is evaluated and reported: the models, the floors, and (beside bundled models) the short run."""
        return MODELS + FLOORS + (() if self.from_scratch else ("short-init",))


def command_line(o: QuickstartOptions) -> str:
    """The exact command that reproduces these results (every setting that changes a number)."""
    parts = [f"initbench quickstart --device {o.device} --task {o.task} --seed {o.seed} --per-domain {o.per_domain}",
             f"--size {o.size[0]}x{o.size[1]} --steps {o.steps} --lpips-backbone {o.lpips_backbone}"]
    if o.classifier_epochs is not None:
        parts.append(f"--classifier-epochs {o.classifier_epochs}")
    if o.from_scratch:
        parts.append("--from-scratch" + (f" --scratch-steps {o.scratch_steps}" if o.scratch_steps else ""))
    return " ".join(parts)
