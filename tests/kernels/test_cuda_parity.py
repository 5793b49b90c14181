"""The CUDA kernel (libran_edge_kernels_cuda) against the C++ CPU reference. Needs a CUDA device (marker `gpu`)."""

from __future__ import annotations

import numpy as np
import pytest

from ran_edge.errors import RanEdgeError
from ran_edge.kernels import region_batch, region_batch_cuda_ptr
from ran_edge.preprocess import ColorOrder, PreprocessSpec
from ran_edge.presets import AFFECTNET8, FERPLUS6

from .conftest import random_boxes


@pytest.fixture(scope="module")
def cuda_lib(native):
    if native.cuda is None:
        pytest.skip(f"CUDA region-batch library unavailable: {native.cuda_note}")
    if native.cuda_device_count() == 0:
        pytest.skip(f"no CUDA device: {native.cuda_note}")
    return native


def _data(seed: int, n: int = 5):
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (1080 // 4, 1920 // 4, 3), dtype=np.uint8)
    return frame, random_boxes(rng, n, *frame.shape[:2]) * 2.0


def test_cuda_request_without_a_device_is_a_clear_error(native):
    if native.cuda is not None and native.cuda_device_count() > 0:
        pytest.skip("a CUDA device is present; the error path is covered on CPU-only machines")
    frame, boxes = _data(0, 1)
    with pytest.raises(RanEdgeError, match="CUDA"):
        region_batch(frame, boxes, device="cuda")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("preset,spec", [
    (FERPLUS6, PreprocessSpec()),
    (AFFECTNET8, PreprocessSpec(color_order=ColorOrder.BGR, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))),
])
def test_cuda_matches_cpu_reference(cuda_lib, dtype, preset, spec):
    frame, boxes = _data(1)
    cpu = region_batch(frame, boxes, preset, dtype=dtype, spec=spec)
    gpu = region_batch(frame, boxes, preset, dtype=dtype, spec=spec, device="cuda")
    if dtype == "float32":
        np.testing.assert_allclose(gpu, cpu, rtol=0, atol=1e-6)
    else:  # same FP32 value before rounding, except in its last bit: at most one FP16 ulp apart
        diff = np.abs(gpu.view(np.int16).astype(np.int32) - cpu.view(np.int16).astype(np.int32))
        assert diff.max() <= 1 and np.mean(diff == 0) > 0.999


@pytest.mark.gpu
def test_cuda_affines_out_argument_and_errors(cuda_lib):
    frame, _ = _data(2)
    affines = np.array([[[60.0, -15.0, 100.0], [15.0, 60.0, 40.0]], [[0.0, 80.0, 300.0], [80.0, 0.0, 120.0]]])
    cpu = region_batch(frame, None, affines=affines, size=64)
    out = np.empty_like(cpu)
    assert region_batch(frame, None, affines=affines, size=64, out=out, device="cuda:0") is out
    np.testing.assert_allclose(out, cpu, atol=1e-6)
    assert region_batch(frame, np.zeros((0, 4)), device="cuda").shape == (0, 3, 224, 224)
    with pytest.raises(RanEdgeError, match="inverted"):
        region_batch(frame, np.array([[50.0, 50.0, 10.0, 90.0]]), device="cuda")


@pytest.mark.gpu
def test_zero_copy_entry_on_a_stream(cuda_lib):
    torch = pytest.importorskip("torch", reason="the zero-copy test allocates device memory with torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA support here; the zero-copy path is covered by ctest region_batch_cuda")
    frame, boxes = _data(3)
    cpu = region_batch(frame, boxes, size=112, dtype="float16")
    d_frame = torch.from_numpy(frame).cuda()
    d_boxes = torch.from_numpy(boxes.astype(np.float32)).cuda()
    d_out = torch.empty(cpu.shape, dtype=torch.float16, device="cuda")
    flag = torch.zeros(1, dtype=torch.int32, device="cuda")
    stream = torch.cuda.Stream()
    region_batch_cuda_ptr(d_frame.data_ptr(), frame.shape[0], frame.shape[1], frame.strides[0], d_boxes.data_ptr(),
                          len(boxes), d_out.data_ptr(), size=112, dtype="float16", stream=stream.cuda_stream,
                          error_flag_ptr=flag.data_ptr())
    stream.synchronize()
    assert int(flag.item()) == 0
    # float32 boxes on the device vs float64 on the host: coordinates differ by < 1e-5 px
    np.testing.assert_allclose(d_out.cpu().numpy().astype(np.float32), cpu.astype(np.float32), atol=2e-3)
