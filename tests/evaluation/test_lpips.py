import lpips
import pytest
import torch

from initbench.errors import UsageError, WeightsMissingError
from initbench.evaluation import weights as W
from initbench.evaluation.lpips_diversity import LpipsScorer, drit_pair_indices, munit_pair_indices


def _images(n, seed, h=40, w=56):
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.fixture(scope="module")
def scorer():
    return LpipsScorer("random", seed=7)


def test_per_pair_parity_with_lpips_package(scorer):
    # The reference: the lpips package's own model, same seed, its own loading of the linear layers.
    torch.manual_seed(7)
    ref = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False).eval()
    x0, x1 = _images(7, 1), _images(7, 2)
    with torch.no_grad():
        theirs = torch.stack([ref(x0[i : i + 1], x1[i : i + 1]).reshape(()) for i in range(7)])
    for batch_size in (1, 3, 16):
        ours = scorer.distances(x0, x1, batch_size=batch_size)
        assert ours.shape == (7,)
        assert torch.allclose(ours, theirs, rtol=0, atol=1e-6), batch_size
    assert float(theirs.min()) > 0


def test_identical_images_give_zero(scorer):
    x = _images(3, 4)
    assert scorer.distances(x, x.clone()).tolist() == [0.0, 0.0, 0.0]


def test_fingerprint_records_random_backbone(scorer):
    fp = scorer.fingerprint
    assert fp["lpips_backbone"] == "random" and fp["lpips_backbone_seed"] == 7
    assert fp["lpips_linear"] == W.sha256_file(W.lpips_weights_dir() / "alex.pth")
    assert fp["lpips_linear"] == W.WEIGHTS["lpips-alex-v0.1"].sha256


def test_out_of_range_input_is_rejected(scorer):
    x = _images(1, 0)
    with pytest.raises(UsageError, match=r"expected values in \[-1, 1\]"):
        scorer.distances((x + 1) * 127.5, x)


def test_pretrained_backbone_offline_without_file_names_file_and_path(tmp_path):
    with pytest.raises(WeightsMissingError) as exc:
        LpipsScorer("pretrained", weights_dir=tmp_path, offline=True)
    msg = str(exc.value)
    assert "alexnet-owt-7be5be79.pth" in msg and str(tmp_path / "alexnet-owt-7be5be79.pth") in msg


def test_pretrained_backbone_refuses_a_file_that_is_not_the_imagenet_one(tmp_path):
    # Present under the right name but with another sha256: a clear error, never a silent load.
    torch.save({"features.0.weight": torch.zeros(64, 3, 11, 11)}, tmp_path / "alexnet-owt-7be5be79.pth")
    with pytest.raises(WeightsMissingError, match="corrupt"):
        LpipsScorer("pretrained", weights_dir=tmp_path, offline=True)


def test_pairings():
    assert munit_pair_indices(100, 19) == [(2 * k, 2 * k + 1) for k in range(19)]
    with pytest.raises(UsageError):
        munit_pair_indices(30, 19)
    pairs = drit_pair_indices(10, 500, seed=2)
    assert len(pairs) == 500 and all(i != j and 0 <= i < 10 and 0 <= j < 10 for i, j in pairs)
    assert pairs == drit_pair_indices(10, 500, seed=2)


def test_alexnet_file_layout_maps_onto_the_lpips_trunk(scorer):
    """The pretrained path's key mapping (torchvision ``features.{i}`` -> lpips ``slice{k}.{i}``):
    a torchvision AlexNet state dict loaded into a differently seeded scorer reproduces lpips's own
    model built around that same AlexNet (lpips builds ``tv.alexnet`` under the seed we set)."""
    import warnings

    from torchvision.models import alexnet

    torch.manual_seed(11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False).eval()
    torch.manual_seed(11)
    tv_sd = alexnet(weights=None).state_dict()
    x0, x1 = _images(3, 5), _images(3, 6)
    before = scorer.distances(x0, x1)
    other = LpipsScorer("random", seed=7)
    LpipsScorer._load_alexnet(other.model, {k: v for k, v in tv_sd.items()}, "tv-alexnet")
    with torch.no_grad():
        theirs = ref(x0, x1).reshape(-1)
    assert torch.allclose(other.distances(x0, x1), theirs, atol=1e-6)
    assert not torch.allclose(before, theirs, atol=1e-4)  # the load changed the trunk
