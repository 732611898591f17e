"""Report pictures: PNG grids keep pixel values (no min-max stretch); loss CSVs and SVG charts."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from initbench.report.figures import image_grid_png, line_chart_svg, read_loss_csv


def test_grid_layout_and_exact_pixels():
    a = torch.full((3, 4, 6), -1.0)          # black 4 x 6
    b = torch.full((3, 2, 2), 1.0)           # white 2 x 2: its column is 2 wide, centred in the 4-high row
    c = torch.zeros(3, 4, 6)
    c[0] = 0.5                               # (0.5 + 1) * 127.5 = 191.25 -> 191
    img = np.asarray(Image.open(io.BytesIO(image_grid_png([[a, b], [c]], pad=1, background=(9, 9, 9)))))
    assert img.shape == (1 + 4 + 1 + 4 + 1, 1 + 6 + 1 + 2 + 1, 3)
    assert (img[1:5, 1:7] == 0).all()
    assert (img[2:4, 8:10] == 255).all() and (img[1, 8:10] == 9).all() and (img[4, 8:10] == 9).all()
    assert img[6, 1].tolist() == [191, 128, 128]
    assert (img[6:10, 8:10] == 9).all()  # row 2 has no second cell


def test_loss_csv_and_chart(tmp_path):
    p = tmp_path / "losses.csv"
    p.write_text("step,gen/total,dis/total,seconds\n10,2.0,1.0,0.5\n20,1.5,,0.5\n30,1.0,0.8,0.5\n")
    curves = read_loss_csv(p)
    assert curves == {"gen/total": [(10.0, 2.0), (20.0, 1.5), (30.0, 1.0)], "dis/total": [(10.0, 1.0), (30.0, 0.8)]}
    svg = line_chart_svg(curves, "t")
    assert svg.count("<polyline") == 2 and svg.startswith("<svg") and svg.endswith("</svg>")
    assert ">gen/total</text>" in svg and ">dis/total</text>" in svg
    assert "no values" in line_chart_svg({}, "empty")
