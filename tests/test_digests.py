"""Content digests: equal for equal content whatever the container, different for any real change."""

from __future__ import annotations

import torch

from initbench.digests import results_digest, sha256_tensors


def _state():
    g = torch.Generator().manual_seed(0)
    return {"conv.weight": torch.randn(4, 3, 3, 3, generator=g), "conv.bias": torch.zeros(4),
            "bn.num_batches_tracked": torch.tensor(7), "mask": torch.tensor([True, False])}


def test_tensor_digest_ignores_order_layout_and_copies():
    a = _state()
    b = dict(reversed(list(a.items())))
    b["conv.weight"] = a["conv.weight"].permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)  # same values, other strides
    assert not b["conv.weight"].is_contiguous()
    assert sha256_tensors(a) == sha256_tensors(b) == sha256_tensors({k: v.clone() for k, v in a.items()})


def test_tensor_digest_sees_every_kind_of_change():
    base = sha256_tensors(_state())
    changes = {
        "value": lambda s: s["conv.bias"].__setitem__(0, 1e-7),
        "dtype": lambda s: s.__setitem__("conv.bias", s["conv.bias"].double()),
        "shape": lambda s: s.__setitem__("conv.bias", s["conv.bias"].reshape(2, 2)),
        "name": lambda s: s.__setitem__("conv.b", s.pop("conv.bias")),
        "missing": lambda s: s.pop("mask"),
    }
    seen = {base}
    for what, change in changes.items():
        s = _state()
        change(s)
        digest = sha256_tensors(s)
        assert digest not in seen, what
        seen.add(digest)


def test_results_digest_leaves_out_how_and_where_only():
    r = {"metrics": {"fid": 1.0}, "timings": {"total": 3.2}, "task": "sunny2night", "checkpoint_sha256": "a" * 64,
         "weights_sha256": "b" * 64}
    assert results_digest(r) == results_digest({**r, "timings": {"total": 9.9}, "checkpoint_sha256": "c" * 64})
    assert results_digest(r) != results_digest({**r, "metrics": {"fid": 1.0000001}})
    assert results_digest(r) != results_digest({**r, "weights_sha256": "d" * 64})
