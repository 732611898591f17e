import pytest
import torch

from initbench.errors import WeightsMissingError
from initbench.evaluation.fid_kid import FeatureStream, fid_kid_datasets, fid_kid_from_features


class TensorDataset(torch.utils.data.Dataset):  # test-only: the reference path takes datasets
    """A dataset of uint8 ``3 x H x W`` tensors, the input form torch-fidelity takes."""

    def __init__(self, images_uint8: torch.Tensor):
        self.x = images_uint8

    def __len__(self):
        return self.x.shape[0]

    def __getitem__(self, i):
        return self.x[i]


def _uint8(n, seed, shift=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, 24, 32, generator=g) * 200 + shift).round().clamp(0, 255).to(torch.uint8)


def test_streamed_features_equal_torch_fidelity_calculate_metrics(tiny_extractor):
    a, b = _uint8(40, 1), _uint8(30, 2, shift=40)
    ref = fid_kid_datasets(TensorDataset(a), TensorDataset(b), extractor=tiny_extractor, layer="feat", kid_subsets=20, kid_subset_size=25)
    stream = FeatureStream(tiny_extractor, "feat", batch_size=7)
    for s in range(0, 40, 9):  # odd chunking: streaming must not change the numbers
        stream.add(a[s : s + 9])
    fb = FeatureStream(tiny_extractor, "feat").features(b)
    ours = fid_kid_from_features(stream.matrix(), fb, kid_subsets=20, kid_subset_size=25)
    assert stream.sha256 == f"extractor:{tiny_extractor}"
    assert ours["fid"] == pytest.approx(ref["fid"], rel=1e-5)
    assert ours["kid"] == pytest.approx(ref["kid"], rel=1e-5)
    assert ours["fid"] > 0.01
    same = fid_kid_from_features(fb, fb.clone(), kid_subsets=5, kid_subset_size=10)
    assert abs(same["fid"]) < 1e-6


def test_inception_missing_offline_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsMissingError, match=r"weights-inception-2015-12-05-6726825d\.pth"):
        FeatureStream(weights_dir=tmp_path, offline=True)
