"""TensorRT-runner pieces that run without a GPU: batch splitting and the CUDA layer's errors."""

from __future__ import annotations

import pytest

from ran_edge.errors import RanEdgeError
from ran_edge.cuda import CudaError, CudaPythonApi, get_cuda_api
from ran_edge.runtime.trt_runner import split_batches


def test_split_batches():
    assert split_batches(5, 1, 8) == [(0, 5, 5)]
    assert split_batches(20, 1, 8) == [(0, 8, 8), (8, 16, 8), (16, 20, 4)]
    assert split_batches(3, 4, 8) == [(0, 3, 4)]  # padded up to the profile min
    assert split_batches(18, 6, 20, multiple=6) == [(0, 18, 18)]
    assert split_batches(30, 6, 20, multiple=6) == [(0, 18, 18), (18, 30, 12)]  # whole faces per chunk
    with pytest.raises(RanEdgeError, match="empty batch"):
        split_batches(0, 1, 8)


def test_unknown_cuda_layer():
    with pytest.raises(RanEdgeError, match="CUDA layer: got 'cupy'"):
        get_cuda_api("cupy")


def _has_gpu() -> bool:
    try:
        from cuda.bindings import runtime as rt
    except ImportError:
        return False
    err, count = rt.cudaGetDeviceCount()
    return int(err) == 0 and count > 0


@pytest.mark.skipif(_has_gpu(), reason="a CUDA device is present; this checks the no-GPU error")
def test_no_gpu_is_a_one_line_error():
    pytest.importorskip("cuda.bindings", reason="cuda-python is not installed")
    with pytest.raises(CudaError, match=r"CUDA device count failed: cudaError\w+") as info:
        CudaPythonApi().set_device(0)
    assert "\n" not in str(info.value)


@pytest.mark.gpu
def test_cuda_python_round_trip_and_graph():
    import numpy as np

    api = get_cuda_api("cuda-python")
    api.set_device(0)
    name, cc = api.device_info(0)
    assert name and cc[0] >= 5
    stream = api.stream_create()
    src = api.malloc_host(4096)
    dst = api.malloc_host(4096)
    src.array[:] = np.arange(4096) % 251
    dev = api.malloc(4096)
    api.htod_async(dev, src.array, stream)
    api.dtoh_async(dst.array, dev, stream)
    api.stream_sync(stream)
    assert np.array_equal(src.array, dst.array)
    api.capture_begin(stream)
    api.htod_async(dev, src.array, stream)
    graph = api.capture_end(stream)
    api.graph_launch(graph, stream)
    api.stream_sync(stream)
    api.graph_destroy(graph)
    for buf in (src, dst):
        api.free_host(buf)
    api.free(dev)
    api.stream_destroy(stream)
