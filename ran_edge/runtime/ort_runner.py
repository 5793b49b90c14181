"""ONNX Runtime runner: CPU, and the CUDA / TensorRT execution providers when installed.

Thread safety: ``InferenceSession.run`` may be called from several threads at once, and the runner
keeps no per-call state except ``last_inference_time`` (last writer wins), so one active
``OrtRunner`` can serve concurrent ``infer`` calls (tests/runtime/test_threads.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ran_edge._lazy import require
from ran_edge.artifact import TensorSpec
from ran_edge.errors import RanEdgeError
from ran_edge.runtime.base import Runner

_PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}

_ORT_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
               "tensor(uint8)": "uint8", "tensor(int8)": "int8", "tensor(int32)": "int32", "tensor(int64)": "int64"}


def resolve_providers(requested: Union[str, Sequence[str], None], available: Sequence[str]) -> List[str]:
    """Execution providers to use, in priority order, always ending with CPU.

    ``None``/``"auto"``: CUDA when available, else CPU. ``"cpu"``, ``"cuda"``, ``"tensorrt"`` (TensorRT,
    then CUDA, then CPU) or full provider names. A provider that is not installed is an error.
    """
    if requested is None or requested == "auto":
        return (["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []) + ["CPUExecutionProvider"]
    names = [requested] if isinstance(requested, str) else list(requested)
    out: List[str] = []
    for name in names:
        full = _PROVIDER_ALIASES.get(name.lower(), name)
        if full not in available:
            raise RanEdgeError(f"ONNX Runtime provider: got '{name}', expected one of the installed {list(available)} "
                               "(CUDA/TensorRT providers come with onnxruntime-gpu)")
        chain = {"TensorrtExecutionProvider": ["TensorrtExecutionProvider", "CUDAExecutionProvider"]}.get(full, [full])
        out.extend(p for p in chain if p in available and p not in out)
    if "CPUExecutionProvider" not in out:
        out.append("CPUExecutionProvider")
    return out


#: ONNX Runtime session option that keeps QuantizeLinear/DequantizeLinear as separate ops (no QLinear* fusion).
EXACT_QDQ_CONFIG = "session.disable_quant_qdq"
#: ONNX Runtime session option that lets idle intra-op threads spin ("0": they sleep; see ``OrtRunner(spinning=)``).
SPINNING_CONFIG = "session.intra_op.allow_spinning"


def exact_qdq_for(meta: Any) -> bool:
    """Whether an ONNX artifact must run with exact Q/DQ semantics in ONNX Runtime.

    The TensorRT INT8 flavour (symmetric int8 activations) is what TensorRT executes with int8 x int8 → int32
    products. ONNX Runtime's fused S8S8 kernels on x86 CPUs without VNNI go through ``VPMADDUBSW``, whose
    16-bit pair sums saturate; with symmetric activations nearly every product pair is large, and agreement
    with FP32 fell to 54-91 % (measured, calibration/README.md). Running the Q/DQ pairs as written gives the
    arithmetic the file specifies (and TensorRT implements). The CPU flavour keeps the fused kernels (its
    speed is the point) and is measured that way.
    """
    extra = getattr(meta, "extra", None) or {}
    return extra.get("int8_flavour") == "tensorrt"


#: more intra-op threads than this is a typo (each thread costs memory; 10**6 exhausts it)
MAX_THREADS = 256


#: what an :class:`OrtRunner` runs: an ``.onnx`` path, a loaded ``onnx.ModelProto`` or its serialized bytes.
OnnxModel = Union[str, Path, bytes, Any]


class OrtRunner(Runner):
    """Runs an ONNX model with ONNX Runtime; every ONNX Runtime session of ran-edge is made here.

    Args:
        path: the ``.onnx`` file, a loaded ``onnx.ModelProto`` or its serialized bytes.
        providers: see :func:`resolve_providers`.
        threads: intra-op threads (None: ONNX Runtime's default).
        device: CUDA device for the CUDA/TensorRT providers.
        exact_qdq: run Q/DQ pairs as written (float ops between them) instead of ONNX Runtime's fused integer
            kernels; :func:`exact_qdq_for` says when (the TensorRT INT8 flavour).
        optimize: ONNX Runtime graph optimisations (off keeps every named tensor, for calibration taps).
        memory_arena: ONNX Runtime's CPU memory arena (off: no run keeps its largest activations allocated).
        profile_prefix: write ONNX Runtime's per-node profile (Chrome trace JSON) to ``<prefix>_<time>.json``;
            :meth:`end_profiling` closes it and returns its path (:mod:`ran_edge.bench.op_profile` reads it).
        spinning: let idle intra-op threads spin (ONNX Runtime's default, lowest latency for one session). Turn it
            off where two sessions take turns on few cores: each one's spinning threads slow the other (measured
            on 2 cores: the same pair of files gave 0.55-1.19x with spinning, 0.83-0.89x without).
    """

    name = "onnxrt-runner"

    def __init__(self, path: OnnxModel, providers: Union[str, Sequence[str], None] = None,
                 threads: Optional[int] = None, device: int = 0, exact_qdq: bool = False, optimize: bool = True,
                 memory_arena: bool = True, profile_prefix: Optional[str] = None, spinning: bool = True):
        super().__init__()
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= MAX_THREADS):
            raise RanEdgeError(f"threads: got {threads!r}, expected an integer 1..{MAX_THREADS}")
        self.path = Path(path) if isinstance(path, (str, Path)) else None
        self.model = None if self.path is not None else path
        self.providers = providers
        self.threads = threads
        self.device = device
        self.exact_qdq = exact_qdq
        self.optimize = optimize
        self.memory_arena = memory_arena
        self.profile_prefix = profile_prefix
        self.spinning = spinning
        self.session: Any = None
        self._inputs: Tuple[TensorSpec, ...] = ()
        self._outputs: Tuple[str, ...] = ()

    def activate_impl(self) -> None:
        ort = require("onnxruntime", "ONNX inference")
        if self.path is not None and not self.path.is_file():
            raise RanEdgeError(f"ONNX file not found: {self.path}")
        chosen = resolve_providers(self.providers, ort.get_available_providers())
        options = [{"device_id": self.device} if p in ("CUDAExecutionProvider", "TensorrtExecutionProvider") else {}
                   for p in chosen]
        so = ort.SessionOptions()
        if self.threads:
            so.intra_op_num_threads = self.threads
            so.inter_op_num_threads = 1
        so.log_severity_level = 3
        if self.exact_qdq:
            so.add_session_config_entry(EXACT_QDQ_CONFIG, "1")
        if not self.spinning:
            so.add_session_config_entry(SPINNING_CONFIG, "0")
        if not self.memory_arena:
            so.enable_cpu_mem_arena = False
        if self.profile_prefix:
            so.enable_profiling = True
            so.profile_file_prefix = self.profile_prefix
        if not self.optimize:
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        source = str(self.path) if self.path is not None else (
            self.model if isinstance(self.model, (bytes, bytearray)) else self.model.SerializeToString())
        try:
            self.session = ort.InferenceSession(source, sess_options=so, providers=chosen, provider_options=options)
        except Exception as exc:  # ORT raises its own pybind exception types
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise RanEdgeError(f"{self.path or 'ONNX model'}: ONNX Runtime cannot load it ({first[:300]})") from exc
        self._inputs = tuple(
            TensorSpec(i.name, tuple(d if isinstance(d, int) and d > 0 else -1 for d in i.shape), _ORT_DTYPES.get(i.type, i.type))
            for i in self.session.get_inputs())
        self._outputs = tuple(o.name for o in self.session.get_outputs())

    def deactivate_impl(self) -> None:
        self.session = None

    @property
    def active_providers(self) -> List[str]:
        """Providers of the live session."""
        self._require_active("active_providers")
        return list(self.session.get_providers())

    def end_profiling(self) -> Path:
        """Stop profiling and return the profile file (only for a runner made with ``profile_prefix``)."""
        self._require_active("end_profiling")
        if not self.profile_prefix:
            raise RanEdgeError("end_profiling: this runner was made without profile_prefix")
        return Path(self.session.end_profiling())

    def input_specs_impl(self) -> Tuple[TensorSpec, ...]:
        return self._inputs

    def output_names(self) -> Tuple[str, ...]:
        return self._outputs

    def infer_impl(self, feed: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
        outs = self.session.run(list(self._outputs), dict(feed))
        return dict(zip(self._outputs, outs))


def cpu_runner(model: OnnxModel, threads: Optional[int] = 2, exact_qdq: bool = False, **options: Any) -> OrtRunner:
    """An active CPU-only :class:`OrtRunner` for ``model`` (path, ``ModelProto`` or bytes): what the export checks,
    quantization and benchmarks run; ``options`` as :class:`OrtRunner` (``optimize``, ``memory_arena``)."""
    return OrtRunner(model, "cpu", threads, exact_qdq=exact_qdq, **options).activate()  # type: ignore[return-value]
