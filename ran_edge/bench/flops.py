"""Multiply-accumulates (MACs) per face of a RAN: counted from an ONNX graph, or analytically.

Only Conv, MatMul and Gemm (and their quantized forms) are counted; element-wise ops, pooling,
softmax and normalisation are ignored (they are < 1% of RAN). FLOPs = 2 × MACs. Both counts use the
same rules, so for an exported RAN they agree exactly (tests/bench/test_flops.py checks this).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ran_edge._lazy import require

#: op type → (index of the data input, index of the weight/second input)
_COUNTED = {"Conv": (0, 1), "ConvInteger": (0, 1), "QLinearConv": (0, 3),
            "MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3), "Gemm": (0, 1)}


def _conv_out(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def resnet18_trunk_macs(width: int, size: int) -> int:
    """MACs of torchvision's ResNet-18 layout (base width ``width``) on one ``3×size×size`` image."""
    h = _conv_out(size, 7, 2, 3)
    macs = h * h * width * 3 * 49
    h = _conv_out(h, 3, 2, 1)  # max pool
    cin = width
    for stage, mult in enumerate((1, 2, 4, 8)):
        cout = width * mult
        stride = 1 if stage == 0 else 2
        h_out = _conv_out(h, 3, stride, 1)
        macs += h_out * h_out * cout * cin * 9  # block 1, conv 1
        macs += h_out * h_out * cout * cout * 9  # block 1, conv 2
        if stride != 1 or cin != cout:
            macs += h_out * h_out * cout * cin  # 1x1 downsample
        macs += 2 * h_out * h_out * cout * cout * 9  # block 2
        h, cin = h_out, cout
    return macs


def ran_macs(config: Any, input_kind: str = "faces") -> dict[str, int]:
    """Analytic MACs per face of a RAN with ``config`` (a RanConfig, or its ``to_dict()``).

    ``input_kind="faces"`` includes the in-graph crops (two MatMuls per region); ``"regions"`` does not.
    """
    if isinstance(config, Mapping):
        width, pp, k, c = (int(config["trunk_width"]), config["preprocess"], len(config["preset"]["boxes"]),
                           len(config["class_names"]))
        s, r = int(pp["face_size"]), int(pp["region_size"])
    else:
        width, k, c = int(config.trunk_width), config.preset.num_regions, config.num_classes
        s, r = config.preprocess.face_size, config.preprocess.region_size
    d = 8 * width
    out = {"trunk": k * resnet18_trunk_macs(width, r),
           "crops": (k * 3 * r * s * (s + r)) if input_kind != "regions" else 0,
           "head": k * d + k * 2 * d + 2 * d * c}
    out["total"] = sum(out.values())
    return out


def _shape_map(model: Any) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for vi in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = tuple(int(d.dim_value) if d.HasField("dim_value") else -1 for d in dims)
    for init in model.graph.initializer:
        shapes[init.name] = tuple(int(d) for d in init.dims)
    return shapes


def _fix_batch(model: Any, batch_dims: Mapping[str, int]) -> None:
    """Give every symbolic axis of the graph inputs/outputs a concrete size (dim_param → dim_value)."""
    for vi in list(model.graph.input) + list(model.graph.output):
        for d in vi.type.tensor_type.shape.dim:
            if not d.HasField("dim_value"):
                d.dim_value = int(batch_dims.get(d.dim_param, 1))


def onnx_macs(path: str | Path, faces: int = 1, regions_per_face: int | None = None) -> dict[str, Any]:
    """Count MACs of one inference of the ONNX graph at ``faces`` faces, per op type.

    Symbolic axes are set to ``faces`` (``N``) and ``faces × regions_per_face`` (``NK``, for the
    ``regions`` input). Returns ``{"total": int, "per_face": float, "by_op": {...}, "uncounted": [...]}``;
    ``uncounted`` names counted-type nodes whose shapes could not be inferred.
    """
    onnx = require("onnx", "FLOP counting")
    model = onnx.load(str(path))
    k = regions_per_face or 1
    _fix_batch(model, {"N": faces, "NK": faces * k})
    model = onnx.shape_inference.infer_shapes(model)
    shapes = _shape_map(model)
    by_op: dict[str, int] = {}
    uncounted: list[str] = []
    for node in model.graph.node:
        if node.op_type not in _COUNTED:
            continue
        ia, ib = _COUNTED[node.op_type]
        a = shapes.get(node.input[ia]) if len(node.input) > ia else None
        b = shapes.get(node.input[ib]) if len(node.input) > ib else None
        out = shapes.get(node.output[0])
        macs = _node_macs(node, a, b, out)
        if macs is None:
            uncounted.append(node.name or node.op_type)
            continue
        by_op[node.op_type] = by_op.get(node.op_type, 0) + macs
    total = int(sum(by_op.values()))
    return {"total": total, "per_face": total / faces, "by_op": by_op, "uncounted": uncounted}


def _node_macs(node: Any, a: tuple | None, b: tuple | None, out: tuple | None) -> int | None:
    if a is None or b is None or out is None or any(v < 0 for v in a + b + out):
        return None
    op = node.op_type
    if op in ("Conv", "ConvInteger", "QLinearConv"):
        return int(np.prod(out)) * (b[1] * int(np.prod(b[2:])))  # out elems × (Cin/g × kh × kw)
    if op == "Gemm":
        trans_a = next((int(at.i) for at in node.attribute if at.name == "transA"), 0)
        kdim = a[0] if trans_a else a[1]
        return int(np.prod(out)) * int(kdim)
    kdim = a[-1] if len(a) >= 1 else 1  # MatMul family: out elems × K
    return int(np.prod(out)) * int(kdim)
