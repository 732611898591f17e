"""The ground truth under other latent styles: what a perfect multimodal translator's samples would be.

A ground-truth file of the synthetic mini-INIT v2 is one rendering of the target domain with one
drawn style (:mod:`initbench.dataset.synthetic_v2`). Re-rendering the same frame (same street, same
objects, same boxes) with other style seeds gives more samples of the *true* conditional
distribution; their LPIPS diversity (pairing ``munit``) is the ground truth's own diversity, the
reference a multimodal model's ``lpips_diversity`` is read against.

The tree does not record the parameters it was drawn with, so the caller gives them
(``per_domain``, ``seed``, ``size`` of ``initbench synth``); :meth:`TruthStyles.check` re-renders each
ground-truth file with its recorded style and refuses parameters that do not reproduce it byte for byte.
Sample ``k`` of an input uses the style seed drawn from ``[seed, drive, frame, 23, source, target, k]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from initbench.dataset import transforms as T
from initbench.dataset.png import read_rgb
from initbench.dataset.release import DOMAINS
from initbench.errors import UsageError


class TruthStyles:
    """Renders the ground truth of test inputs of a synthetic v2 tree under K style seeds."""

    def __init__(self, per_domain: int, seed: int, size: tuple[int, int]):
        from initbench.dataset.synthetic import plan_frames

        self.seed, self.size = int(seed), (int(size[0]), int(size[1]))
        self.params = {"per_domain": int(per_domain), "seed": self.seed, "size": list(self.size)}
        plans = plan_frames(per_domain, seed)
        self._plan = {p.key: p for p in plans}
        self._drive: dict[int, list] = {}
        for p in plans:
            self._drive.setdefault(p.drive_index, []).append(p)
        self._scenes: dict[int, object] = {}

    def _render(self, key: str, target: str, style_seed: int) -> torch.Tensor:
        from initbench.dataset.synthetic import _mix
        from initbench.dataset.synthetic_v2 import render_v2, scene_for

        p = self._plan.get(key)
        if p is None:
            raise UsageError(f"--synth-params: {key} is not a frame of a tree drawn with {self.params}")
        if p.drive_index not in self._scenes:
            self._scenes[p.drive_index] = scene_for(_mix(self.seed, p.drive_index), self._drive[p.drive_index])
        img, _, _ = render_v2(self._scenes[p.drive_index], target, p.frame, self.size, style_seed)
        return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)

    def check(self, root: Path, key: str, target: str, truth: str) -> None:
        """Refuse parameters that do not reproduce the ground-truth file ``truth`` of input ``key``."""
        from initbench.dataset.synthetic_v2 import style_seed

        p = self._plan.get(key)
        source = key.split("/", 1)[0]
        ok = p is not None and torch.equal(
            self._render(key, target, style_seed(self.seed, p.drive_index, p.frame, target, source=source)),
            read_rgb(Path(root) / truth))
        if not ok:
            raise UsageError(f"--synth-params: expected the parameters the tree was drawn with; {self.params} do not "
                             f"reproduce {Path(root) / truth}")

    def samples(self, key: str, target: str, k: int, short_side: int | None = None) -> torch.Tensor:
        """``k x 3 x H x W`` in [-1, 1]: the input's ground truth under ``k`` style seeds."""
        p = self._plan[key]
        src, tgt = DOMAINS.index(key.split("/", 1)[0]), DOMAINS.index(target)
        out = []
        for s in range(k):
            seed = int(np.random.default_rng([self.seed, p.drive_index, p.frame, 23, src, tgt, s]).integers(0, 2**62))
            img = self._render(key, target, seed)
            if short_side is not None:
                img, _ = T.resize_short_side(img, torch.zeros(0, 5), short_side)
            out.append(T.to_unit_range(img))
        return torch.stack(out)
