"""Synthetic expression faces: the built-in data of the demo, tests, calibration and robustness suites.

Faces are drawn procedurally with OpenCV (``draw.py`` beside it) for the 7 basic expressions in
RAF-DB order (:data:`ran_edge.data.classes.RAFDB_CLASSES`). Each face has a random identity (face
shape, skin tone, feature layout, hair), expression intensity, placement, lighting, blur and noise.
Labelled variants add an occluder over a known region (:class:`Occlusion`) or a head pose (yaw and
pitch by a perspective warp of the head, roll by rotation). Everything is deterministic by seed:
sample ``i`` of ``(seed, split, suite)`` has its own random stream, so splits never share samples and
``iter_faces(n)`` is a prefix of ``iter_faces(m)`` for ``n < m``.

Example::

    ds = make_split("train", 3500, seed=0)          # InMemoryDataset, balanced classes
    for face in iter_faces(100, split="test", suite=SyntheticSuite.POSE):
        face.image, face.label, face.meta["yaw"]
"""

from __future__ import annotations

import csv
import enum
import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from ran_edge._lazy import require
from ran_edge.data.synthetic import draw
from ran_edge.data.classes import RAFDB_CLASSES
from ran_edge.data.dataset import FaceDataset, FaceSample, InMemoryDataset
from ran_edge.errors import RanEdgeError

NEUTRAL = RAFDB_CLASSES.index("Neutral")
_SPLITS = ("train", "val", "test")
_MIN_SIZE = 16


class Occlusion(str, enum.Enum):
    """What covers part of the face."""

    NONE = "none"
    SUNGLASSES = "sunglasses"
    MASK = "mask"
    HAND = "hand"
    BLOCK = "block"


class SyntheticSuite(str, enum.Enum):
    """Which variation a generated split has (see :func:`iter_faces`)."""

    CLEAN = "clean"
    OCCLUSION = "occlusion"
    POSE = "pose"


_OCCLUDERS: Mapping[Occlusion, Callable[..., draw.Box]] = {
    Occlusion.SUNGLASSES: draw.draw_sunglasses,
    Occlusion.MASK: draw.draw_mask,
    Occlusion.HAND: draw.draw_hand,
    Occlusion.BLOCK: draw.draw_block,
}
_OCCLUDED = tuple(_OCCLUDERS)

_E = draw.Expression
_NEUTRAL_FACE = _E()
#: Apex (intensity 1) of each class in RAF-DB order; two variants where a class has two looks.
APEX: tuple[tuple[draw.Expression, ...], ...] = (
    (_E(brow_raise=0.2, brow_arch=0.07, eye_open=1.8, mouth_width=0.55, mouth_up=0.2, mouth_down=0.32,
        forehead=1.0),),
    (_E(brow_raise=0.13, brow_tilt=0.13, brow_pinch=0.06, eye_open=1.65, mouth_width=1.2, mouth_curve=-0.05,
        mouth_up=0.07, mouth_down=0.15, mouth_square=4.0, teeth_up=0.35, teeth_down=0.3, forehead=0.5),),
    (_E(brow_raise=-0.07, brow_pinch=0.04, eye_open=0.6, eye_smile=0.3, nose_wrinkle=1.0, mouth_curve=-0.1,
        mouth_asym=0.09, mouth_up=0.07, teeth_up=0.8, mouth_square=3.0),
     _E(brow_raise=-0.07, brow_pinch=0.04, eye_open=0.6, eye_smile=0.3, nose_wrinkle=1.0, mouth_curve=-0.13,
        mouth_asym=0.11, mouth_width=0.9)),
    (_E(eye_open=0.7, eye_smile=0.6, mouth_curve=0.22, mouth_width=1.25, mouth_up=0.02, mouth_down=0.22,
        mouth_square=2.5, teeth_up=0.45, smile_lines=1.0),
     _E(eye_open=0.7, eye_smile=0.6, mouth_curve=0.22, mouth_width=1.2, smile_lines=1.0)),
    (_E(brow_raise=0.02, brow_tilt=0.16, eye_open=0.75, mouth_curve=-0.17, mouth_width=0.85),),
    (_E(brow_raise=-0.12, brow_tilt=-0.17, brow_pinch=0.08, eye_open=0.6, glabella=1.0, lip_press=1.0,
        mouth_width=0.8, mouth_curve=-0.04),
     _E(brow_raise=-0.12, brow_tilt=-0.17, brow_pinch=0.08, eye_open=0.6, glabella=1.0, mouth_up=0.07,
        mouth_down=0.09, mouth_square=5.0, teeth_up=0.5, teeth_down=0.5, mouth_width=1.05, mouth_curve=-0.06)),
    (_NEUTRAL_FACE,),
)


def _expression(label: int, intensity: float, rng: np.random.Generator) -> draw.Expression:
    """Blend neutral toward the apex of ``label`` by ``intensity`` (0..1), plus small natural jitter."""
    apex = APEX[label][int(rng.integers(len(APEX[label])))]
    t, base = float(intensity), _NEUTRAL_FACE
    mix = {f: getattr(base, f) + t * (getattr(apex, f) - getattr(base, f)) for f in base.__dataclass_fields__}
    mix["mouth_square"] = apex.mouth_square
    mix["mouth_asym"] *= float(rng.choice([-1.0, 1.0]))
    j = rng.normal(0.0, 0.015, 3)
    mix["brow_raise"] += j[0]
    mix["brow_tilt"] += j[1]
    mix["mouth_curve"] += j[2]
    mix["eye_open"] *= float(np.exp(rng.normal(0.0, 0.06)))
    return _E(**mix)


def _cv2() -> Any:
    return require("cv2", feature="synthetic faces")


def _background(cv2: Any, rng: np.random.Generator, s: int, idn: draw.Identity, cx: float, cy: float,
                r: float) -> np.ndarray:
    """Two-colour gradient, a few soft blobs, then neck and shoulders (they do not turn with the head)."""
    c0, c1 = rng.uniform(15, 240, 3), rng.uniform(15, 240, 3)
    ang = rng.uniform(0, 2 * np.pi)
    xx, yy = _grid(8)
    t = np.clip(0.5 + 0.5 * (np.cos(ang) * xx + np.sin(ang) * yy), 0, 1)[..., None]
    img = cv2.resize((c0 + t * (c1 - c0)).astype(np.uint8), (s, s), interpolation=cv2.INTER_LINEAR)
    p = draw.Painter(cv2, img)
    for _ in range(int(rng.integers(0, 4))):
        p.ellipse(rng.uniform(0, s, 2), rng.uniform(0.1, 0.35, 2) * s, draw.to_color(rng.uniform(15, 240, 3)),
                  angle=float(rng.uniform(0, 180)))
    neck_top = cy + 0.5 * idn.aspect * r
    p.poly(np.array([[cx - 0.4 * r, neck_top], [cx + 0.4 * r, neck_top], [cx + 0.45 * r, s], [cx - 0.45 * r, s]]),
           draw.shade(idn.skin, 0.8))
    p.ellipse((cx, cy + idn.aspect * r + 0.95 * r), (1.9 * r, 0.85 * r), idn.clothing)
    return img


@functools.lru_cache(maxsize=8)
def _grid(s: int) -> tuple[np.ndarray, np.ndarray]:
    v = (np.arange(s, dtype=np.float32) + 0.5) / s * 2 - 1
    return np.meshgrid(v, v)


def _homography(cx: float, cy: float, s: int, yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotate the head plane about its centre (yaw about y, pitch about x, roll in-plane) and project it."""
    y, p, q = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, -np.sin(y)], [0, 1, 0], [np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), np.sin(p)], [0, -np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(q), -np.sin(q), 0], [np.sin(q), np.cos(q), 0], [0, 0, 1]])
    rot, f = rz @ rx @ ry, 2.5 * s
    src = np.array([[0, 0], [s, 0], [s, s], [0, s]], dtype=np.float64)
    pts = np.hstack([src - [cx, cy], np.zeros((4, 1))]) @ rot.T
    dst = f * pts[:, :2] / (f + pts[:, 2:3]) + [cx, cy]
    return _cv2().getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32))


def _warp_box(box: draw.Box, h: np.ndarray, s: int) -> list[float]:
    x0, y0, x1, y1 = box
    pts = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]]) @ h.T
    xy = np.clip(pts[:, :2] / pts[:, 2:3] / s, 0.0, 1.0)
    return [round(float(v), 4) for v in (*xy.min(axis=0), *xy.max(axis=0))]


def _finish(cv2: Any, rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Lighting gradient, gain, colour cast, optional blur and sensor noise."""
    s = img.shape[0]
    xx, yy = _grid(8)
    ang, strength = rng.uniform(0, 2 * np.pi), rng.uniform(0.0, 0.45)
    gain = (rng.uniform(0.7, 1.2) * rng.uniform(0.92, 1.08, 3)).astype(np.float32)
    light = (1.0 + strength * (np.cos(ang) * xx + np.sin(ang) * yy))[..., None] * gain
    light = cv2.resize(light.astype(np.float32), (s, s), interpolation=cv2.INTER_LINEAR)
    out = img * light + np.float32(rng.uniform(-20, 20))
    if rng.random() < 0.6:
        sigma = rng.uniform(0.3, 0.9) * s / 64
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(rng.uniform(1.0, 7.0))
    return np.clip(out, 0, 255).astype(np.uint8)


def render_face(rng: np.random.Generator, label: int, size: int = 64, *, occlusion: Occlusion = Occlusion.NONE,
                yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> FaceSample:
    """Draw one face with expression ``label`` (RAF-DB order), the given occluder and head pose.

    Identity, intensity, placement, occluder position, lighting, blur and noise come from ``rng``. The same
    ``rng`` state gives the same person, placement, background, lighting and noise whatever ``label``,
    ``occlusion`` and pose, so variants of one face can be compared.

    Args:
        rng: the random stream of this face.
        label: class id 0..6 in :data:`RAFDB_CLASSES` order.
        size: side of the square output image (drawn at twice this size, then downsampled).
        occlusion: occluder drawn over the face; its box is in ``meta["occluded_box"]``.
        yaw, pitch, roll: head pose in degrees (yaw > 0 turns the face to the image right, pitch > 0 up).

    Returns:
        A :class:`FaceSample` with a ``size x size x 3`` uint8 BGR image and meta keys ``occlusion``,
        ``occluded_box`` (``[x0, y0, x1, y1]`` fractions of the image, or None), ``yaw``, ``pitch``,
        ``roll``, ``intensity`` (0 for Neutral) and ``identity``.

    Raises:
        RanEdgeError: label outside 0..6, size below 16, unknown occlusion, angle beyond +-80 degrees.
    """
    if not isinstance(label, (int, np.integer)) or not 0 <= int(label) < len(RAFDB_CLASSES):
        last = len(RAFDB_CLASSES) - 1
        raise RanEdgeError(f"synthetic face label {label!r} is invalid; expected an integer in 0..{last}")
    if int(size) < _MIN_SIZE:
        raise RanEdgeError(f"synthetic face size {size} is too small; expected at least {_MIN_SIZE}")
    try:
        occlusion = Occlusion(occlusion)
    except ValueError:
        names = ", ".join(o.value for o in Occlusion)
        raise RanEdgeError(f"unknown occlusion {occlusion!r}; expected one of {names}") from None
    if max(abs(yaw), abs(pitch), abs(roll)) > 80:
        raise RanEdgeError(f"head pose yaw={yaw}, pitch={pitch}, roll={roll} is out of range; expected |angle| <= 80")
    cv2, label, s = _cv2(), int(label), 2 * int(size)
    # Fixed draws first, then one sub-stream per part: the same rng state gives the same person,
    # placement, background and finish whatever the label, occluder and pose.
    idn = draw.sample_identity(int(rng.integers(0, 2**31 - 1)))
    drawn = float(rng.uniform(0.4, 1.0))  # drawn for every label, to keep the stream aligned
    intensity = 0.0 if label == NEUTRAL else drawn
    expr_rng, occ_rng, finish_rng = (np.random.default_rng(int(k)) for k in rng.integers(0, 2**63 - 1, 3))
    expr = _expression(label, intensity, expr_rng)
    r = s * rng.uniform(0.28, 0.33)
    cx, cy = s * (0.5 + rng.uniform(-0.05, 0.05)), s * (0.53 + rng.uniform(-0.05, 0.05))
    bg = _background(cv2, rng, s, idn, cx, cy, r)
    layer = np.zeros((s, s, 4), np.uint8)  # premultiplied BGRA head, pasted on bg after the pose warp
    painter = draw.Painter(cv2, layer)
    anchors = draw.draw_head(painter, idn, expr, cx, cy, r, yaw, pitch)
    box = _OCCLUDERS[occlusion](painter, anchors, occ_rng) if occlusion is not Occlusion.NONE else None
    h = _homography(cx, cy, s, yaw, pitch, roll)
    if yaw or pitch or roll:
        layer = cv2.warpPerspective(layer, h, (s, s), flags=cv2.INTER_LINEAR)
    big = layer[..., :3] + bg * (1 - layer[..., 3:] * np.float32(1 / 255))
    small = cv2.resize(big, (int(size), int(size)), interpolation=cv2.INTER_AREA)
    img = _finish(cv2, finish_rng, small)
    meta = {"occlusion": occlusion.value, "occluded_box": None if box is None else _warp_box(box, h, s),
            "yaw": float(yaw), "pitch": float(pitch), "roll": float(roll), "intensity": round(intensity, 4),
            "identity": idn.number}
    return FaceSample(np.ascontiguousarray(img), label, meta)


def _split_name(split: Any) -> str:
    name = str(getattr(split, "value", split))
    if name not in _SPLITS:
        raise RanEdgeError(f"unknown split {split!r}; expected one of {', '.join(_SPLITS)}")
    return name


def _suite(suite: Any) -> SyntheticSuite:
    try:
        return SyntheticSuite(suite)
    except ValueError:
        names = ", ".join(s.value for s in SyntheticSuite)
        raise RanEdgeError(f"unknown synthetic suite {suite!r}; expected one of {names}") from None


def _variant(rng: np.random.Generator, suite: SyntheticSuite, split: str,
             index: int) -> tuple[Occlusion, float, float, float]:
    """Occluder and pose of sample ``index`` of a suite."""
    frontal = rng.uniform(-10, 10, 3)
    if suite is SyntheticSuite.OCCLUSION:
        return (_OCCLUDED[index % len(_OCCLUDED)], *map(float, frontal))
    if suite is SyntheticSuite.POSE:
        big = float(rng.uniform(15, 60) * rng.choice([-1.0, 1.0]))
        small = float(rng.uniform(-15, 15))
        yaw, pitch = (big, small) if rng.random() < 0.65 else (small, big)
        return Occlusion.NONE, yaw, pitch, float(rng.uniform(-20, 20))
    if split == "train" and rng.random() < 0.2:  # mild variation so a model is not helpless on the suites
        if rng.random() < 0.5:
            return (_OCCLUDED[int(rng.integers(len(_OCCLUDED)))], *map(float, frontal))
        return Occlusion.NONE, *map(float, rng.uniform(-25, 25, 2)), float(rng.uniform(-20, 20))
    return (Occlusion.NONE, *map(float, frontal))


def _check_counts(n: int, seed: int, size: int) -> None:
    for key, value, low in (("n", n, 0), ("seed", seed, 0), ("size", size, _MIN_SIZE)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise RanEdgeError(f"synthetic {key}={value!r} is invalid; expected an integer >= {low}")


def iter_faces(n: int, *, split: str = "train", suite: SyntheticSuite = SyntheticSuite.CLEAN, seed: int = 0,
               size: int = 64) -> Iterator[FaceSample]:
    """Stream ``n`` faces of one split and suite, deterministic by ``(seed, split, suite)``.

    Labels come in shuffled blocks of 7 (one per class), so any prefix is balanced to within one.
    CLEAN: frontal-ish (|yaw|, |pitch|, |roll| <= 10), no occluder; its train split mixes in 20% mild
    variation (an occluder, or yaw/pitch up to 25 and roll up to 20). OCCLUSION: every face has one
    of the four occluders (cycling). POSE: one of yaw/pitch in +-[15, 60], the other within +-15,
    roll within +-20.

    Raises:
        RanEdgeError: unknown split or suite, negative n or seed, size below 16.
    """
    split_name, suite = _split_name(split), _suite(suite)
    _check_counts(n, seed, size)
    return _stream(int(n), split_name, suite, int(seed), int(size))  # arguments checked now, not at first next()


def _stream(n: int, split: str, suite: SyntheticSuite, seed: int, size: int) -> Iterator[FaceSample]:
    key = (_SPLITS.index(split) + 1, list(SyntheticSuite).index(suite) + 1)
    labels: np.ndarray = np.zeros(0, np.int64)
    for i in range(n):
        if i % 7 == 0:
            block = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(*key, 0, i // 7)))
            labels = block.permutation(len(RAFDB_CLASSES))
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(*key, 1, i)))
        occ, yaw, pitch, roll = _variant(rng, suite, split, i)
        yield render_face(rng, int(labels[i % 7]), size, occlusion=occ, yaw=yaw, pitch=pitch, roll=roll)


def make_split(split: str, n: int, *, suite: SyntheticSuite = SyntheticSuite.CLEAN, seed: int = 0,
               size: int = 64) -> InMemoryDataset:
    """``n`` faces of one split in memory (``n // 7`` per class, the rest spread); see :func:`iter_faces`."""
    return InMemoryDataset(list(iter_faces(n, split=split, suite=suite, seed=seed, size=size)), RAFDB_CLASSES)


_CSV_COLUMNS = ("split", "path", "label", "class", "occlusion", "yaw", "pitch", "roll")


def _safe_name(name: str, what: str) -> str:
    if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise RanEdgeError(f"{what} {name!r} cannot be a folder name; expected a plain name without slashes")
    return name


def _write_tree(tmp: Path, splits: Mapping[str, FaceDataset]) -> None:
    cv2 = _cv2()
    with open(tmp / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(_CSV_COLUMNS)
        for split, ds in splits.items():
            split = _safe_name(str(getattr(split, "value", split)), "split")
            names = [_safe_name(c, "class name") for c in ds.class_names]
            for i in range(len(ds)):
                face = ds[i]
                if not 0 <= face.label < len(names):
                    raise RanEdgeError(f"{split} sample {i} has label {face.label}; expected 0..{len(names) - 1}")
                rel = Path(split, names[face.label], f"{i:05d}.png")
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                ok, buf = cv2.imencode(".png", face.image)
                if not ok:
                    raise RanEdgeError(f"{split} sample {i}: image could not be encoded as PNG; expected HxWx3 uint8")
                buf.tofile(str(tmp / rel))
                m = face.meta
                out.writerow([split, rel.as_posix(), face.label, names[face.label], m.get("occlusion", "none"),
                              float(m.get("yaw", 0.0)), float(m.get("pitch", 0.0)), float(m.get("roll", 0.0))])


def write_imagefolder(root: Path, splits: Mapping[str, FaceDataset]) -> Path:
    """Write ``root/<split>/<ClassName>/<00000>.png`` and ``root/labels.csv``.

    The tree is written to a temporary folder beside ``root`` and renamed into place, so an error
    leaves no half-written tree. An existing ``root`` is replaced only if it is empty or is itself
    such a tree (has ``labels.csv``).

    Args:
        root: folder to create.
        splits: split name -> dataset (e.g. ``{"train": make_split("train", 3500)}``).

    Returns:
        ``root``.

    Raises:
        RanEdgeError: ``root`` exists and is not an earlier synthetic tree, bad split or class names.
    """
    root = Path(root)
    if root.exists() and (not root.is_dir() or (any(root.iterdir()) and not (root / "labels.csv").is_file())):
        raise RanEdgeError(f"{root} exists and is not an image-folder tree written here; "
                           "expected a new or empty folder")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the tree is ordinary data
        _write_tree(tmp, splits)
        if root.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{root.name}.old-", dir=root.parent))
            os.replace(root, old / root.name)
            try:
                os.replace(tmp, root)
            except BaseException:
                os.replace(old / root.name, root)  # put the previous tree back
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root
