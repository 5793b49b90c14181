"""What a face detector returns and how its hits are merged: :class:`Detection`, the :class:`Detector`
interface, and non-maximum suppression. Below every detector (:mod:`ran_edge.video.detect`,
:mod:`ran_edge.video.hog`), which import it; it imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Protocol, Sequence, Tuple, runtime_checkable

import numpy as np

from ran_edge.video.geometry import Box, FaceFraming, Point, iou


@dataclass(frozen=True)
class Detection:
    """A face found in a frame: ``box`` in frame pixels, ``score``, optional 5-point landmarks
    (subject's right eye, left eye, nose tip, right and left mouth corner)."""

    box: Box
    score: float = 1.0
    landmarks: Optional[Tuple[Point, ...]] = None


@runtime_checkable
class Detector(Protocol):
    """Finds faces in a ``HxWx3`` uint8 BGR frame.

    ``framing`` says how this detector's boxes become the square face box the model expects.
    """

    name: str
    framing: FaceFraming

    def detect(self, frame: np.ndarray) -> List[Detection]: ...


def nms(dets: Sequence[Detection], iou_threshold: float = 0.4, fuse: bool = False) -> List[Detection]:
    """Greedy non-maximum suppression (highest score, then largest box, first).

    With ``fuse``, each kept box becomes the score-weighted mean of the boxes it suppressed (positive
    scores only): sliding-window hits around a face average to a better-centred box.
    """
    order = sorted(dets, key=lambda d: (d.score, (d.box[2] - d.box[0]) * (d.box[3] - d.box[1])), reverse=True)
    keep: List[Detection] = []
    groups: List[List[Detection]] = []
    for d in order:
        hit = [i for i, k in enumerate(keep) if iou(d.box, k.box) >= iou_threshold]
        if not hit:
            keep.append(d)
            groups.append([d])
        else:
            groups[hit[0]].append(d)
    if not fuse:
        return keep
    out = []
    for k, g in zip(keep, groups):
        w = np.array([max(x.score, 0.0) for x in g]) + 1e-9
        box = tuple(float(v) for v in (np.array([x.box for x in g]) * w[:, None]).sum(0) / w.sum())
        out.append(Detection(box, k.score, k.landmarks))  # type: ignore[arg-type]
    return out
