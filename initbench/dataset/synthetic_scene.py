"""Procedural street scenes for the synthetic mini-INIT, drawn with vectorised numpy.

A drive is a straight street seen by a forward camera (60 degree horizontal field of view, as
the release's ``camera_2_center_fov60``; 1.3 m above the road). Each pixel below the horizon is
ray-cast onto the road plane and each pixel beside the vanishing point onto the two building
walls, so roads, lane markings (white edge line, orange centre line), kerbs, facades with
window grids, poles and wires follow one perspective. The camera moves forward a little every
frame, so consecutive frames of a drive are near-duplicates, as in the real video.

Objects (cars in both directions and parked, people on the pavements, speed-limit signs on
posts) live in world coordinates and are projected with the same camera; their boxes are the
integer pixel rectangles they are drawn into, clipped to the frame, so boxes are exact.

The domain changes the light, not the street:
- sunny: blue sky with white clouds, strong light, hard shadows, one wall in shade;
- cloudy: grey cloud sky, flat light, soft shadows;
- rainy: dark sky, wet road that mirrors the scene and each car, rain streaks, haze;
- night: dark sky, ambient 10 %, lit windows, street lamps with light pools, own headlight
  beam, head lights of oncoming cars and tail lights of cars ahead (with glow), and
  retro-reflective signs. These are per-object effects a single global style cannot produce.

Same bytes on every machine: pixel arithmetic uses only IEEE-exact operations (+, -, *, /,
sqrt, comparisons, floor); no exp/log/pow, whose vectorised implementations differ between
CPUs by an ulp, which is enough to flip a rounded pixel. Light falloffs are rational
(1 / (1 + d^2)^2) for that reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from initbench.dataset.synthetic_objects import CAR, PERSON, SIGN, Canvas, draw_object

CAMERA_HEIGHT = 1.3
FOCAL_PER_WIDTH = math.sqrt(3.0) / 2.0  # 0.5 / tan(30 deg): fov 60 degrees
ROAD = (-1.7, 5.1)  # lateral extent of the road (m); own lane centred on 0, oncoming lane at 3.4
CENTRE_LINE = 1.7
WALLS = (-4.6, 7.8)
Z_NEAR, Z_FAR = 3.0, 140.0
#: Objects smaller than this (pixels, either side) are neither drawn nor annotated.
MIN_OBJECT_PX = 2
#: An object is annotated when at least this fraction of its (unclipped) box shows its pixels.
VISIBLE_FRACTION = 0.3

POLE_X = ((0, ROAD[0] - 0.6), (1, ROAD[1] + 0.6))  # (side, lateral position of the poles)

AMBIENT = {"sunny": 1.05, "cloudy": 0.78, "rainy": 0.58, "night": 0.07}
SKY = {
    "sunny": ((0.22, 0.45, 0.88), (0.70, 0.82, 0.95)),
    "cloudy": ((0.60, 0.62, 0.66), (0.80, 0.80, 0.82)),
    "rainy": ((0.34, 0.36, 0.40), (0.52, 0.53, 0.56)),
    "night": ((0.01, 0.012, 0.035), (0.09, 0.065, 0.08)),
}
WALL_COLORS = np.array(
    [[0.78, 0.72, 0.62], [0.62, 0.62, 0.62], [0.55, 0.42, 0.33], [0.86, 0.85, 0.82], [0.70, 0.66, 0.56], [0.45, 0.47, 0.50]],
    dtype=np.float32,
)
CAR_COLORS = np.array(
    [[0.92, 0.92, 0.92], [0.90, 0.90, 0.88], [0.70, 0.71, 0.73], [0.12, 0.12, 0.13], [0.60, 0.08, 0.08], [0.15, 0.25, 0.55], [0.85, 0.85, 0.80]],
    dtype=np.float32,
)


@dataclass
class WorldObject:
    cls: int
    x: float  # lateral centre (m)
    z: float  # world distance along the street at frame 0 (m)
    v: float  # metres per frame along the street
    w: float
    h: float
    color: np.ndarray
    facing: int = 1  # cars: +1 seen from behind, -1 seen from the front
    base: float = 0.0  # height of the bottom above the road (signs)


@dataclass
class DriveScene:
    """Everything about one drive that does not depend on the domain or the frame."""

    seed: int
    horizon: float  # fraction of the height
    vp: float  # fraction of the width
    speed: float  # camera metres per frame
    walls: tuple  # per side: (edges, heights, colours, window period, lit hash seed)
    poles: tuple  # per side: (spacing, offset, height)
    objects: list[WorldObject]
    _cache: dict = field(default_factory=dict)


def make_drive_scene(seed: int, first_frame: int, last_frame: int) -> DriveScene:
    """Lay out one street: building walls, poles, and the objects met between two frames."""
    rng = np.random.default_rng([seed, 101])
    speed = float(rng.uniform(0.25, 0.6))
    s0, s1 = first_frame * speed, last_frame * speed + Z_FAR
    walls = []
    for _ in range(2):
        n = int((s1 - s0 + 2 * Z_FAR) / 8) + 4
        widths = rng.uniform(6.0, 22.0, n)
        edges = s0 - Z_FAR + np.concatenate([[0.0], np.cumsum(widths)])
        heights = rng.choice([3.2, 6.5, 9.5, 12.5, 16.0, 22.0], size=n + 1, p=[0.1, 0.3, 0.25, 0.15, 0.12, 0.08])
        colours = WALL_COLORS[rng.integers(0, len(WALL_COLORS), n + 1)]
        walls.append((edges, heights.astype(np.float32), colours, float(rng.uniform(2.5, 4.0)), int(rng.integers(1, 1 << 30))))
    poles = tuple((float(rng.uniform(22.0, 40.0)), float(rng.uniform(0, 20)), float(rng.uniform(7.5, 9.5))) for _ in range(2))
    objects: list[WorldObject] = []
    length = s1 - s0 + Z_FAR

    def some(rate_per_100m: float) -> int:
        return int(rng.poisson(rate_per_100m * length / 100.0))

    for _ in range(some(0.8)):  # cars ahead in our lane, about our speed
        objects.append(_car(rng, x=float(rng.normal(0.0, 0.15)), z=float(rng.uniform(s0, s1)), v=speed * float(rng.uniform(0.7, 1.1)), facing=1))
    for _ in range(some(1.5)):  # oncoming cars
        objects.append(_car(rng, x=float(rng.normal(3.4, 0.15)), z=float(rng.uniform(s0, s1 + 200)), v=-float(rng.uniform(0.3, 0.8)), facing=-1))
    for _ in range(some(1.5)):  # parked at the kerb
        objects.append(_car(rng, x=float(rng.uniform(-1.1, -0.9)), z=float(rng.uniform(s0, s1)), v=0.0, facing=1))
    for _ in range(some(3.0)):  # people on either pavement
        x = float(rng.uniform(-4.2, -2.0)) if rng.random() < 0.55 else float(rng.uniform(5.4, 7.4))
        shirt = rng.uniform(0.05, 0.9, 3).astype(np.float32)
        objects.append(WorldObject(PERSON, x, float(rng.uniform(s0, s1)), float(rng.normal(0, 0.05)), 0.5, float(rng.uniform(1.5, 1.85)), shirt))
    for _ in range(some(1.0)):  # speed-limit signs on posts at the kerb
        x = -2.0 if rng.random() < 0.6 else 5.5
        objects.append(WorldObject(SIGN, x, float(rng.uniform(s0, s1)), 0.0, 0.6, 0.6, np.ones(3, np.float32), base=float(rng.uniform(2.0, 2.6))))
    return DriveScene(seed, float(rng.uniform(0.44, 0.50)), float(rng.uniform(0.47, 0.53)), speed, tuple(walls), poles, objects)


def _car(rng, x, z, v, facing) -> WorldObject:
    colour = CAR_COLORS[rng.integers(0, len(CAR_COLORS))]
    return WorldObject(CAR, x, z, v, float(rng.uniform(1.6, 1.85)), float(rng.uniform(1.4, 1.75)), colour, facing)


def _geometry(scene: DriveScene, W: int, H: int) -> dict:
    """Per-pixel ray casts (road plane and both walls) for one drive and frame size."""
    key = (W, H)
    if key in scene._cache:
        return scene._cache[key]
    f = FOCAL_PER_WIDTH * W
    hz, vp = scene.horizon * H, scene.vp * W
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    yy += 0.5
    xx += 0.5
    dy = yy - hz
    dx = xx - vp
    with np.errstate(divide="ignore", invalid="ignore"):
        zg = np.where(dy > 0, f * CAMERA_HEIGHT / dy, np.inf)
        xg = dx * zg / f
        zl = np.where(dx < 0, f * -WALLS[0] / -dx, np.inf)
        zr = np.where(dx > 0, f * WALLS[1] / dx, np.inf)
    zw = np.minimum(zl, zr)
    hw = CAMERA_HEIGHT - dy * zw / f
    ground = (dy > 0) & (xg > WALLS[0]) & (xg < WALLS[1]) & (zg < Z_FAR)
    wall_ok = (hw > 0) & (zw < Z_FAR) & ~ground
    rng = np.random.default_rng([scene.seed, 202, W, H])
    clouds = _smooth_noise(rng, H, W * 2, max(4, W // 10)) * 0.65 + _smooth_noise(rng, H, W * 2, max(2, W // 40)) * 0.35
    skyline = _smooth_noise(rng, 1, W, max(3, W // 30))[0] * 0.07 * H
    geo = dict(f=f, hz=hz, vp=vp, yy=yy, xx=xx, zg=zg, xg=xg, zw=zw, hw=hw, left=dx < 0, ground=ground, wall_ok=wall_ok,
               clouds=clouds.astype(np.float32), skyline=(yy > hz - skyline[None, :]) & (yy <= hz + 1))
    scene._cache[key] = geo
    return geo


def _wires(scene: DriveScene, g: dict) -> np.ndarray:
    """Overhead wires from the pole tops towards the vanishing point (the same in every frame)."""
    if "wires" not in g:
        hz, vp, f, xx, yy = g["hz"], g["vp"], g["f"], g["xx"], g["yy"]
        m = np.zeros(xx.shape, bool)
        for side, xp in POLE_X:
            ph = scene.poles[side][2]
            near = (np.abs(xx - vp) > f * abs(xp) / Z_FAR) & ((xx < vp) if side == 0 else (xx > vp))
            for wh in (ph - 0.3, ph - 0.9, ph - 1.6):
                ycurve = hz - (wh - CAMERA_HEIGHT) / abs(xp) * np.abs(xx - vp)
                m |= (np.abs(yy - ycurve) < 0.55) & near
        g["wires"] = m
    return g["wires"]


def _smooth_noise(rng, H: int, W: int, cell: int) -> np.ndarray:
    """Value noise in [0, 1]: a coarse random grid, bilinearly upsampled."""
    gh, gw = H // cell + 2, W // cell + 2
    grid = rng.random((gh, gw)).astype(np.float32)
    ys = (np.arange(H) + 0.5) / cell
    xs = (np.arange(W) + 0.5) / cell
    y0, x0 = ys.astype(int), xs.astype(int)
    ty, tx = (ys - y0)[:, None], (xs - x0)[None, :]
    a = grid[y0][:, x0] * (1 - tx) + grid[y0][:, x0 + 1] * tx
    b = grid[y0 + 1][:, x0] * (1 - tx) + grid[y0 + 1][:, x0 + 1] * tx
    return a * (1 - ty) + b * ty


def render_frame(scene: DriveScene, domain: str, frame: int, size: tuple[int, int], rng: np.random.Generator):
    """Draw one frame.

    Returns ``(image, boxes)``: ``image`` H x W x 3 uint8; ``boxes`` a list of
    ``(cls, x1, y1, x2, y2)`` integer pixel edges with 0 <= x1 < x2 <= W, 0 <= y1 < y2 <= H.
    """
    W, H = size
    g = _geometry(scene, W, H)
    f, hz, vp = g["f"], g["hz"], g["vp"]
    s = frame * scene.speed
    night, rainy, sunny = domain == "night", domain == "rainy", domain == "sunny"
    cv = Canvas(H, W)

    # Sky (emitted: it is the light source, not a lit surface), with clouds drifting slowly.
    bottom = np.asarray(SKY[domain][1], np.float32)
    if ("sky", domain) not in g:
        t = np.clip(g["yy"] / max(hz, 1.0), 0, 1)[..., None]
        g[("sky", domain)] = np.asarray(SKY[domain][0], np.float32) * (1 - t) + bottom * t
    sky = g[("sky", domain)]
    shift = int(frame * 0.15) % W
    cl = g["clouds"][:, shift:shift + W][..., None]
    if sunny:
        sky = np.where(cl > 0.62, sky + (cl - 0.62) * 2.2, sky)
    elif domain in ("cloudy", "rainy"):
        sky = sky * (0.88 + 0.24 * cl)
    cv.emit[:] = sky
    haze = bottom * (0.9 if not night else 0.6)
    cv.emit[g["skyline"]] = haze * (0.8 if not night else 1.0)

    # Walls: buildings along each side, with a window grid; lit windows at night.
    zw, hw, left = g["zw"], g["hw"], g["left"]
    for side, sel in ((0, left), (1, ~left)):
        edges, heights, colours, period, lit_seed = scene.walls[side]
        zworld = zw + s
        idx = np.clip(np.searchsorted(edges, zworld), 0, len(heights) - 1)
        m = sel & g["wall_ok"] & (hw < heights[idx])
        if not m.any():
            continue
        col = colours[idx[m]]
        if sunny and side == 1:
            col = col * 0.62  # the right-hand wall is in the shade
        zi, hi = zworld[m] / period, hw[m] / 3.0
        win = ((zi % 1.0) > 0.3) & ((zi % 1.0) < 0.75) & ((hi % 1.0) > 0.35) & ((hi % 1.0) < 0.8) & (hw[m] > 2.6)
        col = np.where(win[:, None], col * 0.35 + 0.08, col)
        cv.diffuse[m] = col
        cv.emit[m] = 0.0
        if night:
            cell = (np.floor(zi).astype(np.int64) * 73856093) ^ (np.floor(hi).astype(np.int64) * 19349663) ^ lit_seed
            lit = win & ((cell % 100) < 38)
            e = np.zeros((m.sum(), 3), np.float32)
            e[lit] = np.array([1.0, 0.82, 0.5], np.float32) * (0.55 + 0.4 * ((cell[lit] >> 7) % 10) / 10.0)[:, None]
            cv.emit[m] = e

    # Road plane: asphalt, kerbs/pavement, white edge line, orange centre line, dashed lane guide.
    gr = g["ground"]
    xg, zg = g["xg"][gr], g["zg"][gr]
    px = np.maximum(0.9 * zg / f, 0.07)  # half a pixel in metres, so far lines stay visible
    road = (xg > ROAD[0]) & (xg < ROAD[1])
    col = np.where(road[:, None], np.float32([0.33, 0.33, 0.34]), np.float32([0.58, 0.56, 0.53]))
    if rainy:
        col = np.where(road[:, None], np.float32([0.17, 0.17, 0.19]), np.float32([0.36, 0.35, 0.34]))
    edge = np.abs(xg - (ROAD[0] + 0.15)) < px
    centre = np.abs(xg - CENTRE_LINE) < px
    dashes = (np.abs(xg - (ROAD[1] - 0.2)) < px) & (((zg + s) / 9.0) % 1.0 < 0.5)
    col = np.where((edge | dashes)[:, None], np.float32([0.85, 0.85, 0.82]), col)
    col = np.where(centre[:, None], np.float32([0.85, 0.55, 0.12]), col)
    cv.diffuse[gr] = col
    cv.emit[gr] = 0.0

    # Light map: ambient, plus (night) our headlight beam and lamp pools.
    light = np.full((H, W), AMBIENT[domain], np.float32)
    if night:
        beam = np.zeros((H, W), np.float32)
        beam[gr] = 0.6 / (1.0 + zg / 12.0) ** 2 / (1.0 + (xg - 0.2) ** 2 / 6.0)
        light += beam

    # Poles (with lamps) and wires: part of the painter's list with the objects.
    items = []
    wires = _wires(scene, g)
    cv.diffuse[wires] = 0.08
    cv.emit[wires] = 0.0
    for side, xp in POLE_X:
        spacing, offset, ph = scene.poles[side]
        k0 = math.floor((s + Z_NEAR - offset) / spacing)
        for k in range(k0, k0 + int(Z_FAR / spacing) + 2):
            z = k * spacing + offset - s
            if Z_NEAR < z < Z_FAR:
                items.append((z, "pole", (xp, ph, k)))
    for i, ob in enumerate(scene.objects):
        z = ob.z + ob.v * frame - s
        if Z_NEAR + 0.5 < z < Z_FAR * 0.6:
            items.append((z, "obj", i))
    items.sort(key=lambda it: (-it[0], str(it[1]), it[2] if it[1] == "obj" else it[2][2]))

    drawn: list[tuple[int, tuple, tuple]] = []
    seen = set()
    for n_item, (z, kind, ref) in enumerate(items):
        k = f / z
        cv.current = n_item
        if kind == "pole":
            xp, ph, _ = ref
            cx = vp + xp * k
            hw_px = max(0.5, 0.15 * k)
            cv.rect(cx - hw_px, hz - (ph - CAMERA_HEIGHT) * k, cx + hw_px, hz + CAMERA_HEIGHT * k, np.float32([0.42, 0.42, 0.40]))
            arm = (1.2 if xp < 0 else -1.2) * k
            ly = hz - (ph - 0.4 - CAMERA_HEIGHT) * k
            cv.rect(min(cx, cx + arm), ly - max(0.5, 0.08 * k), max(cx, cx + arm), ly + max(0.5, 0.08 * k), np.float32([0.35, 0.35, 0.35]))
            if night:
                cv.glow(cx + arm, ly + 0.2 * k, max(0.8, 0.35 * k), (1.0, 0.9, 0.7), 1.3)
                light[gr] += 0.5 / (1.0 + ((xg - (xp + 1.2 * np.sign(-xp))) ** 2 + (zg - z) ** 2) / 30.0) ** 2
            continue
        ob = scene.objects[ref]
        x1f = vp + (ob.x - ob.w / 2) * k
        x2f = vp + (ob.x + ob.w / 2) * k
        y2f = hz + (CAMERA_HEIGHT - ob.base) * k
        y1f = hz + (CAMERA_HEIGHT - ob.base - ob.h) * k
        bx1, by1, bx2, by2 = (int(round(v)) for v in (x1f, y1f, x2f, y2f))
        if bx2 - bx1 < MIN_OBJECT_PX or by2 - by1 < MIN_OBJECT_PX:
            continue
        cx1, cy1, cx2, cy2 = max(bx1, 0), max(by1, 0), min(bx2, W), min(by2, H)
        if cx2 - cx1 < MIN_OBJECT_PX or cy2 - cy1 < MIN_OBJECT_PX:
            continue
        box = (ob.cls, cx1, cy1, cx2, cy2)
        if box in seen:
            continue
        seen.add(box)
        draw_object(cv, ob, (bx1, by1, bx2, by2), domain, k, hz)
        if ob.cls == SIGN:  # the post below the sign is not part of the box
            pw = max(0.5, 0.04 * k)
            cxm = (bx1 + bx2) / 2
            cv.rect(cxm - pw, by2, cxm + pw, hz + CAMERA_HEIGHT * k, np.float32([0.55, 0.55, 0.55]))
        drawn.append((n_item, box, (bx1, by1, bx2, by2)))

    img = cv.diffuse * light[..., None] + cv.emit
    if rainy:
        img = _wet_and_rain(img, g, cv.covered, rng)
    noise = rng.normal(0.0, 0.02 if night else 0.006, img.shape).astype(np.float32)
    img = np.clip(img + noise, 0.0, 1.0)
    # Annotate what can be seen: an object hidden behind nearer ones or mostly outside the
    # frame (under VISIBLE_FRACTION of its full box showing) keeps its pixels but gets no box.
    boxes = []
    for n_item, box, (bx1, by1, bx2, by2) in drawn:
        _, cx1, cy1, cx2, cy2 = box
        shown = int(np.count_nonzero(cv.owner[cy1:cy2, cx1:cx2] == n_item))
        if shown >= VISIBLE_FRACTION * (bx2 - bx1) * (by2 - by1):
            boxes.append(box)
    boxes.sort(key=lambda b: (b[1], b[2], b[0]))
    return (img * 255.0 + 0.5).astype(np.uint8), boxes


def _wet_and_rain(img: np.ndarray, g: dict, covered: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rain: the wet road mirrors the scene about the horizon, then streaks and haze on top."""
    H, W, _ = img.shape
    gr = g["ground"] & ~covered
    rows = np.clip(2.0 * g["hz"] - g["yy"][gr], 0, H - 1).astype(np.int64)
    cols = g["xx"][gr].astype(np.int64)
    out = img.copy()
    out[gr] = 0.55 * img[gr] + 0.45 * img[rows, cols]
    drops = (rng.random((H, W)) < 0.003).astype(np.float32)
    streak = np.zeros_like(drops)
    length = max(3, H // 18)
    for t in range(length):  # slanted streaks: each drop smeared down and slightly right
        streak += np.roll(drops, (t, t // 4), axis=(0, 1))
    out = out * 0.82 + 0.12 * np.float32([0.62, 0.64, 0.68]) + 0.13 * np.minimum(streak, 1.0)[..., None]
    return out
