from __future__ import annotations

import numpy as np
import pytest

from ran_edge.errors import RanEdgeError
from ran_edge.video.smooth import SmoothConfig, SmoothKind, Smoother
from ran_edge.video.track import IouTracker, TrackerConfig


def _box(x, y, s=40.0):
    return (x, y, x + s, y + s)


def test_ids_stable_while_moving_and_new_face_gets_new_id():
    tr = IouTracker(TrackerConfig(max_age=3))
    ids = []
    for i in range(10):
        boxes = [_box(10 + 4 * i, 10), _box(200 - 3 * i, 100)]
        if i >= 5:
            boxes.append(_box(300, 200))
        ids.append([t.track_id for t in tr.update(boxes)])
    assert ids[0] == [1, 2]
    assert all(row[:2] == [1, 2] for row in ids)
    assert ids[-1] == [1, 2, 3]


def test_track_coasts_through_a_gap_with_its_velocity_and_dies_after_max_age():
    tr = IouTracker(TrackerConfig(max_age=4, min_iou=0.3))
    for i in range(5):
        tr.update([_box(10 + 10 * i, 50)])
    for _ in range(3):  # occluded: no detections
        (t,) = tr.update([])
        assert t.track_id == 1 and not t.matched
    assert t.box[0] == pytest.approx(10 + 10 * 7, abs=1e-6)  # moved on at 10 px/frame
    (t,) = tr.update([_box(10 + 10 * 8, 50)])  # reappears where it should be
    assert t.track_id == 1 and t.matched
    for _ in range(5):
        tr.update([])
    assert tr.update([]) == []


def test_predict_between_detections_keeps_ids():
    tr = IouTracker()
    tr.update([_box(0, 0)])
    tr.update([_box(5, 0)])
    assert [t.track_id for t in tr.predict()] == [1]
    assert tr.tracks[0].box[0] == pytest.approx(10.0)
    assert [t.track_id for t in tr.update([_box(15, 0)])] == [1]


def test_min_hits_hides_one_frame_false_positives():
    tr = IouTracker(TrackerConfig(min_hits=2))
    assert tr.update([_box(0, 0)]) == []
    assert [t.track_id for t in tr.update([_box(1, 0)])] == [1]
    with pytest.raises(RanEdgeError, match="max_age"):
        TrackerConfig(max_age=-1)


def test_ema_and_window_smoothing():
    ema = Smoother(SmoothConfig.parse("ema:0.6"))
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    np.testing.assert_allclose(ema.update(1, a), a)
    np.testing.assert_allclose(ema.update(1, b), 0.6 * a + 0.4 * b)
    np.testing.assert_allclose(ema.update(2, b), b)  # tracks are independent
    win = Smoother(SmoothConfig.parse("window:2"))
    win.update(1, a)
    win.update(1, b)
    np.testing.assert_allclose(win.update(1, b), b)
    np.testing.assert_allclose(win.peek(1), b)
    win.retain([])
    assert win.peek(1) is None
    none = Smoother(SmoothConfig.parse("none"))
    none.update(1, a)
    np.testing.assert_allclose(none.update(1, b), b)


@pytest.mark.parametrize("text", ["ema:1.5", "ema:x", "window:0", "median:3", "none:2"])
def test_bad_smooth_spec_is_a_user_error(text):
    with pytest.raises(RanEdgeError, match="--smooth"):
        SmoothConfig.parse(text)


def test_describe_round_trips():
    for text in ("ema:0.6", "window:5", "none"):
        assert SmoothConfig.parse(text).describe() == text
    assert SmoothConfig.parse("ema:0.3").kind is SmoothKind.EMA
