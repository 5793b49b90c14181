"""TensorRT runner (TensorRT >= 8.5, name-based tensor API; the ``trt`` extra).

Flow of ``activate()``: check the sidecar against the installed TensorRT and the GPU
(:func:`ran_edge.engine_contract.meta.check_engine` → :class:`EngineMismatchError` with the rebuild command),
deserialise the plan, create one execution context and one CUDA stream. ``infer(feed)``: set the
input shapes, copy through pinned host buffers to device buffers (both reused across calls and
re-allocated only when a larger batch arrives), ``execute_async_v3`` (or replay a CUDA graph
captured per input shape), copy back, synchronise. Batches larger than the profile's max are
split; a chunk smaller than the profile's min is padded by repeating its rows and the padding is
dropped from the outputs.

Thread safety: one context, one stream and shared buffers, so calls are serialised by a lock;
for parallel GPU work create one runner per thread.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from ran_edge._lazy import require
from ran_edge.artifact import ArtifactMeta, TensorSpec
from ran_edge.engine_contract.meta import DeviceEnv, check_engine, rebuild_hint
from ran_edge.engine_contract.versions import TrtVersion
from ran_edge.errors import EngineMismatchError, RanEdgeError
from ran_edge.runtime.base import Runner
from ran_edge.cuda import CudaApi, PinnedBuffer, get_cuda_api


def split_batches(n: int, lo: int, hi: int, multiple: int = 1) -> List[Tuple[int, int, int]]:
    """Chunks of a batch of ``n`` rows for a profile ``[lo, hi]`` → ``[(start, stop, padded size)]``.

    Chunks hold at most ``hi`` rows (rounded down to ``multiple``, e.g. K regions per face); a chunk
    below ``lo`` is padded up to ``lo``.
    """
    if n < 1:
        raise RanEdgeError(f"got an empty batch, expected at least {max(lo, 1)} rows")
    step = max(hi - hi % multiple, multiple)
    out = []
    for start in range(0, n, step):
        stop = min(start + step, n)
        out.append((start, stop, max(stop - start, lo)))
    return out


class _Buffers:
    """Pinned host + device buffers per tensor name, grown on demand."""

    def __init__(self, cuda: CudaApi):
        self.cuda = cuda
        self.device: Dict[str, Tuple[int, int]] = {}  # name -> (ptr, capacity)
        self.host: Dict[str, PinnedBuffer] = {}

    def ensure(self, name: str, nbytes: int) -> bool:
        """Make room for ``nbytes``; True if a buffer moved (CUDA graphs must be recaptured)."""
        moved = False
        if name not in self.device or self.device[name][1] < nbytes:
            if name in self.device:
                self.cuda.free(self.device[name][0])
            self.device[name] = (self.cuda.malloc(nbytes), nbytes)
            moved = True
        if name not in self.host or self.host[name].nbytes < nbytes:
            if name in self.host:
                self.cuda.free_host(self.host[name])
            self.host[name] = self.cuda.malloc_host(nbytes)
        return moved

    def host_view(self, name: str, shape: Tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        n = int(np.prod(shape)) * dtype.itemsize
        return self.host[name].array[:n].view(dtype).reshape(shape)

    def free_all(self) -> None:
        for ptr, _ in self.device.values():
            self.cuda.free(ptr)
        for buf in self.host.values():
            self.cuda.free_host(buf)
        self.device.clear()
        self.host.clear()


class TrtRunner(Runner):
    """Runs a serialized TensorRT engine (see module docstring).

    Args:
        path: the ``.engine`` plan.
        meta: its sidecar (checked against the installed TensorRT and GPU); None skips the check.
        device: CUDA device index.
        cuda_graph: capture and replay a CUDA graph per input shape (needs cuda-python).
        cuda: CUDA layer name (``"cuda-python"``/``"pycuda"``) or instance; default: see :func:`get_cuda_api`.
    """

    name = "trt-runner"

    def __init__(self, path: Union[str, Path], meta: Optional[ArtifactMeta] = None, device: int = 0,
                 cuda_graph: bool = False, cuda: Union[str, CudaApi, None] = None):
        super().__init__()
        self.path = Path(path)
        self.meta = meta
        self.device = device
        self.cuda_graph = cuda_graph
        self._cuda_choice = cuda
        self.warnings: List[str] = []
        self.last_gpu_time_ms: Optional[float] = None
        self._lock = threading.Lock()
        self._graphs: Dict[Tuple[Tuple[int, ...], ...], Any] = {}

    # lifecycle -------------------------------------------------------------------------------------
    def activate_impl(self) -> None:
        trt = require("tensorrt", "the TensorRT runtime")
        version = TrtVersion.parse(trt.__version__)
        if not version.has_python_runtime:
            raise RanEdgeError(f"TensorRT {version} is installed; the ran-edge TensorRT runner needs 8.5 or newer "
                               "(use the ONNX with backend='ort' on this device)")
        if not self.path.is_file():
            raise RanEdgeError(f"engine file not found: {self.path}")
        cuda = self._cuda_choice if isinstance(self._cuda_choice, CudaApi) else get_cuda_api(self._cuda_choice)
        try:
            self._load(trt, cuda)
        except BaseException:
            if hasattr(cuda, "close"):
                cuda.close()
            raise

    def _load(self, trt: Any, cuda: CudaApi) -> None:
        cuda.set_device(self.device)
        gpu, cc = cuda.device_info(self.device)
        if self.meta is not None:
            self.warnings = check_engine(self.meta, DeviceEnv(trt.__version__, gpu, cc), str(self.path))
        self._trt, self.cuda = trt, cuda
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        if self.meta is not None and self.meta.extra.get("version_compatible"):
            self._runtime.engine_host_code_allowed = True  # the lean runtime embedded in the plan
        self.engine = self._runtime.deserialize_cuda_engine(self.path.read_bytes())
        if self.engine is None:
            hint = rebuild_hint(self.meta, str(self.path)) if self.meta is not None else "rebuild it with ran-edge build-engine"
            raise EngineMismatchError(f"{self.path}: TensorRT {trt.__version__} could not deserialize it "
                                      f"(another TensorRT version or GPU, or a damaged file); {hint}")
        self.context = self.engine.create_execution_context()
        self.stream = cuda.stream_create()
        self._events = (cuda.event_create(), cuda.event_create())
        self._buffers = _Buffers(cuda)
        self._read_io()

    def _read_io(self) -> None:
        trt, eng = self._trt, self.engine
        inputs, outputs, dtypes, profile = [], [], {}, {}
        for i in range(eng.num_io_tensors):
            name = eng.get_tensor_name(i)
            dtype = np.dtype(trt.nptype(eng.get_tensor_dtype(name)))
            dtypes[name] = dtype
            shape = tuple(int(d) for d in eng.get_tensor_shape(name))
            if eng.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                inputs.append(TensorSpec(name, shape, dtype.name))
                if shape and shape[0] > 0:  # static batch (e.g. DLA engines): no profile to ask
                    profile[name] = (shape[0], shape[0])
                else:
                    lo, _, hi = eng.get_tensor_profile_shape(name, 0)
                    profile[name] = (int(lo[0]), int(hi[0]))
            else:
                outputs.append(name)
        self._inputs, self._outputs, self._dtypes, self._profile = tuple(inputs), tuple(outputs), dtypes, profile

    def deactivate_impl(self) -> None:
        cuda = self.cuda
        for g in self._graphs.values():
            cuda.graph_destroy(g)
        self._graphs.clear()
        self._buffers.free_all()
        for e in self._events:
            cuda.event_destroy(e)
        cuda.stream_destroy(self.stream)
        self.context = self.engine = self._runtime = None
        if hasattr(cuda, "close"):
            cuda.close()

    # contract --------------------------------------------------------------------------------------
    def input_specs_impl(self) -> Tuple[TensorSpec, ...]:
        return self._inputs

    def output_names(self) -> Tuple[str, ...]:
        return self._outputs

    def batch_range(self) -> Optional[Tuple[int, Optional[int]]]:
        return None  # any batch: split above the profile max, padded below its min

    def profile_batch(self) -> Tuple[int, int]:
        """``(min, max)`` batch of the engine's optimisation profile (first input)."""
        self._require_active("profile_batch")
        return self._profile[self._inputs[0].name]

    def infer_impl(self, feed: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
        with self._lock:
            first = self._inputs[0].name
            lo, hi = self._profile[first]
            multiple = self._region_multiple()
            n = feed[first].shape[0]
            parts: Dict[str, List[np.ndarray]] = {o: [] for o in self._outputs}
            gpu_ms = 0.0
            for start, stop, padded in split_batches(n, lo, hi, multiple):
                chunk = {k: self._pad(v[start:stop], padded) for k, v in feed.items()}
                outs, ms = self._run_chunk(chunk)
                gpu_ms += ms
                for name, arr in outs.items():
                    keep = arr.shape[0] * (stop - start) // padded if arr.ndim else 0
                    parts[name].append(arr[:keep] if arr.ndim else arr)
            self.last_gpu_time_ms = gpu_ms
            return {k: np.concatenate(v) if v[0].ndim else v[0] for k, v in parts.items()}

    # internals -------------------------------------------------------------------------------------
    def _region_multiple(self) -> int:
        if self.meta is not None and self.meta.input_kind.value == "regions":
            return self.meta.preset.num_regions
        return 1

    @staticmethod
    def _pad(arr: np.ndarray, size: int) -> np.ndarray:
        if arr.shape[0] == size:
            return arr
        return arr[np.arange(size) % arr.shape[0]]

    def _run_chunk(self, feed: Mapping[str, np.ndarray]) -> Tuple[Dict[str, np.ndarray], float]:
        cuda, ctx, buf = self.cuda, self.context, self._buffers
        for name, arr in feed.items():
            ctx.set_input_shape(name, tuple(arr.shape))
        shapes = {name: tuple(int(d) for d in ctx.get_tensor_shape(name)) for name in self._outputs}
        moved = False
        for name, arr in feed.items():
            moved |= buf.ensure(name, arr.nbytes)
        for name, shape in shapes.items():
            moved |= buf.ensure(name, int(np.prod(shape)) * self._dtypes[name].itemsize)
        if moved:
            self._drop_graphs()
        for name, arr in feed.items():
            host = buf.host_view(name, arr.shape, self._dtypes[name])
            np.copyto(host, arr)
            cuda.htod_async(buf.device[name][0], host, self.stream)
        for name in list(feed) + list(self._outputs):
            ctx.set_tensor_address(name, buf.device[name][0])
        cuda.event_record(self._events[0], self.stream)
        self._enqueue(tuple(tuple(a.shape) for a in feed.values()))
        cuda.event_record(self._events[1], self.stream)
        hosts = {}
        for name, shape in shapes.items():
            hosts[name] = buf.host_view(name, shape, self._dtypes[name])
            cuda.dtoh_async(hosts[name], buf.device[name][0], self.stream)
        cuda.stream_sync(self.stream)
        ms = cuda.event_elapsed_ms(*self._events)
        return {name: np.array(h) for name, h in hosts.items()}, ms

    def _enqueue(self, key: Tuple[Tuple[int, ...], ...]) -> None:
        handle = self.cuda.stream_handle(self.stream)
        if not self.cuda_graph:
            if not self.context.execute_async_v3(handle):
                raise RanEdgeError(f"{self.path}: TensorRT execute_async_v3 failed (see the TensorRT log above)")
            return
        graph = self._graphs.get(key)
        if graph is None:
            # One plain enqueue after a shape change lets TensorRT finish its deferred updates before capture.
            if not self.context.execute_async_v3(handle):
                raise RanEdgeError(f"{self.path}: TensorRT execute_async_v3 failed before CUDA-graph capture")
            self.cuda.capture_begin(self.stream)
            try:
                ok = self.context.execute_async_v3(handle)
            finally:
                graph = self.cuda.capture_end(self.stream)
            if not ok:
                self.cuda.graph_destroy(graph)
                raise RanEdgeError(f"{self.path}: TensorRT enqueue failed during CUDA-graph capture")
            self._graphs[key] = graph
        self.cuda.graph_launch(graph, self.stream)

    def _drop_graphs(self) -> None:
        for g in self._graphs.values():
            self.cuda.graph_destroy(g)
        self._graphs.clear()

    @property
    def graph_count(self) -> int:
        """Number of captured CUDA graphs (one per input shape seen)."""
        return len(self._graphs)
