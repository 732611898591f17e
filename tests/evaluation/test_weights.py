import hashlib

import pytest
from click.testing import CliRunner

from initbench.cli import main
from initbench.errors import WeightsMissingError
from initbench.evaluation import weights as W


def _made_file(tmp_path):
    data = bytes(range(256)) * 64
    prefix = hashlib.sha256(data).hexdigest()[:8]
    name = f"made-{prefix}.pth"
    (tmp_path / name).write_bytes(data)
    return W.WeightsFile("made", name, "https://example.invalid/" + name, "test", W.hub_hash_prefix(name)), prefix


def test_present_and_valid_file_is_intact(tmp_path):
    w, prefix = _made_file(tmp_path)
    assert w.sha256_prefix == prefix
    row = W.inspect(w, tmp_path)
    assert row["status"] == "intact" and row["sha256"].startswith(prefix)
    assert W.inspect(w, tmp_path, check_hash=False)["status"] == "present"


def test_corrupt_file(tmp_path):
    w, _ = _made_file(tmp_path)
    p = tmp_path / w.filename
    p.write_bytes(p.read_bytes()[:-1] + b"x")
    assert W.inspect(w, tmp_path)["status"] == "corrupt"


def test_missing_file(tmp_path):
    w, _ = _made_file(tmp_path)
    (tmp_path / w.filename).unlink()
    row = W.inspect(w, tmp_path)
    assert row["status"] == "missing" and row["path"] == str(tmp_path / w.filename)


def test_table_names_every_file_with_its_convention():
    assert {w.filename for w in W.WEIGHTS.values()} >= {
        "alexnet-owt-7be5be79.pth", "weights-inception-2015-12-05-6726825d.pth", "inception_v3_google-0cc3c7bd.pth"}
    assert W.WEIGHTS["alexnet"].sha256_prefix == "7be5be79"
    assert W.WEIGHTS["inception-v3"].sha256_prefix == "0cc3c7bd"
    assert W.WEIGHTS["inception-fid"].sha256_prefix is None  # torch-fidelity never checks it: not claimed
    assert W.inspect(W.WEIGHTS["lpips-alex-v0.1"])["status"] == "intact"


def test_resolve_offline_missing_names_file_and_place(tmp_path):
    with pytest.raises(WeightsMissingError) as exc:
        W.resolve("inception-v3", tmp_path, offline=True)
    assert "inception_v3_google-0cc3c7bd.pth" in str(exc.value)
    assert str(tmp_path / "inception_v3_google-0cc3c7bd.pth") in str(exc.value)


def test_cli_offline_fails_naming_each_missing_file(tmp_path):
    r = CliRunner().invoke(main, ["weights", "--offline", "--dir", str(tmp_path), "--json", "-"])
    assert r.exit_code == 1
    assert '"status": "missing"' in r.stdout
    for name in ("alexnet-owt-7be5be79.pth", "weights-inception-2015-12-05-6726825d.pth"):
        assert f"{name}: place it at" in r.stderr.replace("\n", "")
