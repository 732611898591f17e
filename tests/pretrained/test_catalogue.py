"""The catalogue: the shipped one is valid and its files intact; the schema and the checks beyond it refuse what is wrong."""

from __future__ import annotations

import copy

import pytest

from initbench.errors import DataFormatError
from initbench.pretrained.catalogue import (MAX_FILE_BYTES, catalogue_problems, catalogue_schema, empty_catalogue, file_name,
                                            load_catalogue)


def test_the_shipped_catalogue_is_valid_and_its_files_intact(monkeypatch):
    from jsonschema import Draft202012Validator

    from initbench.pretrained import inspect

    monkeypatch.delenv("INITBENCH_PRETRAINED_DIR", raising=False)
    monkeypatch.delenv("INITBENCH_PRETRAINED_CATALOGUE", raising=False)
    Draft202012Validator.check_schema(catalogue_schema())
    doc = load_catalogue()  # the package's own (may list no model yet)
    assert not catalogue_problems(doc)
    assert [inspect(m)["status"] for m in doc["models"]] == ["intact"] * len(doc["models"])
    assert sum(m["size_bytes"] for m in doc["models"]) <= 30 * 1024 * 1024


def test_file_names_follow_the_model_names():
    assert file_name("mini-init-v2/sunny2night/init") == "mini-init-v2__sunny2night__init.pt"
    assert file_name("mini-init-v2/night2sunny/init-no-ds") == "mini-init-v2__night2sunny__init-no-ds.pt"


def _with(entry: dict, **changes) -> dict:
    doc = empty_catalogue()
    doc["models"] = [{**copy.deepcopy(entry), **changes}]
    return doc


def test_the_bundled_entry_is_valid(catalogue_entry):
    assert catalogue_problems(_with(catalogue_entry)) == []


@pytest.mark.parametrize("changes, expected", [
    ({"method": "munit"}, "$.models[0].name: expected 'mini-init-v2/sunny2night/munit'"),
    ({"variant": "no-ds"}, "$.models[0].name: expected 'mini-init-v2/sunny2night/init-no-ds'"),
    ({"file": "other.pt"}, "$.models[0].file: expected 'mini-init-v2__sunny2night__init.pt'; found 'other.pt'"),
    ({"sha256": "ABC"}, "$.models[0].sha256: 'ABC' does not match"),
    ({"size_bytes": MAX_FILE_BYTES + 1}, f"$.models[0].size_bytes: {MAX_FILE_BYTES + 1} is greater than the maximum"),
    ({"name": "sunny2night/init"}, "$.models[0].name: 'sunny2night/init' does not match"),
    ({"extra": 1}, "$.models[0]: Additional properties are not allowed ('extra' was unexpected)"),
])
def test_what_is_wrong_is_named_by_its_path(catalogue_entry, changes, expected):
    problems = catalogue_problems(_with(catalogue_entry, **changes))
    assert any(p.startswith(expected) for p in problems), problems


def test_a_name_listed_twice_is_refused(catalogue_entry):
    doc = _with(catalogue_entry)
    doc["models"].append(copy.deepcopy(catalogue_entry))
    assert catalogue_problems(doc) == ["$.models[1].name: 'mini-init-v2/sunny2night/init' is listed twice"]


def test_an_invalid_catalogue_file_names_the_file(tmp_path, catalogue_entry):
    import json

    p = tmp_path / "catalogue.json"
    p.write_text(json.dumps(_with(catalogue_entry, method="munit")))
    with pytest.raises(DataFormatError) as exc:
        load_catalogue(p)
    assert str(exc.value).startswith(f"{p}: not a valid catalogue of reference models: $.models[0].name: expected")
    p.write_text("{")
    with pytest.raises(DataFormatError, match="not a readable catalogue JSON"):
        load_catalogue(p)


def test_an_installed_package_carries_the_catalogue_and_the_files(tmp_path):
    """setuptools' build_py (what a wheel holds) copies catalogue.json, its schema and files/*.pt."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    src = tmp_path / "src"
    shutil.copytree(repo / "initbench", src / "initbench", ignore=shutil.ignore_patterns("__pycache__", "*.pt"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(repo / name, src / name)
    (src / "initbench/pretrained/files").mkdir(exist_ok=True)
    (src / "initbench/pretrained/files/b__t2u__m.pt").write_bytes(b"weights")
    res = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py", "--build-lib",
                          str(tmp_path / "lib")], cwd=src, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    built = tmp_path / "lib/initbench/pretrained"
    assert (built / "files/b__t2u__m.pt").read_bytes() == b"weights"
    assert (built / "catalogue.json").is_file() and (built / "catalogue.schema.json").is_file()
