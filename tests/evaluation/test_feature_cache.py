"""The FID/KID reference feature cache: a second run reads the rows instead of extracting them; a changed image,
extractor or image size is a miss, never a stale hit; a corrupted entry is a miss and is rewritten."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest
import torch

from initbench.dataset.png import read_rgb, write_png
from initbench.evaluation import images as I
from initbench.evaluation.collect import collect_reference
from initbench.evaluation.feature_cache import FeatureCache, default_cache_dir, extractor_sha256
from initbench.evaluation.protocol import V1

P = V1.with_overrides(short_side=40)


class CountingExtractor:
    """A stand-in FeatureStream: per-channel means and maxima of uint8 images; counts the images it was given."""

    def __init__(self, sha256: str = "a" * 64):
        self.sha256, self.layer, self.images = sha256, "2048", 0

    def features(self, images_uint8: torch.Tensor) -> torch.Tensor:
        self.images += images_uint8.shape[0]
        x = images_uint8.double()
        return torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)


@pytest.fixture
def root(mini_init_root, tmp_path):
    """A copy of the mini-INIT (a test changes an image)."""
    return shutil.copytree(mini_init_root, tmp_path / "init")


@pytest.fixture
def keys(root):
    return I.domain_keys(I.split_of_root(root), "night", "test")


def _reference(root, keys, extractor, cache, protocol=P):
    return collect_reference(SimpleNamespace(fid=extractor), root, keys, "night", protocol, 4, cache=cache)


def test_a_second_run_reads_the_rows_without_calling_the_extractor(root, keys, tmp_path):
    ex = CountingExtractor()
    first = _reference(root, keys, ex, FeatureCache(tmp_path / "c"))
    assert ex.images == len(keys) >= 2
    uncached = _reference(root, keys, ex, None)
    assert torch.equal(first, uncached) and ex.images == 2 * len(keys)
    cache = FeatureCache(tmp_path / "c")  # a fresh object: the rows come from the file
    again = _reference(root, keys, ex, cache)
    assert ex.images == 2 * len(keys) and (cache.hits, cache.misses) == (1, 0)
    assert torch.equal(again, first) and again.dtype == first.dtype
    assert len(list((tmp_path / "c").glob("*.pt"))) == 1 and not list((tmp_path / "c").glob(".*"))  # no temp left


def test_a_changed_image_is_a_miss(root, keys, tmp_path):
    ex, cache = CountingExtractor(), FeatureCache(tmp_path / "c")
    before = _reference(root, keys, ex, cache)
    image = read_rgb(root / keys[0])
    write_png(root / keys[0], 255 - image)  # same name, same size, other pixels
    after = _reference(root, keys, ex, cache)
    assert (cache.hits, cache.misses) == (0, 2) and ex.images == 2 * len(keys)
    assert not torch.equal(before[0], after[0]) and torch.equal(before[1:], after[1:])
    assert len(list((tmp_path / "c").glob("*.pt"))) == 2


def test_another_extractor_or_image_size_or_image_list_is_a_miss(root, keys, tmp_path):
    cache = FeatureCache(tmp_path / "c")
    _reference(root, keys, CountingExtractor("a" * 64), cache)
    ex = CountingExtractor("b" * 64)
    _reference(root, keys, ex, cache)
    assert (cache.hits, cache.misses) == (0, 2) and ex.images == len(keys)
    _reference(root, keys, ex, cache, P.with_overrides(short_side=32))
    _reference(root, keys[:-1], ex, cache)
    assert (cache.hits, cache.misses) == (0, 4)
    _reference(root, keys, ex, cache)
    assert (cache.hits, cache.misses) == (1, 4)


@pytest.mark.parametrize("damage", [b"", b"not a torch file", "truncated", "other key"])
def test_a_corrupted_entry_is_a_miss_and_is_rewritten(root, keys, tmp_path, damage):
    ex, cache = CountingExtractor(), FeatureCache(tmp_path / "c")
    rows = _reference(root, keys, ex, cache)
    (path,) = (tmp_path / "c").glob("*.pt")
    if damage == "truncated":
        damage = path.read_bytes()[:100]
    elif damage == "other key":  # a well-formed entry stored under the wrong name (a copied file)
        damage = (tmp_path / "x.pt")
        torch.save({"format": 1, "key": "0" * 64, "rows": torch.zeros(len(keys), 6)}, damage)
        damage = damage.read_bytes()
    path.write_bytes(damage)
    again = _reference(root, keys, ex, cache)
    assert (cache.hits, cache.misses) == (0, 2) and ex.images == 2 * len(keys) and torch.equal(again, rows)
    assert torch.equal(cache.load(path.stem), rows)  # rewritten: the next run hits


def test_an_extractor_without_a_weights_file_is_identified_by_its_tensors(tiny_extractor):
    from initbench.evaluation.fid_kid import FeatureStream

    stream = FeatureStream(tiny_extractor)
    assert stream.sha256 == f"extractor:{tiny_extractor}"  # the name alone would not see a change of weights
    before = extractor_sha256(stream)
    assert extractor_sha256(FeatureStream(tiny_extractor)) == before
    with torch.no_grad():
        stream.fe.w[0, 0, 0, 0] += 1
    assert extractor_sha256(stream) != before
    assert extractor_sha256(CountingExtractor("a" * 64)) != extractor_sha256(CountingExtractor("b" * 64))


def test_the_default_folder_is_under_the_torch_hub_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "hub" / "initbench" / "fid_reference"
    assert FeatureCache().directory == default_cache_dir()


def test_evaluate_with_the_cache_gives_the_same_fid_kid(eval_root, tiny_translator_cls, tiny_extractor, tmp_path):
    from initbench.evaluation.evaluator import evaluate

    small = V1.with_overrides(num_inputs=3, samples_per_input=4, short_side=40)
    args = dict(protocol=small, lpips_backbone="random", fid_extractor=tiny_extractor)
    plain = evaluate(tiny_translator_cls(4), eval_root, "sunny2night", **args)
    cache = FeatureCache(tmp_path / "c")
    stored = evaluate(tiny_translator_cls(4), eval_root, "sunny2night", feature_cache=cache, **args)
    read = evaluate(tiny_translator_cls(4), eval_root, "sunny2night", feature_cache=cache, **args)
    assert (cache.hits, cache.misses) == (1, 1)
    for k in ("fid", "kid"):
        assert plain["metrics"][k] == stored["metrics"][k] == read["metrics"][k] is not None


def test_cli_cache_dir_default_and_no_cache_reach_the_evaluator(mini_init_root, tmp_path, monkeypatch):
    from click.testing import CliRunner

    import initbench.evaluation.evaluator as E
    from initbench.cli import main

    seen = []
    monkeypatch.setattr(E, "evaluate", lambda translator, root, task, **kw: seen.append(kw["feature_cache"]) or {"stand-in": 1})
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    base = ["evaluate", "--method", "identity", "--data", str(mini_init_root), "--task", "sunny2night", "--json", "-"]
    for extra in (["--cache-dir", str(tmp_path / "mine")], [], ["--no-cache"]):
        r = CliRunner().invoke(main, base + extra)
        assert r.exit_code == 0, r.output
    assert [c.directory if c else None for c in seen] == [tmp_path / "mine", tmp_path / "torch" / "hub" / "initbench" /
                                                          "fid_reference", None]
    r = CliRunner().invoke(main, base + ["--no-cache", "--cache-dir", str(tmp_path)])
    assert r.exit_code == 2 and r.stderr.strip() == "error: --cache-dir: not with --no-cache" and len(seen) == 3
