import pytest
import torch

from initbench.errors import CheckpointError, UsageError, WeightsMissingError
from initbench.evaluation import weights as W
from initbench.evaluation.classifier import build_classifier, load_classifier, save_classifier, train_classifier


def test_small_classifier_beats_chance_clearly(eval_root, tmp_path):
    out = tmp_path / "clf.pt"
    report = train_classifier(eval_root, out, small=True, short_side=40, epochs=3)
    # 4 domains: chance is 0.25; the largest test domain (night) alone is about half of the test set.
    assert report["accuracy"] >= 0.7
    assert sum(v >= 0.5 for v in report["per_domain_accuracy"].values()) >= 3
    conf = torch.tensor(report["confusion"])
    assert conf.shape == (4, 4) and int(conf.sum()) == sum(report["test_counts"].values()) > 0
    assert report["init"] == "scratch" and report["recipe"]["short_side"] == 40
    clf, info = load_classifier(out)
    assert info["sha256"] == report["sha256"] and info["arch"] == "small"
    assert info["file_sha256"] == W.sha256_file(out) != info["sha256"]
    x = torch.rand(2, 3, 40, 64) * 2 - 1
    assert clf(x).shape == (2, 4)

    # The identity is the weights': the same weights saved with another report (its training time
    # differs run to run) keep the fingerprint; one changed weight changes it.
    again = tmp_path / "again.pt"
    assert save_classifier(clf, again, report={**report, "seconds": report["seconds"] + 1.0}) == info["sha256"]
    assert W.sha256_file(again) != W.sha256_file(out) and load_classifier(again)[1]["sha256"] == info["sha256"]
    with torch.no_grad():
        next(clf.net.parameters()).view(-1)[0] += 1e-3
    assert save_classifier(clf, tmp_path / "changed.pt") != info["sha256"]


def test_load_rejects_other_files(tmp_path):
    torch.save({"weights": torch.zeros(1)}, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="expected a classifier file"):
        load_classifier(tmp_path / "x.pt")
    with pytest.raises(UsageError, match="--classifier: file not found"):
        load_classifier(tmp_path / "missing.pt")


def test_inception_without_imagenet_weights_offline_says_from_scratch(tmp_path):
    with pytest.raises(WeightsMissingError, match=r"inception_v3_google-0cc3c7bd\.pth.*--from-scratch"):
        build_classifier("inception_v3", from_scratch=False, weights_dir=tmp_path, offline=True)
