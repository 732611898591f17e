"""synth throughput: generator v2 with paired ground truth against generator v1, per written image.

Target (issue 12): ``synth --paired`` costs at most 1.5 x the time per written image of the v1
generator at the same size. Both run in one process (``workers=1``) on the same plan
(``--per-domain`` frames per domain, ``--size``), into fresh folders, best of ``--repeats``,
the two generators interleaved so a busy shared machine slows both alike. A written image is
a PNG: v1 writes the frames; v2 ``--paired`` writes the frames plus three ground-truth images
per test frame (plus ``latents.jsonl``, counted in its time, not as an image).

    python benchmarks/synth_throughput.py --out benchmarks/results/synth_throughput.json   # 64/domain, 256 x 160
    python benchmarks/synth_throughput.py --quick --out /tmp/synth_quick.json               # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import log  # noqa: E402
from bench_common import machine as bench_machine  # noqa: E402

from initbench.dataset.synthetic import synthesize  # noqa: E402

TARGET_RATIO = 1.5


def machine() -> dict:
    return bench_machine(zlib=zlib.ZLIB_RUNTIME_VERSION)


def run_once(tmp: Path, name: str, **kwargs) -> tuple[float, dict]:
    out = tmp / name
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    summary = synthesize(out, **kwargs)
    seconds = time.perf_counter() - t0
    shutil.rmtree(out)
    return seconds, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-domain", type=int, default=64)
    ap.add_argument("--size", default="256x160", help="WIDTHxHEIGHT for both generators")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="smoke run: 8 per domain, 96 x 60, 1 repeat")
    ap.add_argument("--out", default=None, help="JSON file (default: stdout)")
    args = ap.parse_args()
    per_domain, repeats = (8, 1) if args.quick else (args.per_domain, args.repeats)
    w, h = (96, 60) if args.quick else (int(v) for v in args.size.lower().split("x"))
    common = dict(per_domain=per_domain, size=(w, h), seed=0, workers=1)
    best: dict[str, float] = {}
    summaries: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="synth_bench_") as d:
        tmp = Path(d)
        for r in range(repeats):
            for name, extra in (("v1", dict(generator="v1")), ("v2_paired", dict(generator="v2", paired=True))):
                s, summary = run_once(tmp, name, **common, **extra)
                log(f"repeat {r + 1}/{repeats} {name}: {s:.2f} s")
                best[name] = min(best.get(name, float("inf")), s)
                summaries[name] = summary
    result = {"benchmark": "synth_throughput", "quick_run": args.quick, "machine": machine(), "per_domain": per_domain,
              "size": [w, h], "repeats": repeats, "workers": 1, "generators": {}}
    for name, summary in summaries.items():
        frames = sum(summary["images"].values())
        images = frames + summary.get("ground_truth_images", 0)
        result["generators"][name] = {
            "seconds": round(best[name], 3), "frames": frames, "written_images": images,
            "ms_per_written_image": round(1000 * best[name] / images, 3), "bytes": summary["bytes"],
            "median_box_short_side": summary.get("median_box_short_side"),
        }
    ratio = result["generators"]["v2_paired"]["ms_per_written_image"] / result["generators"]["v1"]["ms_per_written_image"]
    result["ratio_v2_paired_to_v1_per_image"] = round(ratio, 3)
    result["target_ratio"] = TARGET_RATIO
    result["meets_target"] = ratio <= TARGET_RATIO
    text = json.dumps(result, indent=2) + "\n"
    if args.out:
        tmp_out = Path(args.out).with_name(Path(args.out).name + ".tmp")
        tmp_out.write_text(text)
        os.replace(tmp_out, args.out)
        log(f"wrote {args.out}: ratio {ratio:.2f} (target <= {TARGET_RATIO})")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
