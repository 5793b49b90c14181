from __future__ import annotations

import pytest

from ran_edge.errors import RanEdgeError
from ran_edge.video.detect import make_detector
from ran_edge.video.detection import Detection, nms
from ran_edge.video.geometry import iou

cv2 = pytest.importorskip("cv2")


def _rates(detector, video, truth):
    cap = cv2.VideoCapture(str(video))
    found = total = false = 0
    for frame_truth in truth.frames:
        ok, frame = cap.read()
        assert ok
        boxes = [detector.framing.apply(d.box) for d in detector.detect(frame)]
        for t in frame_truth:
            if t.fully_visible:
                total += 1
                found += any(iou(b, t.box) > 0.5 for b in boxes)
        false += sum(1 for b in boxes if not any(iou(b, t.box) > 0.3 for t in frame_truth))
    return found / total, false


def test_hog_detector_finds_synthetic_faces(short_video):
    """Measured on the test video: every fully visible face, and (almost) no false boxes."""
    path, truth = short_video
    rate, false = _rates(make_detector("hog"), path, truth)
    assert rate >= 0.97 and false <= 2, (rate, false)


def test_haar_detector_runs_offline_and_finds_some_synthetic_faces(short_video):
    """Haar (the default, for real faces) is measured on cartoon faces too: it finds many, not all."""
    path, truth = short_video
    det = make_detector("haar")
    assert det.name == "haar"
    rate, false = _rates(det, path, truth)
    assert rate >= 0.3 and false <= 5, (rate, false)


def test_oracle_replays_ground_truth(short_video):
    path, truth = short_video
    det = make_detector(f"oracle:{path}.json")
    cap = cv2.VideoCapture(str(path))
    for frame_truth in truth.frames[:10]:
        ok, frame = cap.read()
        boxes = [d.box for d in det.detect(frame)]
        expected = [tuple(float(v) for v in t.box) for t in frame_truth if t.occlusion != "cover"]
        assert boxes == expected


@pytest.mark.parametrize("spec, match", [
    ("dlib", "unknown detector"),
    ("yunet", "needs a file"),
    ("yunet:/nonexistent/yunet.onnx", "YuNet model file not found"),
    ("oracle:/nonexistent/truth.json", "ground-truth file not found"),
    ("haar:/nonexistent/cascade.xml", "not available"),
    ("hog:/nonexistent/weights.json", "not a HOG detector weights file"),
])
def test_detector_spec_errors(spec, match):
    with pytest.raises(RanEdgeError, match=match):
        make_detector(spec)


def test_nms_keeps_the_best_of_overlapping_boxes():
    dets = [Detection((0, 0, 10, 10), 0.5), Detection((1, 1, 11, 11), 0.9), Detection((50, 50, 60, 60), 0.1)]
    kept = nms(dets, 0.4)
    assert [d.score for d in kept] == [0.9, 0.1]
