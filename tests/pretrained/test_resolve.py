"""resolve_pretrained: a name to a verified file; unknown names, missing and corrupt files get typed errors saying what
was expected and what was found; each file is hashed once per process."""

from __future__ import annotations

import json

import pytest

from initbench.digests import sha256_file
from initbench.errors import UsageError, WeightsMissingError
from initbench.pretrained import resolve_pretrained
from initbench.pretrained import resolve as R

NAME = "mini-init-v2/sunny2night/init"  # the model the conftest bundles


def test_a_name_resolves_to_its_checked_file(models_dir):
    model = resolve_pretrained(NAME)
    assert model.path == models_dir / "mini-init-v2__sunny2night__init.pt"
    assert model.sha256 == sha256_file(model.path) and model.method == "init"
    assert model.record() == {"name": NAME, "sha256": model.sha256}


def test_an_unknown_name_lists_the_available_ones(models_dir, monkeypatch, tmp_path):
    with pytest.raises(UsageError) as exc:
        resolve_pretrained("mini-init-v2/sunny2night/munit")
    assert str(exc.value) == f"--pretrained: unknown model 'mini-init-v2/sunny2night/munit'; available are: {NAME}"
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"format": "initbench-pretrained-catalogue", "format_version": 1, "models": []}))
    monkeypatch.setenv("INITBENCH_PRETRAINED_CATALOGUE", str(empty))
    with pytest.raises(UsageError, match=r"available are: none \(no model is bundled; catalogue "):
        resolve_pretrained(NAME)


def test_a_corrupt_file_names_the_expected_and_the_found_sha256(models_dir):
    path = models_dir / "mini-init-v2__sunny2night__init.pt"
    expected = sha256_file(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsMissingError) as exc:
        resolve_pretrained(NAME)
    assert str(exc.value) == (f"--pretrained {NAME}: {path} is corrupt: expected sha256 {expected}, "
                              f"found {sha256_file(path)}")
    assert exc.value.exit_code == 2


def test_a_missing_file_names_where_it_was_looked_for(models_dir):
    path = models_dir / "mini-init-v2__sunny2night__init.pt"
    path.unlink()
    with pytest.raises(WeightsMissingError) as exc:
        resolve_pretrained(NAME)
    assert str(exc.value).startswith(f"--pretrained {NAME}: its file is missing: expected {path} (sha256 ")
    assert f"INITBENCH_PRETRAINED_DIR (now {models_dir})" in str(exc.value)


def test_each_file_is_hashed_once_while_it_is_unchanged(models_dir, monkeypatch):
    calls = []
    monkeypatch.setattr(R, "sha256_file", lambda p: calls.append(p) or sha256_file(p))
    monkeypatch.setattr(R, "_HASHED", {})
    for _ in range(3):
        resolve_pretrained(NAME)
    assert len(calls) == 1
    path = models_dir / "mini-init-v2__sunny2night__init.pt"
    path.write_bytes(path.read_bytes() + b"\0")  # changed (size and mtime): hashed again, and found corrupt
    with pytest.raises(WeightsMissingError, match="is corrupt"):
        resolve_pretrained(NAME)
    assert len(calls) == 2
