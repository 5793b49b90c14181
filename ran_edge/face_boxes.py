"""Frame + face boxes → the model's input: the one framing, alignment and cutting of faces, shared by
:meth:`ran_edge.runtime.Classifier.predict_on_boxes` and the video pipeline (:mod:`ran_edge.video.pipeline`).

A detector box becomes the square face box the model was trained on (:class:`FaceFraming`); 5-point landmarks
level the eye line (:func:`landmark_angle`); a ``faces`` model gets aligned crops (:func:`crop_face`), a
``regions`` model the region batch cut straight from the frame by the fused kernel (:func:`frame_region_batch`).
Boxes are ``(x0, y0, x1, y1)`` floats in frame pixels (pixel ``i`` covers ``[i, i+1)``, as in
:mod:`ran_edge.preprocess`). Numpy only, except :func:`crop_face`, which uses OpenCV's warpAffine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from ran_edge._lazy import require
from ran_edge.artifact import InputKind
from ran_edge.errors import RanEdgeError

Box = Tuple[float, float, float, float]
Point = Tuple[float, float]


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


def box_affine(box: Box, angle_deg: float = 0.0) -> np.ndarray:
    """``[2,3]`` map from face units ``[0,1]^2`` to frame pixels of a (rotated) square face box."""
    cx, cy = 0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3])
    sx, sy = box[2] - box[0], box[3] - box[1]
    t = math.radians(angle_deg)
    c, s = math.cos(t), math.sin(t)
    m = np.array([[c * sx, -s * sy, 0.0], [s * sx, c * sy, 0.0]])
    m[:, 2] = np.array([cx, cy]) - m[:, :2] @ np.array([0.5, 0.5])
    return m


def aligned_crops(frame: np.ndarray, boxes: Sequence[Box], angles: Sequence[float], size: int) -> List[np.ndarray]:
    """``size x size`` uint8 BGR crops of the (rotated) square face ``boxes`` of ``frame``."""
    return [crop_face(frame, b, size, a) for b, a in zip(boxes, angles)]


def frame_region_batch(frame: np.ndarray, boxes: Sequence[Box], angles: Sequence[float], meta: Any,
                       kernel_device: str = "cpu") -> np.ndarray:
    """The region batch ``[N*K,3,R,R]`` of a ``regions`` model (``meta``: its sidecar) for face ``boxes`` of
    ``frame``, rotated by ``angles`` (degrees) where the eye line is tilted, by the fused region-batch kernel."""
    from ran_edge.kernels import region_batch

    dtype = meta.inputs[0].dtype if getattr(meta, "inputs", None) else "float32"
    dtype = dtype if dtype in ("float32", "float16") else "float32"
    if any(angles) and meta.preprocess.crop.whole_pixel:
        # The official convention cuts upright whole-pixel boxes: align (rotate) each face first, as the
        # official pipeline's face files are, then cut its regions (the faces-input path of the same model).
        from ran_edge.model_input import prepare_model_input

        crops = aligned_crops(frame, boxes, angles, int(meta.preprocess.face_size))
        return prepare_model_input(crops, InputKind.REGIONS, meta.preset, meta.preprocess).astype(dtype)
    if any(angles):
        affines = np.stack([box_affine(b, a) for b, a in zip(boxes, angles)])
        return region_batch(frame, None, meta.preset, dtype=dtype, device=kernel_device, spec=meta.preprocess,
                            affines=affines)
    arr = np.asarray(boxes, dtype=np.float64)
    return region_batch(frame, arr, meta.preset, dtype=dtype, device=kernel_device, spec=meta.preprocess)


def check_boxes(boxes: Any, landmarks: Any = None) -> Tuple[List[Box], List[Optional[Tuple[Point, ...]]]]:
    """``(N, 4)`` x0, y0, x1, y1 boxes (and optional ``(N, 5, 2)`` landmarks) as lists, checked: finite, with
    ``x1 > x0`` and ``y1 > y0``; a bad one is an :class:`InputError` saying what was expected."""
    from ran_edge.errors import InputError

    try:
        arr = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"boxes: got {type(boxes).__name__}, expected an (N, 4) array of x0, y0, x1, y1") from None
    if arr.size == 0:
        arr = arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InputError(f"boxes: got shape {list(arr.shape)}, expected (N, 4) x0, y0, x1, y1 in frame pixels")
    if not np.isfinite(arr).all():
        raise InputError("boxes: got NaN or Inf, expected finite pixel coordinates")
    bad = np.nonzero((arr[:, 2] <= arr[:, 0]) | (arr[:, 3] <= arr[:, 1]))[0]
    if bad.size:
        raise InputError(f"boxes: box {int(bad[0])} is {arr[bad[0]].tolist()}, expected x1 > x0 and y1 > y0 (xyxy, not xywh?)")
    out_boxes: List[Box] = [tuple(float(v) for v in row) for row in arr]  # type: ignore[misc]
    if landmarks is None:
        return out_boxes, [None] * len(out_boxes)
    try:
        lm = np.asarray(landmarks, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"landmarks: got {type(landmarks).__name__}, expected an (N, 5, 2) array") from None
    if lm.shape != (len(out_boxes), 5, 2) or not np.isfinite(lm).all():
        raise InputError(f"landmarks: got shape {list(lm.shape)}, expected ({len(out_boxes)}, 5, 2) finite points "
                         "(right eye, left eye, nose, right and left mouth corner), one set per box")
    return out_boxes, [tuple((float(x), float(y)) for x, y in pts) for pts in lm]
