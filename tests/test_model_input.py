"""The one preprocessing: a frame with boxes and the same faces given alone give the same model input."""

import numpy as np
import pytest

from ran_edge.artifact import InputKind
from ran_edge.model_input import frame_model_input, prepare_model_input
from ran_edge.preprocess import PreprocessSpec
from ran_edge.presets import get_preset


@pytest.mark.parametrize("kind", [InputKind.FACES, InputKind.REGIONS])
def test_frame_boxes_equal_the_faces_alone(kind):
    rng = np.random.default_rng(3)
    faces = [rng.integers(0, 256, (40, 40, 3), dtype=np.uint8) for _ in range(3)]
    frame = np.concatenate(faces, axis=1)  # side by side, whole-pixel boxes
    boxes = np.array([[40.0 * i, 0.0, 40.0 * (i + 1), 40.0] for i in range(3)])
    spec, preset = PreprocessSpec(face_size=32, region_size=16), get_preset("ferplus6")
    with np.errstate(all="raise"):
        from_frame = frame_model_input(frame, boxes, kind, preset, spec)
    alone = prepare_model_input(faces, kind, preset, spec)
    k = preset.num_regions if kind is InputKind.REGIONS else 1
    assert from_frame.shape == alone.shape == (3 * k, 3, *((16, 16) if k > 1 else (32, 32)))
    np.testing.assert_allclose(from_frame, alone, atol=1e-5)
