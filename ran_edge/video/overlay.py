"""Draw results on a frame: box, track id, label, confidence and a strip of region weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np

from ran_edge._lazy import require
from ran_edge.video.pipeline import FaceResult

#: one BGR colour per class index (cycled)
PALETTE: Tuple[Tuple[int, int, int], ...] = (
    (0, 215, 255), (180, 105, 255), (0, 140, 70), (60, 200, 60), (200, 120, 40), (40, 40, 230), (200, 200, 200),
    (255, 160, 0),
)


@dataclass(frozen=True)
class OverlayStyle:
    """Line thickness, font scale and the region-weight strip's cell size (pixels)."""

    thickness: int = 2
    font_scale: float = 0.5
    strip_cell: int = 12


def draw_results(frame: np.ndarray, results: Sequence[FaceResult], style: OverlayStyle = OverlayStyle()) -> np.ndarray:
    """Draw on ``frame`` in place and return it.

    Each face: its box in the colour of its label (dashed-looking thin box when the box was predicted
    by the tracker), ``#id label 0.93`` above it, and below it one cell per region whose brightness
    ranks the region's weight between the smallest (dark) and the largest (white).
    """
    cv2 = require("cv2", feature="video overlay")
    h, w = frame.shape[:2]
    for r in results:
        color = PALETTE[r.index % len(PALETTE)]
        x0, y0, x1, y1 = (int(round(v)) for v in r.box)
        cv2.rectangle(frame, (x0, y0), (x1, y1), color, style.thickness if r.detected else 1, cv2.LINE_AA)
        text = f"#{r.track_id} {r.label} {r.score:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, style.font_scale, 1)
        ty = max(th + 2, y0 - 4)
        cv2.rectangle(frame, (x0, ty - th - 2), (x0 + tw + 2, ty + base), color, -1)
        cv2.putText(frame, text, (x0 + 1, ty), cv2.FONT_HERSHEY_SIMPLEX, style.font_scale, (0, 0, 0), 1, cv2.LINE_AA)
        _strip(cv2, frame, r, (x0, min(y1 + 3, h - style.strip_cell - 1)), style, color)
    return frame


def _strip(cv2, frame: np.ndarray, r: FaceResult, at: Tuple[int, int], style: OverlayStyle, color) -> None:
    wts = np.asarray(r.region_weights, dtype=np.float64)
    if wts.size == 0:
        return
    lo, hi = float(wts.min()), float(wts.max())
    c = style.strip_cell
    x, y = at
    for k, v in enumerate(wts):
        rel = (float(v) - lo) / (hi - lo) if hi - lo > 1e-6 else 0.5
        level = int(round(40 + 215 * rel))  # darkest = least weight, white = the region that drove the decision
        p0, p1 = (x + k * c, y), (x + (k + 1) * c - 2, y + c)
        cv2.rectangle(frame, p0, p1, (level, level, level), -1)
        cv2.rectangle(frame, p0, p1, color, 1)
