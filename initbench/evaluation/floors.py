"""The floor methods at evaluation time: ``identity`` and ``colour-transfer`` without a checkpoint.

``initbench evaluate --method identity`` needs nothing; ``--method colour-transfer`` without ``--ckpt``
fits its global colour map here, on the ``train`` images of the task's two domains under the
protocol's split, read through the dataset layer (:class:`initbench.dataset.loaders.DomainImages`, no
augmentation, no resize unless the protocol resizes). The fit is deterministic (sorted keys, strided
pixels, exact quantiles), so the same data gives the same map; its settings and the sha256 of the
fitted map go in the result (``method_settings``).
"""

from __future__ import annotations

import dataclasses
import os

from initbench.dataset.release import parse_task
from initbench.digests import sha256_tensors
from initbench.errors import UsageError

#: Methods ``evaluate`` can run without a checkpoint.
FLOORS = ("identity", "colour-transfer")


def _train_images(root, domain: str, assignment: dict[str, str], index, short_side: int | None):
    from initbench.dataset.loaders import DomainImages

    ds = DomainImages(root, domain, split="train", size=short_side, augment=False, max_boxes=None,
                      split_map=assignment, index=index)
    return ds, (ds[i]["image"][None] for i in range(len(ds)))


def build_floor(method: str, root: str | os.PathLike, task: str, *, split: str, short_side: int | None,
                skip_invalid: bool = False):
    """``(translator, settings)`` of a floor method for ``task`` on ``root``.

    ``settings`` records what the floor was built from: for ``colour-transfer`` the config, the split, the
    number of training images per domain and the sha256 of the fitted map's tensors. The translator's ``task``
    is ``task`` (a2b maps the task's source to its target).
    """
    from initbench.methods.base import get_method

    if method not in FLOORS:
        raise UsageError(f"--ckpt: method {method!r} needs a checkpoint (only {', '.join(FLOORS)} run without one)")
    entry = get_method(method)
    model = entry.cls()
    model.task = task
    settings: dict = {"fitted_at_evaluation": method == "colour-transfer", "config": dataclasses.asdict(model.config)}
    if method == "colour-transfer":
        from initbench.dataset.index import index_root
        from initbench.evaluation.images import split_of_root

        source, target = parse_task(task)
        index = index_root(root, skip_invalid=skip_invalid)
        assignment = split_of_root(root, split)
        ds_a, a = _train_images(root, source, assignment, index, short_side)
        ds_b, b = _train_images(root, target, assignment, index, short_side)
        model.fit(a, b)
        settings.update(split=split, split_part="train", short_side=short_side,
                        train_images={source: len(ds_a), target: len(ds_b)},
                        fitted_sha256=sha256_tensors(model.state_dict()))
    return model, settings
