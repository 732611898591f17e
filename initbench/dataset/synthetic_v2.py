"""Generator v2 of the synthetic mini-INIT: styles drawn per frame, latents recorded, paired ground truth.

Every image (a released frame or a ground-truth rendering) is drawn from one integer
*style seed*: a numpy Generator seeded with it draws the frame factors, then the attributes of
every object of the drive (:mod:`.synthetic_style`), then the frame's sensor noise and rain.
The released frame of ``(drive, frame)`` in its domain ``d`` uses :func:`style_seed` ``(..., d)``;
its ground truth in another domain ``t`` uses :func:`style_seed` ``(..., t, source=d)``, recorded
in ``latents.jsonl``. Rendering ``t == d`` uses the released seed, so "the ground truth of a frame
in its own domain" is the released file, byte for byte.

The geometry (street, objects, their positions and so the boxes) never depends on the domain
or the style: a ground-truth image has exactly the boxes of its source frame.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from initbench.dataset.png import write_png
from initbench.dataset.release import DOMAINS
from initbench.dataset.synthetic_scene import V2_LAYOUT, DriveScene, make_drive_scene, render_frame
from initbench.dataset.synthetic_style import draw_frame_latents, draw_object_latents, v2_style

GROUND_TRUTH_DIR = "ground_truth"
LATENTS_FILE = "latents.jsonl"


def style_seed(seed: int, drive_index: int, frame: int, domain: str, source: str | None = None) -> int:
    """The seed of the style of one rendering: the released frame's when ``source`` is None or ``domain``."""
    d = DOMAINS.index(domain)
    if source is None or source == domain:
        key = [seed, drive_index, frame, 13, d]
    else:
        key = [seed, drive_index, frame, 17, DOMAINS.index(source), d]
    return int(np.random.default_rng(key).integers(0, 2**62))


def render_v2(scene: DriveScene, domain: str, frame: int, size: tuple[int, int], seed: int):
    """Draw one frame of ``domain`` with the style of ``seed``; returns (image, boxes, latent record fields)."""
    rng = np.random.default_rng(seed)
    frame_lat = draw_frame_latents(domain, rng)
    obj_lat = draw_object_latents(domain, scene.objects, rng)
    img, boxes, ids = render_frame(scene, domain, frame, size, rng, style=v2_style(domain, frame_lat, obj_lat), with_ids=True)
    by_id = {o["id"]: o for o in obj_lat}
    objects = [dict(by_id[i], box=list(b[1:])) for b, i in zip(boxes, ids)]
    return img, boxes, {"style_seed": seed, "frame_latents": frame_lat, "objects": objects}


def scene_for(seed_mix: int, plans) -> DriveScene:
    return make_drive_scene(seed_mix, min(p.frame for p in plans), max(p.frame for p in plans), V2_LAYOUT)


def render_drive_v2(root: str, plans, seed: int, seed_mix: int, size: tuple[int, int], test_keys: frozenset,
                    paired: bool, progress=None) -> list[tuple]:
    """Draw and write every frame of one drive (and, with ``paired``, its test frames in the other domains).

    Returns per plan ``(boxes, bytes, latent records)``; the records are this plan's frame,
    then its ground-truth images.
    """
    scene = scene_for(seed_mix, plans)
    out = []
    made: set[Path] = set()

    def write(path: Path, img) -> int:
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        return write_png(path, img)

    for p in plans:
        s = style_seed(seed, p.drive_index, p.frame, p.domain)
        img, boxes, lat = render_v2(scene, p.domain, p.frame, size, s)
        nbytes = write(Path(root) / p.domain / p.relpath, img)
        recs = [dict(path=f"{p.domain}/{p.relpath}", domain=p.domain, source=None, drive=p.drive, frame=p.frame, **lat)]
        if progress is not None:
            progress()
        if paired and p.key in test_keys:
            for t in DOMAINS:
                if t == p.domain:
                    continue
                s_t = style_seed(seed, p.drive_index, p.frame, t, source=p.domain)
                gt, gt_boxes, gt_lat = render_v2(scene, t, p.frame, size, s_t)
                rel = ground_truth_path(p.domain, t, p.relpath)
                nbytes += write(Path(root) / rel, gt)
                recs.append(dict(path=rel, domain=t, source=f"{p.domain}/{p.relpath}", drive=p.drive, frame=p.frame, **gt_lat))
                if progress is not None:
                    progress()
        out.append((boxes, nbytes, recs))
    return out


def ground_truth_path(source: str, target: str, relpath: str) -> str:
    """``ground_truth/<source>2<target>/<relpath>`` (relative to the tree's root, forward slashes)."""
    return f"{GROUND_TRUTH_DIR}/{source}2{target}/{relpath}"


def latents_text(records: list[dict]) -> str:
    """One JSON object a line, sorted by path (the same records give the same bytes)."""
    return "".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in sorted(records, key=lambda r: r["path"]))


def read_latents(path) -> list[dict]:
    """The records of a ``latents.jsonl``."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
