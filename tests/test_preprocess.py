import numpy as np
import pytest

from ran_edge.errors import RanEdgeError
from ran_edge.presets import FERPLUS6
from ran_edge.preprocess import ColorOrder, PreprocessSpec, prepare_faces, region_batch_reference, resample_matrix


def test_resample_identity_and_half_pixel():
    np.testing.assert_allclose(resample_matrix(5, 0, 5, 5), np.eye(5), atol=0)
    m = resample_matrix(4, 0, 4, 8)  # 2x upsampling: centres at 0.25, 0.75, ... → edge replicate at the ends
    assert m[0].tolist() == [1, 0, 0, 0] and m[1].tolist() == [0.75, 0.25, 0, 0]
    m = resample_matrix(8, 0, 8, 4)  # 2x downsampling: average of pixel pairs
    np.testing.assert_allclose(m[0], [0.5, 0.5, 0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(resample_matrix(7, 1.5, 4.25, 5).sum(1), 1.0, rtol=1e-6)


def test_outside_samples_take_fill_zero():
    m = resample_matrix(10, -4, 6, 5)  # centres at -3, -1, 1, 3, 5
    assert m[0].sum() == 0 and m[1].sum() == 0 and m[2].sum() == pytest.approx(1)


def test_prepare_faces_colour_scale_and_shape():
    face = np.zeros((10, 12, 3), np.uint8)
    face[..., 0] = 255  # blue in BGR
    out = prepare_faces([face], PreprocessSpec(face_size=8, region_size=8))
    assert out.shape == (1, 3, 8, 8) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, 2], 1.0, atol=1e-6)  # RGB: blue is channel 2
    np.testing.assert_allclose(out[0, 0], 0.0, atol=1e-6)
    bgr = prepare_faces(face[None], PreprocessSpec(face_size=8, region_size=8, color_order=ColorOrder.BGR,
                                                    mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)))
    np.testing.assert_allclose(bgr[0, 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(bgr[0, 1], -1.0, atol=1e-6)


@pytest.mark.parametrize("bad,msg", [
    (np.zeros((4, 4, 3), np.float32), "uint8"),
    (np.zeros((4, 4), np.uint8), "HxWx3"),
    ([], "empty batch"),
])
def test_prepare_faces_rejects_bad_input(bad, msg):
    with pytest.raises(RanEdgeError, match=msg):
        prepare_faces(bad if isinstance(bad, list) else [bad], PreprocessSpec(face_size=8, region_size=8))


def test_region_batch_reference_full_face_equals_prepare():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    spec = PreprocessSpec(face_size=24, region_size=24)
    box = np.array([[10, 5, 50, 45]], np.float64)
    regions = region_batch_reference(frame, box, FERPLUS6, spec)
    assert regions.shape == (6, 3, 24, 24)
    face = frame[5:45, 10:50]
    np.testing.assert_allclose(regions[FERPLUS6.full_face_index], prepare_faces([face], spec)[0], atol=1e-5)


def test_region_batch_reference_rejects_bad_boxes():
    frame = np.zeros((10, 10, 3), np.uint8)
    spec = PreprocessSpec(face_size=8, region_size=8)
    for boxes, msg in [([[0, 0, 0, 5]], "empty or inverted"), ([[0, 0, np.nan, 5]], "NaN"), ([[1, 2, 3]], "expected")]:
        with pytest.raises(RanEdgeError, match=msg):
            region_batch_reference(frame, np.array(boxes, np.float64), FERPLUS6, spec)
    assert region_batch_reference(frame, np.zeros((0, 4)), FERPLUS6, spec).shape == (0, 3, 8, 8)
