"""Which backends are installed and work here, fastest first: TensorRT (with a CUDA GPU), ONNX Runtime with
its CUDA provider, ONNX Runtime on the CPU, TorchScript (torch). Each probe says why when it does not."""

from __future__ import annotations

import enum
import importlib.util
from dataclasses import dataclass, field
from typing import Any, Mapping, Tuple

from ran_edge.artifact import Backend


class Candidate(str, enum.Enum):
    """One runner of the auto order."""

    TENSORRT = "tensorrt"
    ORT_CUDA = "onnxruntime-cuda"
    ORT_CPU = "onnxruntime-cpu"
    TORCHSCRIPT = "torchscript"

    @property
    def backend(self) -> Backend:
        return {Candidate.TENSORRT: Backend.TRT, Candidate.TORCHSCRIPT: Backend.TORCHSCRIPT}.get(self, Backend.ORT)


#: the auto order, fastest first
AUTO_ORDER: Tuple[Candidate, ...] = (Candidate.TENSORRT, Candidate.ORT_CUDA, Candidate.ORT_CPU, Candidate.TORCHSCRIPT)

#: candidates for each explicit backend
BY_BACKEND = {Backend.TRT: (Candidate.TENSORRT,), Backend.ORT: (Candidate.ORT_CUDA, Candidate.ORT_CPU),
              Backend.TORCHSCRIPT: (Candidate.TORCHSCRIPT,)}


@dataclass(frozen=True)
class Probe:
    """A candidate's state here: usable or not (``reason``), and facts (TensorRT version, GPU, compute capability)."""

    candidate: Candidate
    ok: bool
    reason: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def probe_tensorrt(device: int = 0) -> Probe:
    """TensorRT and a CUDA device, through the engine builder's own detection (:func:`ran_edge.engine.build.detect_env`)."""
    if not _installed("tensorrt"):
        return Probe(Candidate.TENSORRT, False, "tensorrt not installed")
    from ran_edge.engine.build import detect_env
    from ran_edge.errors import RanEdgeError

    try:
        env = detect_env(device)
    except (RanEdgeError, OSError, RuntimeError) as exc:
        return Probe(Candidate.TENSORRT, False, f"tensorrt unusable here ({str(exc).splitlines()[0][:120]})")
    return Probe(Candidate.TENSORRT, True, facts={"tensorrt_version": str(env.trt_version), "gpu_name": env.gpu_name,
                                                  "compute_capability": env.cc_text, "env": env})


def _ort_providers() -> Tuple[str, ...]:
    import onnxruntime

    return tuple(onnxruntime.get_available_providers())


def probe_ort(candidate: Candidate) -> Probe:
    """ONNX Runtime, on CUDA (its CUDA provider is available) or on the CPU."""
    if not _installed("onnxruntime"):
        return Probe(candidate, False, "onnxruntime not installed")
    try:
        providers = _ort_providers()
    except Exception as exc:  # a broken install raises anything at import
        return Probe(candidate, False, f"onnxruntime unusable ({type(exc).__name__})")
    want = "CUDAExecutionProvider" if candidate is Candidate.ORT_CUDA else "CPUExecutionProvider"
    if want not in providers:
        return Probe(candidate, False, f"onnxruntime has no {want}")
    return Probe(candidate, True, facts={"provider": want})


def probe_torch() -> Probe:
    """torch, for a TorchScript export of a checkpoint."""
    if not _installed("torch"):
        return Probe(Candidate.TORCHSCRIPT, False, "torch not installed")
    return Probe(Candidate.TORCHSCRIPT, True)


def probe(candidate: Candidate, device: int = 0) -> Probe:
    """The probe of one candidate."""
    if candidate is Candidate.TENSORRT:
        return probe_tensorrt(device)
    if candidate is Candidate.TORCHSCRIPT:
        return probe_torch()
    return probe_ort(candidate)
