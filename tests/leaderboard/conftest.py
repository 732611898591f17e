"""Fixtures of the leaderboard tests: evaluator results files (contract 6) built on the spot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SHA_A = "a" * 64
SHA_B = "b" * 64
SHA_C = "c" * 64


@pytest.fixture
def repo_root() -> Path:
    return REPO


FINGERPRINT = {"lpips_backbone": SHA_A, "lpips_linear": SHA_B, "classifier": SHA_C,
               "classifier_arch": "inception_v3", "fid_features": "d" * 64}


@pytest.fixture
def make_results(tmp_path):
    """``make_results(seed, lpips=[...], **overrides) -> Path``: a results JSON as the evaluator writes it
    (a conformant one; ``overrides`` replace top-level keys, ``None`` removes one: an older evaluator's file),
    its IS/CIS computed by the evaluator's own functions from seeded random logits (3 inputs x 4 samples)."""
    import torch

    from initbench.evaluation import inception as IS
    from initbench.evaluation.conformance import data_fingerprint

    def make(seed: int, lpips=(0.2, 0.3), name=None, **overrides) -> Path:
        g = torch.Generator().manual_seed(seed)
        groups = [torch.randn(4, 4, generator=g, dtype=torch.float64) * 2 for _ in range(3)]
        is1 = IS.inception_score(torch.cat(groups))
        cis = IS.conditional_inception_score(groups)
        summaries = [IS.input_summary(x) for x in groups]
        pairs = [[float(v), float(v) + 0.01] for v in lpips]
        flat = [v for r in pairs for v in r]
        keys = [f"sunny/{i}.png" for i in range(len(pairs))]
        data = {"split": "v1", "inputs": keys, "reference": ["night/0.png", "night/1.png"]}
        res = {
            "protocol": "v1",
            "protocol_spec": {"version": "v1", "pairing": "munit", "overrides": {}},
            "conformant": True,
            "nonconformant_reasons": [],
            "task": "sunny2night",
            "direction": "a2b",
            "model_task": "sunny2night",
            "data": data,
            "data_fingerprint": data_fingerprint(data["split"], data["inputs"], data["reference"]),
            "method": "munit",
            "checkpoint_sha256": f"{seed + 1:064x}",
            "seed": {"input_seed": 0, "style_seed": 1},
            "training_seed": seed,
            "metrics": {
                "lpips_diversity": sum(flat) / len(flat),
                "is_exp": is1["exp"], "is_kl": is1["kl"], "is_exp_10split": None,
                "cis_exp": cis["exp"], "cis_kl": cis["kl"],
                "fid": 100.0 - seed, "kid": None,
            },
            "per_input": {
                "keys": keys,
                "lpips": [sum(r) / 2 for r in pairs], "lpips_pairs": pairs,
                "cis_kl": [x["cis_kl"] for x in summaries], "marginal": [x["marginal"] for x in summaries],
                "neg_entropy": [x["neg_entropy"] for x in summaries],
            },
            "fingerprint": dict(FINGERPRINT),
            "versions": {"initbench": "0.1.0", "torch": "2.x"},
            "device": "cpu",
            "timings": {"total": 1.0},
            "params": 12345,
        }
        for k, v in overrides.items():
            if k == "metrics":
                res["metrics"].update(v)
            elif v is None and k in ("direction", "model_task", "data", "data_fingerprint", "nonconformant_reasons"):
                del res[k]
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

    paths = [make_results(s, lpips=(0.2 + s / 10, 0.3)) for s in (0, 1, 2)]
    entry = build_entry(paths, benchmark="init-v1", code_url="https://example.org/code@abc",
                        command="initbench train ...", entry_dir=tmp_path, created="2026-11-26T00:00:00+00:00")
    path = tmp_path / "entry.json"
    path.write_text(json.dumps(entry, indent=1))
    return path, entry
