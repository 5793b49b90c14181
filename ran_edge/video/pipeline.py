"""``Pipeline.process(frame) -> list[FaceResult]``: detect, track, classify all faces in one batch, smooth.

Drop it into your own capture loop (see ``ran_edge/video/README.md``)::

    pipe = Pipeline(load("model.onnx"), detector=make_detector("haar"))
    for frame in frames:
        for face in pipe.process(frame):
            face.track_id, face.box, face.label, face.score, face.region_weights

The classifier is duck-typed (``meta``, ``predict``, ``predict_regions``), so this module imports
neither torch nor the runtime. All faces of a frame go through the model in one call: for an
artifact whose input kind is ``regions`` the region batch is cut straight from the frame by the fused
kernel (``ran_edge.kernels.region_batch``; its numpy reference when the library is not built), for a
``faces`` artifact aligned crops go through ``predict``.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from ran_edge.artifact import InputKind
from ran_edge.errors import RanEdgeError
from ran_edge.video.detection import Detection, Detector
from ran_edge.video.geometry import Box, box_area, clip_box, crop_face, landmark_angle
from ran_edge.video.profile import StageClock
from ran_edge.video.smooth import SmoothConfig, Smoother
from ran_edge.video.track import IouTracker, Track, TrackerConfig


class InferencePath(str, enum.Enum):
    """How faces reach the model: ``kernel`` (region batch from the frame, needs a ``regions`` artifact),
    ``crops`` (aligned face crops, needs a ``faces`` artifact), ``auto`` (from the artifact's input kind)."""

    AUTO = "auto"
    KERNEL = "kernel"
    CROPS = "crops"


@dataclass(frozen=True)
class PipelineConfig:
    """Pipeline options.

    Attributes:
        detect_every: run the detector on every N-th frame; the tracker predicts boxes in between.
        max_faces: classify at most this many faces per frame (largest first); 0 = no limit.
        path: see :class:`InferencePath`.
        kernel_device: ``cpu`` or ``cuda[:N]`` for the fused region-batch kernel.
        align: level the eye line when the detector gives landmarks.
        hold_frames: a face the detector misses is still reported (at the tracker's predicted box,
            with its last smoothed values) for this many frames; the track itself lives on for the
            tracker's ``max_age`` so that its id survives a longer occlusion.
    """

    detect_every: int = 1
    max_faces: int = 0
    path: InferencePath = InferencePath.AUTO
    kernel_device: str = "cpu"
    align: bool = True
    hold_frames: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", InferencePath(self.path))
        if self.detect_every < 1:
            raise RanEdgeError(f"--detect-every must be >= 1, got {self.detect_every}")
        if self.max_faces < 0:
            raise RanEdgeError(f"--max-faces must be >= 0 (0 = no limit), got {self.max_faces}")
        if self.hold_frames < 0:
            raise RanEdgeError(f"hold_frames must be >= 0, got {self.hold_frames}")


@dataclass(frozen=True)
class FaceResult:
    """One face in one frame.

    ``box`` is the square face box given to the model (frame pixels, may reach outside the frame);
    ``detected`` is False when the box was predicted by the tracker; ``probs`` and
    ``region_weights`` are smoothed, ``raw_probs`` is this frame's model output (None when the
    face was not classified this frame, e.g. hidden on a detection frame: the last values are held).
    """

    track_id: int
    box: Box
    detected: bool
    label: str
    index: int
    score: float
    probs: np.ndarray
    region_weights: np.ndarray
    raw_probs: Optional[np.ndarray] = None
    angle: float = 0.0
    landmarks: Optional[Tuple[Tuple[float, float], ...]] = field(default=None, repr=False)

    def to_dict(self, class_names: Sequence[str] = ()) -> dict:
        """JSON-ready dict (the per-face part of a JSONL event line)."""
        d = {"id": self.track_id, "box": [round(float(v), 1) for v in self.box], "detected": self.detected,
             "label": self.label, "score": round(self.score, 4),
             "probs": [round(float(p), 4) for p in self.probs],
             "region_weights": [round(float(w), 4) for w in self.region_weights]}
        if self.angle:
            d["angle"] = round(self.angle, 2)
        return d


def box_affine(box: Box, angle_deg: float = 0.0) -> np.ndarray:
    """``[2,3]`` map from face units ``[0,1]^2`` to frame pixels of a (rotated) square face box."""
    cx, cy = 0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3])
    sx, sy = box[2] - box[0], box[3] - box[1]
    t = math.radians(angle_deg)
    c, s = math.cos(t), math.sin(t)
    m = np.array([[c * sx, -s * sy, 0.0], [s * sx, c * sy, 0.0]])
    m[:, 2] = np.array([cx, cy]) - m[:, :2] @ np.array([0.5, 0.5])
    return m


class Pipeline:
    """Detect → track → one batched inference for all faces → temporal smoothing, frame by frame.

    Args:
        classifier: a :class:`ran_edge.runtime.Classifier` (or anything with ``meta``, ``predict``,
            ``predict_regions``).
        detector: a :class:`~ran_edge.video.detect.Detector` (default: ``make_detector("haar")``).
        tracker: an :class:`~ran_edge.video.track.IouTracker` (default: ``TrackerConfig()``).
        smoother: a :class:`~ran_edge.video.smooth.Smoother` (default: EMA 0.6).
        config: :class:`PipelineConfig`.
        clock: where stage times go (``pipeline.clock.table()`` prints them).
    """

    def __init__(self, classifier: Any, detector: Optional[Detector] = None, tracker: Optional[IouTracker] = None,
                 smoother: Optional[Smoother] = None, config: PipelineConfig = PipelineConfig(),
                 clock: Optional[StageClock] = None):
        if detector is None:
            from ran_edge.video.detect import make_detector

            detector = make_detector("haar")
        self.classifier, self.detector, self.config = classifier, detector, config
        self.tracker = tracker if tracker is not None else IouTracker(TrackerConfig())
        self.smoother = smoother if smoother is not None else Smoother(SmoothConfig())
        self.clock = clock if clock is not None else StageClock()
        meta = classifier.meta
        self.class_names = tuple(meta.class_names)
        self.path = resolve_path(config.path, str(getattr(meta.input_kind, "value", meta.input_kind)))
        self._frame_index = 0

    def reset(self) -> None:
        """Forget tracks and smoothing state (e.g. at a scene cut or a new video)."""
        self.tracker.reset()
        self.smoother = Smoother(self.smoother.config)
        self._frame_index = 0

    def process(self, frame: np.ndarray) -> List[FaceResult]:
        """All faces of one ``HxWx3`` uint8 BGR frame, in track-id order."""
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            got = f"{type(frame).__name__} {getattr(frame, 'dtype', '')} {tuple(getattr(frame, 'shape', ()))}"
            raise RanEdgeError(f"frame: got {got.strip()}, expected a numpy uint8 array HxWx3 (BGR)")
        clock, cfg = self.clock, self.config
        detect_now = self._frame_index % cfg.detect_every == 0
        self._frame_index += 1
        if detect_now:
            with clock("detect"):
                dets = self.detector.detect(frame)
            with clock("track"):
                framing = self.detector.framing
                tracks = self.tracker.update([framing.apply(d.box) for d in dets], dets)
        else:
            with clock("track"):
                tracks = self.tracker.predict()
        h, w = frame.shape[:2]
        horizon = cfg.detect_every - 1 + cfg.hold_frames
        tracks = [t for t in tracks
                  if t.misses <= horizon and box_area(clip_box(t.box, w, h)) > 0.25 * box_area(t.box)]
        if cfg.max_faces:
            tracks = sorted(tracks, key=lambda t: -box_area(t.box))[:cfg.max_faces]
        # a track that the detector just missed (occluded, turned away) keeps its last smoothed values
        run = [t for t in tracks if t.matched or not detect_now]
        preds = self._classify(frame, run) if run else []
        with clock("smooth"):
            results = self._smooth(tracks, run, preds)
            self.smoother.retain(t.track_id for t in self.tracker.tracks)
        clock.tick()
        return results

    def _angle(self, t: Track) -> Tuple[float, Optional[Tuple[Tuple[float, float], ...]]]:
        det = t.payload if isinstance(t.payload, Detection) else None
        lm = det.landmarks if det is not None else None
        return (landmark_angle(lm) if self.config.align and lm else 0.0), lm

    def _classify(self, frame: np.ndarray, tracks: Sequence[Track]) -> List[Any]:
        clf, clock = self.classifier, self.clock
        angles = [self._angle(t)[0] for t in tracks]
        if self.path is InferencePath.KERNEL:
            with clock("preprocess"):
                batch = self._region_batch(frame, tracks, angles)
            with clock("infer"):
                return clf.predict_regions(batch)
        with clock("preprocess"):
            size = int(clf.meta.preprocess.face_size)
            crops = [crop_face(frame, t.box, size, a) for t, a in zip(tracks, angles)]
        with clock("infer"):
            return clf.predict(crops)

    def _region_batch(self, frame: np.ndarray, tracks: Sequence[Track], angles: Sequence[float]) -> np.ndarray:
        from ran_edge.kernels import region_batch

        meta = self.classifier.meta
        dtype = meta.inputs[0].dtype if getattr(meta, "inputs", None) else "float32"
        dtype = dtype if dtype in ("float32", "float16") else "float32"
        if any(angles) and meta.preprocess.crop.whole_pixel:
            # The official convention cuts upright whole-pixel boxes: align (rotate) each face first, as the
            # official pipeline's face files are, then cut its regions (the faces-input path of the same model).
            from ran_edge.model_input import prepare_model_input

            size = int(meta.preprocess.face_size)
            crops = [crop_face(frame, t.box, size, a) for t, a in zip(tracks, angles)]
            return prepare_model_input(crops, InputKind.REGIONS, meta.preset, meta.preprocess).astype(dtype)
        if any(angles):
            affines = np.stack([box_affine(t.box, a) for t, a in zip(tracks, angles)])
            return region_batch(frame, None, meta.preset, dtype=dtype, device=self.config.kernel_device,
                                spec=meta.preprocess, affines=affines)
        boxes = np.asarray([t.box for t in tracks], dtype=np.float64)
        return region_batch(frame, boxes, meta.preset, dtype=dtype, device=self.config.kernel_device, spec=meta.preprocess)

    def _smooth(self, tracks: Sequence[Track], run: Sequence[Track], preds: Sequence[Any]) -> List[FaceResult]:
        by_id = {t.track_id: p for t, p in zip(run, preds)}
        out: List[FaceResult] = []
        for t in sorted(tracks, key=lambda t: t.track_id):
            p = by_id.get(t.track_id)
            if p is not None:
                k = len(p.probs)
                vec = self.smoother.update(t.track_id, np.concatenate([p.probs, p.region_weights]))
                raw = np.asarray(p.probs, dtype=np.float32)
            else:
                held = self.smoother.peek(t.track_id)
                if held is None:
                    continue  # never classified yet
                k, vec, raw = len(self.class_names), held, None
            probs, weights = vec[:k].astype(np.float32), vec[k:].astype(np.float32)
            i = int(np.argmax(probs))
            angle, lm = self._angle(t)
            out.append(FaceResult(t.track_id, t.box, t.matched, self.class_names[i], i, float(probs[i]), probs,
                                  weights, raw, angle, lm))
        return out


def resolve_path(path: InferencePath, input_kind: str) -> InferencePath:
    """The concrete path for an artifact input kind (``faces`` or ``regions``); a mismatch is a user error."""
    want = InferencePath.KERNEL if input_kind == "regions" else InferencePath.CROPS
    if path is InferencePath.AUTO:
        return want
    if path is not want:
        raise RanEdgeError(f"inference path '{path.value}' does not fit an artifact with input kind '{input_kind}'; "
                           f"expected '{want.value}' (re-export with --input {'regions' if path is InferencePath.KERNEL else 'faces'})")
    return path
