"""Face detection behind one small interface, and the detectors that ship.

``make_detector("haar")`` (the default) works offline from OpenCV's own files; ``hog`` is a
HOG detector trained on our *synthetic* faces (shipped weights, for the test video and demos);
``yunet:PATH`` uses a
user-supplied YuNet ONNX through ``cv2.FaceDetectorYN`` and gives 5 landmarks (used to level the
eye line); ``oracle:TRUTH.json`` replays the boxes of a generated test video and is for
*evaluation only* (it isolates the classifier from detection misses; never use it on real video).
Why Haar is the default, with measurements: ``ran_edge/video/README.md``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Tuple

import numpy as np

from ran_edge._lazy import require
from ran_edge.errors import RanEdgeError
from ran_edge.video.detection import Detection, Detector
from ran_edge.video.geometry import FaceFraming


class DetectorKind(str, enum.Enum):
    HAAR = "haar"
    HOG = "hog"
    YUNET = "yunet"
    ORACLE = "oracle"


@dataclass(frozen=True)
class HaarConfig:
    """OpenCV Haar cascade options; ``max_side`` downscales the frame before detection (speed)."""

    cascade: str = "haarcascade_frontalface_alt2.xml"
    scale_factor: float = 1.1
    min_neighbors: int = 3
    min_size: int = 24
    max_side: int = 480


class HaarDetector:
    """OpenCV's frontal-face Haar cascade, from the files inside the opencv-python wheel (4.x).

    Framing measured on the synthetic test videos: the alt2 box is 0.63-0.68 of the aligned face
    wide and centred 0.02-0.04 of a face below its centre, hence ``FaceFraming(1.5, -0.035)``.
    """

    name = "haar"

    def __init__(self, config: HaarConfig = HaarConfig(), framing: FaceFraming = FaceFraming(1.5, -0.035)):
        cv2 = require("cv2", feature="Haar face detection")
        self.config, self.framing = config, framing
        path = Path(config.cascade)
        if not path.is_file():
            data = getattr(cv2, "data", None)
            path = Path(getattr(data, "haarcascades", "")) / config.cascade
        if not hasattr(cv2, "CascadeClassifier") or not path.is_file():
            raise RanEdgeError(f"Haar cascade {config.cascade} is not available in OpenCV {cv2.__version__}; "
                               "expected opencv-python-headless>=4.8,<5 (5.x ships no cascades) or a cascade file path")
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise RanEdgeError(f"{path}: not a readable OpenCV cascade XML")
        self._cv2 = cv2

    def detect(self, frame: np.ndarray) -> List[Detection]:
        cv2, cfg = self._cv2, self.config
        h, w = frame.shape[:2]
        k = min(1.0, cfg.max_side / float(max(h, w)))
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if k < 1.0:
            gray = cv2.resize(gray, (max(1, int(round(w * k))), max(1, int(round(h * k)))), interpolation=cv2.INTER_AREA)
        min_side = max(8, int(round(cfg.min_size * k)))
        found = self._cascade.detectMultiScale(gray, scaleFactor=cfg.scale_factor, minNeighbors=cfg.min_neighbors,
                                               minSize=(min_side, min_side))
        return [Detection((x / k, y / k, (x + bw) / k, (y + bh) / k)) for x, y, bw, bh in np.asarray(found).reshape(-1, 4)]


class YuNetDetector:
    """YuNet (``face_detection_yunet_*.onnx``, supplied by the user) via ``cv2.FaceDetectorYN``; gives landmarks."""

    name = "yunet"

    def __init__(self, model_path: Path, score_threshold: float = 0.7, nms_threshold: float = 0.3,
                 framing: FaceFraming = FaceFraming(1.25, 0.0)):
        cv2 = require("cv2", feature="YuNet face detection")
        model_path = Path(model_path)
        if not model_path.is_file():
            raise RanEdgeError(f"YuNet model file not found: {model_path}; expected a face_detection_yunet ONNX file")
        if not hasattr(cv2, "FaceDetectorYN"):
            raise RanEdgeError(f"OpenCV {cv2.__version__} has no FaceDetectorYN; expected opencv>=4.5.4")
        try:
            self._det = cv2.FaceDetectorYN.create(str(model_path), "", (320, 320), score_threshold, nms_threshold, 50)
        except cv2.error as exc:
            raise RanEdgeError(f"{model_path}: OpenCV could not load it as a YuNet model ({str(exc).strip()[:120]})") from exc
        self._size: Tuple[int, int] = (320, 320)
        self.framing = framing

    def detect(self, frame: np.ndarray) -> List[Detection]:
        h, w = frame.shape[:2]
        if (w, h) != self._size:
            self._det.setInputSize((w, h))
            self._size = (w, h)
        _, faces = self._det.detect(frame)
        out: List[Detection] = []
        for f in ([] if faces is None else faces):
            x, y, bw, bh = (float(v) for v in f[:4])
            lm = tuple((float(f[4 + 2 * i]), float(f[5 + 2 * i])) for i in range(5))
            out.append(Detection((x, y, x + bw, y + bh), float(f[14]), lm))
        return out


class OracleDetector:
    """EVALUATION ONLY: returns the ground-truth boxes of a video made by :mod:`ran_edge.data.synthetic.video_gen`.

    It counts frames itself (``detect`` call i = frame i), so it must see every frame. Faces that
    are fully hidden (occlusion ``cover``) or entirely outside the frame are not returned.
    """

    name = "oracle"

    def __init__(self, truth_path: Path):
        from ran_edge.data.synthetic.video_gen import GroundTruth

        if not Path(truth_path).is_file():
            raise RanEdgeError(f"oracle ground-truth file not found: {truth_path}; expected the .json written next to a generated video")
        self._gt = GroundTruth.load(Path(truth_path))
        self._i = 0
        self.framing = FaceFraming(1.0, 0.0)

    def detect(self, frame: np.ndarray) -> List[Detection]:
        truths = self._gt.frames[self._i] if self._i < len(self._gt.frames) else []
        self._i += 1
        h, w = frame.shape[:2]
        return [Detection(tuple(float(v) for v in t.box)) for t in truths  # type: ignore[misc]
                if t.occlusion != "cover" and t.box[2] > 0 and t.box[0] < w and t.box[3] > 0 and t.box[1] < h]


def make_detector(spec: str = "haar", **options: Any) -> Detector:
    """``haar`` | ``haar:CASCADE.xml`` | ``hog`` (synthetic faces) | ``yunet:MODEL.onnx`` | ``oracle:TRUTH.json`` → a detector."""
    name, _, arg = spec.partition(":")
    try:
        kind = DetectorKind(name.strip().lower())
    except ValueError:
        raise RanEdgeError(f"--detector: unknown detector '{name}'; expected haar[:CASCADE.xml], "
                           "hog (synthetic faces), yunet:MODEL.onnx or oracle:TRUTH.json (evaluation only)") from None
    if kind is DetectorKind.HAAR:
        return HaarDetector(HaarConfig(cascade=arg, **options) if arg else HaarConfig(**options))
    if kind is DetectorKind.HOG:
        from ran_edge.video.hog import HogConfig, HogDetector

        return HogDetector(HogConfig(**options), Path(arg) if arg else None)
    if not arg:
        raise RanEdgeError(f"--detector {kind.value} needs a file: {kind.value}:PATH")
    if kind is DetectorKind.YUNET:
        return YuNetDetector(Path(arg), **options)
    return OracleDetector(Path(arg))
