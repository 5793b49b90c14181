"""IoU tracker: a stable id per face across frames, with constant-velocity prediction between hits.

Greedy matching on IoU (highest first) is enough for the few faces a frame holds; a track that is
not matched keeps moving with its last velocity for up to ``max_age`` frames (a brief occlusion or
frames without detection when ``--detect-every N`` > 1), then it is dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ran_edge.errors import RanEdgeError
from ran_edge.video.geometry import Box, iou_matrix


@dataclass(frozen=True)
class TrackerConfig:
    """Tracker options.

    Attributes:
        max_age: frames a track survives without a matching detection.
        min_iou: least IoU between a detection and a track's predicted box to match them.
        min_hits: detections needed before a new track is reported (1 = report at once).
        velocity_decay: weight of the previous velocity in its running average (0 = last step only).
    """

    max_age: int = 15
    min_iou: float = 0.25
    min_hits: int = 1
    velocity_decay: float = 0.5

    def __post_init__(self) -> None:
        if self.max_age < 0:
            raise RanEdgeError(f"tracker max_age must be >= 0, got {self.max_age}")
        if not (0.0 < self.min_iou <= 1.0):
            raise RanEdgeError(f"tracker min_iou must be in (0, 1], got {self.min_iou}")
        if self.min_hits < 1:
            raise RanEdgeError(f"tracker min_hits must be >= 1, got {self.min_hits}")
        if not (0.0 <= self.velocity_decay < 1.0):
            raise RanEdgeError(f"tracker velocity_decay must be in [0, 1), got {self.velocity_decay}")


@dataclass
class Track:
    """One tracked face. ``box`` is the current (detected or predicted) box."""

    track_id: int
    box: Box
    hits: int = 1
    misses: int = 0
    velocity: Tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    payload: object = None
    matched: bool = True
    _last_step: int = field(default=0, repr=False)


class IouTracker:
    """Assigns stable ids to boxes frame after frame.

    Call :meth:`update` with the detections of a frame (any object with a ``box``, or plain boxes),
    or :meth:`predict` on frames where detection was skipped.
    """

    def __init__(self, config: TrackerConfig = TrackerConfig()):
        self.config = config
        self.tracks: List[Track] = []
        self._next_id = 1
        self._frame = 0

    def reset(self) -> None:
        """Forget every track (ids restart at 1)."""
        self.tracks, self._next_id, self._frame = [], 1, 0

    def predict(self) -> List[Track]:
        """Advance every track one frame by its velocity, without detections; returns live tracks."""
        self._frame += 1
        for t in self.tracks:
            t.box = _moved(t.box, t.velocity)
            t.misses += 1
            t.matched = False
        self.tracks = [t for t in self.tracks if t.misses <= self.config.max_age]
        return self.visible()

    def update(self, boxes: Sequence[Box], payloads: Optional[Sequence[object]] = None) -> List[Track]:
        """Match this frame's detections to tracks; unmatched detections start new tracks.

        Args:
            boxes: detection boxes of this frame.
            payloads: optional object per box (e.g. the Detection), stored on the matched track.

        Returns:
            The reported tracks (confirmed, matched this frame or coasting within ``max_age``),
            in id order.
        """
        self._frame += 1
        cfg = self.config
        payloads = list(payloads) if payloads is not None else [None] * len(boxes)
        predicted = [_moved(t.box, t.velocity) for t in self.tracks]
        m = iou_matrix(predicted, list(boxes))
        used_t, used_d = set(), set()
        if m.size:
            order = np.dstack(np.unravel_index(np.argsort(-m, axis=None), m.shape))[0]
            for ti, di in order:
                if m[ti, di] < cfg.min_iou:
                    break
                if ti in used_t or di in used_d:
                    continue
                used_t.add(int(ti))
                used_d.add(int(di))
                self._hit(self.tracks[ti], tuple(float(v) for v in boxes[di]), payloads[di])
        for ti, t in enumerate(self.tracks):
            if ti not in used_t:
                t.box, t.misses, t.matched = predicted[ti], t.misses + 1, False
        for di, b in enumerate(boxes):
            if di not in used_d:
                self.tracks.append(Track(self._next_id, tuple(float(v) for v in b), payload=payloads[di],
                                         _last_step=self._frame))
                self._next_id += 1
        self.tracks = [t for t in self.tracks if t.misses <= cfg.max_age]
        return self.visible()

    def visible(self) -> List[Track]:
        """Tracks confirmed by ``min_hits`` detections, in id order."""
        return sorted((t for t in self.tracks if t.hits >= self.config.min_hits), key=lambda t: t.track_id)

    def _hit(self, t: Track, box: Box, payload: object) -> None:
        steps = max(1, self._frame - t._last_step)
        step = tuple((n - o) / steps for n, o in zip(box, t.box if t.matched else _unmoved(t)))
        d = self.config.velocity_decay if t.hits > 1 else 0.0
        t.velocity = tuple(d * v + (1 - d) * s for v, s in zip(t.velocity, step))  # type: ignore[assignment]
        if not all(math.isfinite(v) for v in t.velocity):
            t.velocity = (0.0, 0.0, 0.0, 0.0)
        t.box, t.payload, t.hits, t.misses, t.matched, t._last_step = box, payload, t.hits + 1, 0, True, self._frame


def _moved(box: Box, v: Sequence[float]) -> Box:
    return (box[0] + v[0], box[1] + v[1], box[2] + v[2], box[3] + v[3])


def _unmoved(t: Track) -> Box:
    """Where the track was at its last hit (undo the coasting steps)."""
    return tuple(b - v * t.misses for b, v in zip(t.box, t.velocity))  # type: ignore[return-value]
