"""Export a RAN to ONNX / TorchScript, simplify, and check (needs the 'export' extra).

``export_onnx(model, "model.onnx")`` → exported, simplified (verified), checked, ``model.onnx.json``.
``export_torchscript(model, "model.ts")`` → traced, checked, ``model.ts.json``.
Checks: :mod:`ran_edge.export.checks` (structure, parity), :mod:`ran_edge.export.trt_lint`
(TensorRT parser compatibility, pure over a ModelProto), :mod:`ran_edge.export.fp16` (range analysis,
FP16 ONNX). Submodules import torch/onnx only inside functions.
"""

from ran_edge.export.onnx_export import DEFAULT_OPSET, ExportResult, export_onnx
from ran_edge.export.torchscript import export_torchscript

__all__ = ["DEFAULT_OPSET", "ExportResult", "export_onnx", "export_torchscript"]
