"""How ONNX Runtime must execute a Q/DQ (INT8) ONNX artifact, decided from its sidecar.

Shared by the runtime (:class:`ran_edge.runtime.OrtRunner`), the export parity checks and the INT8 accuracy
comparison, so all three run a file the same way. No imports beyond the standard library.
"""

from __future__ import annotations

from typing import Any

#: ONNX Runtime session option that keeps QuantizeLinear/DequantizeLinear as separate ops (no QLinear* fusion).
EXACT_QDQ_CONFIG = "session.disable_quant_qdq"


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
