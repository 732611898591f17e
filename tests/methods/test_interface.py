"""The declared Translator interface: what every registered method means by ``decode(style=None)``, and the
members the evaluator, trainer and ``translate`` read, with their defaults."""

from __future__ import annotations

from collections import namedtuple

import pytest
import torch

from initbench.methods.base import Translator, TrainableTranslator, get_method, method_names, repeat_content


def build(name: str) -> Translator:
    """A small model of a registered method: its ``tiny`` preset, or its default config; fitted where it must be."""
    entry = get_method(name)
    torch.manual_seed(0)
    cfg = entry.presets["tiny"]() if "tiny" in entry.presets else (entry.config_cls() if entry.config_cls else None)
    model = entry.cls(cfg).eval()
    if hasattr(model, "fit"):  # colour-transfer: a fitted map
        model.fit([torch.rand(2, 3, 32, 32) * 2 - 1], [torch.rand(2, 3, 32, 32) * 2 - 1])
    return model


@pytest.mark.parametrize("name", method_names())
def test_decode_without_a_style_draws_from_the_callers_generator(name):
    """style=None: a multimodal method decodes the styles ``sample_style`` draws with the caller's generator (before:
    INIT drew from the global RNG, MUNIT and DRIT raised); a deterministic one ignores style and generator. Either
    way the global RNG is left alone."""
    model = build(name)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        content = model.encode(x, direction="b2a")
        global_rng = torch.get_rng_state()
        drawn = model.decode(content, direction="b2a", generator=torch.Generator().manual_seed(7))
        assert torch.equal(torch.get_rng_state(), global_rng)
        again = model.decode(content, direction="b2a", generator=torch.Generator().manual_seed(7))
        style = model.sample_style(2, generator=torch.Generator().manual_seed(7)) if model.is_multimodal else None
        given = model.decode(content, direction="b2a", style=style)
        assert torch.equal(drawn, again) and torch.equal(drawn, given)
        if model.is_multimodal:
            other = model.decode(content, direction="b2a", generator=torch.Generator().manual_seed(8))
            assert not torch.equal(drawn, other)
        else:
            assert torch.equal(model.decode(content, direction="b2a", style=torch.randn(2, 8)), drawn)
        assert torch.equal(model.translate(x, direction="b2a", generator=torch.Generator().manual_seed(7)), drawn)


def test_the_declared_members_and_their_defaults():
    class Minimal(TrainableTranslator):
        name = "minimal"

        def encode(self, images, *, direction="a2b"):
            return images

        def decode(self, content, *, direction="a2b", style=None, generator=None):
            return content

        def optimizer_specs(self):
            return {}

        def phase_losses(self, phase, batch, step, shared):
            return {}

    m = Minimal()
    declared = (m.size_multiple, m.loaded_directions, m.needs_crops, m.needs_half_scale, m.task)
    assert declared == (4, {"a2b", "b2a"}, False, False, None)
    assert m.phases(0) == ["dis", "gen"] and m.phase_grad_groups("gen") == {"gen"} and not m.is_multimodal
    # methods override what differs
    init = build("init")
    assert build("identity").size_multiple == 1 and init.needs_crops and not init.needs_half_scale
    assert build("cyclegan").loaded_directions == {"a2b", "b2a"}
    assert build("drit").phase_grad_groups("dis") == {"dis", "gen"} and build("drit").phase_grad_groups("gen") == {"gen"}


def test_repeat_content_walks_every_container():
    Pair = namedtuple("Pair", "c s")
    one = torch.arange(6.0).reshape(1, 2, 3)
    out = Minimalish().repeat_content({"x": [Pair(one, (one, 5))], "n": "keep"}, 3)
    assert out["n"] == "keep" and isinstance(out["x"][0], Pair)
    assert out["x"][0].c.shape == (3, 2, 3) and torch.equal(out["x"][0].c[2], one[0])
    assert out["x"][0].s[0].shape == (3, 2, 3) and out["x"][0].s[1] == 5
    two = torch.zeros(2, 4)
    assert repeat_content(two, 3) is two  # a batch of several rows is not one image's content: left alone


class Minimalish(Translator):
    def encode(self, images, *, direction="a2b"):
        return images

    def decode(self, content, *, direction="a2b", style=None, generator=None):
        return content


def test_example_guided_style_is_declared_and_refused_clearly_where_missing():
    from initbench.errors import UsageError

    takes = {name for name in method_names() if build(name).takes_style_from_images}
    assert takes == {"munit", "drit", "init"}
    with pytest.raises(UsageError, match="cyclegan: cannot take its style from an image"):
        build("cyclegan").style_from_images(torch.zeros(1, 3, 32, 32))
