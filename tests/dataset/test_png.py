"""dataset/png.py, the one PNG module: a tensor and an array of the same pixels make the same file; files decode
back to their pixels; size probes refuse a truncated file, naming it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from initbench.dataset.png import PngError, decode_png, png_size, read_rgb, write_png
from initbench.errors import DataFormatError


def test_tensor_and_array_layouts_write_the_same_file_and_read_back(tmp_path):
    g = torch.Generator().manual_seed(0)
    t = torch.randint(0, 256, (3, 5, 7), dtype=torch.uint8, generator=g)
    n_t = write_png(tmp_path / "t.png", t)
    n_a = write_png(tmp_path / "a.png", t.permute(1, 2, 0).numpy())
    assert n_t == n_a == (tmp_path / "t.png").stat().st_size
    assert (tmp_path / "t.png").read_bytes() == (tmp_path / "a.png").read_bytes()
    assert torch.equal(read_rgb(tmp_path / "t.png"), t)
    assert np.array_equal(decode_png(tmp_path / "t.png"), t.permute(1, 2, 0).numpy())
    assert png_size(tmp_path / "t.png") == (5, 7)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "t.png"]  # no temporaries left


def test_write_png_refuses_a_float_tensor(tmp_path):
    with pytest.raises(ValueError, match=r"expected a uint8 3 x H x W tensor; got torch.float32 \(3, 4, 4\)"):
        write_png(tmp_path / "x.png", torch.zeros(3, 4, 4))


def test_png_size_refuses_a_truncated_file_naming_it(tmp_path):
    p = tmp_path / "cut.png"
    write_png(p, np.zeros((6, 4, 3), np.uint8))
    p.write_bytes(p.read_bytes()[:-5])  # the IHDR is intact: the old 24-byte probe said 6 x 4
    with pytest.raises(DataFormatError, match=rf"^{p}: truncated: the file \(\d+ bytes\) does not end with the PNG IEND chunk$"):
        png_size(p)
    assert issubclass(PngError, DataFormatError)
