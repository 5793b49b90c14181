"""On-demand preparation for :func:`ran_edge.runtime.load`: pick the backend that runs a source here
(``backend="auto"``) and make what it needs (ONNX export, FP16/INT8 ONNX, TorchScript, TensorRT engine) once,
into the build cache (:mod:`ran_edge.cache`). Reached from the runtime through :mod:`ran_edge.runtime.seam` only.
"""

from __future__ import annotations

from ran_edge.autoload.probe import AUTO_ORDER, Candidate, Probe, probe
from ran_edge.autoload.resolve import prepare_artifact

__all__ = ["AUTO_ORDER", "Candidate", "Probe", "prepare_artifact", "probe"]
