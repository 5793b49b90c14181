"""The small CUDA layer the TensorRT runner needs: device info, memory, copies, streams, events, graphs.

Two implementations behind one interface (:class:`CudaApi`):

* :class:`CudaPythonApi` — NVIDIA's ``cuda-python`` (``cuda.bindings.runtime``, or ``cuda.cudart`` in
  older releases). The default: it installs as wheels and imports without a GPU.
* :class:`PyCudaApi` — ``pycuda``, used when it is what the machine has (JetPack images often do).
  No CUDA-graph support.

Choose with ``RAN_EDGE_CUDA=cuda-python|pycuda`` or ``get_cuda_api("pycuda")``; default: cuda-python,
then pycuda. Host-side buffers are numpy arrays (pinned when allocated here); device memory is an
integer address. Every CUDA status is checked and turned into :class:`CudaError`.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ran_edge.errors import MissingDependencyError, RanEdgeError


class CudaError(RanEdgeError):
    """A CUDA call failed (no device, out of memory, driver too old, ...)."""


@dataclass
class PinnedBuffer:
    """Page-locked host memory as a flat uint8 numpy array (``array``), freed by its :class:`CudaApi`."""

    array: np.ndarray
    handle: Any

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)


class CudaApi:
    """Interface of the CUDA layer (see module docstring)."""

    name = "abstract"

    def set_device(self, device: int) -> None: raise NotImplementedError
    def device_info(self, device: int) -> Tuple[str, Tuple[int, int]]: raise NotImplementedError
    def runtime_version(self) -> str: raise NotImplementedError
    def malloc(self, nbytes: int) -> int: raise NotImplementedError
    def free(self, ptr: int) -> None: raise NotImplementedError
    def malloc_host(self, nbytes: int) -> PinnedBuffer: raise NotImplementedError
    def free_host(self, buf: PinnedBuffer) -> None: raise NotImplementedError
    def htod_async(self, dst: int, src: np.ndarray, stream: Any) -> None: raise NotImplementedError
    def dtoh_async(self, dst: np.ndarray, src: int, stream: Any) -> None: raise NotImplementedError
    def stream_create(self) -> Any: raise NotImplementedError
    def stream_handle(self, stream: Any) -> int: raise NotImplementedError
    def stream_sync(self, stream: Any) -> None: raise NotImplementedError
    def stream_destroy(self, stream: Any) -> None: raise NotImplementedError
    def event_create(self) -> Any: raise NotImplementedError
    def event_record(self, event: Any, stream: Any) -> None: raise NotImplementedError
    def event_elapsed_ms(self, start: Any, end: Any) -> float: raise NotImplementedError
    def event_destroy(self, event: Any) -> None: raise NotImplementedError
    def capture_begin(self, stream: Any) -> None: raise NotImplementedError
    def capture_end(self, stream: Any) -> Any: raise NotImplementedError
    def graph_launch(self, graph_exec: Any, stream: Any) -> None: raise NotImplementedError
    def graph_destroy(self, graph_exec: Any) -> None: raise NotImplementedError


def _import_cudart() -> Any:
    try:
        from cuda.bindings import runtime  # cuda-python >= 12.6
        return runtime
    except ImportError:
        pass
    try:
        from cuda import cudart  # older cuda-python
        return cudart
    except ImportError as exc:
        raise MissingDependencyError("cuda", "trt", "the TensorRT runner (cuda-python)", exc) from exc


class CudaPythonApi(CudaApi):
    """cuda-python (``cuda.bindings.runtime``)."""

    name = "cuda-python"

    def __init__(self) -> None:
        self.rt = _import_cudart()

    def _ok(self, result: Any, what: str) -> Any:
        err, rest = (result[0], result[1:]) if isinstance(result, tuple) else (result, ())
        if int(err) != 0:
            _, msg = self.rt.cudaGetErrorString(err)
            text = msg.decode() if isinstance(msg, bytes) else str(msg)
            raise CudaError(f"CUDA {what} failed: {getattr(err, 'name', err)} ({text})")
        return rest[0] if len(rest) == 1 else (rest or None)

    def set_device(self, device: int) -> None:
        count = self._ok(self.rt.cudaGetDeviceCount(), "device count")
        if not 0 <= device < count:
            raise CudaError(f"CUDA device {device}: got index {device}, expected 0..{count - 1}")
        self._ok(self.rt.cudaSetDevice(device), "set device")

    def device_info(self, device: int) -> Tuple[str, Tuple[int, int]]:
        prop = self._ok(self.rt.cudaGetDeviceProperties(device), "device properties")
        name = prop.name.decode(errors="replace") if isinstance(prop.name, bytes) else str(prop.name)
        return name.rstrip("\x00").strip(), (int(prop.major), int(prop.minor))

    def runtime_version(self) -> str:
        v = int(self._ok(self.rt.cudaRuntimeGetVersion(), "runtime version"))
        return f"{v // 1000}.{(v % 1000) // 10}"

    def malloc(self, nbytes: int) -> int:
        return int(self._ok(self.rt.cudaMalloc(max(int(nbytes), 1)), f"malloc of {nbytes} bytes"))

    def free(self, ptr: int) -> None:
        self._ok(self.rt.cudaFree(ptr), "free")

    def malloc_host(self, nbytes: int) -> PinnedBuffer:
        n = max(int(nbytes), 1)
        ptr = int(self._ok(self.rt.cudaMallocHost(n), f"pinned host malloc of {n} bytes"))
        arr = np.ctypeslib.as_array((ctypes.c_uint8 * n).from_address(ptr))
        return PinnedBuffer(arr, ptr)

    def free_host(self, buf: PinnedBuffer) -> None:
        self._ok(self.rt.cudaFreeHost(buf.handle), "free host")

    def htod_async(self, dst: int, src: np.ndarray, stream: Any) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._ok(self.rt.cudaMemcpyAsync(dst, src.ctypes.data, src.nbytes, kind, stream), "host-to-device copy")

    def dtoh_async(self, dst: np.ndarray, src: int, stream: Any) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._ok(self.rt.cudaMemcpyAsync(dst.ctypes.data, src, dst.nbytes, kind, stream), "device-to-host copy")

    def stream_create(self) -> Any:
        return self._ok(self.rt.cudaStreamCreate(), "stream create")

    def stream_handle(self, stream: Any) -> int:
        return int(stream)

    def stream_sync(self, stream: Any) -> None:
        self._ok(self.rt.cudaStreamSynchronize(stream), "stream synchronize")

    def stream_destroy(self, stream: Any) -> None:
        self._ok(self.rt.cudaStreamDestroy(stream), "stream destroy")

    def event_create(self) -> Any:
        return self._ok(self.rt.cudaEventCreate(), "event create")

    def event_record(self, event: Any, stream: Any) -> None:
        self._ok(self.rt.cudaEventRecord(event, stream), "event record")

    def event_elapsed_ms(self, start: Any, end: Any) -> float:
        self._ok(self.rt.cudaEventSynchronize(end), "event synchronize")
        return float(self._ok(self.rt.cudaEventElapsedTime(start, end), "event elapsed time"))

    def event_destroy(self, event: Any) -> None:
        self._ok(self.rt.cudaEventDestroy(event), "event destroy")

    def capture_begin(self, stream: Any) -> None:
        mode = self.rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        self._ok(self.rt.cudaStreamBeginCapture(stream, mode), "stream capture begin")

    def capture_end(self, stream: Any) -> Any:
        graph = self._ok(self.rt.cudaStreamEndCapture(stream), "stream capture end")
        try:
            exec_ = self._ok(self.rt.cudaGraphInstantiate(graph, 0), "graph instantiate")
        finally:
            self._ok(self.rt.cudaGraphDestroy(graph), "graph destroy")
        return exec_

    def graph_launch(self, graph_exec: Any, stream: Any) -> None:
        self._ok(self.rt.cudaGraphLaunch(graph_exec, stream), "graph launch")

    def graph_destroy(self, graph_exec: Any) -> None:
        self._ok(self.rt.cudaGraphExecDestroy(graph_exec), "graph exec destroy")


class PyCudaApi(CudaApi):
    """pycuda (``pycuda.driver``); retains and pushes the device's primary context (shared with TensorRT)."""

    name = "pycuda"

    def __init__(self) -> None:
        try:
            import pycuda.driver as drv  # type: ignore
        except ImportError as exc:
            raise MissingDependencyError("pycuda", "trt", "the TensorRT runner (pycuda)", exc) from exc
        self.drv = drv
        drv.init()
        self._ctx: Any = None
        self._allocs: Dict[int, Any] = {}

    def set_device(self, device: int) -> None:
        count = self.drv.Device.count()
        if not 0 <= device < count:
            raise CudaError(f"CUDA device {device}: got index {device}, expected 0..{count - 1}")
        if self._ctx is None:
            self._ctx = self.drv.Device(device).retain_primary_context()
            self._ctx.push()

    def close(self) -> None:
        if self._ctx is not None:
            self.drv.Context.pop()
            self._ctx = None

    def device_info(self, device: int) -> Tuple[str, Tuple[int, int]]:
        dev = self.drv.Device(device)
        return dev.name(), tuple(dev.compute_capability())  # type: ignore[return-value]

    def runtime_version(self) -> str:
        v = self.drv.get_version()
        return f"{v[0]}.{v[1]}"

    def malloc(self, nbytes: int) -> int:
        alloc = self.drv.mem_alloc(max(int(nbytes), 1))
        self._allocs[int(alloc)] = alloc
        return int(alloc)

    def free(self, ptr: int) -> None:
        self._allocs.pop(int(ptr)).free()

    def malloc_host(self, nbytes: int) -> PinnedBuffer:
        arr = self.drv.pagelocked_empty(max(int(nbytes), 1), np.uint8)
        return PinnedBuffer(arr, arr)

    def free_host(self, buf: PinnedBuffer) -> None:
        base = getattr(buf.handle, "base", None)
        if base is not None and hasattr(base, "free"):
            base.free()

    def htod_async(self, dst: int, src: np.ndarray, stream: Any) -> None:
        self.drv.memcpy_htod_async(dst, src, stream)

    def dtoh_async(self, dst: np.ndarray, src: int, stream: Any) -> None:
        self.drv.memcpy_dtoh_async(dst, src, stream)

    def stream_create(self) -> Any:
        return self.drv.Stream()

    def stream_handle(self, stream: Any) -> int:
        return int(stream.handle)

    def stream_sync(self, stream: Any) -> None:
        stream.synchronize()

    def stream_destroy(self, stream: Any) -> None:
        pass  # freed with the object

    def event_create(self) -> Any:
        return self.drv.Event()

    def event_record(self, event: Any, stream: Any) -> None:
        event.record(stream)

    def event_elapsed_ms(self, start: Any, end: Any) -> float:
        end.synchronize()
        return float(start.time_till(end))

    def event_destroy(self, event: Any) -> None:
        pass

    def capture_begin(self, stream: Any) -> None:
        raise RanEdgeError("CUDA graphs need cuda-python (pip install 'ran-edge[trt]'); the pycuda layer has none")

    capture_end = graph_launch = graph_destroy = capture_begin  # type: ignore[assignment]


_APIS = {"cuda-python": CudaPythonApi, "pycuda": PyCudaApi}


def get_cuda_api(prefer: Optional[str] = None) -> CudaApi:
    """The CUDA layer: ``prefer`` or ``$RAN_EDGE_CUDA`` if set, else cuda-python, else pycuda.

    Raises:
        MissingDependencyError: neither package is importable.
        RanEdgeError: an unknown name.
    """
    choice = prefer or os.environ.get("RAN_EDGE_CUDA") or None
    if choice is not None:
        if choice not in _APIS:
            raise RanEdgeError(f"CUDA layer: got '{choice}', expected one of {sorted(_APIS)}")
        return _APIS[choice]()
    try:
        return CudaPythonApi()
    except MissingDependencyError as first:
        try:
            return PyCudaApi()
        except MissingDependencyError:
            raise first from None
