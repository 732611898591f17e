"""One function decides conformance; each reason on its own, and the data fingerprint."""

from dataclasses import asdict, replace

import pytest

from initbench.evaluation.classifier import RECIPES
from initbench.evaluation.conformance import classifier_reasons, conformance, data_fingerprint
from initbench.evaluation.protocol import V1

PROTOCOL_CLF = {"arch": "inception_v3", "init": "imagenet:" + "0" * 64, "recipe": asdict(RECIPES["inception_v3"])}
GOOD = dict(task="sunny2night", test_images=100, lpips_backbone="pretrained", classifier_info=PROTOCOL_CLF,
            data_fingerprint="f" * 64)


def test_the_protocol_setting_is_conformant():
    assert conformance(V1, **GOOD) == (True, [])
    assert conformance(V1, **{**GOOD, "classifier_info": None}) == (True, [])  # IS/CIS null, skipped says why


@pytest.mark.parametrize("change, reason", [
    ({"lpips_backbone": "random"}, "lpips backbone is random (protocol: pretrained AlexNet)"),
    ({"test_images": 5}, "5 test images, fewer than num_inputs 100"),
    ({"task": "night2rainy"}, "task night2rainy is not one of protocol v1's tasks"),
    ({"data_fingerprint": None}, "the data cannot be identified (no data_fingerprint)"),
    ({"classifier_info": {"arch": "small", "init": "scratch", "recipe": asdict(RECIPES["small"])}},
     "classifier is small (protocol: inception_v3); classifier was trained from scratch (protocol: fine-tuned from ImageNet)"),
    ({"classifier_info": {**PROTOCOL_CLF, "init": "scratch"}},
     "classifier was trained from scratch (protocol: fine-tuned from ImageNet)"),
    ({"classifier_info": {**PROTOCOL_CLF, "recipe": {**PROTOCOL_CLF["recipe"], "epochs": 1, "lr": 0.1}}},
     "classifier recipe overridden: epochs, lr"),
    ({"classifier_info": {"arch": "inception_v3", "init": None, "recipe": None}},
     "classifier provenance is unknown (no init or recipe recorded)"),
])
def test_each_reason(change, reason):
    ok, reasons = conformance(V1, **{**GOOD, **change})
    assert not ok and "; ".join(reasons) == reason


def test_overrides_are_a_reason():
    ok, reasons = conformance(V1.with_overrides(num_inputs=3, short_side=40), **{**GOOD, "test_images": 3})
    assert not ok and reasons == ["protocol overridden: num_inputs=3, short_side=40"]
    assert conformance(replace(V1, num_inputs=3), **{**GOOD, "test_images": 3}) == (True, [])


def test_classifier_file_provenance(classifier_file, eval_root, tmp_path):
    from initbench.evaluation.classifier import load_classifier

    _, info = load_classifier(classifier_file)  # the small CNN from scratch, the default recipe not recorded
    assert classifier_reasons(info) == ["classifier is small (protocol: inception_v3)",
                                        "classifier provenance is unknown (no init or recipe recorded)"]


def test_data_fingerprint_is_of_the_sorted_keys_and_the_split():
    fp = data_fingerprint("v1", ["sunny/b.png", "sunny/a.png"], ["night/x.png"])
    assert fp == data_fingerprint("v1", ["sunny/a.png", "sunny/b.png"], ["night/x.png"])
    assert len({fp, data_fingerprint("paper", ["sunny/a.png", "sunny/b.png"], ["night/x.png"]),
                data_fingerprint("v1", ["sunny/a.png"], ["night/x.png"]),
                data_fingerprint("v1", ["sunny/a.png", "sunny/b.png"], [])}) == 4
    import hashlib

    doc = b'{"inputs":["sunny/a.png","sunny/b.png"],"reference":["night/x.png"],"split":"v1"}'
    assert fp == hashlib.sha256(doc).hexdigest()
