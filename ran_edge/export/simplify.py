"""onnx-simplifier, wrapped so that its result is verified and a failure is reported, never shipped.

``simplify_onnx(model) -> (model, SimplifyReport)``: onnxsim's own check (random inputs through ONNX
Runtime, original vs simplified, at batch 2 so the dynamic axis is exercised) must pass; otherwise the
*unsimplified* graph is returned and the report says why. Our own parity check against torch runs
afterwards on whichever graph is kept (:mod:`ran_edge.export.checks`).
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from ran_edge._lazy import require

#: onnxsim's check: this many random feeds, compared at its default rtol 1e-4 / atol 1e-5.
SIMPLIFY_CHECK_N = 3


@dataclass(frozen=True)
class SimplifyReport:
    """What simplification did: node counts, whether the simplified graph is kept, and why not."""

    nodes_before: int
    nodes_after: int
    simplified: bool
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"nodes_before": self.nodes_before, "nodes_after": self.nodes_after,
                "simplified": self.simplified, "reason": self.reason}


def _test_shapes(model: Any) -> dict[str, list[int]]:
    """Concrete shapes for onnxsim's check: dynamic axes set to 2 (batch) so batching is exercised."""
    shapes = {}
    for inp in model.graph.input:
        dims = inp.type.tensor_type.shape.dim
        shapes[inp.name] = [d.dim_value if d.dim_value > 0 else 2 for d in dims]
    return shapes


def simplify_onnx(model: Any, log: Callable[[str], None] = print,
                  test_shapes: Mapping[str, Sequence[int]] | None = None) -> tuple[Any, SimplifyReport]:
    """Simplify an ``onnx.ModelProto`` with onnxsim and verify the result.

    Returns ``(model_to_keep, report)``. On a failed check or an onnxsim exception the original model is
    returned with ``report.simplified == False`` and the reason, and a loud warning is logged.
    ``test_shapes`` gives concrete input shapes for onnxsim's check (default: dynamic axes = 2); a
    ``regions`` graph needs a multiple of K there.
    """
    onnxsim = require("onnxsim", "ONNX simplification")
    before = len(model.graph.node)
    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter):
            simplified, ok = onnxsim.simplify(model, check_n=SIMPLIFY_CHECK_N, initializers_as_constants=False,
                                              test_input_shapes=dict(test_shapes or _test_shapes(model)))
    except Exception as exc:  # onnxsim raises many types (RuntimeError, onnx checker, ORT errors)
        ok, simplified = False, None
        reason = f"onnxsim raised {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    else:
        reason = "" if ok else "onnxsim's own check failed (simplified graph differs from the original)"
    if not ok or simplified is None:
        log(f"WARNING: simplification FAILED, keeping the UNSIMPLIFIED graph: {reason}")
        return model, SimplifyReport(before, before, False, reason)
    simplified = constants_to_initializers(simplified)
    return simplified, SimplifyReport(before, len(simplified.graph.node), True)


def constants_to_initializers(model: Any) -> Any:
    """Move tensor-valued ``Constant`` nodes of the main graph into initializers (in place; returns the model).

    The exporter emits RAN's crop matrices (non-persistent buffers) as Constant nodes; as initializers
    they are weights to every tool downstream (ONNX Runtime's quantizer, the FP16 converter, TensorRT
    refit), and the node count reflects real work.
    """
    keep = []
    for node in model.graph.node:
        value = next((a.t for a in node.attribute if a.name == "value" and a.type == 4), None)  # 4 = TENSOR
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and value is not None:
            value.name = node.output[0]
            model.graph.initializer.append(value)
        else:
            keep.append(node)
    del model.graph.node[:]
    model.graph.node.extend(keep)
    return model
