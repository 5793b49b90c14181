"""The crop conventions against Pillow itself: the ``official`` weights are Pillow's, on real faces, and
``official-uint8`` (Pillow's integer arithmetic) is Pillow bit for bit in the numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

from ran_edge.crop import (SPLIT, CropConvention, PilFilter, clip8, combine_split_u8, fixed_point, official_bounds,
                           pil_weights, pillow_resize_u8, split_fixed)
from ran_edge.errors import RanEdgeError
from ran_edge.preprocess import PreprocessSpec, region_batch_reference, region_matrices
from ran_edge.presets import AFFECTNET8, FERPLUS6
from tests.real_faces import real_faces

Image = pytest.importorskip("PIL.Image")
PIL_FILTERS = {f: getattr(Image, f.name) for f in PilFilter}


def _fixed_point(m: np.ndarray) -> np.ndarray:
    """Pillow's rounding of float coefficients to 22-bit integers (``normalize_coeffs_8bpc``)."""
    k = m * (1 << 22)
    return np.where(k < 0, np.trunc(k - 0.5), np.trunc(k + 0.5)).astype(np.int64)


def _apply_with_pillow_rounding(img: np.ndarray, my: np.ndarray, mx: np.ndarray) -> np.ndarray:
    """Our weights applied with Pillow's integer arithmetic: horizontal pass, round+clip, vertical pass."""
    x = np.transpose(img, (2, 0, 1)).astype(np.int64)  # CHW
    if mx.shape[0] != img.shape[1] or not np.array_equal(mx, np.eye(img.shape[1])):
        x = np.clip((x @ _fixed_point(mx).T[None] + (1 << 21)) >> 22, 0, 255)
    if my.shape[0] != img.shape[0] or not np.array_equal(my, np.eye(img.shape[0])):
        x = np.clip((_fixed_point(my)[None] @ x + (1 << 21)) >> 22, 0, 255)
    return np.transpose(x, (1, 2, 0))


def _apply_float(img: np.ndarray, my: np.ndarray, mx: np.ndarray) -> np.ndarray:
    """``my @ channel @ mx.T`` for every channel, HxWxC in and out."""
    chw = np.transpose(img, (2, 0, 1)).astype(np.float64)
    return np.transpose(my[None] @ chw @ mx.T[None], (1, 2, 0))


def _pillow_region(face: np.ndarray, box, size: int, pil_filter: PilFilter) -> np.ndarray:
    """The official loader: ``height, width = img.size`` (sic), ``int()`` box, ``crop``, ``resize``."""
    img = Image.fromarray(face)
    height, width = img.size[0], img.size[1]
    x0, y0, x1, y1 = box
    crop = img.crop((int(x0 * width), int(y0 * height), int(x1 * width), int(y1 * height)))
    return np.asarray(crop.resize((size, size), PIL_FILTERS[pil_filter])).astype(np.float64)


@pytest.fixture(scope="module")
def faces() -> list[np.ndarray]:
    return real_faces(6)


def test_official_bounds_truncate_like_the_official_loader():
    assert official_bounds(0.05, 0.95, 224) == (11, 212)  # 11.2 -> 11, 212.8 -> 212
    assert official_bounds(0.125, 0.875, 224) == (28, 196)
    assert official_bounds(0.075, 0.925, 224) == (16, 207)


@pytest.mark.parametrize("pil_filter", list(PilFilter))
@pytest.mark.parametrize("in_size,out_size", [(168, 224), (201, 224), (180, 224), (25, 224), (300, 224), (224, 100)])
def test_weights_with_pillow_rounding_are_bit_exact_pillow(faces, pil_filter, in_size, out_size):
    """Our float weights, rounded the way Pillow rounds, give Pillow's uint8 output bit for bit."""
    rng = np.random.default_rng(in_size)
    for img in (faces[0][:in_size, :in_size], faces[1][:in_size, :in_size],
                rng.integers(0, 256, (in_size, in_size, 3), dtype=np.uint8)):
        h, w = img.shape[:2]
        ref = np.asarray(Image.fromarray(np.ascontiguousarray(img)).resize((out_size, out_size), PIL_FILTERS[pil_filter]))
        ours = _apply_with_pillow_rounding(img, pil_weights(h, out_size, pil_filter), pil_weights(w, out_size, pil_filter))
        np.testing.assert_array_equal(ours, ref)
        lib = pillow_resize_u8(img.transpose(2, 0, 1), pil_weights(h, out_size, pil_filter),
                               pil_weights(w, out_size, pil_filter))
        np.testing.assert_array_equal(lib.transpose(1, 2, 0), ref)


@pytest.mark.parametrize("preset", [FERPLUS6, AFFECTNET8], ids=lambda p: p.name)
@pytest.mark.parametrize("pil_filter", [PilFilter.BICUBIC, PilFilter.NEAREST])
def test_official_region_matrices_match_pillow_crops_on_real_faces(faces, preset, pil_filter):
    """The in-graph matrices against ``Image.crop`` + ``Image.resize``: float residual below one grey level."""
    spec = PreprocessSpec(crop=CropConvention.OFFICIAL, pil_filter=pil_filter)
    rows, cols = region_matrices(preset, 224, 224, spec, dtype=np.float64)
    rows32, _ = region_matrices(preset, 224, 224, spec)
    assert rows32.dtype == np.float32 and np.abs(rows32 - rows).max() < 1e-7
    diffs = []
    for face in faces:
        for k, box in enumerate(preset.boxes):
            ours = _apply_float(face, rows[k], cols[k])
            ref = _pillow_region(face, box.box, 224, pil_filter)
            diffs.append(np.abs(ours - ref).ravel())
            if pil_filter is PilFilter.NEAREST:
                np.testing.assert_array_equal(ours, ref)
            np.testing.assert_array_equal(_apply_with_pillow_rounding(face, rows[k], cols[k]), ref)
    # The float path skips Pillow's two uint8 roundings: below one grey level but for rare saturated edges,
    # where Pillow also clips the bicubic overshoot of its horizontal pass to [0, 255] (measured max 6.5).
    d = np.concatenate(diffs)
    assert np.quantile(d, 0.999) <= 1.0 and d.mean() < 0.3 and d.max() <= 8.0, (d.max(), d.mean())


def test_exact_and_official_differ_where_boxes_are_fractional(faces):
    exact = region_matrices(FERPLUS6, 224, 224)
    official = region_matrices(FERPLUS6, 224, 224, PreprocessSpec(crop="official"))
    full = FERPLUS6.full_face_index
    np.testing.assert_array_equal(official[0][full], np.eye(224, dtype=np.float32))
    np.testing.assert_array_equal(exact[0][full], official[0][full])
    assert np.abs(exact[0][3] - official[0][3]).max() > 0.1  # centre_0.9: 11.2 px vs int() = 11 px


def test_frame_reference_official_equals_pillow_on_the_face_inside_a_frame(faces):
    """Frame path: the face box (whole pixels) inside a larger frame gives the same regions as the face alone."""
    face = faces[0]
    frame = np.zeros((300, 320, 3), np.uint8)
    frame[40:264, 50:274] = face[..., ::-1]  # BGR frame
    spec = PreprocessSpec(crop="official", region_size=224, scale=1.0)
    out = region_batch_reference(frame, np.array([[50.0, 40.0, 274.0, 264.0]]), AFFECTNET8, spec)
    for k, box in enumerate(AFFECTNET8.boxes):
        ref = _pillow_region(face, box.box, 224, PilFilter.BICUBIC).transpose(2, 0, 1)
        d = np.abs(out[k] - ref)
        assert np.quantile(d, 0.999) <= 1.25 and d.mean() < 0.4 and d.max() <= 8.0


def test_spec_round_trip_and_old_files_default_to_exact():
    spec = PreprocessSpec(crop="official", pil_filter="nearest")
    again = PreprocessSpec.from_dict(spec.to_dict())
    assert again == spec and again.crop is CropConvention.OFFICIAL and again.pil_filter is PilFilter.NEAREST
    old = {k: v for k, v in PreprocessSpec().to_dict().items() if k not in ("crop", "pil_filter")}
    assert PreprocessSpec.from_dict(old).crop is CropConvention.EXACT
    with pytest.raises(RanEdgeError, match="crop convention"):
        PreprocessSpec(crop="pillow")


def test_fixed_point_rounds_as_normalize_coeffs_8bpc():
    """``int(w * 2^22 + 0.5)``, ``- 0.5`` for negative weights, truncated toward zero (half away from zero)."""
    w = np.array([0.5, -0.5, 2.0 ** -23, -(2.0 ** -23), 2.0 ** -24, -(2.0 ** -24), 1.0, 1.125])
    assert fixed_point(w).tolist() == [2097152, -2097152, 1, -1, 0, 0, 4194304, 4718592]
    assert clip8(np.array([-1, (1 << 21) - 1, 1 << 21, 300 << 22])).tolist() == [0, 0, 1, 255]  # sums + 2^21 >> 22


@pytest.mark.parametrize("pil_filter", [PilFilter.BICUBIC, PilFilter.LANCZOS, PilFilter.BILINEAR])
@pytest.mark.parametrize("in_size,out_size", [(201, 224), (25, 224), (224, 224), (400, 224), (224, 60)])
def test_split_coefficients_give_pillow_passes_exactly_in_float32(pil_filter, in_size, out_size):
    """The graph's arithmetic: two 11-bit halves, float32 MatMuls, floor steps == Pillow's integer pass."""
    w = pil_weights(in_size, out_size, pil_filter)
    hi, lo = split_fixed(w)
    assert hi.dtype == lo.dtype == np.float32
    np.testing.assert_array_equal(hi.astype(np.int64) * SPLIT + lo.astype(np.int64), fixed_point(w))
    assert np.abs(hi).max() <= 2048 and np.abs(lo).max() <= SPLIT // 2  # 11 significant bits: exact under TF32
    x = np.random.default_rng(in_size + out_size).integers(0, 256, (3, 40, in_size))
    x[0, :5] = 255  # saturated rows: the bicubic overshoot is clipped
    x[1, :5] = 0
    want = clip8(x @ fixed_point(w).T)
    xf = x.astype(np.float32)
    np.testing.assert_array_equal(combine_split_u8(xf @ hi.T, xf @ lo.T), want)
    with pytest.raises(ValueError, match="too wide"):
        split_fixed(pil_weights(4000, 100, pil_filter))  # 40x downscale: sums past float32's exact integers


def _pillow_frame_region(frame_rgb: np.ndarray, face_box, box, pil_filter: PilFilter) -> np.ndarray:
    """The official loader on a face cut from a frame with ``Image.crop`` (black outside the frame)."""
    face = np.asarray(Image.fromarray(frame_rgb).crop(face_box))
    return _pillow_region(face, box, 224, pil_filter)


@pytest.mark.parametrize("preset", [FERPLUS6, AFFECTNET8], ids=lambda p: p.name)
@pytest.mark.parametrize("pil_filter", [PilFilter.BICUBIC, PilFilter.NEAREST])
def test_official_uint8_reference_is_pillow_bit_for_bit_on_real_faces(faces, preset, pil_filter):
    """Numpy reference, ``official-uint8``: every region of every real face equals ``crop`` + ``resize``; with the
    official scaling the values are ToTensor's (uint8 / 255 in float32)."""
    raw = PreprocessSpec(crop="official-uint8", pil_filter=pil_filter, scale=1.0)
    scaled = PreprocessSpec(crop="official-uint8", pil_filter=pil_filter, scale=1.0 / 255.0)
    box = np.array([[0.0, 0.0, 224.0, 224.0]])
    for face in faces:
        bgr = np.ascontiguousarray(face[..., ::-1])
        out, out01 = (region_batch_reference(bgr, box, preset, spec) for spec in (raw, scaled))
        for k, region in enumerate(preset.boxes):
            ref = _pillow_region(face, region.box, 224, pil_filter).transpose(2, 0, 1)
            np.testing.assert_array_equal(out[k], ref)
            np.testing.assert_allclose(out01[k], ref.astype(np.float32) / 255.0, rtol=0, atol=6e-8)


@pytest.mark.parametrize("face_box", [(50, 40, 274, 264), (-30, 20, 170, 220), (150, 120, 350, 320)],
                         ids=["inside", "left-out", "bottom-right-out"])
def test_official_uint8_reference_on_faces_in_a_frame_is_pillow(faces, face_box):
    """Frame path: whole-pixel face boxes inside and partly outside a frame (Pillow pads with black)."""
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (300, 320, 3), dtype=np.uint8)
    frame[40:264, 50:274] = faces[0]
    spec = PreprocessSpec(crop="official-uint8", region_size=224, scale=1.0)
    out = region_batch_reference(np.ascontiguousarray(frame[..., ::-1]), np.array([face_box], np.float64),
                                 AFFECTNET8, spec)
    for k, region in enumerate(AFFECTNET8.boxes):
        ref = _pillow_frame_region(frame, face_box, region.box, PilFilter.BICUBIC).transpose(2, 0, 1)
        np.testing.assert_array_equal(out[k], ref)


def test_official_uint8_spec_round_trip_and_description():
    spec = PreprocessSpec(crop="official-uint8")
    again = PreprocessSpec.from_dict(spec.to_dict())
    assert again == spec and again.crop is CropConvention.OFFICIAL_UINT8
    assert again.crop.whole_pixel and again.crop.uint8 and not CropConvention.OFFICIAL.uint8
    assert "bit-exact with Pillow" in spec.to_dict()["interpolation"]
