"""Images/s of ``DomainImages`` at 360 px: from 1920 x 1208 originals, from a ``prepare``d copy,
and a naive loop (PIL open, resize, to tensor) over the same originals, in the same run.

The original tree holds copies of the real release frame ``../shared/reference/sample-frame-3_00001.png``
(real content, 3 MB PNG) when it is there, plus synthetic frames drawn at 1920 x 1208
(``initbench synth --size 1920x1208``). The prepared copy is made with ``prepare --size 360``.
Each loader runs through a DataLoader in-process (0 workers) and with 1 and 2 worker processes,
one torch thread per process (batch size 4). Worker runs include moving the float batches
between processes, which the in-process run does not.
PNG decoding alone (``torchvision.io.decode_png`` over the originals, in-process) is timed too.

Targets from the issue: the prepared copy at least 8x the naive loop on originals; on-the-fly
loading from originals within 1.2x of the PNG decode time alone.

    python benchmarks/loader_throughput.py --out benchmarks/out/loader_throughput.json
    python benchmarks/loader_throughput.py --quick --out /tmp/loader_quick.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from initbench.dataset.annotation_writer import write_file
from initbench.dataset.annotations import Box, Record
from initbench.dataset.png import read_rgb
from initbench.dataset.loaders import DomainImages
from initbench.dataset.prepare import prepare

REAL_FRAME = Path(__file__).resolve().parents[2] / "shared" / "reference" / "sample-frame-3_00001.png"
DRIVE = "video_data_20180804/jig_KYT01/20180723_KYT/dw_2018_07_23_15-46-55_000000_20fps_bae/camera_2_center_fov60.h264"


def _one_thread(_worker_id: int = 0) -> None:
    torch.set_num_threads(1)


class NaiveImages(Dataset):
    """The obvious loader: PIL open, convert, bilinear resize to 572 x 360, to tensor in [-1, 1]."""

    def __init__(self, paths, size=(572, 360)):
        self.paths, self.size = list(paths), size

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with Image.open(self.paths[i]) as im:
            im = im.convert("RGB").resize(self.size, Image.BILINEAR)
        t = torch.from_numpy(np.asarray(im, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)
        return {"image": t}


def make_originals(root: Path, n_real: int, n_synth: int) -> dict:
    """A 1920 x 1208 tree: a synth drawn at full size (all four domains) plus, under sunny/,
    n_real copies of the real frame with two boxes each (their own annotation file)."""
    info = {"real_frame": str(REAL_FRAME) if REAL_FRAME.is_file() else None, "n_real": 0, "n_synth_per_domain": 0}
    if n_synth:
        from initbench.dataset.synthetic import synthesize

        synthesize(root, per_domain=n_synth, size=(1920, 1208), seed=0, generator="v1")
        info["n_synth_per_domain"] = n_synth
    if REAL_FRAME.is_file() and n_real:
        d = root / "sunny" / DRIVE
        d.mkdir(parents=True)
        recs = []
        for k in range(n_real):
            name = f"15_{k + 1:05d}.png"
            shutil.copyfile(REAL_FRAME, d / name)
            recs.append(Record("sunny", k + 1, f"/{DRIVE}/{name}", 3, 1208, 1920, 1, (Box(1, 745.1, 620.9, 955.2, 719.8), Box(3, 100.0, 500.0, 160.0, 700.0))))
        write_file(root / "batch2_anno" / "sunny2.txt", recs)
        info["n_real"] = n_real
    return info


def time_loader(ds, workers: int, batch_size: int, repeats: int) -> dict:
    dl = DataLoader(ds, batch_size=batch_size, num_workers=workers, worker_init_fn=_one_thread if workers else None,
                    persistent_workers=workers > 0)
    n = 0
    for b in dl:  # warm-up epoch: starts the workers, fills the page cache
        n += b["image"].shape[0]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = 0
        for b in dl:
            n += b["image"].shape[0]
        times.append(time.perf_counter() - t0)
    best = min(times)
    return {"workers": workers, "images": n, "seconds": best, "images_per_s": n / best,
            "ms_per_image_per_worker": 1000 * best * max(1, workers) / n}


def _pil_decode(p):
    with Image.open(p) as im:
        return np.asarray(im.convert("RGB"))


def time_decode(paths, repeats: int, fn=read_rgb) -> dict:
    fn(paths[0])
    per = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for p in paths:
            fn(p)
        per.append((time.perf_counter() - t0) / len(paths))
    return {"ms_per_image": 1000 * min(per), "images": len(paths)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a smoke run: few images, one repeat")
    ap.add_argument("--out", type=Path, default=None, help="JSON report")
    ap.add_argument("--real", type=int, default=None, help="copies of the real frame (default 96; quick 6)")
    ap.add_argument("--synth", type=int, default=None, help="synthetic 1920 x 1208 frames per domain (default 6; quick 0)")
    ap.add_argument("--repeats", type=int, default=None, help="timed epochs per loader; the best counts (default 3; quick 1)")
    ap.add_argument("--workdir", type=Path, default=None, help="where to build the trees (default: a temporary folder)")
    args = ap.parse_args(argv)
    n_real = args.real if args.real is not None else (6 if args.quick else 96)
    # a full-size synth frame takes seconds to draw: none in the smoke run when the real frame is there
    n_synth = args.synth if args.synth is not None else ((0 if REAL_FRAME.is_file() else 1) if args.quick else 6)
    repeats = args.repeats or (1 if args.quick else 3)
    _one_thread()
    if not REAL_FRAME.is_file():
        print(f"note: {REAL_FRAME} not found; measuring synthetic frames only", file=sys.stderr)

    tmp = Path(tempfile.mkdtemp(prefix="initbench-loader-", dir=args.workdir))
    try:
        orig, prep = tmp / "orig", tmp / "prep360"
        info = make_originals(orig, n_real, n_synth)
        t0 = time.perf_counter()
        psum = prepare(orig, prep, size=360, workers=2, verify=False)
        t_prep = time.perf_counter() - t0
        domains = [d for d in ("sunny", "night", "cloudy", "rainy") if (orig / d).is_dir()]
        paths = sorted(str(p) for d in domains for p in (orig / d).rglob("*.png"))
        res = {"decode_png_only": time_decode(paths, repeats), "pil_decode_only": time_decode(paths, repeats, _pil_decode), "loaders": {}}
        for w in (0, 1, 2):
            for name, make in (
                ("initbench_originals", lambda: _concat([DomainImages(orig, d, "all", size=360, max_boxes=40) for d in domains])),
                ("initbench_prepared", lambda: _concat([DomainImages(prep, d, "all", size=360, max_boxes=40) for d in domains])),
                ("naive_pil_originals", lambda: NaiveImages(paths)),
            ):
                res["loaders"][f"{name}_w{w}"] = time_loader(make(), w, batch_size=4, repeats=repeats)
        L = res["loaders"]
        ratios = {}
        for w in (0, 1, 2):
            ratios[f"prepared_over_naive_w{w}"] = L[f"initbench_prepared_w{w}"]["images_per_s"] / L[f"naive_pil_originals_w{w}"]["images_per_s"]
            ratios[f"originals_over_naive_w{w}"] = L[f"initbench_originals_w{w}"]["images_per_s"] / L[f"naive_pil_originals_w{w}"]["images_per_s"]
        for w in (0, 1):
            ratios[f"originals_ms_over_decode_ms_w{w}"] = L[f"initbench_originals_w{w}"]["ms_per_image_per_worker"] / res["decode_png_only"]["ms_per_image"]
        report = {
            "benchmark": "loader_throughput",
            "quick": args.quick,
            "trees": {**info, "images": len(paths), "original_size": [1208, 1920], "prepared_size": [360, 572],
                      "prepare_seconds": round(t_prep, 3), "prepare_summary": {k: psum[k] for k in ("images", "written")}},
            "results": res,
            "ratios": ratios,
            "targets": {"prepared_over_naive": 8.0, "originals_ms_over_decode_ms": 1.2},
            "machine": {"cpus": os.cpu_count(), "torch": torch.__version__, "python": platform.python_version(),
                        "platform": platform.platform(), "processor": platform.processor()},
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"decode alone: torchvision decode_png {res['decode_png_only']['ms_per_image']:.1f} ms/image, "
          f"PIL {res['pil_decode_only']['ms_per_image']:.1f} ms/image")
    for k, v in L.items():
        print(f"{k:28s} {v['images_per_s']:7.1f} img/s  ({v['ms_per_image_per_worker']:.1f} ms/image/worker)")
    for k, v in ratios.items():
        print(f"{k:34s} {v:.2f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _concat(datasets):
    return torch.utils.data.ConcatDataset(datasets) if len(datasets) > 1 else datasets[0]


if __name__ == "__main__":
    raise SystemExit(main())
