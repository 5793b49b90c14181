"""The written sampling convention, held by the numpy references (no native library needed)."""

from __future__ import annotations

import numpy as np
import pytest

from ran_edge.errors import RanEdgeError
from ran_edge.kernels.reference import (
    affine_from_box,
    affine_from_cv2,
    check_affines,
    region_batch_affine_reference,
)
from ran_edge.preprocess import ColorOrder, PreprocessSpec, region_batch_reference
from ran_edge.presets import FERPLUS6, RegionBox, RegionPreset

from .conftest import random_boxes

RAW = PreprocessSpec(region_size=4, color_order=ColorOrder.BGR, scale=1.0)  # raw 0..255 values, no swap
FULL_ONLY = RegionPreset("sym", (RegionBox("full", 0, 0, 1, 1), RegionBox("c90", 0.05, 0.05, 0.95, 0.95)), 0, 0.1)


def test_python_reference_follows_the_written_convention():
    # half-pixel centres: 2x upsampling of the row [0, 255] samples 0.25, 0.75, 1.25, 1.75 -> edge, 1/4, 3/4, edge
    ramp = np.zeros((2, 2, 3), np.uint8)
    ramp[:, 1] = 255
    full = region_batch_reference(ramp, np.array([[0.0, 0.0, 2.0, 2.0]]), FULL_ONLY, RAW)[0]
    np.testing.assert_array_equal(full[0], np.tile([0.0, 63.75, 191.25, 255.0], (4, 1)))
    # sample points outside the frame take raw 0 (here: the left half of the box is outside)
    flat = np.full((4, 4, 3), 100, np.uint8)
    part = region_batch_reference(flat, np.array([[-4.0, 0.0, 4.0, 4.0]]), FULL_ONLY, RAW)[0]
    np.testing.assert_array_equal(part[:, :, :2], 0.0)
    np.testing.assert_array_equal(part[:, :, 2:], 100.0)
    # the fill value is raw 0 *before* normalisation: (0 * scale - mean) / std
    spec = PreprocessSpec(region_size=4, color_order=ColorOrder.BGR, mean=(0.5, 0.25, 0.0), std=(0.5, 0.5, 1.0))
    outside = region_batch_reference(flat, np.array([[10.0, 10.0, 20.0, 20.0]]), FULL_ONLY, spec)[0]
    np.testing.assert_allclose(outside[:, 0, 0], [-1.0, -0.5, 0.0])
    # colour order: a BGR frame becomes RGB channels
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[..., 0] = 255  # blue
    rgb = region_batch_reference(bgr, np.array([[0.0, 0.0, 2.0, 2.0]]), FULL_ONLY, PreprocessSpec(region_size=4))[0]
    assert np.all(rgb[2] == 1.0) and np.all(rgb[:2] == 0.0)


@pytest.mark.parametrize("seed", range(3))
def test_affine_reference_with_box_affines_equals_the_box_reference(seed):
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)
    boxes = random_boxes(rng, 4, 50, 70)
    affines = np.stack([affine_from_box(b) for b in boxes])
    spec = PreprocessSpec(region_size=16)
    np.testing.assert_allclose(region_batch_affine_reference(frame, affines, FERPLUS6, spec),
                               region_batch_reference(frame, boxes, FERPLUS6, spec), rtol=0, atol=1e-5)


def test_affine_reference_swapping_axes_transposes_the_face():
    rng = np.random.default_rng(4)
    frame = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    box = (5.5, 3.0, 35.5, 33.0)
    swap = np.array([[[0.0, 30.0, 5.5], [30.0, 0.0, 3.0]]])  # X from fy, Y from fx
    spec = PreprocessSpec(region_size=12)
    got = region_batch_affine_reference(frame, swap, FULL_ONLY, spec)
    want = region_batch_reference(frame, np.array([box]), FULL_ONLY, spec)
    np.testing.assert_allclose(got, np.swapaxes(want, 2, 3), atol=1e-5)


def test_check_affines():
    assert check_affines(np.zeros((0, 2, 3))).shape == (0, 2, 3)
    assert check_affines(np.arange(6.0).reshape(1, 6) + 1).shape == (1, 2, 3)
    for bad, match in [(np.zeros((1, 3, 3)), "expected"), (np.array([[[1, 2, 3], [2, 4, 6]]]), "degenerate"),
                       (np.array([[[1, 0, np.inf], [0, 1, 0]]]), "non-finite")]:
        with pytest.raises(RanEdgeError, match=match):
            check_affines(bad)


def test_affine_from_cv2_samples_what_warp_affine_samples():
    cv2 = pytest.importorskip("cv2", reason="compares against cv2.warpAffine")
    yy, xx = np.mgrid[0:80, 0:80]
    frame = np.stack([xx * 3, yy * 3, 255 - xx * 3], -1).clip(0, 255).astype(np.uint8)  # steep ramps
    a, s = np.deg2rad(15), 1.3
    m = np.array([[s * np.cos(a), -s * np.sin(a), 5.0], [s * np.sin(a), s * np.cos(a), -12.0]])
    warped = cv2.warpAffine(frame, m, (48, 48), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    spec = PreprocessSpec(region_size=48, color_order=ColorOrder.BGR, scale=1.0)
    ours = region_batch_affine_reference(frame, affine_from_cv2(m, 48)[None], FULL_ONLY, spec)[0]
    diff = np.abs(ours - warped.transpose(2, 0, 1))[:, 2:-2, 2:-2]
    # OpenCV interpolates in fixed point (1/32 px, 11-bit weights): ~0.5 raw; ignoring the half-pixel shift
    # between the conventions would cost ~1.2 raw on these ramps.
    assert diff.max() < 0.8
    with pytest.raises(RanEdgeError, match="degenerate"):
        affine_from_cv2(np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0]]), 48)
