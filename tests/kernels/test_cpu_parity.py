"""The C++ CPU reference (libran_edge_kernels via ctypes) against the numpy reference of ran_edge.preprocess."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ran_edge.errors import RanEdgeError
from ran_edge.kernels import region_batch
from ran_edge.kernels.reference import region_batch_affine_reference
from ran_edge.preprocess import PreprocessSpec, region_batch_reference
from ran_edge.presets import AFFECTNET8, FERPLUS6

from .conftest import IMAGENET, OFFICIAL, OFFICIAL_NEAREST_IMAGENET, random_boxes



@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("preset,spec,atol", [
    (FERPLUS6, PreprocessSpec(region_size=24), 1e-5),  # the official RAN preprocessing: RGB, 1/255
    (AFFECTNET8, IMAGENET, 1e-5),
    (FERPLUS6, OFFICIAL, 2e-5 / min(OFFICIAL.std)),  # the official crop convention: tap tables (ran_edge.crop) in the kernel
    (AFFECTNET8, OFFICIAL_NEAREST_IMAGENET, 2e-5 / min(OFFICIAL_NEAREST_IMAGENET.std)),
])
def test_cpp_matches_python_reference_fp32(native, seed, preset, spec, atol):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(30, 90, 2)
    frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    boxes = random_boxes(rng, 5, h, w)
    got = region_batch(frame, boxes, preset, spec=spec)
    want = region_batch_reference(frame, boxes, preset, spec)
    assert got.shape == want.shape == (5 * preset.num_regions, 3, 24, 24) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=atol)


def test_cpp_matches_python_reference_at_model_size(native):
    rng = np.random.default_rng(11)
    frame = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[20.25, 10.5, 110.0, 100.75], [-15.0, 40.0, 45.0, 135.0]])
    got = region_batch(frame, boxes, "ferplus6", size=224)
    np.testing.assert_allclose(got, region_batch_reference(frame, boxes, FERPLUS6, PreprocessSpec()), atol=1e-5)


def test_fp16_output_is_the_rounded_fp32_reference(native):
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    boxes = random_boxes(rng, 4, 64, 80)
    got = region_batch(frame, boxes, FERPLUS6, size=32, dtype="float16", spec=IMAGENET)
    want = region_batch_reference(frame, boxes, FERPLUS6, dataclasses.replace(IMAGENET, region_size=32))
    assert got.dtype == np.float16
    # within FP16 rounding (half an ulp: 2^-11 relative) of the FP32 reference ...
    np.testing.assert_allclose(got.astype(np.float32), want, rtol=2.0**-11, atol=1e-5)
    # ... and bit-equal to numpy's rounding except where the two FP32 results straddle a rounding boundary
    assert np.mean(got == want.astype(np.float16)) > 0.999


def test_rgb_frames_and_row_strided_views(native):
    rng = np.random.default_rng(5)
    big = rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)
    view = big[10:60, 5:85]  # a crop: rows 270 bytes apart, read in place
    boxes = random_boxes(rng, 3, 50, 80)
    want = region_batch_reference(np.ascontiguousarray(view), boxes, FERPLUS6, PreprocessSpec(region_size=16))
    np.testing.assert_allclose(region_batch(view, boxes, size=16), want, atol=1e-5)
    rgb = np.ascontiguousarray(view[..., ::-1])
    np.testing.assert_allclose(region_batch(rgb, boxes, size=16, frame_order="RGB"), want, atol=1e-5)
    np.testing.assert_allclose(region_batch(big[10:60:2, 5:85], boxes, size=16),  # copied: not row-strided only
                               region_batch_reference(np.ascontiguousarray(big[10:60:2, 5:85]), boxes, FERPLUS6,
                                                      PreprocessSpec(region_size=16)), atol=1e-5)


def test_out_argument_empty_batch_and_threads(native):
    rng = np.random.default_rng(8)
    frame = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    boxes = random_boxes(rng, 3, 40, 50)
    out = np.full((18, 3, 20, 20), np.nan, np.float32)
    assert region_batch(frame, boxes, size=20, out=out) is out
    assert np.isfinite(out).all()
    one = region_batch(frame, boxes, size=20, num_threads=1)
    two = region_batch(frame, boxes, size=20, num_threads=2)
    assert np.array_equal(one, two) and np.array_equal(one, out)
    empty = region_batch(frame, np.zeros((0, 4)), size=20)
    assert empty.shape == (0, 3, 20, 20)


def test_affine_faces_match_the_affine_reference(native):
    rng = np.random.default_rng(9)
    frame = rng.integers(0, 256, (60, 70, 3), dtype=np.uint8)
    angle = np.deg2rad([0.0, 17.0, -40.0, 90.0])
    scale = np.array([40.0, 35.0, 50.0, 30.0])
    affines = np.stack([
        np.array([[s * np.cos(a), -s * np.sin(a), 15.0 + i], [s * np.sin(a), s * np.cos(a), 8.0 + 2 * i]])
        for i, (a, s) in enumerate(zip(angle, scale))
    ])
    spec = PreprocessSpec(region_size=20)
    got = region_batch(frame, None, FERPLUS6, affines=affines, spec=spec)
    np.testing.assert_allclose(got, region_batch_affine_reference(frame, affines, FERPLUS6, spec), atol=1e-5)
    # an axis-aligned affine is the box [15, 8, 55, 48]
    np.testing.assert_allclose(got[:6], region_batch(frame, np.array([[15.0, 8.0, 55.0, 48.0]]), spec=spec),
                               atol=1e-5)


@pytest.mark.parametrize("kwargs,match", [
    ({"boxes": np.array([[0, 0, np.nan, 5]])}, "NaN"),
    ({"boxes": np.array([[0, 0, 5, 5], [9, 2, 3, 8]])}, "box 1.*inverted"),
    ({"boxes": np.array([[4, 4, 4, 9]])}, "empty"),
    ({"boxes": np.array([[1, 2, 3]])}, r"expected \[N, 4\]"),
    ({"boxes": None, "affines": np.array([[[1, 2, 0], [2, 4, 0]]])}, "degenerate"),
    ({"affines": np.zeros((1, 2, 3))}, "exactly one"),
    ({"dtype": "int8"}, "float32 or float16"),
    ({"out": np.zeros((6, 3, 8, 8), np.float16)}, "out: got float16"),
    ({"device": "tpu"}, "expected 'cpu', 'cuda'"),
    ({"preset": "nope"}, "unknown region preset"),
    ({"frame": np.zeros((10, 10, 3), np.float32)}, "uint8"),
    ({"num_threads": -1}, "num_threads"),
])
def test_invalid_input_raises_ran_edge_error(native, kwargs, match):
    args = {"frame": np.zeros((10, 10, 3), np.uint8), "boxes": np.array([[1.0, 1.0, 8.0, 8.0]]), "size": 8}
    args.update(kwargs)
    with pytest.raises(RanEdgeError, match=match):
        region_batch(**args)


def test_negative_coordinates_are_legal(native):
    frame = np.full((10, 10, 3), 200, np.uint8)
    out = region_batch(frame, np.array([[-10.0, 0.0, 10.0, 10.0]]), size=4, spec=PreprocessSpec(region_size=4))
    full = out[FERPLUS6.full_face_index]
    assert np.all(full[:, :, :2] == 0.0) and np.allclose(full[:, :, 2:], 200 / 255, atol=1e-6)
