from __future__ import annotations

import pytest

from ran_edge.data.synthetic.video_gen import GroundTruth, VideoScenario, grid_shape, iter_frames, visible_frames
from ran_edge.errors import RanEdgeError

cv2 = pytest.importorskip("cv2")


def test_written_video_and_truth_agree(short_video):
    path, truth = short_video
    cap = cv2.VideoCapture(str(path))
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        assert frame.shape == (288, 512, 3)
        n += 1
    assert n == len(truth.frames) == 60
    again = GroundTruth.load(path.with_name(path.name + ".json"))
    assert again.frames == truth.frames and again.scenario == truth.scenario


def test_truth_has_expression_changes_occlusions_and_entries(short_video):
    _, truth = short_video
    tracks = {}
    for frame in truth.frames:
        for f in frame:
            tracks.setdefault(f.track_id, []).append(f)
    assert len(tracks) == 4  # 2 cells, each: one face leaves, another enters
    for faces in tracks.values():
        labels = [f.label for f in faces]
        assert all(0 <= v < 7 for v in labels)
    assert any(len({f.label for f in faces}) > 1 for faces in tracks.values())  # expressions change
    covered = [f for fr in truth.frames for f in fr if f.occlusion == "cover"]
    assert covered and not any(f.fully_visible for f in covered)
    edge = [f for fr in truth.frames for f in fr if f.box[0] < 0 or f.box[2] > 512]
    assert edge and not any(f.fully_visible for f in edge)  # faces crossing the frame edge
    assert len(visible_frames(truth)) >= 30


def test_generation_is_deterministic_and_validated():
    sc = VideoScenario(n_faces=1, width=160, height=120, fps=5, seconds=1, face_size=64)
    a = [t for _, t in iter_frames(sc)]
    b = [t for _, t in iter_frames(sc)]
    assert a == b and len(a) == 5
    assert grid_shape(4, 640, 360) == (2, 2)
    with pytest.raises(RanEdgeError, match="face_size"):
        VideoScenario(n_faces=8, width=320, height=180, face_size=128)
    with pytest.raises(RanEdgeError, match="occluders"):
        VideoScenario(occluders=("umbrella",))
