"""The classifier's faster CPU forwards (channels-last, batch norm folded) give the eager numbers to 1e-6."""

import pytest
import torch
from torch import nn

from initbench.evaluation import inception as IS
from initbench.evaluation.classifier import DomainClassifier, build_classifier, load_classifier, save_classifier
from initbench.evaluation.evaluator import evaluate
from initbench.evaluation.fast_inference import DESCRIPTION, SWITCH, ChannelsLast, fold_batch_norms, speed_up
from initbench.evaluation.protocol import V1
from initbench.evaluation.result import PRECISION


def _randomise_batch_norms(net: nn.Module, seed: int) -> None:
    """Running statistics and affine terms far from the identity, so that folding them has something to fold."""
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) * 2 + 0.1)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.2)


@pytest.fixture(scope="module")
def bn_classifier_file(tmp_path_factory):
    clf, init = build_classifier("small", from_scratch=True, seed=5)
    _randomise_batch_norms(clf, 5)
    path = tmp_path_factory.mktemp("clf_bn") / "clf.pt"
    save_classifier(clf.eval(), path, init=init)
    return path


def _images(n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 40, 64, generator=g) * 2 - 1


def test_fast_classifier_gives_eager_logits_and_metrics_to_1e6(bn_classifier_file, monkeypatch):
    monkeypatch.delenv(SWITCH, raising=False)
    eager, _ = load_classifier(bn_classifier_file)
    fast, how = speed_up(load_classifier(bn_classifier_file)[0], "cpu")
    assert isinstance(fast, ChannelsLast) and how == DESCRIPTION
    assert fast.input_size == eager.input_size and fast.domains == eager.domains
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())  # every batch norm was folded
    x = _images()
    with torch.inference_mode():
        a, b = eager(x).double(), fast(x).double()
        b4 = torch.cat([fast(x[i : i + 4]) for i in range(0, 12, 4)]).double()
    assert a.abs().max() > 0.1  # logits of a real size, so that 1e-6 is a real bound
    assert (a - b).abs().max() <= 1e-6 and (a - b4).abs().max() <= 1e-6
    ga, gb = [a[:6], a[6:]], [b[:6], b[6:]]
    for f in (IS.inception_score, lambda t: IS.inception_score_splits(t, 3)):
        for k, v in f(a).items():
            assert f(b)[k] == pytest.approx(v, abs=1e-6)
    assert IS.conditional_inception_score(gb)["kl"] == pytest.approx(IS.conditional_inception_score(ga)["kl"], abs=1e-6)


def test_folding_an_inception_block_keeps_its_output():
    from torchvision.models.inception import InceptionA

    torch.manual_seed(0)
    block = InceptionA(8, pool_features=4)
    _randomise_batch_norms(block, 1)
    block.eval()
    x = torch.randn(2, 8, 9, 9)
    with torch.no_grad():
        want = block(x)
        assert fold_batch_norms(block) == 7  # its seven BasicConv2d
        got = block(x)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in block.modules())
    assert (want - got).abs().max() <= 1e-5 * want.abs().max()


def test_folding_needs_eval_mode():
    with pytest.raises(ValueError, match="expected a network in eval mode"):
        fold_batch_norms(DomainClassifier("small").train())


def test_switch_and_device_leave_the_classifier_as_loaded(bn_classifier_file, monkeypatch):
    clf, _ = load_classifier(bn_classifier_file)
    monkeypatch.setenv(SWITCH, "1")
    assert speed_up(clf, "cpu") == (clf, None)
    monkeypatch.delenv(SWITCH)
    assert speed_up(clf, "cuda") == (clf, None)  # only CPU forwards are changed
    assert any(isinstance(m, nn.BatchNorm2d) for m in clf.modules())


def test_evaluator_numbers_are_unchanged_and_the_result_says_how(eval_root, tiny_translator_cls, bn_classifier_file,
                                                                 monkeypatch):
    P = V1.with_overrides(num_inputs=2, samples_per_input=6, short_side=40)

    def run():
        return evaluate(tiny_translator_cls(4), eval_root, "sunny2night", protocol=P, classifier=bn_classifier_file,
                        lpips_backbone="random", fid=False)

    monkeypatch.setenv(SWITCH, "1")
    eager = run()
    monkeypatch.delenv(SWITCH)
    fast = run()
    assert eager["precision"] == PRECISION and fast["precision"] == f"{PRECISION}; {DESCRIPTION}"
    assert eager["fingerprint"] == fast["fingerprint"]  # the same classifier file: comparable, ranked together
    for k, v in eager["metrics"].items():
        if v is not None:
            assert fast["metrics"][k] == pytest.approx(v, abs=1e-6), k
    assert eager["metrics"]["cis_kl"] > 0
    assert fast["per_input"]["lpips_pairs"] == eager["per_input"]["lpips_pairs"]  # LPIPS is not touched
