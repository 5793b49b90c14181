"""Drawing of the synthetic faces: identity, expression, head and occluders (used by ``faces.py``).

Everything is drawn with OpenCV at twice the output size, at sub-pixel positions, on a BGRA layer (alpha marks the
head), so the caller can warp the head for pose and paste it on the background. Lengths are in units of ``r``, the
half-width of the face ellipse; ``+y`` is down.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

Color = tuple[float, float, float]  # BGR, 0..255

_SHIFT = 4
_ONE = float(1 << _SHIFT)
#: Hair colours: black, dark brown, brown, blond, red, grey.
_HAIR: tuple[Color, ...] = ((18, 18, 22), (25, 38, 64), (38, 64, 112), (90, 165, 210), (32, 66, 150), (150, 150, 156))
_SKIN_DARK, _SKIN_LIGHT = np.array([40.0, 58.0, 88.0]), np.array([185.0, 200.0, 238.0])


@dataclass(frozen=True)
class Identity:
    """Who is drawn: shape, colours and feature layout (r units), all fixed by ``number``."""

    number: int
    aspect: float
    jaw: float
    skin: Color
    hair: Color
    hair_style: int  # 0 bald, 1 short, 2 fringe, 3 long, 4 side part
    hairline: float
    eye_dx: float
    eye_y: float
    eye_w: float
    eye_h: float
    iris: Color
    brow_gap: float
    brow_len: float
    brow_thick: float
    nose_y: float
    nose_w: float
    mouth_y: float
    mouth_w: float
    lip: Color
    glasses: bool
    clothing: Color


def to_color(values: Any) -> Color:
    """Three numbers clipped to 0..255, as the tuple OpenCV takes."""
    return tuple(min(255.0, max(0.0, float(v))) for v in values)[:3]  # type: ignore[return-value]


def sample_identity(number: int) -> Identity:
    """The identity with this number (a fresh generator seeded by it, so it can be redrawn)."""
    g = np.random.default_rng(number)
    skin = _SKIN_DARK + g.uniform(0, 1) * (_SKIN_LIGHT - _SKIN_DARK) + g.normal(0, 6, 3)
    hair = np.array(_HAIR[int(g.integers(len(_HAIR)))]) * g.uniform(0.8, 1.15)
    return Identity(
        number=number, aspect=g.uniform(1.18, 1.36), jaw=g.uniform(0.0, 0.3), skin=to_color(skin),
        hair=to_color(hair), hair_style=int(g.integers(5)), hairline=g.uniform(0.82, 0.98),
        eye_dx=g.uniform(0.36, 0.47), eye_y=g.uniform(-0.22, -0.12), eye_w=g.uniform(0.15, 0.19),
        eye_h=g.uniform(0.08, 0.105), iris=to_color(g.uniform([20, 30, 30], [140, 120, 110])),
        brow_gap=g.uniform(0.21, 0.27), brow_len=g.uniform(0.22, 0.29), brow_thick=g.uniform(0.085, 0.13),
        nose_y=g.uniform(0.14, 0.24), nose_w=g.uniform(0.1, 0.15), mouth_y=g.uniform(0.5, 0.6),
        mouth_w=g.uniform(0.28, 0.36), lip=to_color(skin * g.uniform(0.6, 0.78) + np.array([8, 5, 38])),
        glasses=bool(g.random() < 0.1), clothing=to_color(g.uniform(20, 235, 3)),
    )


@dataclass(frozen=True)
class Expression:
    """Face-part shape (r units). Neutral is the default; ``synthetic.APEX`` has each class."""

    brow_raise: float = 0.0
    brow_tilt: float = 0.0  # + inner ends up (sadness, fear), - inner ends down (anger)
    brow_arch: float = 0.0
    brow_pinch: float = 0.0
    eye_open: float = 1.0
    eye_smile: float = 0.0  # lower lid pushed up
    mouth_curve: float = 0.0  # + corners up
    mouth_width: float = 1.0
    mouth_up: float = 0.0  # opening above / below the lip line
    mouth_down: float = 0.0
    mouth_square: float = 2.0  # superellipse exponent of the opening
    mouth_asym: float = 0.0  # one corner raised (disgust)
    teeth_up: float = 0.0  # fraction of the opening showing teeth
    teeth_down: float = 0.0
    lip_press: float = 0.0
    nose_wrinkle: float = 0.0
    glabella: float = 0.0  # vertical lines between the brows
    forehead: float = 0.0  # horizontal forehead lines
    smile_lines: float = 0.0


# ----------------------------------------------------------------------------------- primitives
def _fx(pts: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(pts, dtype=np.float64) * _ONE).astype(np.int32).reshape(-1, 1, 2)


@functools.lru_cache(maxsize=32)
def _bezier(n: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return np.hstack([(1 - t) ** 2, 2 * (1 - t) * t, t**2])


def quad(p0: Sequence[float], c: Sequence[float], p1: Sequence[float], n: int = 10) -> np.ndarray:
    """``n`` points of the quadratic Bezier ``p0 -> p1`` with control ``c``."""
    return _bezier(n) @ np.array([p0, c, p1], dtype=np.float64)


class Painter:
    """Anti-aliased drawing on BGR or BGRA. On BGRA every shape is opaque, so drawn over a zero layer the result is
    premultiplied: composite it as ``layer + background * (1 - alpha)``."""

    def __init__(self, cv2: Any, image: np.ndarray):
        self.cv2, self.image = cv2, image

    def poly(self, pts: np.ndarray, color: Color) -> None:
        self.cv2.fillPoly(self.image, [_fx(pts)], (*color, 255), self.cv2.LINE_AA, _SHIFT)

    def line(self, pts: np.ndarray, color: Color, thick: float, closed: bool = False) -> None:
        th = max(1, int(round(thick)))
        self.cv2.polylines(self.image, [_fx(pts)], closed, (*color, 255), th, self.cv2.LINE_AA, _SHIFT)

    def ellipse(self, c: Sequence[float], axes: Sequence[float], color: Color, angle: float = 0.0) -> None:
        cc = (int(round(c[0] * _ONE)), int(round(c[1] * _ONE)))
        ax = (max(1, int(round(axes[0] * _ONE))), max(1, int(round(axes[1] * _ONE))))
        self.cv2.ellipse(self.image, cc, ax, float(angle), 0, 360, (*color, 255), -1, self.cv2.LINE_AA, _SHIFT)


def shade(color: Color, k: float) -> Color:
    """``color`` scaled by ``k`` (darker below 1)."""
    return to_color(v * k for v in color)


@dataclass(frozen=True)
class Anchors:
    """Where the parts ended up (canvas pixels), for the occluders."""

    cx: float
    cy: float
    r: float
    aspect: float
    eyes: tuple[tuple[float, float], tuple[float, float]]
    eye_w: float
    nose: tuple[float, float]
    mouth: tuple[float, float]
    mouth_w: float
    jaw: float
    skin: Color


def face_outline(cx: float, cy: float, r: float, aspect: float, jaw: float, theta: np.ndarray) -> np.ndarray:
    """Points of the face outline at angles ``theta`` (0 = right, pi/2 = chin); the jaw narrows the chin."""
    s = np.sin(theta)
    x = np.cos(theta) * (1.0 - jaw * np.clip(s, 0, None) ** 2)
    return np.stack([cx + r * x, cy + r * aspect * s], axis=1)


# ----------------------------------------------------------------------------------- head parts
def _hair(p: Painter, idn: Identity, cx: float, cy: float, r: float, back: bool) -> None:
    a, col = idn.aspect, idn.hair
    if back:  # long hair, behind the head
        th = np.linspace(np.pi, 2 * np.pi, 14)
        top = np.stack([cx + 1.18 * r * np.cos(th), cy + 1.12 * a * r * np.sin(th)], axis=1)
        low = cy + r * (0.9 + 0.4 * (idn.number % 7) / 6)
        p.poly(np.vstack([top, [[cx + 1.18 * r, low], [cx - 1.18 * r, low]]]), shade(col, 0.85))
        return
    th = np.linspace(np.radians(200), np.radians(340), 16)
    outer = np.stack([cx + 1.07 * r * np.cos(th), cy + (1.07 * a * r + 0.05 * r) * np.sin(th)], axis=1)
    hl = -idn.hairline * r
    if idn.hair_style == 2:  # fringe with a zigzag edge
        xs = np.linspace(0.93, -0.93, 11)
        edge = np.stack([cx + xs * r, cy + hl + 0.04 * r + np.where(np.arange(11) % 2 == 1, -0.07 * r, 0.0)], axis=1)
    else:
        peak = 0.3 * r if idn.hair_style == 4 else 0.0
        edge = quad((cx + 0.93 * r, cy - 0.86 * r), (cx + peak, cy + hl - 0.25 * r), (cx - 0.93 * r, cy - 0.86 * r), 9)
    p.poly(np.vstack([outer, edge]), col)
    p.line(quad(outer[3], (cx, cy + hl - 0.4 * r), outer[-4], 6), shade(col, 1.25), 0.03 * r)


def _eye(p: Painter, idn: Identity, ex: float, ey: float, r: float, e: Expression) -> None:
    w, h = idn.eye_w * r, idn.eye_h * r * e.eye_open
    lo = 0.8 * h * max(0.15, 1.0 - e.eye_smile)
    upper = quad((ex - w, ey), (ex, ey - 2 * h), (ex + w, ey), 9)
    lower = quad((ex + w, ey), (ex, ey + 2 * lo), (ex - w, ey), 9)
    p.poly(np.vstack([upper, lower]), (232, 236, 238))
    ir, icy = 0.55 * w, ey + 0.5 * (lo - h)
    iv = min(ir, 0.5 * (h + lo))
    p.ellipse((ex, icy), (ir, iv), idn.iris)
    p.ellipse((ex, icy), (0.45 * ir, min(0.45 * ir, iv)), (15, 15, 18))
    p.line(upper, (25, 25, 30), 0.05 * r)
    p.line(lower, shade(idn.skin, 0.6), 0.025 * r)


def _brow(p: Painter, idn: Identity, ex: float, ey: float, side: float, r: float, e: Expression) -> tuple[float, float]:
    base = ey - idn.brow_gap * r
    bl, pinch = idn.brow_len * r, e.brow_pinch * r
    inner = (ex - side * (bl + pinch), base - (e.brow_raise + e.brow_tilt / 2) * r)
    outer = (ex + side * (bl - pinch), base - (e.brow_raise - e.brow_tilt / 2) * r)
    mid = (0.5 * (inner[0] + outer[0]), 0.5 * (inner[1] + outer[1]) - (e.brow_arch + 0.04) * r)
    c = quad(inner, mid, outer, 8)
    d = np.vstack([c[1] - c[0], c[2:] - c[:-2], c[-1] - c[-2]])
    nrm = np.stack([-d[:, 1], d[:, 0]], axis=1) / (np.linalg.norm(d, axis=1, keepdims=True) + 1e-9)
    half = 0.5 * idn.brow_thick * r * np.linspace(1.0, 0.55, len(c))[:, None]
    p.poly(np.vstack([c + nrm * half, (c - nrm * half)[::-1]]), shade(idn.hair, 0.8))
    return inner


def _nose(p: Painter, idn: Identity, nx: float, ny: float, ey: float, r: float, e: Expression) -> None:
    dark, nw = shade(idn.skin, 0.62), idn.nose_w * r
    p.line(quad((nx - 0.05 * r, ey + 0.08 * r), (nx - 0.1 * r, ny - 0.2 * r), (nx - 0.6 * nw, ny - 0.04 * r), 6),
           shade(idn.skin, 0.82), 0.03 * r)
    flare = 1.0 + 0.35 * e.nose_wrinkle
    for s in (-1.0, 1.0):
        p.ellipse((nx + s * 0.5 * nw * flare, ny), (0.05 * r * flare, 0.028 * r * flare), (35, 30, 45))
    base = quad((nx - nw * flare, ny - 0.02 * r), (nx, ny + 0.12 * r), (nx + nw * flare, ny - 0.02 * r), 7)
    p.line(base, dark, 0.025 * r)
    for k in range(int(round(3 * e.nose_wrinkle))):  # disgust: wrinkles across the bridge
        y = ey + (0.02 + 0.065 * k) * r
        fold = quad((nx - 0.13 * r, y + 0.02 * r), (nx, y - 0.03 * r), (nx + 0.13 * r, y + 0.02 * r), 5)
        p.line(fold, dark, 0.03 * r)


def _mouth(p: Painter, idn: Identity, mx: float, my: float, r: float, e: Expression) -> np.ndarray:
    w, c = idn.mouth_w * e.mouth_width * r, e.mouth_curve * r
    yl, yr = my - c - max(e.mouth_asym, 0) * r, my - c - max(-e.mouth_asym, 0) * r
    u = np.linspace(0.0, 1.0, 17)
    x = mx - w + 2 * w * u
    y = (1 - u) ** 2 * yl + 2 * u * (1 - u) * (my + c) + u**2 * yr
    g = np.clip(1 - np.abs(2 * u - 1) ** e.mouth_square, 0, 1) ** (1 / e.mouth_square)
    gap = e.mouth_up + e.mouth_down
    if gap > 0.02:
        up, dn = y - e.mouth_up * r * g, y + e.mouth_down * r * g
        p.poly(np.vstack([np.stack([x, up], 1), np.stack([x, dn], 1)[::-1]]), (45, 30, 80))
        if e.teeth_up > 0.05:
            t = np.minimum(up + e.teeth_up * gap * r * g, dn)
            p.poly(np.vstack([np.stack([x, up], 1), np.stack([x, t], 1)[::-1]]), (222, 228, 232))
        if e.teeth_down > 0.05:
            t = np.maximum(dn - e.teeth_down * gap * r * g, up)
            p.poly(np.vstack([np.stack([x, t], 1), np.stack([x, dn], 1)[::-1]]), (210, 216, 222))
        p.line(np.vstack([np.stack([x, up], 1), np.stack([x, dn], 1)[::-1]]), idn.lip, 0.07 * r, closed=True)
    else:
        lips = np.sqrt(np.sin(np.pi * u)) * r * (1.0 - 0.7 * e.lip_press)
        p.poly(np.vstack([np.stack([x, y - 0.06 * lips], 1), np.stack([x, y + 0.09 * lips], 1)[::-1]]), idn.lip)
        p.line(np.stack([x, y], 1), shade(idn.lip, 0.4), (0.045 + 0.02 * e.lip_press) * r)
    return np.array([[x[0], yl], [x[-1], yr]])  # the corners


def draw_head(p: Painter, idn: Identity, e: Expression, cx: float, cy: float, r: float,
              yaw: float, pitch: float) -> Anchors:
    """Draw hair, ears, face and features; features shift with yaw/pitch by their depth (parallax)."""
    sx, sy = np.sin(np.radians(yaw)) * r, -np.sin(np.radians(pitch)) * r
    if idn.hair_style == 3:
        _hair(p, idn, cx, cy, r, back=True)
    for s in (-1.0, 1.0):
        p.ellipse((cx + s * 0.98 * r - 0.3 * sx, cy + (idn.eye_y + 0.15) * r - 0.1 * sy), (0.15 * r, 0.25 * r),
                  shade(idn.skin, 0.9))
    outline = face_outline(cx, cy, r, idn.aspect, idn.jaw, np.linspace(0, 2 * np.pi, 48, endpoint=False))
    p.poly(outline, idn.skin)
    eyes = []
    ex0, ey = cx + 0.22 * sx, cy + idn.eye_y * r + 0.22 * sy
    for s in (-1.0, 1.0):
        ex = ex0 + s * idn.eye_dx * r
        _eye(p, idn, ex, ey, r, e)
        inner = _brow(p, idn, ex, ey, s, r, e)
        if e.glabella > 0.25:
            gx = ex0 + s * 0.06 * r
            y0, y1 = inner[1] + 0.04 * r, inner[1] + (0.06 + 0.14 * e.glabella) * r
            p.line(np.array([[gx, y0], [gx + s * 0.02 * r, y1]]), shade(idn.skin, 0.65), 0.03 * r)
        eyes.append((ex, ey))
    if e.forehead > 0.3:
        top = ey - (idn.brow_gap + e.brow_raise + e.brow_arch + 0.16) * r
        for k in range(int(round(3 * e.forehead))):
            yk = top - 0.085 * k * r
            line = quad((ex0 - 0.42 * r, yk), (ex0, yk - 0.05 * r), (ex0 + 0.42 * r, yk), 6)
            p.line(line, shade(idn.skin, 0.75), 0.025 * r)
    nx, ny = cx + 0.42 * sx, cy + idn.nose_y * r + 0.42 * sy
    _nose(p, idn, nx, ny, ey, r, e)
    mx, my = cx + 0.28 * sx, cy + idn.mouth_y * r + 0.28 * sy
    left, right = _mouth(p, idn, mx, my, r, e)
    if e.smile_lines > 0.3:
        for s, corner in ((-1.0, left), (1.0, right)):
            pts = quad((nx + s * (idn.nose_w + 0.08) * r, ny - 0.03 * r),
                       (corner[0] + s * 0.16 * r, corner[1] - 0.1 * r),
                       (corner[0] + s * 0.06 * r, corner[1] + 0.12 * r * e.smile_lines), 7)
            p.line(pts, shade(idn.skin, 0.72), 0.03 * r)
    if idn.glasses:  # clear glasses: thin frames, eyes stay visible
        hw, frame = 1.45 * idn.eye_w * r, (40, 40, 40)
        for ex, _ in eyes:
            p.line(np.array([[-hw, -0.15 * r], [hw, -0.15 * r], [hw, 0.15 * r], [-hw, 0.15 * r]]) + [ex, ey], frame,
                   0.03 * r, closed=True)
        p.line(np.array([[eyes[0][0] + hw, ey - 0.05 * r], [eyes[1][0] - hw, ey - 0.05 * r]]), frame, 0.03 * r)
    if idn.hair_style != 0:
        _hair(p, idn, cx, cy, r, back=False)
    return Anchors(cx, cy, r, idn.aspect, (eyes[0], eyes[1]), idn.eye_w * r, (nx, ny), (mx, my),
                   idn.mouth_w * e.mouth_width * r, idn.jaw, idn.skin)


# ----------------------------------------------------------------------------------- occluders
Box = tuple[float, float, float, float]


def _bbox(pts: np.ndarray, pad: float = 0.0) -> Box:
    lo, hi = pts.min(axis=0) - pad, pts.max(axis=0) + pad
    return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))


def draw_sunglasses(p: Painter, a: Anchors, rng: np.random.Generator) -> Box:
    """Two dark lenses over the eyes, a bridge and temples; the box covers lenses and bridge."""
    r, lens = a.r, to_color(rng.uniform(10, 70) + rng.uniform(-10, 10, 3))
    hw, hh = a.eye_w + rng.uniform(0.07, 0.11) * r, rng.uniform(0.15, 0.2) * r
    rect = rng.random() < 0.5
    pts = []
    for (ex, ey), s in zip(a.eyes, (-1.0, 1.0)):
        if rect:
            q = np.array([[-1, -1], [1, -1], [0.9, 0.8], [0.5, 1], [-0.5, 1], [-0.9, 0.8]]) * [hw, hh] + [ex, ey]
            p.poly(q, lens)
        else:
            p.ellipse((ex, ey), (hw, hh), lens)
            q = np.array([[ex - hw, ey - hh], [ex + hw, ey + hh]])
        p.line(np.array([[ex - 0.4 * hw, ey - 0.5 * hh], [ex - 0.1 * hw, ey - 0.7 * hh]]), (200, 200, 200), 0.025 * r)
        edge = a.cx + s * a.r * 1.0
        p.line(np.array([[ex + s * hw, ey - 0.4 * hh], [edge, ey - 0.5 * hh]]), lens, 0.04 * r)
        pts.append(q)
    (lx, ly), (rx, _) = a.eyes
    p.line(np.array([[lx + hw, ly - 0.4 * hh], [0.5 * (lx + rx), ly - 0.6 * hh], [rx - hw, ly - 0.4 * hh]]), lens,
           0.04 * r)
    return _bbox(np.vstack(pts))


def draw_mask(p: Painter, a: Anchors, rng: np.random.Generator) -> Box:
    """A medical mask from the nose bridge to below the chin, with pleats and ear straps."""
    r = a.r
    color = to_color(np.array([(225, 205, 170), (235, 235, 235), (40, 40, 45), (200, 185, 230), (150, 150, 150)]
                          [int(rng.integers(5))]) + rng.uniform(-12, 12, 3))
    top = a.eyes[0][1] + rng.uniform(0.45, 0.6) * (a.nose[1] - a.eyes[0][1])
    s0 = np.clip((top - a.cy) / (r * a.aspect), -0.9, 0.9)
    th = np.linspace(np.arcsin(s0), np.pi - np.arcsin(s0), 18)
    arc = face_outline(a.cx, a.cy, 1.03 * r, a.aspect + 0.04, a.jaw, th)
    arc[:, 1] = np.maximum(arc[:, 1], top)
    cap = quad(arc[-1], (a.nose[0], top - 0.12 * r), arc[0], 9)
    shape = np.vstack([arc, cap])
    p.poly(shape, color)
    fold = shade(color, 0.8)
    for k in (0.3, 0.5, 0.7):
        y = top + k * (arc[:, 1].max() - top) * 0.8
        p.line(np.array([[a.cx - 0.6 * r, y], [a.cx + 0.6 * r, y]]), fold, 0.02 * r)
    for end, side in ((arc[0], 1.0), (arc[-1], -1.0)):  # straps to the ears
        p.line(np.array([end, (a.cx + side * r, a.eyes[0][1] + 0.1 * r)]), fold, 0.025 * r)
    return _bbox(shape)


def draw_hand(p: Painter, a: Anchors, rng: np.random.Generator) -> Box:
    """A hand (palm, four fingers, thumb) over the mouth, an eye or a cheek, at a random angle."""
    r = a.r
    target = int(rng.integers(3))
    eye = a.eyes[int(rng.integers(2))]
    base = (a.mouth, eye, ((a.nose[0] + a.cx + rng.choice([-0.5, 0.5]) * r) / 2, a.nose[1]))[target]
    cx, cy = base[0] + rng.normal(0, 0.08) * r, base[1] + rng.normal(0, 0.06) * r + 0.25 * r
    ang = np.radians(rng.uniform(-40, 40) + (180 if target == 1 and rng.random() < 0.5 else 0))
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    skin = to_color(np.asarray(a.skin) * rng.choice([rng.uniform(0.7, 0.85), rng.uniform(1.12, 1.3)]))  # shade or light
    line = shade(skin, 0.7)
    palm = np.array([[-0.33, -0.2], [0.33, -0.2], [0.3, 0.35], [0.0, 0.45], [-0.3, 0.35]]) * r
    parts = [palm]
    for i, dx in enumerate((-0.24, -0.08, 0.08, 0.24)):
        ln = (0.42, 0.5, 0.48, 0.38)[i] * r
        parts.append(np.array([[dx * r, -0.15 * r], [dx * r + 0.03 * r * (i - 1.5), -0.15 * r - ln]]))
    parts.append(np.array([[0.3 * r, 0.15 * r], [0.52 * r, -0.12 * r]]))
    world = [q @ rot.T + [cx, cy] for q in parts]
    p.poly(world[0], skin)
    p.line(world[0], line, 0.03 * r, closed=True)
    for f in world[1:]:
        p.line(f, line, 0.17 * r)
        p.line(f, skin, 0.13 * r)
    return _bbox(np.vstack(world), pad=0.085 * r)


def draw_block(p: Painter, a: Anchors, rng: np.random.Generator) -> Box:
    """A random flat block (with a few stripes) somewhere over the eyes, nose or mouth."""
    r = a.r
    cx = a.cx + rng.uniform(-0.45, 0.45) * r
    cy = a.cy + rng.uniform(-0.35, 0.65) * r
    hw, hh = rng.uniform(0.3, 0.55) * r, rng.uniform(0.25, 0.45) * r
    rect = np.array([[cx - hw, cy - hh], [cx + hw, cy - hh], [cx + hw, cy + hh], [cx - hw, cy + hh]])
    color = to_color(rng.uniform(0, 255, 3))
    p.poly(rect, color)
    stripe = to_color(rng.uniform(0, 255, 3))
    for k in range(int(rng.integers(0, 4))):
        y = cy - hh + (k + 1) * 2 * hh / 4
        p.line(np.array([[cx - hw, y], [cx + hw, y]]), stripe, 0.05 * r)
    return _bbox(rect)
