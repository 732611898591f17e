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
from initbench.dataset.synthetic_style import FrameStyle, v1_style

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


@dataclass(frozen=True)
class Layout:
    """How a street is populated and seen: generator v1's numbers are the defaults."""

    rates: tuple = (0.8, 1.5, 1.5, 3.0, 1.0)  # per 100 m: cars ahead, oncoming, parked; people; signs
    person_width: tuple = (0.5, 0.5)  # metres (lo, hi)
    sign_size: float = 0.6
    focal_per_width: float = FOCAL_PER_WIDTH
    object_far: float = Z_FAR * 0.6
    min_object_px: int = MIN_OBJECT_PX


V1_LAYOUT = Layout()
#: Generator v2: a 45 degree lens and objects within 34 m, three times as many, people and signs
#: a little larger, so the median box short side is >= 12 px at 256 x 160 (v1: 4-5 px at 64 x 40).
V2_LAYOUT = Layout(rates=(2.4, 3.0, 4.5, 6.0, 2.5), person_width=(0.55, 0.75), sign_size=0.8,
                   focal_per_width=0.5 / math.tan(math.radians(22.5)), object_far=34.0, min_object_px=4)


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
    focal_per_width: float = FOCAL_PER_WIDTH
    object_far: float = Z_FAR * 0.6  # objects are drawn between Z_NEAR + 0.5 m and this distance
    min_object_px: int = MIN_OBJECT_PX
    _cache: dict = field(default_factory=dict)


def make_drive_scene(seed: int, first_frame: int, last_frame: int, layout: Layout = V1_LAYOUT) -> DriveScene:
    """Lay out one street: building walls, poles, and the objects met between two frames."""
    rng = np.random.default_rng([seed, 101])
    speed = float(rng.uniform(0.25, 0.6))
    s0, s1 = first_frame * speed, last_frame * speed + Z_FAR
    # Objects are placed where the camera will see them (v1: the whole street ahead).
    o1 = s1 if layout is V1_LAYOUT else last_frame * speed + layout.object_far
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
    length = s1 - s0 + Z_FAR if layout is V1_LAYOUT else o1 - s0
    r_ahead, r_oncoming, r_parked, r_people, r_signs = layout.rates

    def some(rate_per_100m: float) -> int:
        return int(rng.poisson(rate_per_100m * length / 100.0))

    for _ in range(some(r_ahead)):  # cars ahead in our lane, about our speed
        objects.append(_car(rng, x=float(rng.normal(0.0, 0.15)), z=float(rng.uniform(s0, o1)),
                            v=speed * float(rng.uniform(0.7, 1.1)), facing=1))
    for _ in range(some(r_oncoming)):  # oncoming cars
        far = 200 if layout is V1_LAYOUT else 2 * layout.object_far
        objects.append(_car(rng, x=float(rng.normal(3.4, 0.15)), z=float(rng.uniform(s0, o1 + far)),
                            v=-float(rng.uniform(0.3, 0.8)), facing=-1))
    for _ in range(some(r_parked)):  # parked at the kerb
        objects.append(_car(rng, x=float(rng.uniform(-1.1, -0.9)), z=float(rng.uniform(s0, o1)), v=0.0, facing=1))
    pw0, pw1 = layout.person_width
    for _ in range(some(r_people)):  # people on either pavement
        x = float(rng.uniform(-4.2, -2.0)) if rng.random() < 0.55 else float(rng.uniform(5.4, 7.4))
        shirt = rng.uniform(0.05, 0.9, 3).astype(np.float32)
        pw = pw0 if pw1 == pw0 else float(rng.uniform(pw0, pw1))
        objects.append(WorldObject(PERSON, x, float(rng.uniform(s0, o1)), float(rng.normal(0, 0.05)), pw,
                                   float(rng.uniform(1.5, 1.85)), shirt))
    for _ in range(some(r_signs)):  # speed-limit signs on posts at the kerb
        x = -2.0 if rng.random() < 0.6 else 5.5
        sz = layout.sign_size
        objects.append(WorldObject(SIGN, x, float(rng.uniform(s0, o1)), 0.0, sz, sz, np.ones(3, np.float32),
                                   base=float(rng.uniform(2.0, 2.6))))
    return DriveScene(seed, float(rng.uniform(0.44, 0.50)), float(rng.uniform(0.47, 0.53)), speed, tuple(walls), poles, objects,
                      focal_per_width=layout.focal_per_width, object_far=layout.object_far, min_object_px=layout.min_object_px)


def _car(rng, x, z, v, facing) -> WorldObject:
    colour = CAR_COLORS[rng.integers(0, len(CAR_COLORS))]
    return WorldObject(CAR, x, z, v, float(rng.uniform(1.6, 1.85)), float(rng.uniform(1.4, 1.75)), colour, facing)


def _geometry(scene: DriveScene, W: int, H: int) -> dict:
    """Per-pixel ray casts (road plane and both walls) for one drive and frame size."""
    key = (W, H)
    if key in scene._cache:
        return scene._cache[key]
    f = scene.focal_per_width * W
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


def _draw_sky(cv: Canvas, g: dict, st: FrameStyle, frame: int, W: int) -> None:
    """Sky (emitted: it is the light source, not a lit surface), with clouds drifting slowly, and the skyline haze."""
    bottom = np.asarray(st.sky_bottom, np.float32)
    if "sky_t" not in g:
        g["sky_t"] = np.clip(g["yy"] / max(g["hz"], 1.0), 0, 1)[..., None]
    t = g["sky_t"]
    sky = np.asarray(st.sky_top, np.float32) * (1 - t) + bottom * t
    shift = int(frame * 0.15) % W
    cl = g["clouds"][:, shift:shift + W][..., None]
    if st.puff_threshold is not None:  # white puffs on a clear sky
        sky = np.where(cl > st.puff_threshold, sky + (cl - st.puff_threshold) * 2.2, sky)
    if st.cloud_mod is not None:  # an overcast sky, darker and lighter patches
        sky = sky * (st.cloud_mod[0] + st.cloud_mod[1] * cl)
    cv.emit[:] = sky
    haze = bottom * st.haze
    cv.emit[g["skyline"]] = haze * st.skyline


def _draw_walls(cv: Canvas, scene: DriveScene, g: dict, st: FrameStyle, s: float) -> None:
    """Buildings along each side, with a window grid; lit windows at night. ``s``: the camera's distance."""
    zw, hw, left = g["zw"], g["hw"], g["left"]
    for side, sel in ((0, left), (1, ~left)):
        edges, heights, colours, period, lit_seed = scene.walls[side]
        zworld = zw + s
        idx = np.clip(np.searchsorted(edges, zworld), 0, len(heights) - 1)
        m = sel & g["wall_ok"] & (hw < heights[idx])
        if not m.any():
            continue
        col = colours[idx[m]]
        if st.shade_right is not None and side == 1:
            col = col * st.shade_right  # the right-hand wall is in the shade
        zi, hi = zworld[m] / period, hw[m] / 3.0
        win = ((zi % 1.0) > 0.3) & ((zi % 1.0) < 0.75) & ((hi % 1.0) > 0.35) & ((hi % 1.0) < 0.8) & (hw[m] > 2.6)
        col = np.where(win[:, None], col * 0.35 + 0.08, col)
        cv.diffuse[m] = col
        cv.emit[m] = 0.0
        if st.lit_percent is not None:
            cv.emit[m] = _lit_windows(zi, hi, win, lit_seed ^ st.lit_salt, st.lit_percent)


def _lit_windows(zi: np.ndarray, hi: np.ndarray, win: np.ndarray, salt: int, percent: int) -> np.ndarray:
    """Emitted light of wall pixels: ``percent`` of the window cells lit (a hash of the cell), warm, of varying strength."""
    cell = (np.floor(zi).astype(np.int64) * 73856093) ^ (np.floor(hi).astype(np.int64) * 19349663) ^ salt
    lit = win & ((cell % 100) < percent)
    e = np.zeros((len(zi), 3), np.float32)
    e[lit] = np.array([1.0, 0.82, 0.5], np.float32) * (0.55 + 0.4 * ((cell[lit] >> 7) % 10) / 10.0)[:, None]
    return e


def _draw_road(cv: Canvas, g: dict, st: FrameStyle, xg: np.ndarray, zg: np.ndarray, s: float) -> None:
    """Road plane: asphalt, kerbs/pavement, white edge line, orange centre line, dashed lane guide."""
    gr = g["ground"]
    px = np.maximum(0.9 * zg / g["f"], 0.07)  # half a pixel in metres, so far lines stay visible
    road = (xg > ROAD[0]) & (xg < ROAD[1])
    col = np.where(road[:, None], np.float32(st.road), np.float32(st.pavement))
    edge = np.abs(xg - (ROAD[0] + 0.15)) < px
    centre = np.abs(xg - CENTRE_LINE) < px
    dashes = (np.abs(xg - (ROAD[1] - 0.2)) < px) & (((zg + s) / 9.0) % 1.0 < 0.5)
    col = np.where((edge | dashes)[:, None], np.float32([0.85, 0.85, 0.82]), col)
    col = np.where(centre[:, None], np.float32([0.85, 0.55, 0.12]), col)
    cv.diffuse[gr] = col
    cv.emit[gr] = 0.0


def _light_map(g: dict, st: FrameStyle, xg: np.ndarray, zg: np.ndarray, H: int, W: int) -> np.ndarray:
    """Ambient light, plus (night) our headlight beam on the road; lamp pools are added per pole."""
    light = np.full((H, W), st.ambient, np.float32)
    if st.headlight_beam:
        beam = np.zeros((H, W), np.float32)
        beam[g["ground"]] = 0.6 / (1.0 + zg / 12.0) ** 2 / (1.0 + (xg - 0.2) ** 2 / 6.0)
        light += beam
    return light


def _painter_list(scene: DriveScene, frame: int, s: float) -> list[tuple]:
    """Poles and objects in view, farthest first: ``(z, "pole", (x, height, k))`` or ``(z, "obj", index)``."""
    items = []
    for side, xp in POLE_X:
        spacing, offset, ph = scene.poles[side]
        k0 = math.floor((s + Z_NEAR - offset) / spacing)
        for k in range(k0, k0 + int(Z_FAR / spacing) + 2):
            z = k * spacing + offset - s
            if Z_NEAR < z < Z_FAR:
                items.append((z, "pole", (xp, ph, k)))
    for i, ob in enumerate(scene.objects):
        z = ob.z + ob.v * frame - s
        if Z_NEAR + 0.5 < z < scene.object_far:
            items.append((z, "obj", i))
    items.sort(key=lambda it: (-it[0], str(it[1]), it[2] if it[1] == "obj" else it[2][2]))
    return items


def _draw_pole(cv: Canvas, g: dict, st: FrameStyle, light: np.ndarray, xg: np.ndarray, zg: np.ndarray,
               z: float, pole: tuple, k: float) -> None:
    """One pole at distance ``z`` with its arm; at night its lamp glows and lights a pool on the road."""
    hz, vp = g["hz"], g["vp"]
    xp, ph, _ = pole
    cx = vp + xp * k
    hw_px = max(0.5, 0.15 * k)
    cv.rect(cx - hw_px, hz - (ph - CAMERA_HEIGHT) * k, cx + hw_px, hz + CAMERA_HEIGHT * k, np.float32([0.42, 0.42, 0.40]))
    arm = (1.2 if xp < 0 else -1.2) * k
    ly = hz - (ph - 0.4 - CAMERA_HEIGHT) * k
    arm_half = max(0.5, 0.08 * k)
    cv.rect(min(cx, cx + arm), ly - arm_half, max(cx, cx + arm), ly + arm_half, np.float32([0.35, 0.35, 0.35]))
    if st.street_lamps:
        cv.glow(cx + arm, ly + 0.2 * k, max(0.8, 0.35 * k), (1.0, 0.9, 0.7), 1.3)
        light[g["ground"]] += 0.5 / (1.0 + ((xg - (xp + 1.2 * np.sign(-xp))) ** 2 + (zg - z) ** 2) / 30.0) ** 2


def _object_box(scene: DriveScene, g: dict, ob: WorldObject, k: float, W: int, H: int) -> tuple | None:
    """(full box, clipped box) in integer pixels of ``ob`` at scale ``k``; None when either is too small."""
    hz, vp = g["hz"], g["vp"]
    x1f = vp + (ob.x - ob.w / 2) * k
    x2f = vp + (ob.x + ob.w / 2) * k
    y2f = hz + (CAMERA_HEIGHT - ob.base) * k
    y1f = hz + (CAMERA_HEIGHT - ob.base - ob.h) * k
    bx1, by1, bx2, by2 = (int(round(v)) for v in (x1f, y1f, x2f, y2f))
    if bx2 - bx1 < scene.min_object_px or by2 - by1 < scene.min_object_px:
        return None
    cx1, cy1, cx2, cy2 = max(bx1, 0), max(by1, 0), min(bx2, W), min(by2, H)
    if cx2 - cx1 < scene.min_object_px or cy2 - cy1 < scene.min_object_px:
        return None
    return (bx1, by1, bx2, by2), (ob.cls, cx1, cy1, cx2, cy2)


def _draw_items(cv: Canvas, scene: DriveScene, g: dict, st: FrameStyle, light: np.ndarray, xg: np.ndarray,
                zg: np.ndarray, frame: int, s: float, W: int, H: int) -> list[tuple]:
    """Paint poles and objects far to near; returns the drawn objects as (item number, clipped box, full box, index).

    An object whose clipped box repeats one already drawn (same class) is skipped."""
    drawn: list[tuple[int, tuple, tuple, int]] = []
    seen = set()
    for n_item, (z, kind, ref) in enumerate(_painter_list(scene, frame, s)):
        k = g["f"] / z
        cv.current = n_item
        if kind == "pole":
            _draw_pole(cv, g, st, light, xg, zg, z, ref, k)
            continue
        ob = scene.objects[ref]
        boxes = _object_box(scene, g, ob, k, W, H)
        if boxes is None or boxes[1] in seen:
            continue
        full, box = boxes
        seen.add(box)
        draw_object(cv, ob, full, st, st.object_style(ref, ob), k)
        if ob.cls == SIGN:  # the post below the sign is not part of the box
            bx1, _, bx2, by2 = full
            pw = max(0.5, 0.04 * k)
            cxm = (bx1 + bx2) / 2
            cv.rect(cxm - pw, by2, cxm + pw, g["hz"] + CAMERA_HEIGHT * k, np.float32([0.55, 0.55, 0.55]))
        drawn.append((n_item, box, full, ref))
    return drawn


def _visible_boxes(cv: Canvas, drawn: list[tuple]) -> list[tuple]:
    """(box, object index) of the drawn objects that can be seen, sorted by (x1, y1, class).

    An object hidden behind nearer ones or mostly outside the frame (under VISIBLE_FRACTION of
    its full box showing) keeps its pixels but gets no box."""
    shown_boxes = []
    for n_item, box, (bx1, by1, bx2, by2), ref in drawn:
        _, cx1, cy1, cx2, cy2 = box
        shown = int(np.count_nonzero(cv.owner[cy1:cy2, cx1:cx2] == n_item))
        if shown >= VISIBLE_FRACTION * (bx2 - bx1) * (by2 - by1):
            shown_boxes.append((box, ref))
    shown_boxes.sort(key=lambda b: (b[0][1], b[0][2], b[0][0]))
    return shown_boxes


def render_frame(scene: DriveScene, domain: str, frame: int, size: tuple[int, int], rng: np.random.Generator,
                 style: FrameStyle | None = None, with_ids: bool = False):
    """Draw one frame of ``domain`` with ``style`` (None: generator v1's constant style of the domain).

    Geometry (and so the boxes) depends on the scene, the frame and the size only, never on
    the domain or the style. Returns ``(image, boxes)``: ``image`` H x W x 3 uint8; ``boxes`` a list of
    ``(cls, x1, y1, x2, y2)`` integer pixel edges with 0 <= x1 < x2 <= W, 0 <= y1 < y2 <= H.
    ``with_ids`` adds a third value: the index in ``scene.objects`` of each box's object.
    """
    W, H = size
    g = _geometry(scene, W, H)
    s = frame * scene.speed
    st = v1_style(domain) if style is None else style
    cv = Canvas(H, W)
    gr = g["ground"]
    xg, zg = g["xg"][gr], g["zg"][gr]  # road-plane coordinates of the ground pixels

    _draw_sky(cv, g, st, frame, W)
    _draw_walls(cv, scene, g, st, s)
    _draw_road(cv, g, st, xg, zg, s)
    light = _light_map(g, st, xg, zg, H, W)
    wires = _wires(scene, g)  # drawn before poles and objects, which hide them
    cv.diffuse[wires] = 0.08
    cv.emit[wires] = 0.0
    drawn = _draw_items(cv, scene, g, st, light, xg, zg, frame, s, W, H)

    img = cv.diffuse * light[..., None] + cv.emit
    if st.mirror > 0 or st.rain_density > 0:
        img = _wet_and_rain(img, g, cv.covered, rng, st)
    noise = rng.normal(0.0, st.noise, img.shape).astype(np.float32)
    img = np.clip(img + noise, 0.0, 1.0)
    shown_boxes = _visible_boxes(cv, drawn)
    image = (img * 255.0 + 0.5).astype(np.uint8)
    if with_ids:
        return image, [b for b, _ in shown_boxes], [ref for _, ref in shown_boxes]
    return image, [b for b, _ in shown_boxes]


def _wet_and_rain(img: np.ndarray, g: dict, covered: np.ndarray, rng: np.random.Generator, st: FrameStyle) -> np.ndarray:
    """Rain: the wet road mirrors the scene about the horizon, then streaks and haze on top."""
    H, W, _ = img.shape
    out = img.copy()
    if st.mirror > 0:
        gr = g["ground"] & ~covered
        rows = np.clip(2.0 * g["hz"] - g["yy"][gr], 0, H - 1).astype(np.int64)
        cols = g["xx"][gr].astype(np.int64)
        out[gr] = (1 - st.mirror) * img[gr] + st.mirror * img[rows, cols]
    if st.rain_density <= 0:
        return out
    drops = (rng.random((H, W)) < st.rain_density).astype(np.float32)
    streak = np.zeros_like(drops)
    length = max(3, H // 18)
    for t in range(length):  # slanted streaks: each drop smeared down and slightly right
        streak += np.roll(drops, (t, t // 4), axis=(0, 1))
    if st.fog is not None:
        keep, grey, streaks = st.fog
        out = out * keep + grey * np.float32([0.62, 0.64, 0.68]) + streaks * np.minimum(streak, 1.0)[..., None]
    return out
