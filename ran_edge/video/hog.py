"""``hog``: a HOG + linear detector for the *synthetic* faces of ``ran_edge.data.synthetic``.

OpenCV's Haar cascades find real faces but miss a quarter to a half of our cartoon-like synthetic
faces (measured in ``ran_edge/video/README.md``), so the test video, the tests and the benchmark
use this detector: OpenCV's ``HOGDescriptor`` sliding window with a linear model trained on
synthetic faces composited on random backgrounds (``tools/hog_train.py``, seeds disjoint
from the test videos). The weights ship in ``synthetic_face_hog.json`` beside this module. It is a
detector for *synthetic* faces: use ``haar`` (the default) or ``yunet`` on real video.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional

import numpy as np

from ran_edge._lazy import require
from ran_edge.errors import RanEdgeError
from ran_edge.video.detection import Detection, nms
from ran_edge.video.geometry import FaceFraming

WEIGHTS = Path(__file__).with_name("synthetic_face_hog.json")
WINDOW = 64
#: HOG layout (window, block, block stride, cell, bins): 7x7 blocks x 4 cells x 9 bins = 1764 values
HOG_ARGS = ((WINDOW, WINDOW), (16, 16), (8, 8), (8, 8), 9)


def make_hog() -> Any:
    """The ``cv2.HOGDescriptor`` of this detector."""
    cv2 = require("cv2", feature="HOG face detection")
    return cv2.HOGDescriptor(*HOG_ARGS)


@dataclass(frozen=True)
class HogConfig:
    """``threshold``: least linear score of a detection; ``max_side``: frames are scaled down to this
    side before detection, but never so far that a ``min_face`` face drops below the 64 px window;
    ``scale``: pyramid step."""

    threshold: float = 0.5
    max_side: int = 480
    min_face: int = 96
    scale: float = 1.1
    stride: int = 8
    nms_iou: float = 0.3


class HogDetector:
    """Sliding-window HOG + linear scores; its window is the aligned face, so framing is the identity."""

    name = "hog"

    def __init__(self, config: HogConfig = HogConfig(), weights: Optional[Path] = None):
        cv2 = require("cv2", feature="HOG face detection")
        path = Path(weights) if weights is not None else WEIGHTS
        try:
            data = json.loads(path.read_text())
            w = np.asarray(data["w"], dtype=np.float32)
            b = float(data["b"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RanEdgeError(f"{path}: not a HOG detector weights file ({type(exc).__name__}: {exc}); "
                               "expected the JSON written by 'python tools/hog_train.py'") from exc
        self._hog = make_hog()
        if w.size != self._hog.getDescriptorSize():
            raise RanEdgeError(f"{path}: {w.size} weights, expected {self._hog.getDescriptorSize()}")
        self._hog.setSVMDetector(np.append(w, b).astype(np.float32))
        self.config, self.meta, self._cv2 = config, {k: v for k, v in data.items() if k not in ("w", "b")}, cv2
        self.framing = FaceFraming(1.0, 0.0)

    def detect(self, frame: np.ndarray) -> List[Detection]:
        cv2, cfg = self._cv2, self.config
        h, w = frame.shape[:2]
        k = min(1.0, max(cfg.max_side / float(max(h, w)), WINDOW / float(cfg.min_face)))
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if k < 1.0:
            gray = cv2.resize(gray, (max(1, int(round(w * k))), max(1, int(round(h * k)))), interpolation=cv2.INTER_AREA)
        if min(gray.shape[:2]) < WINDOW:
            return []
        rects, scores = self._hog.detectMultiScale(gray, hitThreshold=cfg.threshold, winStride=(cfg.stride, cfg.stride),
                                                   padding=(0, 0), scale=cfg.scale, groupThreshold=0)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        dets = [Detection((x / k, y / k, (x + rw) / k, (y + rh) / k), float(s))
                for (x, y, rw, rh), s in zip(np.asarray(rects).reshape(-1, 4), scores)]
        return nms(dets, cfg.nms_iou, fuse=True)
