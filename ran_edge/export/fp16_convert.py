"""FP32 ONNX → FP16 ONNX with onnx helpers (onnxconverter-common is not needed).

Weights and activations become float16, except the nodes in ``keep_fp32``, which stay float32 behind
``Cast`` nodes; graph inputs and outputs stay float32 (a ``Cast`` at each boundary), so a runtime feeds
and reads float32 as for the FP32 model. This file is TensorRT 11's FP16 path: TensorRT 11 builds only
strongly typed networks and has no FP16 builder flag, so the precision must be in the graph.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ran_edge._lazy import require

#: (op_type, input index) that the ONNX spec requires to stay float32 whatever the data type.
FLOAT32_INPUTS = frozenset({("Resize", 1), ("Resize", 2)})


def _elem_types(model: Any) -> dict[str, int]:
    onnx = require("onnx", "FP16 conversion")
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {t.name: t.data_type for t in model.graph.initializer}
    for vi in list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output):
        types[vi.name] = vi.type.tensor_type.elem_type
    for n in model.graph.node:  # Constant outputs are not always in value_info
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    types[n.output[0]] = a.t.data_type
    return types


def convert_to_fp16(model: Any, keep_fp32: Iterable[str] = ()) -> Any:
    """A float16 copy of ``model`` with the nodes named in ``keep_fp32`` left in float32.

    Args:
        model: FP32 ``onnx.ModelProto`` (not modified).
        keep_fp32: node names to keep in float32 (e.g. the FP16 analysis' flagged layers).

    Returns:
        The converted ModelProto (checked with onnx.checker).
    """
    onnx = require("onnx", "FP16 conversion")
    from onnx import TensorProto, helper, numpy_helper

    fp32, fp16 = TensorProto.FLOAT, TensorProto.FLOAT16
    src = model
    model = onnx.ModelProto()
    model.CopyFrom(src)
    keep = set(keep_fp32)
    types = _elem_types(model)
    inits = {t.name: t for t in model.graph.initializer}
    precision: dict[str, int] = {i.name: fp32 for i in model.graph.input}  # float tensor -> type it is stored in
    casts: dict[tuple[str, int], str] = {}
    half_inits: dict[str, str] = {}
    new_nodes = []

    def cast(name: str, to: int) -> str:
        key = (name, to)
        if key not in casts:
            out = f"{name}__to_{'fp16' if to == fp16 else 'fp32'}"
            new_nodes.append(helper.make_node("Cast", [name], [out], name=f"{out}_Cast", to=to))
            casts[key] = out
        return casts[key]

    for node in model.graph.node:
        p = fp32 if node.name in keep else fp16
        for idx, name in enumerate(node.input):
            if not name or types.get(name) != fp32 or (node.op_type, idx) in FLOAT32_INPUTS:
                continue
            if name in inits:
                if p == fp16:
                    if name not in half_inits:
                        with np.errstate(over="ignore"):  # out-of-range weights become inf: that is what FP16 does
                            half16 = numpy_helper.to_array(inits[name]).astype(np.float16)
                        half = numpy_helper.from_array(half16, name + "__fp16")
                        model.graph.initializer.append(half)
                        half_inits[name] = half.name
                    node.input[idx] = half_inits[name]
            elif precision.get(name, fp32) != p:
                node.input[idx] = cast(name, p)
        if p == fp16:
            _retype_node(node, fp32, fp16)
        for out in node.output:
            if types.get(out) == fp32:
                precision[out] = p
        new_nodes.append(node)
    _finish_outputs(model, precision, new_nodes, fp16)
    used = {i for n in new_nodes for i in n.input}
    kept_inits = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept_inits)
    del model.graph.node[:]
    model.graph.node.extend(new_nodes)
    del model.graph.value_info[:]
    onnx.checker.check_model(model)
    return model


def _retype_node(node: Any, fp32: int, fp16: int) -> None:
    """Float32-typed attributes of a node that now runs in float16 (Cast targets, Constant values)."""
    from onnx import numpy_helper

    for a in node.attribute:
        if node.op_type == "Cast" and a.name == "to" and a.i == fp32:
            a.i = fp16
        elif node.op_type in ("Constant", "ConstantOfShape") and a.name == "value" and a.t.data_type == fp32:
            arr = numpy_helper.to_array(a.t).astype(np.float16)
            a.t.CopyFrom(numpy_helper.from_array(arr, a.t.name))


def _finish_outputs(model: Any, precision: dict[str, int], nodes: list, fp16: int) -> None:
    """Graph outputs made in float16 get a Cast back to float32 under their original name."""
    from onnx import TensorProto, helper

    for out in model.graph.output:
        if precision.get(out.name) != fp16:
            continue
        inner = out.name + "__fp16"
        for n in nodes:
            for i, o in enumerate(n.output):
                if o == out.name:
                    n.output[i] = inner
            for i, o in enumerate(n.input):
                if o == out.name:
                    n.input[i] = inner
        nodes.append(helper.make_node("Cast", [inner], [out.name], name=f"{out.name}_to_fp32_Cast", to=TensorProto.FLOAT))
