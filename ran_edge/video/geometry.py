"""Box geometry for the video pipeline: IoU, square + expand, eye-line alignment, face crops.

Boxes are ``(x0, y0, x1, y1)`` floats in frame pixels (pixel ``i`` covers ``[i, i+1)``, as in
:mod:`ran_edge.preprocess`). Numpy only, except :func:`crop_face`, which uses OpenCV's warpAffine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

from ran_edge._lazy import require
from ran_edge.errors import RanEdgeError

Box = Tuple[float, float, float, float]
Point = Tuple[float, float]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when either is empty)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def iou_matrix(a: Sequence[Box], b: Sequence[Box]) -> np.ndarray:
    """``[len(a), len(b)]`` IoU matrix."""
    if not a or not b:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    A = np.asarray(a, dtype=np.float64)[:, None, :]
    B = np.asarray(b, dtype=np.float64)[None, :, :]
    ix = np.clip(np.minimum(A[..., 2], B[..., 2]) - np.maximum(A[..., 0], B[..., 0]), 0, None)
    iy = np.clip(np.minimum(A[..., 3], B[..., 3]) - np.maximum(A[..., 1], B[..., 1]), 0, None)
    inter = ix * iy
    area_a = (A[..., 2] - A[..., 0]) * (A[..., 3] - A[..., 1])
    area_b = (B[..., 2] - B[..., 0]) * (B[..., 3] - B[..., 1])
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


@dataclass(frozen=True)
class FaceFraming:
    """How a detector box becomes the square face box the model was trained on.

    The square side is ``scale * max(w, h)`` of the detector box, centred on the box centre moved
    down by ``shift_y * side`` (detectors differ in where their box sits on the head, so each
    detector has its own measured default; see ``ran_edge/video/README.md``).
    """

    scale: float = 1.0
    shift_y: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.scale) and 0.2 <= self.scale <= 5.0):
            raise RanEdgeError(f"face framing scale {self.scale} is out of range; expected 0.2..5.0")
        if not (math.isfinite(self.shift_y) and abs(self.shift_y) <= 1.0):
            raise RanEdgeError(f"face framing shift_y {self.shift_y} is out of range; expected -1..1")

    def apply(self, box: Box) -> Box:
        """Square, expanded face box for a detector box."""
        w, h = box[2] - box[0], box[3] - box[1]
        side = self.scale * max(w, h)
        cx = 0.5 * (box[0] + box[2])
        cy = 0.5 * (box[1] + box[3]) + self.shift_y * side
        return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def clip_box(box: Box, width: int, height: int) -> Box:
    """Clip a box to the frame (it may become empty; check with :func:`box_area`)."""
    return (min(max(box[0], 0.0), width), min(max(box[1], 0.0), height),
            min(max(box[2], 0.0), width), min(max(box[3], 0.0), height))


def box_area(box: Box) -> float:
    """Area of a box, 0 when it is empty or inverted."""
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def eye_angle(right_eye: Point, left_eye: Point) -> float:
    """Angle in degrees of the eye line (image ``right_eye`` → ``left_eye``; 0 when level).

    ``right_eye`` is the subject's right eye, which appears on the *left* of the image.
    """
    return math.degrees(math.atan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0]))


def crop_matrix(box: Box, size: int, angle_deg: float = 0.0) -> np.ndarray:
    """2x3 affine matrix mapping output pixels of an ``size x size`` crop to frame coordinates.

    Follows the half-pixel convention of :mod:`ran_edge.preprocess`: output pixel ``j`` (centre
    ``j + 0.5``) samples ``x0 + (j + 0.5) * side / size``; OpenCV's warp uses integer pixel
    centres, hence the ``-0.5`` terms. ``angle_deg`` rotates the crop window about its centre (the
    eye line of a tilted head becomes horizontal in the crop).
    """
    side_x, side_y = box[2] - box[0], box[3] - box[1]
    cx, cy = 0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3])
    t = math.radians(angle_deg)
    c, s = math.cos(t), math.sin(t)
    sx, sy = side_x / size, side_y / size
    # centred output coords (u, v) = (j + 0.5 - size/2) * scale, rotated by t, then moved to the centre
    m = np.array([[c * sx, -s * sy, 0.0], [s * sx, c * sy, 0.0]], dtype=np.float64)
    off = np.array([0.5 - size / 2.0, 0.5 - size / 2.0])
    m[:, 2] = m[:, :2] @ off + np.array([cx - 0.5, cy - 0.5])
    return m


def crop_face(frame: np.ndarray, box: Box, size: int, angle_deg: float = 0.0) -> np.ndarray:
    """Square ``size x size`` uint8 BGR crop of ``box`` (bilinear, black outside the frame).

    For an unrotated box fully inside the frame this equals the preprocessing convention's
    resampling of the box (tested against :func:`ran_edge.preprocess.region_batch_reference`).
    """
    cv2 = require("cv2", feature="video face crops")
    m = crop_matrix(box, size, angle_deg)
    out = cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REPLICATE)
    h, w = frame.shape[:2]
    corners = np.array([[0.0, 0.0, 1.0], [size, 0.0, 1.0], [0.0, size, 1.0], [size, size, 1.0]]) @ m.T + 0.5
    if corners[:, 0].min() < 0 or corners[:, 1].min() < 0 or corners[:, 0].max() > w or corners[:, 1].max() > h:
        # the convention: taps clamp to the edge pixel, but a sample point outside the frame is black
        j = np.arange(size, dtype=np.float64)
        u = m[0, 0] * j[None, :] + m[0, 1] * j[:, None] + m[0, 2] + 0.5
        v = m[1, 0] * j[None, :] + m[1, 1] * j[:, None] + m[1, 2] + 0.5
        out[(u < 0) | (u > w) | (v < 0) | (v > h)] = 0
    return out


def landmark_angle(landmarks: Optional[Sequence[Point]]) -> float:
    """Eye-line angle from 5-point landmarks (right eye, left eye, nose, mouth right, mouth left)."""
    if landmarks is None or len(landmarks) < 2:
        return 0.0
    return eye_angle(landmarks[0], landmarks[1])
