"""Scale out on Triton Inference Server: model repositories, a PyTriton server and a client.

* :func:`export_triton` (``ran-edge export-triton``): a standard Triton model repository
  (``tensorrt_plan`` / ``onnxruntime_onnx`` + ``config.pbtxt``, labels, metadata, optional
  preprocessing ensemble); :mod:`ran_edge.serve.deepstream` writes an nvinfer config.
* :class:`TritonServer` / ``ran-edge serve``: the ran-edge Classifier inside a real Triton server
  through PyTriton (extra ``serve``), HTTP + gRPC, dynamic batching.
* :class:`Client`: ``Client(url).predict(faces)`` returns the local Classifier's predictions.

Nothing heavy is imported here; names load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "export_triton": "ran_edge.serve.repository",
    "TritonRepo": "ran_edge.serve.repository",
    "TritonOptions": "ran_edge.serve.triton_config",
    "validate_repository": "ran_edge.serve.validate",
    "TritonServer": "ran_edge.serve.server",
    "ServeOptions": "ran_edge.serve.server",
    "ServeError": "ran_edge.serve.server",
    "Client": "ran_edge.serve.client",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'ran_edge.serve' has no attribute '{name}'")
