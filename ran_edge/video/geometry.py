"""Box geometry for the video pipeline: IoU, clipping, areas; the face framing, eye-line alignment and face
crops live one layer lower, in :mod:`ran_edge.face_boxes` (the runtime's ``predict_on_boxes`` uses them too),
and are re-exported here.

Boxes are ``(x0, y0, x1, y1)`` floats in frame pixels (pixel ``i`` covers ``[i, i+1)``, as in
:mod:`ran_edge.preprocess`). Numpy only.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ran_edge.face_boxes import (Box, FaceFraming, Point, crop_face, crop_matrix, eye_angle,  # noqa: F401  (re-exported)
                                 landmark_angle)

__all__ = ["Box", "FaceFraming", "Point", "box_area", "clip_box", "crop_face", "crop_matrix", "eye_angle", "iou",
           "iou_matrix", "landmark_angle"]


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


def clip_box(box: Box, width: int, height: int) -> Box:
    """Clip a box to the frame (it may become empty; check with :func:`box_area`)."""
    return (min(max(box[0], 0.0), width), min(max(box[1], 0.0), height),
            min(max(box[2], 0.0), width), min(max(box[3], 0.0), height))


def box_area(box: Box) -> float:
    """Area of a box, 0 when it is empty or inverted."""
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
