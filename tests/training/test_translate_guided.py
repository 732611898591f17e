"""``initbench translate --style-from``: the exact guided outputs, the record of where each style came from, a guide
of another size, and one-line errors for methods and files that cannot serve as a guide."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from initbench.cli import main
from initbench.dataset.png import read_rgb, write_png
from initbench.errors import DataFormatError
from initbench.guided import guided_translate
from initbench.methods.init import InitConfig, InitModel
from initbench.training.checkpoints import load_translator, save_checkpoint

SMALL = dict(dim=4, n_res=1, mlp_dim=16, dis_dim=4, dis_n_layer=2, dis_num_scales=2)


def _oneline(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def files(tmp_path):
    """An INIT checkpoint (crop size 16), an input 32 x 48 and a guide 64 x 96 with a box file (a car, a person)."""
    torch.manual_seed(0)
    model = InitModel(InitConfig(**SMALL))
    ckpt = save_checkpoint(tmp_path / "c.pt", method="init", config=model.config_dict(), model_state=model.state_dict(),
                           step=0, train_config={"task": "sunny2night", "crop_size": 16})
    g = torch.Generator().manual_seed(0)
    write_png(tmp_path / "in" / "x.png", torch.randint(0, 256, (3, 32, 48), dtype=torch.uint8, generator=g))
    write_png(tmp_path / "guide.png", torch.randint(0, 256, (3, 64, 96), dtype=torch.uint8, generator=g))
    (tmp_path / "guide.txt").write_text("1 0.050000 0.100000 0.350000 0.650000\n3 0.550000 0.200000 0.900000 0.900000\n")
    return tmp_path, ckpt


def _run(tmp_path, ckpt, *extra):
    return CliRunner().invoke(main, ["translate", "--ckpt", str(ckpt), "--input", str(tmp_path / "in"),
                                     "--out", str(tmp_path / "out"), "--style-from", str(tmp_path / "guide.png"), *extra])


def test_guided_outputs_are_the_library_s_and_the_record_says_where_the_style_came_from(files):
    from initbench.dataset.transforms import resize

    tmp_path, ckpt = files
    res = _run(tmp_path, ckpt, "--style-boxes", str(tmp_path / "guide.txt"))
    assert res.exit_code == 0, res.output
    record = json.loads((tmp_path / "out" / "translate.json").read_text())
    [f] = record["files"]
    assert record["style_from"] == str(tmp_path / "guide.png")
    assert f["style_source"] == "guide" and f["guide_resized_from"] == [64, 96] and f["objects_styled_from_guide_crops"] == 2
    # the same output from the Python API: the guide resized to the input's size, its boxes in those pixels
    m = load_translator(ckpt)
    x = read_rgb(tmp_path / "in" / "x.png").float()[None] / 127.5 - 1
    guide, _ = resize(read_rgb(tmp_path / "guide.png").float() / 127.5 - 1, torch.zeros(0, 5), (32, 48))
    boxes = torch.tensor([[1, 0.05 * 48, 0.1 * 32, 0.35 * 48, 0.65 * 32], [3, 0.55 * 48, 0.2 * 32, 0.9 * 48, 0.9 * 32]])
    with torch.no_grad():
        y, _ = guided_translate(m, x, guide[None], guide_boxes=boxes)
    expected = ((y[0] + 1) / 2 * 255).round().clamp(0, 255).to(torch.uint8)
    assert torch.equal(read_rgb(tmp_path / "out" / "x_guided.png"), expected)
    # without boxes: the guide's global style only, and a different picture inside the boxes
    res = _run(tmp_path, ckpt, "--out", str(tmp_path / "plain"))
    assert res.exit_code == 0, res.output
    [f] = json.loads((tmp_path / "plain" / "translate.json").read_text())["files"]
    assert f["objects_styled_from_guide_crops"] == 0 and f["why_global"] == "no guide boxes"
    assert not torch.equal(read_rgb(tmp_path / "plain" / "x_guided.png"), expected)


def test_sampled_outputs_record_their_style_source(files):
    tmp_path, ckpt = files
    res = CliRunner().invoke(main, ["translate", "--ckpt", str(ckpt), "--input", str(tmp_path / "in"),
                                    "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    [f] = json.loads((tmp_path / "out" / "translate.json").read_text())["files"]
    assert f["style_source"] == "prior" and f["style_index"] == 0


def test_guided_errors_are_one_line_exit_2(files):
    tmp_path, ckpt = files
    res = _run(tmp_path, ckpt, "--style-from", str(tmp_path / "nope.png"))
    assert res.exit_code == 2 and _oneline(res.stderr) == f"error: --style-from: expected a file; {tmp_path / 'nope.png'} does not exist"
    (tmp_path / "junk.png").write_bytes(b"not an image")
    res = _run(tmp_path, ckpt, "--style-from", str(tmp_path / "junk.png"))
    assert res.exit_code == 2 and _oneline(res.stderr).startswith(f"error: {tmp_path / 'junk.png'}: cannot decode the image")
    res = _run(tmp_path, ckpt, "--num-styles", "2")
    assert res.exit_code == 2 and "--num-styles: with --style-from each input gets one output" in _oneline(res.stderr)
    (tmp_path / "bad.txt").write_text("1 0.1 0.1 0.5 0.5\n1 0.5 0.1 0.2 0.9\n")
    res = _run(tmp_path, ckpt, "--style-boxes", str(tmp_path / "bad.txt"))
    assert res.exit_code == 2 and _oneline(res.stderr).startswith(f"error: {tmp_path / 'bad.txt'}:2: expected a class in")
    res = CliRunner().invoke(main, ["translate", "--ckpt", str(ckpt), "--input", str(tmp_path / "in"), "--out",
                                    str(tmp_path / "o"), "--style-boxes", str(tmp_path / "guide.txt")])
    assert res.exit_code == 2 and "--style-boxes: the boxes of a guide image; give the guide with --style-from" in _oneline(res.stderr)
    assert not (tmp_path / "out").exists() and not (tmp_path / "o").exists()


def test_a_method_without_a_style_encoder_is_refused_naming_the_ones_that_can(files):
    from initbench.methods.base import get_method

    tmp_path, _ = files
    entry = get_method("cyclegan")
    torch.manual_seed(0)
    model = entry.cls(entry.presets["tiny"]())
    ckpt = save_checkpoint(tmp_path / "cg.pt", method="cyclegan", config=model.config_dict(), model_state=model.state_dict(), step=0)
    res = _run(tmp_path, ckpt)
    assert res.exit_code == 2
    assert _oneline(res.stderr) == ("error: --style-from: method 'cyclegan' cannot take its style from an image; "
                                    "methods that can: drit, init, munit")


def test_read_boxes_reads_what_export_boxes_writes(tmp_path):
    from initbench.dataset.export import boxes_text, read_boxes
    from initbench.dataset.index import ImageEntry

    e = ImageEntry("sunny", "a.png", str(tmp_path / "a.png"), boxes=((1, 4.0, 8.0, 20.0, 30.0), (3, 0.0, 0.0, 64.0, 40.0)))
    (tmp_path / "a.txt").write_text(boxes_text(e, 40, 64) + "\n")
    got = [v for row in read_boxes(tmp_path / "a.txt") for v in row]
    assert got == pytest.approx([1, 4 / 64, 8 / 40, 20 / 64, 30 / 40, 3, 0, 0, 1, 1], abs=1e-6)
    (tmp_path / "b.txt").write_text("1 0.1 0.1 0.5\n")
    with pytest.raises(DataFormatError, match=r"b.txt:1: expected 'cls x1 y1 x2 y2'"):
        read_boxes(tmp_path / "b.txt")
