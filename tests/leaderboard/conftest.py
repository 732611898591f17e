"""Fixtures of the leaderboard tests: evaluator results files (contract 6) built on the spot."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SHA_A = "a" * 64
SHA_B = "b" * 64
SHA_C = "c" * 64


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def make_results(tmp_path):
    """``make_results(seed, lpips=[...], cis_kl=[...], **overrides) -> Path`` of a results JSON whose
    metrics follow from its per-input values (as the evaluator writes them)."""

    def make(seed: int, lpips=(0.2, 0.3), cis_kl=(0.01, 0.03), name=None, **overrides) -> Path:
        lp, ck = list(lpips), list(cis_kl)
        res = {
            "protocol": "v1",
            "task": "sunny2night",
            "method": "munit",
            "checkpoint_sha256": f"{seed:064x}",
            "seed": seed,
            "metrics": {
                "lpips_diversity": sum(lp) / len(lp),
                "is_exp": 1.1 + seed / 100,
                "is_kl": None,
                "is_exp_10split": None,
                "cis_exp": math.exp(sum(ck) / len(ck)),
                "cis_kl": sum(ck) / len(ck),
                "fid": 100.0 - seed,
                "kid": None,
            },
            "per_input": {"lpips": lp, "cis_kl": ck},
            "fingerprint": {"lpips": SHA_A, "classifier": SHA_B, "inception": SHA_C},
            "versions": {"initbench": "0.1.0", "torch": "2.x"},
            "device": "cpu",
            "timings": {"total_s": 1.0},
            "params": 12345,
        }
        for k, v in overrides.items():
            if k == "metrics":
                res["metrics"].update(v)
            else:
                res[k] = v
        path = tmp_path / (name or f"results-seed{seed}.json")
        path.write_text(json.dumps(res, indent=1))
        return path

    return make


@pytest.fixture
def measured_entry(tmp_path, make_results):
    """A valid measured entry of three seeds on init-v1, written as tmp_path/entry.json: (path, dict)."""
    from initbench.leaderboard.results import build_entry

    paths = [make_results(s, lpips=(0.2 + s / 10, 0.3), cis_kl=(0.01 * (s + 1), 0.02)) for s in (0, 1, 2)]
    entry = build_entry(paths, benchmark="init-v1", code_url="https://example.org/code@abc",
                        command="initbench train ...", entry_dir=tmp_path, created="2026-11-26T00:00:00+00:00")
    path = tmp_path / "entry.json"
    path.write_text(json.dumps(entry, indent=1))
    return path, entry
