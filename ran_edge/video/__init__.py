"""Video: sources, face detection, tracking, batched inference, smoothing, overlay and JSONL events.

Imports numpy only; OpenCV is loaded when a source, detector, crop or overlay is used, and the
classifier (``ran_edge.runtime.load``) is passed in by the caller. See ``README.md`` beside this file.
"""

from __future__ import annotations

from ran_edge.video.detect import HaarDetector, OracleDetector, YuNetDetector, make_detector
from ran_edge.video.detection import Detection, Detector
from ran_edge.video.events import EventWriter, read_events
from ran_edge.video.geometry import FaceFraming, crop_face, iou
from ran_edge.video.pipeline import FaceResult, InferencePath, Pipeline, PipelineConfig
from ran_edge.video.profile import StageClock
from ran_edge.video.smooth import SmoothConfig, SmoothKind, Smoother
from ran_edge.video.source import Frame, FrameSource, ReopenPolicy, open_source
from ran_edge.video.track import IouTracker, TrackerConfig

__all__ = [
    "Detection", "Detector", "EventWriter", "FaceFraming", "FaceResult", "Frame", "FrameSource", "HaarDetector",
    "InferencePath", "IouTracker", "OracleDetector", "Pipeline", "PipelineConfig", "ReopenPolicy", "SmoothConfig",
    "SmoothKind", "Smoother", "StageClock", "TrackerConfig", "YuNetDetector", "crop_face", "iou", "make_detector",
    "open_source", "read_events",
]
