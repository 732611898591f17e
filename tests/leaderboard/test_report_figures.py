"""Report helpers: images keep their pixel values (no min-max stretch); loss CSVs read as curves."""

from __future__ import annotations


import torch

from initbench.report.figures import read_loss_csv, to_uint8_hwc


def test_loss_csv(tmp_path):
    p = tmp_path / "losses.csv"
    p.write_text("step,gen/total,dis/total,seconds\n10,2.0,1.0,0.5\n20,1.5,,0.5\n30,1.0,0.8,0.5\n")
    curves = read_loss_csv(p)
    assert curves == {"gen/total": [(10.0, 2.0), (20.0, 1.5), (30.0, 1.0)], "dis/total": [(10.0, 1.0), (30.0, 0.8)]}


def test_images_keep_their_values():
    x = torch.tensor([-1.0, 0.0, 0.5, 1.0, 2.0]).view(1, 1, 5).expand(3, 1, 5)
    assert to_uint8_hwc(x)[0, :, 0].tolist() == [0, 128, 191, 255, 255]  # clamped and rounded, never stretched
