"""TensorRT-compatibility lint: a pure function over an ``onnx.ModelProto`` → findings.

``lint_tensorrt(model, versions=("8.6", "10.0"))`` checks every node (op type, and the attributes the
parser restricts: Resize modes, GridSample mode/rank, Q/DQ zero points and types, constant axes, pooling
rank and dilations, Pad mode, ...) and the opset against :mod:`ran_edge.export.trt_table`. Each finding
names the node, the TensorRT version it fails for, and the version that would be needed (if any).
``build-engine --dry-run`` calls it for the version it targets, before any engine build. Reads nothing
but the proto (no onnx import needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from ran_edge.export.trt_table import (
    CONSTANT_AXES,
    NEVER_SUPPORTED,
    RESIZE_COORD_MODES,
    RESIZE_MODES,
    RESIZE_NEAREST_MODES,
    SUPPORTED_SINCE,
    Version,
    fmt_version,
    max_opset,
    parse_version,
)

DEFAULT_TRT_VERSIONS: tuple[str, ...] = ("8.6", "10.0")
#: onnx TensorProto data types (numbers, to stay onnx-free): UINT8 = 2, INT8 = 3.
_UINT8, _INT8 = 2, 3


@dataclass(frozen=True)
class LintFinding:
    """One node (or the graph, ``node == ""``) the TensorRT ``trt_version`` parser would reject."""

    node: str
    op_type: str
    trt_version: str
    message: str
    needs: str | None = None  # a TensorRT version that would accept it, or None if none does

    check = "trt-lint"

    def __str__(self) -> str:
        where = f"node '{self.node}' ({self.op_type})" if self.node else "graph"
        fix = f"; needs TensorRT >= {self.needs}" if self.needs else "; no TensorRT version in scope supports it"
        return f"TensorRT {self.trt_version}: {where}: {self.message}{fix}"

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "op_type": self.op_type, "trt_version": self.trt_version,
                "message": self.message, "needs": self.needs}


def _attr(node: Any, name: str, default: Any = None) -> Any:
    for a in node.attribute:
        if a.name == name:
            if a.type == 3:  # STRING
                return a.s.decode()
            if a.type == 2:  # INT
                return a.i
            if a.type == 7:  # INTS
                return list(a.ints)
            if a.type == 1:  # FLOAT
                return a.f
    return default


def _constants(model: Any) -> dict[str, Any]:
    """Names of build-time constants: initializers and Constant outputs (name → TensorProto)."""
    consts = {t.name: t for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    consts[n.output[0]] = a.t
            consts.setdefault(n.output[0], None)
    return consts


def _ranks(model: Any) -> dict[str, int]:
    ranks = {}
    for vi in list(model.graph.input) + list(model.graph.value_info) + list(model.graph.output):
        if vi.type.tensor_type.HasField("shape"):
            ranks[vi.name] = len(vi.type.tensor_type.shape.dim)
    return ranks


def _is_zero(t: Any) -> bool:
    if t is None:
        return False
    if t.raw_data:
        return not any(t.raw_data)
    return not any(t.int32_data) and not any(getattr(t, "int64_data", []))


Problem = tuple[str, "Version | None", "Version | None"]


def _node_problems(node: Any, opset: int, consts: dict[str, Any], ranks: dict[str, int]) -> list[Problem]:
    """``(message, first version accepting it or None, last version rejecting it or None=all)`` per problem."""
    op, out = node.op_type, []
    if op == "Resize":
        mode = _attr(node, "mode", "nearest")
        ctm = _attr(node, "coordinate_transformation_mode", "half_pixel")
        if mode not in RESIZE_MODES:
            out.append((f"Resize mode '{mode}' is not supported (only nearest, linear)", None, None))
        if ctm not in RESIZE_COORD_MODES:
            out.append((f"Resize coordinate_transformation_mode '{ctm}' is not supported", None, None))
        if mode == "nearest" and _attr(node, "nearest_mode", "round_prefer_floor") not in RESIZE_NEAREST_MODES:
            out.append((f"Resize nearest_mode '{_attr(node, 'nearest_mode')}' is not supported", None, None))
        if _attr(node, "antialias", 0):
            out.append(("Resize antialias=1 is not supported", None, None))
        if _attr(node, "keep_aspect_ratio_policy", "stretch") != "stretch":
            out.append(("Resize keep_aspect_ratio_policy other than 'stretch' is not supported", None, None))
    elif op == "GridSample":
        mode = _attr(node, "mode", "linear" if opset >= 20 else "bilinear")
        if opset >= 20 and mode in ("linear", "cubic"):
            out.append((f"GridSample-20 mode '{mode}' is silently imported as 'nearest' (onnx-tensorrt PR #1060); "
                        "export at opset <= 19 (mode 'bilinear')", None, None))
        if ranks.get(node.input[0], 4) != 4:
            out.append((f"GridSample input must be 4-D, got rank {ranks[node.input[0]]}", None, None))
    elif op in ("QuantizeLinear", "DequantizeLinear"):
        zp = node.input[2] if len(node.input) > 2 and node.input[2] else ""
        t = consts.get(zp) if zp else None
        if zp and not _is_zero(t):
            out.append(("zero point must be a constant 0 (symmetric quantization)", None, None))
        if t is not None and t.data_type == _UINT8:
            out.append(("UINT8 quantization is not supported (INT8 only; UINT8 only as network I/O)", None, None))
    elif op in ("MaxPool", "AveragePool", "LpPool"):
        k = _attr(node, "kernel_shape", [])
        if len(k) not in (2, 3):
            out.append((f"{op} must be 2-D or 3-D, got {len(k)}-D", None, None))
        if any(d != 1 for d in _attr(node, "dilations", [])):
            out.append((f"{op} dilations must be all ones", None, None))
        if op == "MaxPool" and len(node.output) > 1 and node.output[1]:
            out.append(("MaxPool Indices output is not supported", None, None))
    elif op == "Pad" and _attr(node, "mode", "constant") == "wrap":
        out.append(("Pad mode 'wrap'", (10, 0), None))
    elif op == "ScatterElements" and _attr(node, "reduction", "none") != "none":
        out.append(("ScatterElements reduction", (10, 0), None))
    elif op == "Dropout" and len(node.input) > 2 and node.input[2] and node.input[2] not in consts:
        out.append(("Dropout training_mode must be a constant False", None, None))
    if op in CONSTANT_AXES:
        index = 3 if op == "Slice" else 1  # Slice(data, starts, ends, axes, steps); others (data, axes)
        axes_input = node.input[index] if len(node.input) > index else ""
        if axes_input and axes_input not in consts:
            out.append((f"{op} axes must be a build-time constant", CONSTANT_AXES[op], None))
    return out


def lint_tensorrt(model: Any, versions: Sequence[str | Version] = DEFAULT_TRT_VERSIONS) -> list[LintFinding]:
    """Check ``model`` (an ``onnx.ModelProto``) against the TensorRT ONNX parser of each version.

    Args:
        model: the graph (not modified, nothing else read).
        versions: TensorRT versions to check, e.g. ``("8.6", "10.0")``.

    Returns:
        Findings, one per (node, problem, version); empty when every version would parse the graph.
    """
    targets = [parse_version(v) for v in versions]
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    consts, ranks = _constants(model), _ranks(model)
    found: list[LintFinding] = []
    for v in targets:
        if opset > max_opset(v):
            need = next((k for k in ((10, 0), (10, 15)) if max_opset(k) >= opset), None)
            found.append(LintFinding("", "", fmt_version(v), f"opset {opset} is above the {max_opset(v)} this parser reads",
                                     fmt_version(need) if need else None))
    for node in model.graph.node:
        found.extend(_lint_node(node, opset, consts, ranks, targets))
    return found


def _lint_node(node: Any, opset: int, consts: dict[str, Any], ranks: dict[str, int],
               targets: Iterable[Version]) -> list[LintFinding]:
    op = node.op_type
    name = node.name or (node.output[0] if node.output else "?")
    out: list[LintFinding] = []
    if node.domain not in ("", "ai.onnx"):
        return [LintFinding(name, op, fmt_version(v), f"custom-domain op ({node.domain}) needs a TensorRT plugin", None)
                for v in targets]
    since = SUPPORTED_SINCE.get(op)
    for v in targets:
        if op in NEVER_SUPPORTED or since is None:
            out.append(LintFinding(name, op, fmt_version(v), "op is not supported by the TensorRT ONNX parser", None))
            continue
        if since > v:
            out.append(LintFinding(name, op, fmt_version(v), "op is not supported by this parser", fmt_version(since)))
            continue
        for msg, fixed_in, _ in _node_problems(node, opset, consts, ranks):
            if fixed_in is None or fixed_in > v:
                out.append(LintFinding(name, op, fmt_version(v), msg, fmt_version(fixed_in) if fixed_in else None))
    return out


def summarize(findings: Sequence[LintFinding], examples: int = 3) -> list[str]:
    """One line per distinct (version, op, problem), with a count and up to ``examples`` node names."""
    groups: dict[tuple[str, str, str, str | None], list[str]] = {}
    for f in findings:
        groups.setdefault((f.trt_version, f.op_type, f.message, f.needs), []).append(f.node or "graph")
    lines = []
    for (version, op, msg, needs), nodes in groups.items():
        fix = f"needs TensorRT >= {needs}" if needs else "no TensorRT version in scope supports it"
        names = ", ".join(nodes[:examples]) + (f", ... ({len(nodes)} nodes)" if len(nodes) > examples else "")
        lines.append(f"TensorRT {version}: {op or 'graph'}: {msg} [{names}]; {fix}")
    return lines
