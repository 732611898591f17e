"""verify-dataset throughput: quick mode files/s per process, --hash against coreutils sha256sum.

Builds (or reuses) a synthetic tree of ``4 * per_domain`` images (default 20,000 at 64 x 40 px),
warms the page cache, then times, best of ``--repeats``:

- quick mode (annotations + PNG header/IEND of every file) in 1 process and in N processes,
  beside the obvious alternative, PIL ``Image.open(path).size`` per file in 1 process;
- ``--hash`` (sha256 of every file, header checks from the same bytes) in N processes, beside
  ``find ROOT -name '*.png' -print0 | xargs -0 -P N -n 256 sha256sum`` with the same N, twice:
  on the small-file tree (per-file overhead) and on a tree of release-sized files (default 400
  files of 1920 x 1208, ~3 MB each like the release's PNGs: hashing itself);
- peak memory (max RSS of a fresh process) of quick verification against the memory of just
  holding the records, on the full tree and on a tree a fifth of its size, to show that the
  scan itself does not grow with the number of files.

Writes JSON with the figures, their ratios, the sizes and the machine. Targets (issue 2):
quick >= 5,000 files/s per process with a warm cache; hash >= 0.8 x sha256sum's files/s.

    python benchmarks/verify_throughput.py --out verify_throughput.json             # full run
    python benchmarks/verify_throughput.py --quick --out /tmp/verify_quick.json      # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import log  # noqa: E402
from bench_common import machine as bench_machine  # noqa: E402

from initbench.dataset.synthetic import synthesize  # noqa: E402
from initbench.dataset.filescan import iter_disk_images  # noqa: E402
from initbench.dataset.verify import verify_dataset  # noqa: E402


def machine() -> dict:
    sha = shutil.which("sha256sum")
    ver = subprocess.run([sha, "--version"], capture_output=True, text=True).stdout.splitlines()[0] if sha else None
    return bench_machine(sha256sum=ver)


def build(root: Path, per_domain: int, size: tuple[int, int], workers: int) -> float:
    marker = root / "BENCH_TREE.json"
    want = {"per_domain": per_domain, "size": list(size), "seed": 0}
    if marker.exists() and json.loads(marker.read_text()) == want:
        log(f"reusing the tree in {root}")
        return 0.0
    if root.exists():
        shutil.rmtree(root)
    log(f"drawing {4 * per_domain} images of {size[0]}x{size[1]} into {root} with {workers} processes ...")
    t = time.perf_counter()
    synthesize(root, per_domain=per_domain, size=size, seed=0, workers=workers, generator="v1")
    marker.write_text(json.dumps(want))
    return time.perf_counter() - t


def build_large(root: Path, n_files: int, size: tuple[int, int]) -> float:
    """A tree with release-sized files: the layout and records of a tiny synth, every PNG replaced
    by a full-size synthetic frame of its domain (4 frames drawn, copied), size lines updated."""
    import dataclasses

    import numpy as np

    from initbench.dataset.annotation_files import find_annotation_files
    from initbench.dataset.annotation_writer import write_file
    from initbench.dataset.annotations import parse_file
    from initbench.dataset.png import encode_png
    from initbench.dataset.synthetic_scene import make_drive_scene, render_frame

    marker = root / "BENCH_TREE.json"
    want = {"files": n_files, "size": list(size)}
    if marker.exists() and json.loads(marker.read_text()) == want:
        log(f"reusing the tree in {root}")
        return 0.0
    if root.exists():
        shutil.rmtree(root)
    t = time.perf_counter()
    per_domain = max(1, n_files // 4)
    log(f"drawing 4 frames of {size[0]}x{size[1]} and copying them into a {4 * per_domain}-image tree in {root} ...")
    synthesize(root, per_domain=per_domain, size=(64, 40), seed=1, generator="v1")
    scene = make_drive_scene(1, 1, 50)
    frames = {d: encode_png(render_frame(scene, d, 10, size, np.random.default_rng(i))[0]) for i, d in enumerate(("sunny", "night", "cloudy", "rainy"))}
    for d, rel, p in iter_disk_images(root):
        Path(p).write_bytes(frames[d])
    for f in find_annotation_files(root):
        recs = [dataclasses.replace(r, width=size[0], height=size[1]) for r in parse_file(f).records]
        write_file(f, recs)
    marker.write_text(json.dumps(want))
    return time.perf_counter() - t


def hash_pair(root: Path, workers: int, repeats: int) -> dict:
    rep = verify_dataset(root, with_hash=True, workers=workers)  # also warms the page cache
    assert rep["ok"], rep["counts"]
    n_files, n_bytes = rep["files_checked"], rep["bytes"]
    log(f"--hash, {workers} processes, {n_files} files of {n_bytes / n_files / 1e6:.3f} MB ...")
    ours = best(lambda: verify_dataset(root, with_hash=True, workers=workers), repeats)
    log(f"sha256sum, {workers} processes ...")
    theirs = best(lambda: sha256sum(root, workers), repeats)
    return {
        "files": n_files,
        "bytes": n_bytes,
        "mean_file_bytes": round(n_bytes / n_files),
        "ours": {"seconds": round(ours, 4), "files_per_s": round(n_files / ours), "mb_per_s": round(n_bytes / ours / 1e6, 1)},
        "sha256sum": {"seconds": round(theirs, 4), "files_per_s": round(n_files / theirs), "mb_per_s": round(n_bytes / theirs / 1e6, 1),
                      "command": f"find ROOT -name '*.png' -print0 | xargs -0 -P {workers} -n 256 sha256sum"},
        "ratio_ours_vs_sha256sum": round(theirs / ours, 3),
        "target_ratio": 0.8,
        "meets_target": theirs / ours >= 0.8,
    }


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def pil_sizes(root: Path) -> int:
    from PIL import Image

    n = 0
    for _, _, p in iter_disk_images(root):
        with Image.open(p) as im:
            im.size
        n += 1
    return n


def our_headers(root: Path) -> int:
    from initbench.dataset.png import read_png_header

    n = 0
    for _, _, p in iter_disk_images(root):
        read_png_header(p)
        n += 1
    return n


def sha256sum(root: Path, workers: int) -> None:
    cmd = f"find {root} -name '*.png' -print0 | xargs -0 -P {workers} -n 256 sha256sum > /dev/null"
    subprocess.run(cmd, shell=True, check=True)


MEM_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    sys.path.insert(0, sys.argv[1])
    from initbench.dataset.annotations import find_annotation_files, parse_file
    from initbench.dataset.verify import verify_dataset
    root, mode = sys.argv[2], sys.argv[3]
    if mode == "records":
        keep = [parse_file(f).records for f in find_annotation_files(root)]
    else:
        rep = verify_dataset(root, workers=1, with_hash=(mode == "hash"))
        assert rep["files_checked"] > 0
    print(json.dumps({"max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    """
)


def peak_mb(root: Path, mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", MEM_CHILD, str(Path(__file__).resolve().parents[1]), str(root), mode],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["max_rss_mb"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="Smoke run: 1,000 images, 1 repeat.")
    ap.add_argument("--out", default="verify_throughput.json", help="JSON file to write.")
    ap.add_argument("--work", default=None, help="Folder for the trees (kept and reused); default: a temporary folder, removed.")
    ap.add_argument("--per-domain", type=int, default=None, help="Images per domain (default 5000, i.e. 20,000 images; --quick: 250).")
    ap.add_argument("--size", default="64x40", help="Image size WxH (default 64x40).")
    ap.add_argument("--workers", type=int, default=None, help="Processes for the parallel runs (default min(8, CPUs)).")
    ap.add_argument("--large-files", type=int, default=None, help="Release-sized files for the second hash comparison (default 400; --quick: 20).")
    ap.add_argument("--large-size", default=None, help="Their frame size (default 1920x1208, the release's; --quick: 480x302).")
    ap.add_argument("--repeats", type=int, default=None, help="Timed repeats, best kept (default 3; --quick: 1).")
    args = ap.parse_args()

    per_domain = args.per_domain or (250 if args.quick else 5000)
    repeats = args.repeats or (1 if args.quick else 3)
    workers = args.workers or min(8, os.cpu_count() or 1)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    tmp = None
    if args.work:
        work = Path(args.work)
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="verify-bench-")
        work = Path(tmp.name)
    try:
        big, small = work / f"tree_{per_domain}", work / f"tree_{max(1, per_domain // 5)}"
        build_s = build(big, per_domain, size, workers)
        build(small, max(1, per_domain // 5), size, workers)
        large_files = args.large_files or (20 if args.quick else 400)
        large_size = tuple(int(v) for v in (args.large_size or ("480x302" if args.quick else "1920x1208")).lower().split("x"))
        large = work / f"large_{large_files}_{large_size[0]}x{large_size[1]}"
        build_large(large, large_files, large_size)

        log("warming the page cache ...")
        rep = verify_dataset(big, with_hash=True, workers=workers)
        assert rep["ok"], rep["counts"]
        n_files, n_bytes = rep["files_checked"], rep["bytes"]

        log("quick mode, 1 process ...")
        q1 = best(lambda: verify_dataset(big, workers=1), repeats)
        log(f"quick mode, {workers} processes ...")
        qn = best(lambda: verify_dataset(big, workers=workers), repeats)
        log("PIL Image.open().size, 1 process ...")
        pil = best(lambda: pil_sizes(big), repeats)
        log("our header probe alone, 1 process ...")
        probe = best(lambda: our_headers(big), repeats)
        hash_small = hash_pair(big, workers, repeats)
        hash_large = hash_pair(large, workers, repeats)

        log("peak memory ...")
        mem = {}
        for name, root in (("small", small), ("full", big)):
            files = sum(1 for _ in iter_disk_images(root))
            rec, quick = peak_mb(root, "records"), peak_mb(root, "quick")
            mem[name] = {"files": files, "records_only_max_rss_mb": round(rec, 1), "quick_verify_max_rss_mb": round(quick, 1),
                         "verify_beyond_records_mb": round(quick - rec, 1)}
        grow = mem["full"]["verify_beyond_records_mb"] - mem["small"]["verify_beyond_records_mb"]
        mem["beyond_records_growth_kb_per_1000_files"] = round(1024 * grow / max(1, (mem["full"]["files"] - mem["small"]["files"]) / 1000), 2)

        result = {
            "benchmark": "verify_throughput",
            "quick_run": args.quick,
            "machine": machine(),
            "page_cache": "warm (every file read once before timing)",
            "tree": {"files": n_files, "bytes": n_bytes, "mean_file_bytes": round(n_bytes / n_files), "image_size": list(size),
                     "per_domain": per_domain, "build_s": round(build_s, 2)},
            "repeats": repeats,
            "workers": workers,
            "quick": {
                "one_process": {"seconds": round(q1, 4), "files_per_s": round(n_files / q1)},
                "n_processes": {"seconds": round(qn, 4), "files_per_s": round(n_files / qn), "files_per_s_per_process": round(n_files / qn / workers)},
                "pil_open_size_one_process": {"seconds": round(pil, 4), "files_per_s": round(n_files / pil)},
                "ratio_ours_vs_pil_one_process": round(pil / q1, 3),
                "header_probe_only_one_process": {"seconds": round(probe, 4), "files_per_s": round(n_files / probe)},
                "ratio_probe_vs_pil_one_process": round(pil / probe, 3),
                "note": "one_process = the whole quick verify-dataset (annotations parsed and validated, walk, IHDR + IEND of "
                "each file); PIL and the probe alone only read sizes (PIL does not detect truncation)",
                "target_files_per_s_per_process": 5000,
                "meets_target": n_files / q1 >= 5000,
            },
            "hash": {
                "small_files": hash_small,
                "release_size_files": {**hash_large, "image_size": list(large_size)},
                "note": "ours = the whole verify-dataset --hash (annotations, walk, header checks, sha256); sha256sum only hashes. "
                "Small files measure per-file overhead; release-size files (the release's PNGs are ~3 MB) measure hashing itself.",
            },
            "memory": mem,
        }
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        log(json.dumps({k: result[k] for k in ("tree", "quick", "hash", "memory")}, indent=1))
        log(f"wrote {out}")
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
