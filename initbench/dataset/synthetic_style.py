"""Styles of the synthetic scenes: what the domain changes, as plain numbers the renderer reads.

Generator v1 has one constant style per domain (:func:`v1_style`), kept bit for bit so its
files stay reproducible. Generator v2 draws a style per frame from the domain's distribution
(:func:`draw_v2_style`): every frame factor and every object attribute is drawn uniformly
inside the range :data:`FRAME_RANGES` / :data:`OBJECT_RANGES` declares for the domain (a
boolean is drawn with the declared probability), so the target image given the content is a
distribution, not one image, and a style-space analysis can be checked against the truth.

Frame factors (v2): ``ambient`` (light on diffuse surfaces), ``sky_hue`` (degrees) and
``sky_value`` (brightness of the sky's top), ``cloud_cover`` (0 clear .. 1 overcast),
``lit_windows`` (share of lit windows), ``rain_density`` (share of pixels starting a rain
streak), ``wetness`` (0 dry .. 1 mirror-wet road), ``shadow`` (darkness of car shadows),
``noise`` (sensor noise sigma). Object attributes (v2): cars ``colour`` (RGB) and
``lights_on``, people ``shirt`` and ``trousers`` (RGB), signs ``reflectivity``.

Everything here is Python scalar arithmetic (exactly reproducible); the pixel work is in
:mod:`.synthetic_scene`.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field

import numpy as np

from initbench.dataset.synthetic_objects import CAR, PERSON, SIGN

#: v1's constants (unchanged since the first mini-INIT).
AMBIENT = {"sunny": 1.05, "cloudy": 0.78, "rainy": 0.58, "night": 0.07}
SKY = {
    "sunny": ((0.22, 0.45, 0.88), (0.70, 0.82, 0.95)),
    "cloudy": ((0.60, 0.62, 0.66), (0.80, 0.80, 0.82)),
    "rainy": ((0.34, 0.36, 0.40), (0.52, 0.53, 0.56)),
    "night": ((0.01, 0.012, 0.035), (0.09, 0.065, 0.08)),
}
DRY_ROAD, DRY_PAVEMENT = (0.33, 0.33, 0.34), (0.58, 0.56, 0.53)
WET_ROAD, WET_PAVEMENT = (0.17, 0.17, 0.19), (0.36, 0.35, 0.34)
TROUSERS = (0.15, 0.15, 0.2)

#: v2: per domain, the range (lo, hi) every frame factor is drawn from (uniformly).
FRAME_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "sunny": dict(ambient=(0.92, 1.15), sky_hue=(195.0, 228.0), sky_value=(0.75, 0.95), cloud_cover=(0.0, 0.45),
                  lit_windows=(0.0, 0.0), rain_density=(0.0, 0.0), wetness=(0.0, 0.1), shadow=(0.25, 0.6), noise=(0.004, 0.008)),
    "cloudy": dict(ambient=(0.65, 0.88), sky_hue=(190.0, 235.0), sky_value=(0.55, 0.75), cloud_cover=(0.6, 1.0),
                   lit_windows=(0.0, 0.1), rain_density=(0.0, 0.0), wetness=(0.0, 0.35), shadow=(0.6, 0.8), noise=(0.004, 0.008)),
    "rainy": dict(ambient=(0.45, 0.68), sky_hue=(195.0, 240.0), sky_value=(0.32, 0.5), cloud_cover=(0.85, 1.0),
                  lit_windows=(0.0, 0.25), rain_density=(0.001, 0.006), wetness=(0.5, 1.0), shadow=(0.65, 0.85), noise=(0.005, 0.01)),
    "night": dict(ambient=(0.03, 0.12), sky_hue=(215.0, 285.0), sky_value=(0.02, 0.08), cloud_cover=(0.0, 1.0),
                  lit_windows=(0.1, 0.7), rain_density=(0.0, 0.002), wetness=(0.0, 0.7), shadow=(0.5, 0.8), noise=(0.012, 0.025)),
}
#: v2: per domain, per object attribute: (lo, hi) for numbers and each RGB channel; for booleans
#: (lo, hi) = (0, 1) and :data:`LIGHTS_ON` gives the probability.
OBJECT_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    d: dict(colour=(0.05, 0.95), lights_on=(0.0, 1.0), shirt=(0.05, 0.9), trousers=(0.05, 0.45),
            reflectivity=(0.3, 1.0) if d == "night" else (0.6, 1.0))
    for d in ("sunny", "night", "cloudy", "rainy")
}
LIGHTS_ON = {"sunny": 0.05, "cloudy": 0.15, "rainy": 0.5, "night": 0.85}
#: Car paint: drawn near these (white, silver, black, red, blue, ...) so colours stay car-like.
CAR_PALETTE = ((0.92, 0.92, 0.92), (0.70, 0.71, 0.73), (0.12, 0.12, 0.13), (0.60, 0.08, 0.08), (0.15, 0.25, 0.55),
               (0.85, 0.85, 0.80), (0.30, 0.45, 0.30), (0.80, 0.60, 0.20))


@dataclass
class ObjectStyle:
    """How one object looks in one frame (colours RGB in [0, 1])."""

    colour: tuple = (0.5, 0.5, 0.5)  # cars: paint; people: shirt
    lights_on: bool = False
    trousers: tuple = TROUSERS
    reflectivity: float = 1.0


@dataclass
class FrameStyle:
    """Everything the renderer needs to know about a domain's look in one frame."""

    ambient: float
    sky_top: tuple
    sky_bottom: tuple
    #: Sunny puffs: where the cloud noise exceeds this, the sky brightens by (noise - it) * 2.2 (None: none).
    puff_threshold: float | None = None
    #: Overcast: the sky is multiplied by (a + b * noise) (None: unchanged).
    cloud_mod: tuple | None = None
    haze: float = 0.9
    skyline: float = 0.8
    shade_right: float | None = None  # the right-hand wall in the shade by this factor
    lit_percent: int | None = None  # share of lit windows, in percent (None: none)
    lit_salt: int = 0
    road: tuple = DRY_ROAD
    pavement: tuple = DRY_PAVEMENT
    headlight_beam: bool = False
    street_lamps: bool = False
    night_lights: bool = False  # lights glow and signs reflect (it is dark)
    shadow_dx: float = 0.05  # car shadow offset, as a share of the car's width
    shadow_colour: tuple = (0.22, 0.22, 0.23)
    mirror: float = 0.0  # wet road: weight of the mirrored scene
    car_mirror: float = 0.0  # wet road: weight of a car's reflection below its wheels
    rain_density: float = 0.0
    fog: tuple | None = None  # (keep, add colour weight, streak weight) after rain, or None
    noise: float = 0.006
    #: Per object index of the scene: its look in this frame (missing: :meth:`object_style`).
    objects: dict = field(default_factory=dict)
    default_lights: bool = False

    def object_style(self, index: int, ob) -> ObjectStyle:
        got = self.objects.get(index)
        if got is not None:
            return got
        return ObjectStyle(colour=tuple(ob.color), lights_on=self.default_lights)


def v1_style(domain: str) -> FrameStyle:
    """Generator v1's constant style of a domain (the same numbers v1 always used)."""
    night, rainy, sunny = domain == "night", domain == "rainy", domain == "sunny"
    return FrameStyle(
        ambient=AMBIENT[domain], sky_top=SKY[domain][0], sky_bottom=SKY[domain][1],
        puff_threshold=0.62 if sunny else None, cloud_mod=(0.88, 0.24) if domain in ("cloudy", "rainy") else None,
        haze=0.6 if night else 0.9, skyline=1.0 if night else 0.8, shade_right=0.62 if sunny else None,
        lit_percent=38 if night else None, road=WET_ROAD if rainy else DRY_ROAD, pavement=WET_PAVEMENT if rainy else DRY_PAVEMENT,
        headlight_beam=night, street_lamps=night, night_lights=night,
        shadow_dx=0.35 if sunny else 0.05, shadow_colour=(0.12, 0.12, 0.13) if sunny else (0.22, 0.22, 0.23),
        mirror=0.45 if rainy else 0.0, car_mirror=0.4 if rainy else 0.0, rain_density=0.003 if rainy else 0.0,
        fog=(0.82, 0.12, 0.13) if rainy else None,
        noise=0.02 if night else 0.006, default_lights=night,
    )


def draw_frame_latents(domain: str, rng: np.random.Generator) -> dict[str, float]:
    """One draw of the frame factors of ``domain`` (uniform inside :data:`FRAME_RANGES`)."""
    out = {}
    for name, (lo, hi) in FRAME_RANGES[domain].items():
        out[name] = round(float(lo + (hi - lo) * rng.random()), 6) if hi > lo else float(lo)
    return out


def draw_object_latents(domain: str, objects, rng: np.random.Generator) -> list[dict]:
    """Independent attributes of every object of a scene, for one frame of ``domain``."""
    rg = OBJECT_RANGES[domain]
    out = []
    for i, ob in enumerate(objects):
        if ob.cls == CAR:
            base = np.asarray(CAR_PALETTE[int(rng.integers(0, len(CAR_PALETTE)))])
            colour = np.clip(base + rng.uniform(-0.05, 0.05, 3), *rg["colour"])
            out.append({"id": i, "cls": CAR, "colour": _rgb(colour), "lights_on": bool(rng.random() < LIGHTS_ON[domain])})
        elif ob.cls == PERSON:
            out.append({"id": i, "cls": PERSON, "shirt": _rgb(rng.uniform(*rg["shirt"], 3)),
                        "trousers": _rgb(rng.uniform(*rg["trousers"], 3))})
        elif ob.cls == SIGN:
            out.append({"id": i, "cls": SIGN, "reflectivity": round(float(rng.uniform(*rg["reflectivity"])), 6)})
    return out


def _rgb(v) -> list[float]:
    return [round(float(x), 6) for x in v]


def _hsv(h_deg: float, s: float, v: float) -> tuple:
    return tuple(round(c, 6) for c in colorsys.hsv_to_rgb((h_deg % 360.0) / 360.0, s, v))


def _mix(a, b, t: float) -> tuple:
    return tuple(x * (1.0 - t) + y * t for x, y in zip(a, b))


def v2_style(domain: str, frame: dict, objects: list[dict]) -> FrameStyle:
    """The renderer's style for one drawn frame of ``domain`` (``frame``/``objects`` from the draws above)."""
    night = domain == "night"
    cover = frame["cloud_cover"]
    # A clear sky is saturated; cover greys it towards the cloud colour.
    top = _hsv(frame["sky_hue"], 0.75 * (1.0 - cover) + 0.08, frame["sky_value"])
    bottom = _hsv(frame["sky_hue"] - (40.0 if night else 5.0), 0.25 * (1.0 - cover) + 0.08,
                  min(1.0, frame["sky_value"] * (1.4 if night else 1.12)))
    wet = frame["wetness"]
    lit = int(round(100 * frame["lit_windows"]))
    obj = {}
    for o in objects:
        if o["cls"] == CAR:
            obj[o["id"]] = ObjectStyle(colour=tuple(o["colour"]), lights_on=o["lights_on"])
        elif o["cls"] == PERSON:
            obj[o["id"]] = ObjectStyle(colour=tuple(o["shirt"]), trousers=tuple(o["trousers"]))
        else:
            obj[o["id"]] = ObjectStyle(colour=(1.0, 1.0, 1.0), reflectivity=o["reflectivity"])
    rain = frame["rain_density"]
    return FrameStyle(
        ambient=frame["ambient"], sky_top=top, sky_bottom=bottom,
        puff_threshold=1.0 - 0.5 * cover if cover < 0.5 else None,
        cloud_mod=(1.0 - 0.12 * cover, 0.24 * cover) if cover >= 0.5 else None,
        haze=0.6 if night else 0.9, skyline=1.0 if night else 0.8,
        shade_right=0.62 + 0.3 * cover if cover < 0.5 and not night else None,
        lit_percent=lit if lit > 0 else None, lit_salt=int(1000 * frame["lit_windows"]) * 7919,
        road=_mix(DRY_ROAD, WET_ROAD, wet), pavement=_mix(DRY_PAVEMENT, WET_PAVEMENT, wet),
        headlight_beam=night, street_lamps=night, night_lights=night,
        shadow_dx=0.05, shadow_colour=tuple(0.36 * frame["shadow"] for _ in range(3)),
        mirror=0.45 * wet, car_mirror=0.4 * wet, rain_density=rain,
        fog=(1.0 - 0.3 * rain / 0.006, 0.12 * min(1.0, rain / 0.003), 0.13) if rain > 0 else None,  # haze grows with the rain
        noise=frame["noise"], objects=obj,
    )


def latent_ranges_doc() -> dict:
    """The declared ranges as plain data (written beside ``latents.jsonl``)."""
    return {"frame": {d: {k: list(v) for k, v in r.items()} for d, r in FRAME_RANGES.items()},
            "object": {d: {k: list(v) for k, v in r.items()} for d, r in OBJECT_RANGES.items()},
            "lights_on_probability": dict(LIGHTS_ON)}
