"""How much of an INT8 file really is INT8: multiply-adds per layer and the share that runs quantized.

The **INT8 share** of a file is the multiply-adds of its network layers (Conv, Gemm, MatMul of the trunk and
the attention head) whose data *and* weight inputs come from DequantizeLinear, over the multiply-adds of all
its network layers. The in-graph crop MatMuls of a ``faces`` model are image resampling — the work the fused
region-batch kernel does outside the graph for a ``regions`` model — so they are reported on their own
(``crop_macs``) and not counted in the share: the share then means the same for both input kinds.
A layer counts once, at batch 1, from ONNX shape inference.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ran_edge._lazy import require
from ran_edge.quantize.graph_parts import ensure_node_names, node_groups

COMPUTE_OPS = ("Conv", "Gemm", "MatMul")

#: Below this INT8 share a file is refused unless the user allows FP32 fallback (``--allow-fp32-fallback``).
MIN_INT8_SHARE = 0.5


def _shapes(model: Any) -> dict[str, tuple[int, ...]]:
    """Static shapes of every value at batch 1 (a dynamic first dimension set to 1)."""
    onnx = require("onnx", "INT8 share")
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for inp in m.graph.input:
        dims = inp.type.tensor_type.shape.dim
        if dims and not dims[0].dim_value:
            dims[0].Clear()
            dims[0].dim_value = 1
    del m.graph.value_info[:]
    inferred = onnx.shape_inference.infer_shapes(m, data_prop=True)
    out: dict[str, tuple[int, ...]] = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if all(d.dim_value > 0 for d in dims):
            out[vi.name] = tuple(int(d.dim_value) for d in dims)
    for init in model.graph.initializer:
        out[init.name] = tuple(int(d) for d in init.dims)
    return out


def _weight_shape(node: Any, shapes: Mapping[str, tuple[int, ...]], producer: Mapping[str, Any]) -> tuple[int, ...] | None:
    """Shape of input 1, looking through a DequantizeLinear (and its QuantizeLinear) to the stored weight."""
    name = node.input[1]
    if name in shapes:
        return shapes[name]
    p = producer.get(name)
    while p is not None and p.op_type in ("DequantizeLinear", "QuantizeLinear"):
        if p.input[0] in shapes:
            return shapes[p.input[0]]
        p = producer.get(p.input[0])
    return None


def layer_macs(model: Any) -> dict[str, int]:
    """``{node name: multiply-adds at batch 1}`` for every Conv/Gemm/MatMul whose shapes are known (names are
    given to unnamed nodes, in place)."""
    ensure_node_names(model)
    shapes = _shapes(model)
    producer = {o: n for n in model.graph.node for o in n.output}
    macs: dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type not in COMPUTE_OPS:
            continue
        out, w = shapes.get(node.output[0]), _weight_shape(node, shapes, producer)
        a = shapes.get(node.input[0])
        if out is None:
            continue
        if node.op_type == "Conv" and w is not None and len(w) >= 3:
            macs[node.name] = int(np.prod(out)) * int(np.prod(w[1:]))
        elif node.op_type in ("Gemm", "MatMul") and a is not None:
            macs[node.name] = int(np.prod(out)) * int(a[-1] if not _trans_a(node) else a[0])
    return macs


def _trans_a(node: Any) -> bool:
    return node.op_type == "Gemm" and any(att.name == "transA" and att.i for att in node.attribute)


def quantized_nodes(model: Any) -> set[str]:
    """Names of the Conv/Gemm/MatMul nodes whose first two inputs both come from DequantizeLinear."""
    producer = {o: n for n in model.graph.node for o in n.output}

    def from_dq(name: str) -> bool:
        p = producer.get(name)
        return p is not None and p.op_type == "DequantizeLinear"

    return {n.name for n in model.graph.node
            if n.op_type in COMPUTE_OPS and len(n.input) >= 2 and from_dq(n.input[0]) and from_dq(n.input[1])}


def int8_share(model: Any) -> dict[str, Any]:
    """The INT8 share of a (QDQ) ONNX model and what it is made of (see the module docstring).

    Returns ``int8_share`` (0..1), ``int8_macs``, ``network_macs``, ``crop_macs``, ``quantized_layers``,
    ``network_layers`` and ``fp32_layers`` (names of the network layers left unquantized, largest first).
    """
    ensure_node_names(model)
    macs = layer_macs(model)
    crop = set(node_groups(model)["crop"])
    quant = quantized_nodes(model)
    network = {k: v for k, v in macs.items() if k not in crop}
    int8 = sum(v for k, v in network.items() if k in quant)
    total = sum(network.values())
    fp32 = sorted((k for k in network if k not in quant), key=lambda k: -network[k])
    return {"int8_share": round(int8 / total, 4) if total else 0.0, "int8_macs": int(int8), "network_macs": int(total),
            "crop_macs": int(sum(v for k, v in macs.items() if k in crop)),
            "quantized_layers": sum(1 for k in network if k in quant), "network_layers": len(network),
            "fp32_layers": fp32}


def describe_share(share: Mapping[str, Any]) -> str:
    """``INT8 share 97.1 % (18 of 21 layers, 0.95 of 0.98 GMAC)`` for logs and ``inspect``."""
    return (f"INT8 share {100 * share['int8_share']:.2f} % ({share['quantized_layers']} of {share['network_layers']} "
            f"layers, {share['int8_macs'] / 1e6:.1f} of {share['network_macs'] / 1e6:.1f} MMAC per face)")
