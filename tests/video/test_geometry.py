from __future__ import annotations

import numpy as np
import pytest

from ran_edge.errors import RanEdgeError
from ran_edge.video.geometry import FaceFraming, crop_face, eye_angle, iou, iou_matrix


def test_iou_values():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == pytest.approx(1.0)
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    m = iou_matrix([(0, 0, 10, 10), (5, 0, 15, 10)], [(0, 0, 10, 10)])
    assert m.shape == (2, 1) and m[1, 0] == pytest.approx(50 / 150)
    assert iou_matrix([], [(0, 0, 1, 1)]).shape == (0, 1)


def test_framing_squares_and_expands():
    box = FaceFraming(1.5, 0.1).apply((10.0, 20.0, 50.0, 100.0))  # 40 x 80 box
    w, h = box[2] - box[0], box[3] - box[1]
    assert w == pytest.approx(120.0) and h == pytest.approx(120.0)
    assert (box[0] + box[2]) / 2 == pytest.approx(30.0)
    assert (box[1] + box[3]) / 2 == pytest.approx(60.0 + 12.0)
    with pytest.raises(RanEdgeError, match="scale"):
        FaceFraming(0.0)


@pytest.mark.parametrize("box", [(10.0, 7.5, 42.0, 39.5), (-6.0, -4.0, 20.0, 22.0), (30.0, 20.0, 70.0, 60.0)])
def test_crop_matches_the_preprocessing_convention(box):
    """An unrotated crop equals the full-face region of region_batch_reference (same sampling rules),
    also when the box reaches outside the frame (black there)."""
    pytest.importorskip("cv2")
    from ran_edge.preprocess import PreprocessSpec, region_batch_reference
    from ran_edge.presets import FERPLUS6

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    spec = PreprocessSpec(face_size=24, region_size=24, color_order="BGR", scale=1.0)
    ref = region_batch_reference(frame, np.array([box]), FERPLUS6, spec)[FERPLUS6.full_face_index]
    crop = crop_face(frame, box, 24).astype(np.float32).transpose(2, 0, 1)
    diff = np.abs(crop - ref)
    # OpenCV's warp quantises bilinear weights to 1/32 (<= 255/64 + rounding); a half-pixel geometry
    # error on this noise frame would give a mean difference of tens of levels
    assert diff.max() <= 5.0 and diff.mean() < 1.0, (diff.max(), diff.mean())


def test_rotated_crop_levels_the_eye_line():
    cv2 = pytest.importorskip("cv2")
    frame = np.zeros((200, 200, 3), np.uint8)
    right, left = (70.0, 90.0), (130.0, 120.0)  # eye line tilted by atan(30/60)
    for p in (right, left):
        cv2.circle(frame, (int(p[0]), int(p[1])), 5, (255, 255, 255), -1)
    angle = eye_angle(right, left)
    assert angle == pytest.approx(np.degrees(np.arctan2(30, 60)))
    crop = crop_face(frame, (50.0, 55.0, 150.0, 155.0), 100, angle)
    ys, xs = np.nonzero(crop[..., 0] > 128)
    lhs, rhs = ys[xs < 50], ys[xs >= 50]
    assert lhs.size and rhs.size
    assert abs(lhs.mean() - rhs.mean()) < 1.5  # both eyes on one row after alignment


@pytest.mark.parametrize("angle", [0.0, 17.0, -30.0])
def test_kernel_affine_and_crop_warp_agree(angle):
    """The face-unit affine given to the fused kernel and the crop warp sample the same frame points."""
    from ran_edge.video.geometry import crop_matrix
    from ran_edge.video.pipeline import box_affine

    box, size = (12.0, 30.0, 76.0, 94.0), 16
    a, m = box_affine(box, angle), crop_matrix(box, size, angle)
    for j, i in [(0, 0), (15, 0), (3, 11), (15, 15)]:
        u, v = (j + 0.5) / size, (i + 0.5) / size
        np.testing.assert_allclose(a @ [u, v, 1.0], m @ [j, i, 1.0] + 0.5, atol=1e-9)
