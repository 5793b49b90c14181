"""A labelled test video: synthetic expression faces moving over a moving background.

Each face *track* lives in one cell of a grid and drifts (bouncing) inside it; its expression
changes every ``segment_s`` seconds; brief occlusions appear on it (a hand, mask, sunglasses, a
block, or a card covering the whole face); and faces enter from and leave through the frame edge.
A segment is one :func:`~ran_edge.data.synthetic.faces.render_face` drawing (identity, expression and
lighting are fixed within it), drawn at ``render_size`` (64, the demo model's training size: faces
drawn at 128 have other blur/noise statistics and the demo model loses ~10 points on them), resized
to ``face_size`` and pasted with a feathered edge at the track's position. The ground
truth per frame is the pasted face box (the framing the model was trained on), the track id, the
label and whether the face is *fully visible* (inside the frame, no occluder).

Written with ``cv2.VideoWriter`` (``mp4v``; OpenCV's wheels do not write H.264). Example::

    gt = write_test_video("faces.mp4", VideoScenario(n_faces=2, seconds=4))
    gt.frames[10]  # [FaceTruth(track_id, box, label, fully_visible, occlusion), ...]
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ran_edge._lazy import require
from ran_edge.data.classes import RAFDB_CLASSES
from ran_edge.errors import RanEdgeError

#: Occluders drawn by :mod:`ran_edge.data.synthetic.faces`, plus ``cover`` (a card over the whole face).
OCCLUDERS = ("hand", "mask", "sunglasses", "block", "cover")


@dataclass(frozen=True)
class VideoScenario:
    """What to generate (sizes in pixels, times in seconds)."""

    n_faces: int = 1
    width: int = 640
    height: int = 360
    fps: float = 15.0
    seconds: float = 6.0
    face_size: int = 128
    render_size: int = 64
    segment_s: float = 1.6
    occlusions_per_track: int = 1
    occlusion_s: float = 0.4
    enter_leave: bool = True
    occluders: Tuple[str, ...] = OCCLUDERS
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.n_faces <= 16:
            raise RanEdgeError(f"n_faces={self.n_faces} is out of range; expected 1..16")
        if not 16 <= self.render_size <= 512:
            raise RanEdgeError(f"render_size={self.render_size} is out of range; expected 16..512")
        if self.width < 64 or self.height < 64 or self.fps <= 0 or self.seconds <= 0:
            raise RanEdgeError("video size must be >= 64x64 with fps > 0 and seconds > 0")
        object.__setattr__(self, "occluders", tuple(self.occluders))
        unknown = [o for o in self.occluders if o not in OCCLUDERS]
        if unknown or not self.occluders:
            raise RanEdgeError(f"occluders {list(self.occluders)}: expected a non-empty subset of {list(OCCLUDERS)}")
        rows, cols = grid_shape(self.n_faces, self.width, self.height)
        if not 16 <= self.face_size <= min(self.width // cols, self.height // rows):
            raise RanEdgeError(f"face_size={self.face_size} does not fit a {rows}x{cols} grid in "
                               f"{self.width}x{self.height}; expected 16..{min(self.width // cols, self.height // rows)}")

    @property
    def n_frames(self) -> int:
        return max(1, int(round(self.seconds * self.fps)))


@dataclass(frozen=True)
class FaceTruth:
    """One face in one frame: ``box`` is ``[x0, y0, x1, y1]`` in frame pixels (may reach outside)."""

    track_id: int
    box: Tuple[int, int, int, int]
    label: int
    fully_visible: bool
    occlusion: str = "none"


@dataclass
class GroundTruth:
    """Per-frame truth of a generated video, saved as JSON next to it."""

    scenario: VideoScenario
    class_names: Tuple[str, ...]
    frames: List[List[FaceTruth]] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        return {"scenario": asdict(self.scenario), "class_names": list(self.class_names),
                "width": self.scenario.width, "height": self.scenario.height, "fps": self.scenario.fps,
                "n_frames": len(self.frames),
                "frames": [[{"track_id": f.track_id, "box": list(f.box), "label": f.label,
                             "fully_visible": f.fully_visible, "occlusion": f.occlusion} for f in fr]
                           for fr in self.frames]}

    def save(self, path: Path) -> Path:
        from ran_edge.artifact import write_json_atomic

        return write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: Path) -> "GroundTruth":
        """Read a ground-truth JSON written by :meth:`save`."""
        try:
            d = json.loads(Path(path).read_text())
            frames = [[FaceTruth(int(f["track_id"]), tuple(int(v) for v in f["box"]), int(f["label"]),
                                 bool(f["fully_visible"]), str(f.get("occlusion", "none"))) for f in fr]
                      for fr in d["frames"]]
            return cls(VideoScenario(**d["scenario"]), tuple(d["class_names"]), frames)  # type: ignore[arg-type]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RanEdgeError(f"{path}: not a ran-edge video ground-truth JSON ({type(exc).__name__}: {exc})") from exc


def grid_shape(n: int, width: int, height: int) -> Tuple[int, int]:
    """Rows and columns of the cell grid for ``n`` faces (cells as square as the frame allows)."""
    best = (n, 1)
    for rows in range(1, n + 1):
        cols = -(-n // rows)
        cell = min(width / cols, height / rows)
        if cell > min(width / best[1], height / best[0]):
            best = (rows, cols)
    return best


@dataclass(frozen=True)
class _Track:
    track_id: int
    cell: Tuple[float, float, float, float]  # x0, y0, x1, y1 of the cell
    t_in: float
    t_out: float
    side: int  # -1 enters/leaves through the left edge, +1 right
    phase: Tuple[float, float]
    speed: Tuple[float, float]
    labels: Tuple[int, ...]  # one per segment
    seeds: Tuple[int, ...]
    occlusions: Tuple[Tuple[float, float, str], ...]  # (start, end, kind)


def _plan(sc: VideoScenario, rng: np.random.Generator) -> List[_Track]:
    rows, cols = grid_shape(sc.n_faces, sc.width, sc.height)
    cw, ch = sc.width / cols, sc.height / rows
    n_seg = int(np.ceil(sc.seconds / sc.segment_s)) + 1
    tracks: List[_Track] = []
    next_id = 1
    for k in range(sc.n_faces):
        r, c = divmod(k, cols)
        cell = (c * cw, r * ch, (c + 1) * cw, (r + 1) * ch)
        side = -1 if c < cols / 2 else 1
        spans = [(0.0, sc.seconds + 1.0)]
        if sc.enter_leave and sc.seconds >= 3.0:
            # this cell's face leaves at ~60% and a new face enters at ~75% (k=0 always starts in view)
            out = sc.seconds * float(rng.uniform(0.55, 0.65))
            spans = [(0.0, out), (out + sc.seconds * 0.12, sc.seconds + 1.0)]
        for t_in, t_out in spans:
            labels = [int(rng.integers(len(RAFDB_CLASSES)))]
            for _ in range(n_seg - 1):
                labels.append(int((labels[-1] + rng.integers(1, len(RAFDB_CLASSES))) % len(RAFDB_CLASSES)))
            occ = []
            for _ in range(sc.occlusions_per_track):
                lo, hi = t_in + 0.8, min(t_out, sc.seconds) - sc.occlusion_s - 0.3
                if hi > lo:
                    t0 = float(rng.uniform(lo, hi))
                    occ.append((t0, t0 + sc.occlusion_s, sc.occluders[int(rng.integers(len(sc.occluders)))]))
            tracks.append(_Track(next_id, cell, t_in, t_out, side, tuple(rng.uniform(0, 2, 2)),
                                 tuple(rng.uniform(0.15, 0.35, 2) * rng.choice([-1, 1], 2)), tuple(labels),
                                 tuple(int(v) for v in rng.integers(0, 2**31 - 1, n_seg)), tuple(occ)))
            next_id += 1
    return tracks


def _tri(u: float) -> float:
    """Triangle wave in [0, 1] with period 2."""
    u = u % 2.0
    return u if u <= 1.0 else 2.0 - u


def _position(tr: _Track, t: float, sc: VideoScenario, slide_s: float = 0.6) -> Tuple[float, float]:
    x0, y0, x1, y1 = tr.cell
    s = sc.face_size

    def inside(tt: float) -> Tuple[float, float]:
        return (x0 + _tri(tr.phase[0] + tr.speed[0] * tt) * (x1 - x0 - s),
                y0 + _tri(tr.phase[1] + tr.speed[1] * tt) * (y1 - y0 - s))

    off = -s - 2.0 if tr.side < 0 else sc.width + 2.0
    if tr.t_in > 0 and t < tr.t_in + slide_s:  # sliding in from the edge
        a = (t - tr.t_in) / slide_s
        px, py = inside(tr.t_in + slide_s)
        return off + a * (px - off), py
    if t > tr.t_out - slide_s and tr.t_out <= sc.seconds:  # sliding out
        a = (t - (tr.t_out - slide_s)) / slide_s
        px, py = inside(tr.t_out - slide_s)
        return px + a * (off - px), py
    return inside(t)


class _FaceCache:
    """Rendered tiles keyed by (track, segment, occluder): drawn at ``render_size`` (the size the demo
    model is trained on; drawing bigger changes the blur and noise statistics) and resized to ``size``."""

    def __init__(self, size: int, render_size: int = 64):
        self.size, self.render_size, self.tiles = size, render_size, {}  # type: int, int, Dict[Tuple[int, int, str], np.ndarray]
        self.alpha = feather(size)

    def tile(self, tr: _Track, seg: int, occ: str) -> np.ndarray:
        from ran_edge.data.synthetic.faces import Occlusion, render_face

        key = (tr.track_id, seg, occ)
        if key not in self.tiles:
            kind = Occlusion(occ) if occ in ("hand", "mask", "sunglasses", "block") else Occlusion.NONE
            cv2 = require("cv2", feature="test video generation")
            rng = np.random.default_rng(tr.seeds[seg])
            img = render_face(rng, tr.labels[seg], self.render_size, occlusion=kind).image
            if self.render_size != self.size:
                inter = cv2.INTER_CUBIC if self.size > self.render_size else cv2.INTER_AREA
                img = cv2.resize(img, (self.size, self.size), interpolation=inter)
            self.tiles[key] = img.astype(np.float32)
        return self.tiles[key]


def feather(size: int, edge: float = 0.12) -> np.ndarray:
    """``[size, size, 1]`` float32 alpha: 1 inside, falling to 0 over the outer ``edge`` of the tile."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    d = np.minimum(np.minimum(xx, yy), np.minimum(size - 1 - xx, size - 1 - yy))
    return np.clip(d / (edge * size), 0, 1)[..., None]


def make_background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A ``height x width x 3`` float32 BGR texture: smooth colour field, discs and rectangles."""
    cv2 = require("cv2", feature="test video generation")
    h, w = height, width
    small = rng.uniform(30, 220, (6, 8, 3)).astype(np.float32)
    bg = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(max(4, int(40 * w * h / (1280 * 720)))):
        color = tuple(float(v) for v in rng.uniform(20, 235, 3))
        c = (int(rng.integers(w)), int(rng.integers(h)))
        if rng.random() < 0.5:
            cv2.circle(bg, c, int(rng.integers(8, 60)), color, -1, cv2.LINE_AA)
        else:
            cv2.rectangle(bg, c, (c[0] + int(rng.integers(10, 120)), c[1] + int(rng.integers(10, 120))), color, -1)
    return np.clip(bg, 0, 255)


def iter_frames(sc: VideoScenario) -> Iterator[Tuple[np.ndarray, List[FaceTruth]]]:
    """Yield ``(frame HxWx3 uint8 BGR, truths)`` for every frame of the scenario."""
    rng = np.random.default_rng(sc.seed)
    tracks = _plan(sc, rng)
    bg = make_background(2 * sc.width, 2 * sc.height, rng)
    cache = _FaceCache(sc.face_size, sc.render_size)
    s = sc.face_size
    for i in range(sc.n_frames):
        t = i / sc.fps
        ox = int((0.5 + 0.5 * np.sin(0.31 * t)) * sc.width)  # the background pans slowly
        oy = int((0.5 + 0.5 * np.cos(0.23 * t)) * sc.height)
        frame = bg[oy:oy + sc.height, ox:ox + sc.width].copy()
        truths: List[FaceTruth] = []
        for tr in tracks:
            if not tr.t_in <= t < tr.t_out:
                continue
            x, y = (int(round(v)) for v in _position(tr, t, sc))
            seg = int(t // sc.segment_s)
            occ = next((kind for a, b, kind in tr.occlusions if a <= t < b), "none")
            tile = cache.tile(tr, seg, occ if occ != "cover" else "none")
            box = (x, y, x + s, y + s)
            fx0, fy0, fx1, fy1 = max(x, 0), max(y, 0), min(x + s, sc.width), min(y + s, sc.height)
            if fx1 <= fx0 or fy1 <= fy0:
                continue  # entirely outside the frame
            sub = (slice(fy0 - y, fy1 - y), slice(fx0 - x, fx1 - x))
            a = cache.alpha[sub]
            region = frame[fy0:fy1, fx0:fx1]
            frame[fy0:fy1, fx0:fx1] = a * tile[sub] + (1 - a) * region
            if occ == "cover":  # a grey card hiding the whole face
                m = int(0.08 * s)
                frame[max(y - m, 0):max(min(y + s + m, sc.height), 0), max(x - m, 0):max(min(x + s + m, sc.width), 0)] = 128.0
            inside = x >= 0 and y >= 0 and x + s <= sc.width and y + s <= sc.height
            truths.append(FaceTruth(tr.track_id, box, tr.labels[seg], inside and occ == "none", occ))
        yield np.clip(frame, 0, 255).astype(np.uint8), _mark_overlaps(truths)


def _mark_overlaps(truths: List[FaceTruth]) -> List[FaceTruth]:
    """A face that overlaps another (one sliding in through a neighbour's cell) is not fully visible."""
    out = []
    for f in truths:
        area = (f.box[2] - f.box[0]) * (f.box[3] - f.box[1])
        hit = any(max(0, min(f.box[2], g.box[2]) - max(f.box[0], g.box[0]))
                  * max(0, min(f.box[3], g.box[3]) - max(f.box[1], g.box[1])) > 0.02 * area
                  for g in truths if g is not f)
        out.append(FaceTruth(f.track_id, f.box, f.label, f.fully_visible and not hit, f.occlusion) if hit else f)
    return out


def write_test_video(path: Path, scenario: VideoScenario = VideoScenario(),
                     truth_path: Optional[Path] = None) -> GroundTruth:
    """Write the video (mp4v) and its ground truth JSON (default: ``<path>.json``); returns the truth."""
    cv2 = require("cv2", feature="test video generation")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, float(scenario.fps), (scenario.width, scenario.height))
    if not writer.isOpened():
        raise RanEdgeError(f"{path}: OpenCV cannot write this video; expected a .mp4 (mp4v) or .avi (MJPG) path")
    gt = GroundTruth(scenario, RAFDB_CLASSES)
    try:
        for frame, truths in iter_frames(scenario):
            writer.write(frame)
            gt.frames.append(truths)
    finally:
        writer.release()
    gt.save(Path(truth_path) if truth_path else path.with_name(path.name + ".json"))
    return gt


def visible_frames(gt: GroundTruth) -> Sequence[int]:
    """Indices of frames where at least one face is fully visible."""
    return [i for i, fr in enumerate(gt.frames) if any(f.fully_visible for f in fr)]
