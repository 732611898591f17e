"""Split v1 on the real public third of INIT (52,466 image paths; no images needed).

Reads the path lists in ``../shared/reference/init-paths-public-third/`` (or ``--lists DIR``),
computes split v1 and the leaky ``paper`` split, and writes per-domain counts, test and gap
shares, the leakage check for both, and the time taken. Expected for split v1: test shares of
about 14-16 % per domain, 2-3 % gap frames, zero leaks.

    python benchmarks/split_public_third.py --out benchmarks/out/split_public_third.json
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from initbench.dataset.split import leakage, share_report, split_paper, split_v1

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "reference" / "init-paths-public-third"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lists", type=Path, default=DEFAULT, help="folder with <domain>_list.txt files")
    ap.add_argument("--out", type=Path, default=None, help="write the JSON report here")
    ap.add_argument("--quick", action="store_true", help="use every 4th path (a smoke run)")
    args = ap.parse_args(argv)
    files = sorted(args.lists.glob("*_list.txt")) if args.lists.is_dir() else []
    if not files:
        print(f"no <domain>_list.txt files in {args.lists}; pass --lists DIR (the public-third path lists)", file=sys.stderr)
        return 2
    keys = [l.strip() for f in files for l in f.read_text().splitlines() if l.strip()]
    if args.quick:
        keys = keys[::4]
    t0 = time.perf_counter()
    v1 = split_v1(keys)
    t_v1 = time.perf_counter() - t0
    shuffled = keys[:]
    random.Random(1).shuffle(shuffled)
    same_when_shuffled = split_v1(shuffled) == v1
    paper = split_paper(keys, seed=0)
    rep = {
        "n_images": len(keys),
        "quick": args.quick,
        "split_v1": {
            "per_domain": share_report(v1),
            "gap_pct_all": 100.0 * sum(s == "gap" for s in v1.values()) / len(v1),
            "leaks": len(leakage(v1)),
            "leaky_test_frames": len({t for t, _ in leakage(v1)}),
            "same_when_shuffled": same_when_shuffled,
            "seconds": t_v1,
        },
        "paper_split": {"per_domain": share_report(paper), "leaky_test_frames": len({t for t, _ in leakage(paper)}),
                        "test_frames": sum(s == "test" for s in paper.values())},
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }
    for d, r in rep["split_v1"]["per_domain"].items():
        print(f"v1 {d:7s} total {r['total']:6d} train {r['train']:6d} test {r['test']:5d} ({r['test_pct']:.1f} %) "
              f"gap {r['gap']:4d} ({r['gap_pct']:.1f} %)")
    print(f"v1 gap overall {rep['split_v1']['gap_pct_all']:.2f} %, leaks {rep['split_v1']['leaks']}, "
          f"order-independent {same_when_shuffled}, {t_v1:.2f} s")
    ps = rep["paper_split"]
    print(f"paper split: {ps['leaky_test_frames']} of {ps['test_frames']} test frames have a training frame of their drive within 20 indices")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rep, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
