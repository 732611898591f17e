"""The synthetic mini-INIT: procedurally drawn street frames in the release's exact layout.

Two generators share the layout, the plan and the scenes: ``v2`` (the default) draws every
frame's style from its domain's distribution, records the latents in ``OUT/latents.jsonl`` and,
with ``paired=True``, the test frames of split ``drives`` in the three other domains under
``OUT/ground_truth/<source>2<target>/`` (see :mod:`.synthetic_v2`); ``v1`` is the first
mini-INIT, constant styles per domain, kept byte for byte (``manifests/mini-init``).

``synthesize(out, per_domain, size, seed)`` writes::

    OUT/<domain>/video_data_<date>/jig_<KYT01|TYO01>/[20fps/]<date>[b]_<KYT|TYO>/
        dw_<YYYY_MM_DD_HH-MM-SS>_000000_20fps_bae/camera_2_center_fov60.h264/<clip>_<frame5>.png
    OUT/batch1_anno/<domain>1.txt       (official text format, paths relative to the domain folder)

modelled on the real path lists of the public third of the release: several drives per domain,
one clip number per drive, consecutive frame indices inside a drive (a rare skipped index, as
in the release where about 98 % are present), the ``20fps/`` level only under
``video_data_20180620``, and the weather label changing along a drive, so one drive folder
holds frames of several domains (day drives mix sunny, cloudy and rainy; one dusk drive runs
from day into night; the others are night only).

Defaults: ``per_domain=64`` (256 frames: a CPU quickstart trains on them in minutes) and
``size=(256, 160)`` for v2 (multiples of 4 close to the release's 1920 x 1208 aspect ratio, 1.589;
256/160 = 1.600), ``(256, 161)`` for v1 (256/161 = 1.590). Boxes are integer pixel edges of what was drawn, clipped to the frame.

Determinism: the same arguments give byte-identical files (every random draw comes from a
numpy Generator seeded by (seed, drive, frame); PNGs are written by :mod:`.png` with fixed
filter and zlib level, no timestamps). Bytes could differ only with a different zlib deflate
implementation (e.g. zlib-ng); the summary records ``zlib.ZLIB_RUNTIME_VERSION``.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from initbench.dataset.annotation_writer import write_file
from initbench.dataset.annotations import Box, Record
from initbench.dataset.png import write_png
from initbench.dataset.release import CATEGORY_KEYS, DOMAINS
from initbench.dataset.synthetic_scene import make_drive_scene, render_frame
from initbench.errors import UsageError
from initbench.files import write_atomic

DEFAULT_PER_DOMAIN = 64
GENERATORS = ("v2", "v1")
DEFAULT_GENERATOR = "v2"
#: Per generator: the default WIDTH x HEIGHT.
DEFAULT_SIZES = {"v1": (256, 161), "v2": (256, 160)}
DEFAULT_SIZE = DEFAULT_SIZES["v1"]  # v1's (kept for callers of the first version)
CAMERA_DIR = "camera_2_center_fov60.h264"
#: ``video_data_`` dates seen in the real path lists.
VIDEO_DATES = ("20180620", "20180703", "20180731", "20180803", "20180804", "20180809", "20180828")
DAY_DOMAINS = ("sunny", "cloudy", "rainy")


@dataclass(frozen=True)
class FramePlan:
    """One frame to draw: where it goes and which drive/frame of the world it shows.

    ``relpath`` is relative to the domain folder (no leading slash); ``drive`` is the drive
    folder relative to the domain folder (``video_data_.../dw_..._20fps_bae``), the same string
    for every domain that shares the drive; ``frame`` is the index after the last ``_``.
    """

    domain: str
    relpath: str
    drive: str
    frame: int
    clip: int
    drive_index: int

    @property
    def key(self) -> str:
        return f"{self.domain}/{self.relpath}"


def _drive_length(per_domain: int) -> float:
    """Mean frames per drive: per_domain / 12 (4 to 250), so even a small tree has enough
    200-frame blocks for split v1 to come near its 15 % test share."""
    return min(250.0, max(4.0, per_domain / 12.0))


def _drive_counts(per_domain: int) -> tuple[int, int]:
    """(day drives, night drives)."""
    length = _drive_length(per_domain)
    n_day = min(60, max(3, math.ceil(3 * per_domain / length)))
    n_night = min(20, max(2, math.ceil(per_domain / length)))
    return n_day, n_night


def _segments(rng: np.random.Generator, total: int, mean: float) -> list[int]:
    out, left = [], total
    while left > 0:
        n = min(left, int(rng.geometric(1.0 / mean)))
        out.append(n)
        left -= n
    return out


def _day_sequence(rng: np.random.Generator, per_domain: int) -> list[str]:
    """Labels of all day frames in time order: runs of sunny/cloudy/rainy that alternate."""
    mean = max(2.0, min(60.0, per_domain / 6.0))
    pools = {d: _segments(rng, per_domain, mean) for d in DAY_DOMAINS}
    seq: list[str] = []
    prev = None
    while any(pools.values()):
        choices = [d for d in DAY_DOMAINS if pools[d] and d != prev] or [d for d in DAY_DOMAINS if pools[d]]
        weights = np.array([sum(pools[d]) for d in choices], dtype=float)
        d = choices[int(rng.choice(len(choices), p=weights / weights.sum()))]
        seq.extend([d] * pools[d].pop())
        prev = d
    return seq


def _cut(rng: np.random.Generator, total: int, n: int, avoid: int) -> list[int]:
    """Cut ``total`` frames into ``n`` drives of random lengths; no cut at ``avoid``."""
    n = min(n, total)
    w = rng.uniform(0.5, 1.5, n)
    ends = np.round(np.cumsum(w) / w.sum() * total).astype(int)
    ends[-1] = total
    ends = list(ends)
    for i in range(len(ends) - 1):
        lo = ends[i - 1] if i else 0
        ends[i] = min(max(ends[i], lo + 1), total - (len(ends) - 1 - i))
    for i in range(len(ends) - 1):
        if ends[i] == avoid:  # force one drive to run from day into night (dusk)
            lo = ends[i - 1] if i else 0
            if ends[i] + 1 < ends[i + 1]:
                ends[i] += 1
            elif ends[i] - 1 > lo:
                ends[i] -= 1
    starts = [0] + ends[:-1]
    return [e - s for s, e in zip(starts, ends)]


def _drive_folder(rng: np.random.Generator, k: int, hour_range: tuple[int, int], used: set[str]) -> str:
    vd = VIDEO_DATES[0] if k == 0 else VIDEO_DATES[int(rng.integers(0, len(VIDEO_DATES)))]
    vdate = _dt.date(int(vd[:4]), int(vd[4:6]), int(vd[6:]))
    rec = vdate - _dt.timedelta(days=int(rng.integers(1, 30)))
    tyo = k == 1 or rng.random() < 0.1
    jig, site = ("jig_TYO01", "TYO") if tyo else ("jig_KYT01", "KYT")
    b = "b" if rng.random() < 0.15 else ""
    fps = "20fps/" if vd == "20180620" else ""
    while True:
        hour = int(rng.integers(hour_range[0], hour_range[1]))
        t = _dt.datetime(rec.year, rec.month, rec.day) + _dt.timedelta(hours=hour, minutes=int(rng.integers(0, 60)), seconds=int(rng.integers(0, 60)))
        drive = f"dw_{t:%Y_%m_%d_%H-%M-%S}_000000_20fps_bae"
        if drive not in used:  # the dw_ folder names a recording: unique across the tree
            used.add(drive)
            return f"video_data_{vd}/{jig}/{fps}{rec:%Y%m%d}{b}_{site}/{drive}"


def plan_frames(per_domain: int = DEFAULT_PER_DOMAIN, seed: int = 0) -> list[FramePlan]:
    """The frames of a synthetic tree, without drawing them (cheap: thousands per millisecond).

    Exactly ``per_domain`` frames per domain, in time order (drive by drive, frame by frame).
    Three day drives hold one weather each (as some real drives do), so even a tiny tree has a
    single-domain block of every domain for split v1's test side; the other day drives mix
    sunny/cloudy/rainy runs; a dusk drive joins the last day run to the first night run; the
    rest of the night frames are in night-only drives.
    """
    if per_domain < 1:
        raise UsageError(f"--per-domain: expected an integer >= 1, got {per_domain}")
    rng = np.random.default_rng([seed, 11])
    n_day, n_night = _drive_counts(per_domain)
    pure = int(min(per_domain - 1, max(1, round(_drive_length(per_domain) / 2)))) if per_domain >= 2 else 0
    rest = per_domain - pure
    mixed = _day_sequence(rng, rest) + ["night"] * per_domain
    lengths = ([pure] * 3 if pure else []) + _cut(rng, len(mixed), max(1, n_day - 3) + n_night, avoid=3 * rest)
    labels = ([d for d in DAY_DOMAINS for _ in range(pure)]) + mixed
    plans: list[FramePlan] = []
    used: set[str] = set()
    pos = 0
    for k, n in enumerate(lengths):
        night_part = labels[pos:pos + n].count("night")
        hours = (19, 24) if night_part == n else (16, 18) if night_part else (8, 16)
        folder = _drive_folder(rng, k, hours, used)
        clip = int(rng.integers(0, 46))
        frame = 1 if rng.random() < 0.5 else int(rng.integers(2, 400))
        for dom in labels[pos:pos + n]:
            rel = f"{folder}/{CAMERA_DIR}/{clip}_{frame:05d}.png"
            plans.append(FramePlan(dom, rel, folder, frame, clip, k))
            frame += 1 if rng.random() >= 0.02 else int(rng.integers(2, 4))
        pos += n
    return plans


def parse_size(text: str) -> tuple[int, int]:
    """``'256x161'`` -> (256, 161); a UsageError naming ``--size`` otherwise."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size: expected WIDTHxHEIGHT such as 256x161, got {text!r}") from None
    check_size((w, h))
    return w, h


def check_size(size: tuple[int, int]) -> None:
    w, h = size
    if w < 32 or h < 20 or w > 4096 or h > 4096:
        raise UsageError(f"--size: expected width 32..4096 and height 20..4096 pixels, got {w}x{h}")


def _render_drive(root: str, plans: list[FramePlan], seed: int, size: tuple[int, int], progress=None) -> list[tuple]:
    """Draw and write every frame of one drive; returns (boxes, bytes) per plan, in order."""
    first, last = min(p.frame for p in plans), max(p.frame for p in plans)
    scene = make_drive_scene(_mix(seed, plans[0].drive_index), first, last)
    out = []
    made: set[Path] = set()
    for p in plans:
        rng = np.random.default_rng([seed, p.drive_index, p.frame, 3])
        img, boxes = render_frame(scene, p.domain, p.frame, size, rng)
        path = Path(root) / p.domain / p.relpath
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        out.append((boxes, write_png(path, img)))
        if progress is not None:
            progress()
    return out


def _render_drive_job(args, progress=None) -> list[tuple]:
    """Draw one drive's job tuple (see :func:`_drive_jobs`) with its generator; ``progress()`` per image."""
    generator, *rest = args
    if generator == "v1":
        return _render_drive(*rest, progress)
    from initbench.dataset.synthetic_v2 import render_drive_v2

    root, ps, seed, size, test_keys, paired = rest
    return render_drive_v2(root, ps, seed, _mix(seed, ps[0].drive_index), size, test_keys, paired, progress)


def _check_synth_arguments(generator: str, paired: bool, size: tuple[int, int] | None, workers: int) -> tuple[int, int]:
    """UsageError naming the option for a bad generator, ``paired`` with v1, size or workers; returns (W, H)."""
    if generator not in GENERATORS:
        raise UsageError(f"--generator: expected one of {', '.join(GENERATORS)}, got {generator!r}")
    if paired and generator != "v2":
        raise UsageError("--paired: ground truth needs --generator v2 (v1 draws one constant style per domain)")
    size = DEFAULT_SIZES[generator] if size is None else size
    check_size(tuple(size))
    if workers < 1:
        raise UsageError(f"--workers: expected an integer >= 1, got {workers}")
    return int(size[0]), int(size[1])


def _drive_jobs(generator: str, root: Path, by_drive: dict[int, list[FramePlan]], seed: int, size: tuple[int, int],
                test_keys: frozenset, paired: bool) -> list[tuple]:
    """One picklable argument tuple per drive, for :func:`_render_drive_job`."""
    extra = (test_keys, paired) if generator == "v2" else ()
    return [(generator, str(root), ps, seed, size) + extra for ps in by_drive.values()]


def _render_all(by_drive: dict[int, list[FramePlan]], jobs: list[tuple], workers: int, total: int,
                progress: Callable[[int, int], None] | None) -> dict[str, tuple]:
    """Draw every drive (in ``workers`` processes when > 1); returns the job results per plan key.

    ``progress(done, total)`` counts every image written; with workers, once per finished drive."""
    results: dict[str, tuple] = {}
    done = 0
    if workers == 1:
        def tick():
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total)

        for ps, job in zip(by_drive.values(), jobs):
            for p, r in zip(ps, _render_drive_job(job, tick)):
                results[p.key] = r
        return results
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers) as pool:
        for ps, rs in zip(by_drive.values(), pool.map(_render_drive_job, jobs)):
            for p, r in zip(ps, rs):
                results[p.key] = r
            done += sum(len(r[2]) if len(r) > 2 else 1 for r in rs)
            if progress is not None:
                progress(done, total)
    return results


def _collect_records(plans: list[FramePlan], results: dict[str, tuple], W: int, H: int) -> tuple[dict, dict, int, list]:
    """From the drawn frames, in plan order: (records per domain, boxes per domain and class, bytes, latent records)."""
    records: dict[str, list[Record]] = {d: [] for d in DOMAINS}
    boxes_per_class = {d: {name: 0 for name in CATEGORY_KEYS.values()} for d in DOMAINS}
    total_bytes = 0
    latents: list[dict] = []
    for p in plans:
        boxes, nbytes, *recs = results[p.key]
        latents += recs[0] if recs else []
        total_bytes += nbytes
        recs = records[p.domain]
        recs.append(
            Record(
                domain=p.domain, index=len(recs) + 1, path="/" + p.relpath, channels=3, height=H, width=W, num=1,
                boxes=tuple(Box(c, float(x1), float(y1), float(x2), float(y2)) for c, x1, y1, x2, y2 in boxes),
            )
        )
        for c, *_ in boxes:
            boxes_per_class[p.domain][CATEGORY_KEYS[c]] += 1
    return records, boxes_per_class, total_bytes, latents


def _write_annotations(root: Path, records: dict[str, list[Record]]) -> list[str]:
    """``OUT/batch1_anno/<domain>1.txt`` for every domain; returns their paths."""
    anno_files = []
    for d in DOMAINS:
        f = root / "batch1_anno" / f"{d}1.txt"
        write_file(f, records[d])
        anno_files.append(str(f))
    return anno_files


def _v2_summary(root: Path, plans: list[FramePlan], results: dict, latents: list[dict], split: dict,
                test_keys: frozenset) -> dict:
    """Write ``OUT/latents.jsonl``; returns v2's part of the summary (latents, split, ground truth, box size)."""
    from initbench.dataset.synthetic_v2 import LATENTS_FILE, latents_text
    from initbench.dataset.split import split_counts

    write_atomic(root / LATENTS_FILE, latents_text(latents))
    gt = [r for r in latents if r["source"] is not None]
    return {"latents": str(root / LATENTS_FILE), "split": "drives", "split_counts": split_counts(split),
            "test_drives": len({p.drive for p in plans if p.key in test_keys}),
            "ground_truth_images": len(gt), "median_box_short_side": _median_short_side(results)}


def synthesize(
    out: str | os.PathLike,
    per_domain: int = DEFAULT_PER_DOMAIN,
    size: tuple[int, int] | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
    generator: str = DEFAULT_GENERATOR,
    paired: bool = False,
) -> dict:
    """Draw and write a synthetic mini-INIT under ``out``; returns a summary dict.

    ``generator`` is ``"v2"`` (default) or ``"v1"``; ``size`` None takes the generator's default.
    v2 also writes ``OUT/latents.jsonl`` and, with ``paired``, the ground truth of every test
    frame of split ``drives`` in the other three domains (``paired`` needs v2).
    Files of the plan are (over)written atomically; nothing else under ``out`` is touched.
    ``progress(done, total)`` is called as images are written. ``workers > 1`` draws drives
    in that many processes; the files are the same bytes whatever the number of workers.
    """
    W, H = _check_synth_arguments(generator, paired, size, workers)
    plans = plan_frames(per_domain, seed)
    root = Path(out)
    by_drive: dict[int, list[FramePlan]] = {}
    for p in plans:
        by_drive.setdefault(p.drive_index, []).append(p)
    split = None
    test_keys: frozenset = frozenset()
    if generator == "v2":
        from initbench.dataset.split import split_drives

        split = split_drives(p.key for p in plans)
        test_keys = frozenset(k for k, s in split.items() if s == "test")
    total = len(plans) + (3 * len(test_keys) if paired else 0)
    jobs = _drive_jobs(generator, root, by_drive, seed, (W, H), test_keys, paired)
    results = _render_all(by_drive, jobs, workers, total, progress)
    records, boxes_per_class, total_bytes, latents = _collect_records(plans, results, W, H)
    anno_files = _write_annotations(root, records)
    extra = _v2_summary(root, plans, results, latents, split, test_keys) if generator == "v2" else {}
    return {
        "root": str(root),
        "generator": generator,
        "per_domain": per_domain,
        "size": [W, H],
        "seed": seed,
        "images": {d: len(records[d]) for d in DOMAINS},
        "boxes": boxes_per_class,
        "drives": len(by_drive),
        "shared_drives": sum(1 for ps in by_drive.values() if len({p.domain for p in ps}) > 1),
        "annotation_files": anno_files,
        "bytes": total_bytes,
        "zlib": zlib.ZLIB_RUNTIME_VERSION,
        **extra,
    }


def _median_short_side(results: dict) -> float | None:
    sides = sorted(min(x2 - x1, y2 - y1) for boxes, *_ in results.values() for _, x1, y1, x2, y2 in boxes)
    if not sides:
        return None
    n = len(sides)
    return float(sides[n // 2]) if n % 2 else (sides[n // 2 - 1] + sides[n // 2]) / 2.0


def _mix(seed: int, drive_index: int) -> int:
    return int(np.random.default_rng([seed, drive_index, 5]).integers(0, 2**62))


def render_planned(key: str, domain: str, per_domain: int = DEFAULT_PER_DOMAIN, size: tuple[int, int] | None = None,
                   seed: int = 0) -> tuple[np.ndarray, list, dict]:
    """Generator v2's rendering of the planned frame ``key`` (``<domain>/<relpath>``) in ``domain``.

    ``domain`` equal to the key's own domain gives the released frame; another one gives its
    ground truth there (written by ``paired=True`` for test frames). Returns (image, boxes,
    latent fields); the same arguments as :func:`synthesize` give the same pixels.
    """
    from initbench.dataset.synthetic_v2 import render_v2, scene_for, style_seed

    if domain not in DOMAINS:
        raise UsageError(f"domain: expected one of {', '.join(DOMAINS)}, got {domain!r}")
    size = DEFAULT_SIZES["v2"] if size is None else tuple(size)
    plans = plan_frames(per_domain, seed)
    found = [p for p in plans if p.key == key]
    if not found:
        raise UsageError(f"key: {key!r} is not a frame of the plan ({per_domain} per domain, seed {seed})")
    p = found[0]
    scene = scene_for(_mix(seed, p.drive_index), [q for q in plans if q.drive_index == p.drive_index])
    return render_v2(scene, domain, p.frame, size, style_seed(seed, p.drive_index, p.frame, domain, source=p.domain))
