"""Fixtures of the detection tests: a tiny mini-INIT v2 exported to COCO with ``initbench export coco``."""

from __future__ import annotations

import pytest
from click.testing import CliRunner


@pytest.fixture(scope="session")
def coco_sets(tmp_path_factory):
    """``{"root", "sunny", "night"}``: 4 images per domain at 64 x 40 and the COCO files of its sunny and night images.

    Read-only for tests: copy a file before changing it.
    """
    from initbench.cli import main
    from initbench.dataset.synthetic import synthesize

    base = tmp_path_factory.mktemp("det_coco")
    root = base / "init"
    synthesize(root, per_domain=4, size=(64, 40), seed=0, generator="v2")
    out = {"root": root}
    for domain in ("sunny", "night"):
        ann = base / f"{domain}.json"
        r = CliRunner().invoke(main, ["export", "coco", str(root), str(ann), "--domain", domain])
        assert r.exit_code == 0, r.output
        out[domain] = ann
    return out


@pytest.fixture
def spec(coco_sets):
    """``spec("sunny")`` -> ``"<sunny.json>:<root>"``."""
    return lambda domain, root=None: f"{coco_sets[domain]}:{root or coco_sets['root']}"
