"""Train/test splits of INIT: split v1 (leak-free, the default), ``paper`` (leaky), path lists.

INIT frames are consecutive video frames, so a random frame-level split puts a test frame's
neighbour (50 ms away) into training. Split v1 works on temporal blocks and guard bands.

**Frame keys.** An image path relative to its domain folder looks like
``video_data_20180703/jig_KYT01/20180622_KYT/dw_2018_06_22_13-42-45_000000_20fps_bae/camera_2_center_fov60.h264/7_00436.png``
(six or seven folders deep; nothing here assumes a fixed depth):

- ``drive``: the name of the ``dw_...`` folder (the recording's start time). The folders above
  it (delivery batch, rig, date) do not take part, so the same recording delivered under a
  different batch folder is still one drive. A path without a ``dw_`` folder uses the whole
  folder part of its path as the drive.
- ``clip`` and ``index``: the file name is ``<clip>_<index>.png``; ``index`` is the number
  after the last ``_`` (the frame counter at 20 fps, or 1 fps for a few drives) and ``clip``
  the number before it (the camera's recording counter; it increases from drive to drive
  through a day, and in the public third of the release each drive holds exactly one clip).
  Indices restart with each clip, so the temporal position of a frame is ``index`` inside the
  *stream* ``(drive, clip)``: blocks and guard bands never join two clips. A camera folder
  below the drive does not take part: the same index of the same clip is the same instant.

**Split v1** (parameters in ``manifests/init-v1/split-v1.json``):

1. block = ``(drive, clip, index // 200)``; a block may hold frames of several domains (the
   weather label is per frame) and always goes to one side as a whole;
2. blocks are visited in the order of ``sha256(salt + "\\n" + drive + "\\n" + clip + "\\n" + block)``
   (hex digest, ties impossible in practice, broken by the block key);
3. a block goes to ``test`` when every domain it contains is still below its target
   (15 % of that domain's frames), else to ``train``; the visit goes on to the last block;
4. guard band: every ``train`` frame within 20 indices of a ``test`` frame of the same stream
   becomes ``gap`` (used by neither side).

The result depends only on the set of (domain, relative path) keys: not on listing order and
not on where the release lies. Split ``paper`` draws a seeded frame-level random test set
with given per-domain counts (the paper's Table 2 on the full release). It is leaky by
construction (test frames have training neighbours 50 ms away) and is offered only to
compare with numbers computed that way.

Split ``drives`` (:func:`split_drives`, the split of the synthetic mini-INIT v2) holds out
whole drives: drives are visited in the order of ``sha256(salt + "\\n" + drive)`` and go to
``test`` while every domain they hold is below 15 % of its frames. No drive has frames on both
sides, so no street seen in training reappears in the test set, and there is no ``gap``.
Its rule is published in ``manifests/mini-init-v2/split-drives.json``.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import os
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from initbench.dataset.release import DOMAINS, PAPER_COUNTS
from initbench.errors import DataFormatError, UsageError

SPLITS = ("train", "test", "gap")

_FRAME_NAME = re.compile(r"^(?P<clip>.*)_(?P<index>\d+)\.png$", re.IGNORECASE)


@dataclass(frozen=True)
class SplitRule:
    """The parameters of split v1 (as published in ``split-v1.json``)."""

    salt: str = "initbench-split-v1"
    block_length: int = 200
    guard: int = 20
    test_fraction: float = 0.15


def load_rule() -> SplitRule:
    """The split-v1 rule as published in ``split-v1.json`` (shipped in the package)."""
    from initbench.dataset.specs import load_json

    spec = load_json("split-v1.json")
    return SplitRule(
        salt=spec["salt"], block_length=spec["block_length"], guard=spec["guard"], test_fraction=spec["test_fraction"]
    )


DEFAULT_RULE = load_rule()


@dataclass(frozen=True)
class DriveSplitRule:
    """The parameters of split ``drives`` (as published in ``manifests/mini-init-v2/split-drives.json``)."""

    salt: str = "initbench-split-drives-v1"
    test_fraction: float = 0.15


DRIVE_RULE = DriveSplitRule()


@dataclass(frozen=True, order=True)
class FrameKey:
    """Where a frame sits in time: its stream ``(drive, clip)`` and its ``index`` there."""

    drive: str
    clip: str
    index: int

    @property
    def stream(self) -> tuple[str, str]:
        return (self.drive, self.clip)


def split_key(key: str) -> tuple[str, str]:
    """``"sunny/video_data.../7_00436.png"`` -> ``("sunny", "video_data.../7_00436.png")``."""
    k = key.replace("\\", "/").lstrip("/")
    domain, sep, rel = k.partition("/")
    if not sep or domain not in DOMAINS:
        raise DataFormatError(
            f"expected a path '<domain>/<path inside the domain folder>' with a domain out of "
            f"{', '.join(DOMAINS)}; found {key!r}"
        )
    return domain, rel.lstrip("/")


def frame_key(relpath: str) -> FrameKey:
    """Parse the drive, clip and frame index out of an image path (relative to its domain folder).

    Raises DataFormatError when the file name is not ``<clip>_<index>.png``.
    """
    parts = [p for p in relpath.replace("\\", "/").split("/") if p]
    if not parts:
        raise DataFormatError(f"expected an image path '.../<clip>_<index>.png'; found {relpath!r}")
    m = _FRAME_NAME.match(parts[-1])
    if not m:
        raise DataFormatError(
            f"expected an image file name '<clip>_<index>.png' (e.g. 7_00436.png) to place the frame "
            f"in time; found {parts[-1]!r} in {relpath!r}"
        )
    folders = parts[:-1]
    drives = [p for p in folders if p.startswith("dw_")]
    drive = drives[-1] if drives else "/".join(folders)
    return FrameKey(drive=drive, clip=m.group("clip"), index=int(m.group("index")))


def _block_order(salt: str, drive: str, clip: str, block: int) -> str:
    return hashlib.sha256(f"{salt}\n{drive}\n{clip}\n{block}".encode("utf-8")).hexdigest()


def split_v1(keys: Iterable[str], rule: SplitRule = DEFAULT_RULE) -> dict[str, str]:
    """Assign every image key (``<domain>/<relpath>``) to ``train``, ``test`` or ``gap`` by split v1.

    Deterministic, independent of the order of ``keys``. Raises DataFormatError on a key
    whose file name does not give a frame index, or on a key listed twice.
    """
    keys = list(keys)
    if len(set(keys)) != len(keys):
        dup = next(k for k, c in Counter(keys).items() if c > 1)
        raise DataFormatError(f"expected each image once; {dup!r} is listed more than once")
    if rule.block_length < 1 or rule.guard < 0 or not 0 < rule.test_fraction < 1:
        raise UsageError(f"split rule: expected block_length >= 1, guard >= 0, 0 < test_fraction < 1; got {rule}")
    info: dict[str, tuple[str, FrameKey]] = {}
    totals: Counter[str] = Counter()
    blocks: dict[tuple[str, str, int], Counter[str]] = defaultdict(Counter)
    for k in keys:
        domain, rel = split_key(k)
        fk = frame_key(rel)
        info[k] = (domain, fk)
        totals[domain] += 1
        blocks[(fk.drive, fk.clip, fk.index // rule.block_length)][domain] += 1

    target = {d: rule.test_fraction * n for d, n in totals.items()}
    in_test: Counter[str] = Counter()
    test_blocks: set[tuple[str, str, int]] = set()
    order = sorted(blocks, key=lambda b: (_block_order(rule.salt, *b), b))
    for b in order:
        counts = blocks[b]
        if all(in_test[d] < target[d] for d in counts):
            test_blocks.add(b)
            in_test.update(counts)

    out: dict[str, str] = {}
    test_idx: dict[tuple[str, str], list[int]] = defaultdict(list)
    for k, (domain, fk) in info.items():
        if (fk.drive, fk.clip, fk.index // rule.block_length) in test_blocks:
            out[k] = "test"
            test_idx[fk.stream].append(fk.index)
    sorted_test = {s: sorted(v) for s, v in test_idx.items()}
    for k, (domain, fk) in info.items():
        if k in out:
            continue
        near = sorted_test.get(fk.stream)
        out[k] = "gap" if near and _within(near, fk.index, rule.guard) else "train"
    return out


def split_drives(keys: Iterable[str], rule: DriveSplitRule = DRIVE_RULE) -> dict[str, str]:
    """Assign every image key to ``train`` or ``test`` by whole drives (split ``drives``).

    Deterministic, independent of the order of ``keys``; a drive is the ``dw_`` folder (see
    :func:`frame_key`), all its clips together. Raises DataFormatError on a key listed twice
    or without a frame index.
    """
    keys = list(keys)
    if len(set(keys)) != len(keys):
        dup = next(k for k, c in Counter(keys).items() if c > 1)
        raise DataFormatError(f"expected each image once; {dup!r} is listed more than once")
    if not 0 < rule.test_fraction < 1:
        raise UsageError(f"split rule: expected 0 < test_fraction < 1; got {rule}")
    drive_of: dict[str, str] = {}
    totals: Counter[str] = Counter()
    drives: dict[str, Counter[str]] = defaultdict(Counter)
    for k in keys:
        domain, rel = split_key(k)
        drive = frame_key(rel).drive
        drive_of[k] = drive
        totals[domain] += 1
        drives[drive][domain] += 1
    target = {d: rule.test_fraction * n for d, n in totals.items()}
    in_test: Counter[str] = Counter()
    test: set[str] = set()
    for drive in sorted(drives, key=lambda dr: (hashlib.sha256(f"{rule.salt}\n{dr}".encode("utf-8")).hexdigest(), dr)):
        if all(in_test[d] < target[d] for d in drives[drive]):
            test.add(drive)
            in_test.update(drives[drive])
    return {k: "test" if drive_of[k] in test else "train" for k in keys}


def _within(sorted_vals: list[int], x: int, d: int) -> bool:
    i = bisect.bisect_left(sorted_vals, x - d)
    return i < len(sorted_vals) and sorted_vals[i] <= x + d


def paper_test_counts(totals: Mapping[str, int]) -> dict[str, int]:
    """Per-domain test counts of the ``paper`` split for a copy with these per-domain totals.

    A domain whose total equals the paper's Table 2 gets exactly the paper's test count;
    any other total (a subset, the mini-INIT) gets the paper's test share of it, rounded.
    """
    out = {}
    for d, n in totals.items():
        pc = PAPER_COUNTS[d]
        out[d] = pc.test if n == pc.total else int(round(n * pc.test / pc.total))
    return out


def split_paper(keys: Iterable[str], seed: int = 0, counts: Mapping[str, int] | None = None) -> dict[str, str]:
    """The ``paper`` split: a seeded frame-level random test set with exact per-domain counts.

    LEAKY: neighbouring frames of a test frame stay in training. ``counts`` maps domain ->
    number of test images (default :func:`paper_test_counts`). The draw depends on the
    sorted keys and the seed only.
    """
    by_domain: dict[str, list[str]] = defaultdict(list)
    keys = sorted(set(keys))
    for k in keys:
        by_domain[split_key(k)[0]].append(k)
    if counts is None:
        counts = paper_test_counts({d: len(v) for d, v in by_domain.items()})
    out = {k: "train" for k in keys}
    for d in sorted(by_domain):
        n = counts.get(d, 0)
        if not 0 <= n <= len(by_domain[d]):
            raise UsageError(f"counts: expected 0..{len(by_domain[d])} test images for {d}; got {n}")
        rng = random.Random(f"initbench-paper-split:{seed}:{d}")
        for k in rng.sample(by_domain[d], n):
            out[k] = "test"
    return out


def compute_split(keys: Iterable[str], split: str = "v1", seed: int = 0) -> dict[str, str]:
    """``split`` = ``"v1"`` (default, leak-free), ``"drives"`` (whole drives held out) or ``"paper"`` (leaky, seeded)."""
    if split == "v1":
        return split_v1(keys)
    if split == "drives":
        return split_drives(keys)
    if split == "paper":
        return split_paper(keys, seed=seed)
    raise UsageError(f"split: expected 'v1', 'drives' or 'paper'; got {split!r}")


def leakage(assignment: Mapping[str, str], guard: int = DEFAULT_RULE.guard) -> list[tuple[str, str]]:
    """Pairs (test key, train key) of the same stream within ``guard`` indices. Split v1 gives none."""
    streams: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for k, s in assignment.items():
        if s == "train":
            fk = frame_key(split_key(k)[1])
            streams[fk.stream].append((fk.index, k))
    for v in streams.values():
        v.sort()
    out = []
    for k, s in sorted(assignment.items()):
        if s != "test":
            continue
        fk = frame_key(split_key(k)[1])
        train = streams.get(fk.stream, [])
        i = bisect.bisect_left(train, (fk.index - guard, ""))
        while i < len(train) and train[i][0] <= fk.index + guard:
            out.append((k, train[i][1]))
            i += 1
    return out


def split_counts(assignment: Mapping[str, str]) -> dict[str, dict[str, int]]:
    """domain -> {train, test, gap, total}."""
    out: dict[str, dict[str, int]] = {}
    for k, s in assignment.items():
        d = split_key(k)[0]
        row = out.setdefault(d, {"train": 0, "test": 0, "gap": 0, "total": 0})
        row[s] += 1
        row["total"] += 1
    return {d: out[d] for d in DOMAINS if d in out}


def read_path_list(path: str | os.PathLike, root: str | os.PathLike | None = None) -> list[str]:
    """Read a list of image paths, one a line, as keys ``<domain>/<relpath>``.

    A line may be relative to the release root (``sunny/video_data_.../7_00436.png``) or an
    absolute path under ``root``. Blank lines and lines starting with ``#`` are ignored.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"cannot read the path list: {exc}", str(path)) from exc
    rootp = Path(root).resolve() if root is not None else None
    keys = []
    for i, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        p = Path(s)
        if p.is_absolute() and rootp is not None:
            try:
                s = p.resolve().relative_to(rootp).as_posix()
            except ValueError:
                raise DataFormatError(f"expected a path under {rootp}; found {s!r}", str(path), i) from None
        try:
            domain, rel = split_key(s)
        except DataFormatError as exc:
            raise DataFormatError(str(exc), str(path), i) from None
        keys.append(f"{domain}/{rel}")
    return keys


def split_from_lists(
    train: str | os.PathLike | None = None,
    test: str | os.PathLike | None = None,
    root: str | os.PathLike | None = None,
) -> dict[str, str]:
    """A split given as plain path lists (to reproduce another paper's split): key -> train|test.

    An image in both lists is an error naming both files.
    """
    out: dict[str, str] = {}
    where: dict[str, str] = {}
    for name, f in (("train", train), ("test", test)):
        if f is None:
            continue
        for k in read_path_list(f, root):
            if k in out and out[k] != name:
                raise DataFormatError(f"{k!r} is in both the train list ({where[k]}) and the test list", str(f))
            out[k] = name
            where[k] = str(f)
    return out


def lists_assignment(keys: Iterable[str], train=None, test=None, root=None) -> dict[str, str]:
    """Every key of a copy assigned by path lists: ``train``/``test`` as listed, ``gap`` when in neither.

    A listed image that is not among ``keys`` is an error naming the list (the lists and the
    copy disagree).
    """
    listed = split_from_lists(train, test, root)
    keys = set(keys)
    missing = sorted(set(listed) - keys)
    if missing:
        raise DataFormatError(
            f"{len(missing)} listed image(s) are not in the copy, e.g. {missing[0]!r}", str(test if listed[missing[0]] == "test" else train)
        )
    return {k: listed.get(k, "gap") for k in sorted(keys)}


def share_report(assignment: Mapping[str, str]) -> dict[str, dict[str, float | int]]:
    """Per domain: counts, test and gap shares (percent), and the paper's Table 2 counts."""
    rep = {}
    for d, c in split_counts(assignment).items():
        pc = PAPER_COUNTS[d]
        rep[d] = dict(
            c,
            test_pct=100.0 * c["test"] / c["total"] if c["total"] else math.nan,
            gap_pct=100.0 * c["gap"] / c["total"] if c["total"] else math.nan,
            paper_train=pc.train,
            paper_test=pc.test,
        )
    return rep
