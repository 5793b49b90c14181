"""Frame + boxes: ``Classifier.predict_on_boxes`` gives the pipeline's own predictions for the same boxes
(faces and regions artifacts, with and without landmarks), in input order; ``Pipeline.process(frame, boxes=...)``
tracks and smooths boxes from your own detector."""

from __future__ import annotations

import numpy as np
import pytest

from ran_edge.errors import InputError
from ran_edge.face_boxes import FaceFraming
from ran_edge.video import Pipeline, PipelineConfig, SmoothConfig, Smoother, open_source

pytest.importorskip("cv2")


def _frame_with_faces(short_video):
    """The first frame of the test video with two fully visible faces, and their true boxes."""
    path, truth = short_video
    src = open_source(str(path))
    try:
        for i, frame in enumerate(src):
            faces = [f for f in truth.frames[i] if f.fully_visible]
            if len(faces) == 2:
                return frame.image, np.array([f.box for f in faces], np.float64)
    finally:
        src.close()
    raise AssertionError("the test video has no frame with two visible faces")


def _landmarks(boxes: np.ndarray, tilt_deg: float) -> np.ndarray:
    """5 points per box with the eye line tilted by ``tilt_deg``."""
    out = []
    for x0, y0, x1, y1 in boxes:
        cx, cy, s = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0
        dx, dy = 0.18 * s * np.cos(np.radians(tilt_deg)), 0.18 * s * np.sin(np.radians(tilt_deg))
        ey = cy - 0.12 * s
        out.append([[cx - dx, ey - dy], [cx + dx, ey + dy], [cx, cy], [cx - 0.12 * s, cy + 0.2 * s], [cx + 0.12 * s, cy + 0.2 * s]])
    return np.array(out)


def _pipeline_probs(clf, frame, boxes, landmarks):
    pipe = Pipeline(clf, detector=None, smoother=Smoother(SmoothConfig.parse("none")), config=PipelineConfig())
    results = pipe.process(frame, boxes=boxes, landmarks=landmarks)
    by_box = {tuple(np.round(r.box, 6)): r for r in results}
    framed = [tuple(np.round(FaceFraming().apply(tuple(b)), 6)) for b in boxes]
    assert set(by_box) == set(framed)
    assert pipe._detector is None  # no detector was made for external boxes
    return [by_box[b] for b in framed]


@pytest.mark.parametrize("kind", ["faces", "regions"])
@pytest.mark.parametrize("tilt", [None, 14.0])
def test_predict_on_boxes_equals_the_pipeline(short_video, tiny_artifacts, kind, tilt):
    from ran_edge.runtime import load

    frame, boxes = _frame_with_faces(short_video)
    landmarks = None if tilt is None else _landmarks(boxes, tilt)
    with load(tiny_artifacts[kind]) as clf:
        preds = clf.predict_on_boxes(frame, boxes, landmarks)
        results = _pipeline_probs(clf, frame, boxes, landmarks)
        assert len(preds) == len(boxes) == 2
        for p, r in zip(preds, results):
            np.testing.assert_allclose(p.probs, r.raw_probs, rtol=0, atol=1e-6)
            np.testing.assert_allclose(p.region_weights, r.region_weights, rtol=0, atol=1e-6)  # 'none' smoothing
            assert p.label == r.label
            assert r.angle == (0.0 if tilt is None else pytest.approx(tilt))
        flipped = clf.predict_on_boxes(frame, boxes[::-1], None if landmarks is None else landmarks[::-1])
        np.testing.assert_allclose([p.probs for p in flipped], [p.probs for p in preds[::-1]], atol=1e-6)
        if tilt is not None:  # the alignment is applied: other crops, other outputs
            upright = clf.predict_on_boxes(frame, boxes)
            assert not np.allclose(upright[0].probs, preds[0].probs, atol=1e-6)


def test_bad_boxes_are_one_line_errors(tiny_artifacts):
    from ran_edge.runtime import load

    frame = np.zeros((120, 160, 3), np.uint8)
    with load(tiny_artifacts["faces"]) as clf:
        assert clf.predict_on_boxes(frame, np.zeros((0, 4))) == []
        with pytest.raises(InputError, match=r"boxes: got shape \[3\], expected \(N, 4\)"):
            clf.predict_on_boxes(frame, [10, 10, 50])
        with pytest.raises(InputError, match="expected x1 > x0 and y1 > y0"):
            clf.predict_on_boxes(frame, [[10, 10, 40, 5]])
        with pytest.raises(InputError, match=r"landmarks: got shape \[1, 2\], expected \(1, 5, 2\)"):
            clf.predict_on_boxes(frame, [[10, 10, 50, 50]], [[1, 2]])
        with pytest.raises(InputError, match="frame: got ndarray float32"):
            clf.predict_on_boxes(frame.astype(np.float32), [[10, 10, 50, 50]])


def test_external_boxes_are_tracked_and_smoothed(short_video, tiny_artifacts):
    from ran_edge.runtime import load

    frame, boxes = _frame_with_faces(short_video)
    with load(tiny_artifacts["faces"]) as clf:
        pipe = Pipeline(clf, detector=None, config=PipelineConfig(detect_every=5))
        first = pipe.process(frame, boxes=boxes)
        second = pipe.process(frame, boxes=boxes + 2.0)  # boxes given: detected on every frame, detect_every aside
        assert [r.track_id for r in first] == [r.track_id for r in second] and all(r.detected for r in second)
        held = pipe.process(frame, boxes=np.zeros((0, 4)))  # no face given: the tracks are held (hold_frames)
        assert [r.track_id for r in held] == [r.track_id for r in first] and not any(r.detected for r in held)
        assert pipe._detector is None
