"""The ``official`` crop convention in the native kernels (tap tables from ran_edge.crop) against the numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

from ran_edge.errors import RanEdgeError
from ran_edge.kernels import region_batch
from ran_edge.kernels.taps import MAX_TAPS, pack, tap_tables
from ran_edge.preprocess import ColorOrder, PreprocessSpec, region_batch_reference
from ran_edge.presets import AFFECTNET8, FERPLUS6

from .conftest import OFFICIAL, random_boxes


def test_pack_keeps_nonzero_weights_in_order_and_pads():
    m = np.array([[0.0, 0.25, 0.75, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.5]], np.float32)
    index, weight = pack([m])
    # row 1 has no weight; padding taps sit at the row's first pixel with weight 0
    assert index.tolist() == [[1, 2], [0, 0], [0, 3]] and weight.tolist() == [[0.25, 0.75], [0, 0], [1.0, 0.5]]
    index, _ = pack([m[:1]], offsets=[5], lengths=[7])  # column c is pixel 5 + c; pixel 7 is outside: dropped
    assert index.tolist() == [[6]]
    with pytest.raises(RanEdgeError, match="taps"):
        pack([np.ones((1, MAX_TAPS + 1), np.float32)])


def test_tables_reproduce_the_reference_matrices():
    rng = np.random.default_rng(5)
    frame = rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)
    boxes = np.array([[10.4, 5.6, 60.2, 55.1]])
    t = tap_tables(70, 90, boxes, FERPLUS6, OFFICIAL)
    x = frame.astype(np.float64)[..., 0]
    out = np.zeros((t.items, 24, 24))
    for i in range(t.items):
        my = np.zeros((24, 70))
        mx = np.zeros((24, 90))
        for j in range(24):
            np.add.at(my[j], t.y_index[i * 24 + j], t.y_weight[i * 24 + j])
            np.add.at(mx[j], t.x_index[i * 24 + j], t.x_weight[i * 24 + j])
        out[i] = my @ x @ mx.T
    ref = region_batch_reference(frame, boxes, FERPLUS6, PreprocessSpec(region_size=24, crop="official",
                                                                         color_order=ColorOrder.BGR, scale=1.0))
    np.testing.assert_allclose(out, ref[:, 0], atol=1e-3)


def test_cpp_official_at_model_size_and_fp16(native):
    rng = np.random.default_rng(7)
    frame = rng.integers(0, 256, (270, 480, 3), dtype=np.uint8)
    boxes = np.array([[100.3, 20.7, 330.2, 250.9], [-30.0, 100.0, 90.0, 220.0]])
    spec = PreprocessSpec(crop="official")
    want = region_batch_reference(frame, boxes, AFFECTNET8, spec)
    np.testing.assert_allclose(region_batch(frame, boxes, AFFECTNET8, spec=spec), want, rtol=0, atol=2e-5)
    half = region_batch(frame, boxes, AFFECTNET8, spec=spec, dtype="float16", num_threads=1)
    np.testing.assert_allclose(half.astype(np.float32), want, rtol=1e-3, atol=1e-3)


def test_official_convention_refuses_affine_faces():
    frame = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(RanEdgeError, match="official"):
        region_batch(frame, None, FERPLUS6, spec=OFFICIAL, affines=np.array([[[10.0, 0, 0], [0, 10.0, 0]]]))


def test_official_numpy_fallback_equals_reference(monkeypatch):
    from ran_edge.kernels import api, library

    monkeypatch.setattr(library, "load", lambda: None)
    monkeypatch.setattr(api, "_warned_fallback", True)
    rng = np.random.default_rng(2)
    frame = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    boxes = random_boxes(rng, 3, 40, 50)
    np.testing.assert_array_equal(region_batch(frame, boxes, FERPLUS6, spec=OFFICIAL),
                                  region_batch_reference(frame, boxes, FERPLUS6, OFFICIAL))


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_cuda_official_matches_cpp(native, dtype):
    if native.cuda is None or native.cuda_device_count() == 0:
        pytest.skip(f"no CUDA region-batch kernel or device: {native.cuda_note}")
    rng = np.random.default_rng(9)
    frame = rng.integers(0, 256, (270, 480, 3), dtype=np.uint8)
    boxes = random_boxes(rng, 6, 270, 480) * 2.0
    spec = PreprocessSpec(region_size=64, crop="official")
    cpu = region_batch(frame, boxes, AFFECTNET8, spec=spec, dtype=dtype)
    gpu = region_batch(frame, boxes, AFFECTNET8, spec=spec, dtype=dtype, device="cuda")
    tol = 1e-3 if dtype == "float16" else 2e-5
    np.testing.assert_allclose(gpu.astype(np.float32), cpu.astype(np.float32), rtol=tol, atol=tol)


# -- official-uint8: Pillow's integer arithmetic in the kernels -----------------------------------------------------

def _pillow_regions(face_rgb: np.ndarray, preset, pil_filter: str) -> np.ndarray:
    """``[K,3,224,224]`` uint8 RGB: the official loader's ``int()`` box, ``crop``, ``resize``."""
    from PIL import Image

    out = []
    for b in preset.boxes:
        img = Image.fromarray(face_rgb)
        w, h = img.size
        img = img.crop((int(b.x0 * w), int(b.y0 * h), int(b.x1 * w), int(b.y1 * h)))
        out.append(np.asarray(img.resize((224, 224), getattr(Image, pil_filter.upper()))).transpose(2, 0, 1))
    return np.stack(out)


@pytest.mark.parametrize("preset", [FERPLUS6, AFFECTNET8], ids=lambda p: p.name)
@pytest.mark.parametrize("pil_filter", ["bicubic", "nearest"])
def test_cpp_official_uint8_is_pillow_bit_for_bit_on_real_faces(native, preset, pil_filter):
    pytest.importorskip("PIL.Image")
    from tests.real_faces import real_faces

    spec = PreprocessSpec(crop="official-uint8", pil_filter=pil_filter, scale=1.0)
    box = np.array([[0.0, 0.0, 224.0, 224.0]])
    for face in real_faces(6):
        got = region_batch(np.ascontiguousarray(face[..., ::-1]), box, preset, spec=spec)  # BGR in, RGB out
        np.testing.assert_array_equal(got, _pillow_regions(face, preset, pil_filter).astype(np.float32))


def test_cpp_official_uint8_equals_the_reference_on_frames(native):
    """Faces partly outside the frame, a downscaled large face, float16 output and a strided frame view."""
    rng = np.random.default_rng(11)
    big = rng.integers(0, 256, (500, 700, 3), dtype=np.uint8)
    frame = big[10:490, 20:660]  # row-strided view
    boxes = np.array([[100.3, 20.7, 330.2, 250.9], [-30.0, 100.0, 90.0, 220.0], [50.0, 10.0, 600.0, 470.0],
                      [700.0, 500.0, 800.0, 600.0]])  # the last one wholly outside: black
    spec = PreprocessSpec(crop="official-uint8")
    want = region_batch_reference(np.ascontiguousarray(frame), boxes, AFFECTNET8, spec)
    np.testing.assert_array_equal(region_batch(frame, boxes, AFFECTNET8, spec=spec, num_threads=2), want)
    assert not want[-AFFECTNET8.num_regions:].any()
    half = region_batch(frame, boxes, AFFECTNET8, spec=spec, dtype="float16", num_threads=1)
    np.testing.assert_array_equal(half, want.astype(np.float16))
    t = tap_tables(frame.shape[0], frame.shape[1], boxes, AFFECTNET8, spec)
    assert t.arithmetic == 1 and np.array_equal(t.x_weight, np.round(t.x_weight))  # fixed-point integers


def test_official_uint8_numpy_fallback_equals_reference(monkeypatch):
    from ran_edge.kernels import api, library

    monkeypatch.setattr(library, "load", lambda: None)
    monkeypatch.setattr(api, "_warned_fallback", True)
    rng = np.random.default_rng(4)
    frame = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    boxes = random_boxes(rng, 3, 40, 50)
    spec = PreprocessSpec(region_size=24, crop="official-uint8")
    np.testing.assert_array_equal(region_batch(frame, boxes, FERPLUS6, spec=spec),
                                  region_batch_reference(frame, boxes, FERPLUS6, spec))


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_cuda_official_uint8_equals_cpp(native, dtype):
    """The CUDA kernel runs the same int32 arithmetic: equal to the C++ kernel (and so to Pillow)."""
    if native.cuda is None or native.cuda_device_count() == 0:
        pytest.skip(f"no CUDA region-batch kernel or device: {native.cuda_note}")
    rng = np.random.default_rng(9)
    frame = rng.integers(0, 256, (270, 480, 3), dtype=np.uint8)
    boxes = np.concatenate([random_boxes(rng, 5, 270, 480) * 2.0, [[-40.0, 30.0, 200.0, 260.0]]])
    spec = PreprocessSpec(region_size=64, crop="official-uint8")
    cpu = region_batch(frame, boxes, AFFECTNET8, spec=spec, dtype=dtype)
    gpu = region_batch(frame, boxes, AFFECTNET8, spec=spec, dtype=dtype, device="cuda")
    np.testing.assert_array_equal(gpu, cpu)
