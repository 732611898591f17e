"""Painting for the synthetic scenes: a canvas of lit colour plus emitted light, and the three
annotated object kinds (car, person, speed-limit sign), each drawn inside its integer box.

``Canvas.rect`` paints a rectangle and records which painter's-list item owns each pixel, so
the scene can tell how much of an object is still visible after nearer ones are drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from initbench.dataset.synthetic_scene import WorldObject
    from initbench.dataset.synthetic_style import FrameStyle, ObjectStyle

CAR, SIGN, PERSON = 1, 2, 3


class Canvas:
    """Diffuse colour (lit by the per-pixel light map) plus emitted light, painted in depth order."""

    def __init__(self, H: int, W: int):
        self.H, self.W = H, W
        self.diffuse = np.zeros((H, W, 3), np.float32)
        self.emit = np.zeros((H, W, 3), np.float32)
        self.covered = np.zeros((H, W), bool)  # painted by a pole or an object (not mirrored by a wet road)
        self.owner = np.full((H, W), -1, np.int32)  # which painter's-list item each pixel shows
        self.current = -1

    def rect(self, x0, y0, x1, y1, colour, emit=None) -> None:
        x0, y0 = max(int(round(x0)), 0), max(int(round(y0)), 0)
        x1, y1 = min(int(round(x1)), self.W), min(int(round(y1)), self.H)
        if x1 <= x0 or y1 <= y0:
            return
        self.diffuse[y0:y1, x0:x1] = colour
        self.emit[y0:y1, x0:x1] = 0.0 if emit is None else emit
        self.covered[y0:y1, x0:x1] = True
        self.owner[y0:y1, x0:x1] = self.current

    def glow(self, cx, cy, r, colour, strength) -> None:
        r = max(r, 0.6)
        x0, x1 = max(int(cx - 3 * r), 0), min(int(cx + 3 * r) + 1, self.W)
        y0, y1 = max(int(cy - 3 * r), 0), min(int(cy + 3 * r) + 1, self.H)
        if x1 <= x0 or y1 <= y0:
            return
        yy, xx = np.ogrid[y0:y1, x0:x1]
        d2 = ((xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2) / (r * r)
        self.emit[y0:y1, x0:x1] += (strength / (1.0 + d2) ** 2)[..., None] * np.asarray(colour, np.float32)


def draw_object(cv: Canvas, ob: WorldObject, box, st: FrameStyle, ost: ObjectStyle, k: float) -> None:
    """Paint one object into its integer ``box`` with the frame's style ``st`` and its own look ``ost``.

    Which pixels an object owns depends on the box and ``st.shadow_dx`` only (generator v2
    keeps that constant, so boxes are the same in every domain).
    """
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    night = st.night_lights
    if ob.cls == CAR:
        shadow_dx = st.shadow_dx * w
        shadow = np.float32(st.shadow_colour)
        cv.rect(x1 + 0.1 * w, y2 - 0.06 * h, x2 + shadow_dx, y2 + 0.05 * h, shadow)
        c = np.asarray(ost.colour, np.float32)
        cv.rect(x1 + 0.12 * w, y1, x2 - 0.12 * w, y1 + 0.45 * h, c * 0.9)  # cabin
        cv.rect(x1 + 0.18 * w, y1 + 0.07 * h, x2 - 0.18 * w, y1 + 0.42 * h, np.float32([0.10, 0.12, 0.15]))  # glass
        cv.rect(x1, y1 + 0.42 * h, x2, y2 - 0.1 * h, c)  # body
        cv.rect(x1 + 0.06 * w, y2 - 0.14 * h, x1 + 0.28 * w, y2, np.float32([0.05, 0.05, 0.05]))  # wheels
        cv.rect(x2 - 0.28 * w, y2 - 0.14 * h, x2 - 0.06 * w, y2, np.float32([0.05, 0.05, 0.05]))
        cv.rect(x1 + 0.28 * w, y2 - 0.1 * h, x2 - 0.28 * w, y2, np.float32([0.10, 0.10, 0.10]))
        cv.rect(x1 + 0.4 * w, y1 + 0.68 * h, x2 - 0.4 * w, y1 + 0.8 * h, np.float32([0.85, 0.8, 0.25]))  # plate
        ly0, ly1 = y1 + 0.52 * h, y1 + 0.66 * h
        if ob.facing > 0:  # tail lights
            colour, emit, glow = np.float32([0.55, 0.05, 0.05]), np.float32([1.0, 0.12, 0.08]), (1.0, 0.15, 0.1)
        else:  # head lights
            colour, emit, glow = np.float32([0.85, 0.85, 0.8]), np.float32([1.0, 1.0, 0.9]), (1.0, 0.95, 0.8)
        for lx0, lx1 in ((x1 + 0.04 * w, x1 + 0.2 * w), (x2 - 0.2 * w, x2 - 0.04 * w)):
            cv.rect(lx0, ly0, lx1, ly1, colour, emit if ost.lights_on else None)
            if night and ost.lights_on:
                cv.glow((lx0 + lx1) / 2, (ly0 + ly1) / 2, 0.12 * w * (2.5 if ob.facing < 0 else 1.2), glow,
                        0.9 if ob.facing < 0 else 0.6)
        if st.car_mirror > 0:  # the wet road mirrors the car below its wheels (outside the box)
            r0, r1 = max(y2, 0), min(y2 + int(0.45 * h), cv.H)
            c0, c1 = max(x1, 0), min(x2, cv.W)
            if r1 > r0 and c1 > c0 and y2 - (r1 - r0) >= 0:
                patch = cv.diffuse[y2 - (r1 - r0):y2, c0:c1][::-1]
                cv.diffuse[r0:r1, c0:c1] = (1 - st.car_mirror) * cv.diffuse[r0:r1, c0:c1] + st.car_mirror * patch
                cv.covered[r0:r1, c0:c1] = True
    elif ob.cls == PERSON:
        c = np.asarray(ost.colour, np.float32)
        cv.rect(x1 + 0.3 * w, y1, x2 - 0.3 * w, y1 + 0.14 * h, np.float32([0.80, 0.62, 0.50]))  # head
        cv.rect(x1 + 0.3 * w, y1 - 0.02 * h, x2 - 0.3 * w, y1 + 0.04 * h, np.float32([0.08, 0.06, 0.05]))  # hair
        cv.rect(x1, y1 + 0.14 * h, x2, y1 + 0.55 * h, c)  # torso
        legs = np.float32(ost.trousers)
        cv.rect(x1 + 0.1 * w, y1 + 0.55 * h, x1 + 0.45 * w, y2, legs)  # legs
        cv.rect(x2 - 0.45 * w, y1 + 0.55 * h, x2 - 0.1 * w, y2, legs)
    else:  # speed-limit sign: white disc, red ring, two dark digits
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        r = min(w, h) / 2
        yy, xx = np.ogrid[max(y1, 0):min(y2, cv.H), max(x1, 0):min(x2, cv.W)]
        d = np.sqrt((xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2) / r
        digit = (np.abs(d) < 0.6) & (np.abs(yy + 0.5 - cy) < 0.35 * r) & (np.abs(np.abs(xx + 0.5 - cx) - 0.25 * r) < 0.12 * r + 0.3)
        colour = np.where((d > 0.72)[..., None], np.float32([0.80, 0.08, 0.08]), np.float32([0.92, 0.92, 0.90]))
        colour = np.where(digit[..., None], np.float32([0.10, 0.12, 0.25]), colour)
        outside = (d > 1.0)[..., None]
        sl = (slice(max(y1, 0), min(y2, cv.H)), slice(max(x1, 0), min(x2, cv.W)))
        cv.diffuse[sl] = np.where(outside, np.float32([0.5, 0.5, 0.5]), colour)  # the sign's plate behind the disc
        cv.emit[sl] = 0.0
        cv.covered[sl] = True
        cv.owner[sl] = cv.current
        if night:  # retro-reflective face: brighter the nearer it is to our headlights
            cv.emit[sl] = np.where(outside, 0.0, colour * (ost.reflectivity * min(0.9, 0.25 + 3.0 * k / cv.W)))
