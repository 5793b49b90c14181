"""Checks run after every export and by ``ran-edge inspect --check``.

* :func:`check_structure` — no Dropout or training-only ops, the expected I/O names and dynamic axes,
  every op defined in the graph's opset, onnx.checker passes.
* :func:`parity_onnx` / :func:`parity_torchscript` — ONNX Runtime (or TorchScript) vs torch eager on
  ``PARITY_SAMPLES`` inputs made by the one preprocessing; ``max |Δ|`` of logits and region_weights
  must be ``<= PARITY_ATOL`` (fp32).
* :func:`ran_edge.export.trt_lint.lint_tensorrt` — TensorRT ONNX-parser compatibility per version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ran_edge._lazy import require
from ran_edge.artifact import InputKind, read_sidecar
from ran_edge.errors import RanEdgeError
from ran_edge.export.findings import CheckResult, Finding, Severity, result_of
from ran_edge.export.io import OUTPUT_NAMES, GraphIO, example_inputs
from ran_edge.metrics import top1_agreement

PARITY_SAMPLES = 32
PARITY_ATOL = 1e-4
#: float32 rounding grows with magnitude: |Δ| <= PARITY_ATOL + PARITY_RTOL * |reference| (1e-6 ≈ 8 ulps), so
#: ordinary logits (|x| < 10) are held to ~1e-4 and a model with huge logits is not failed for fp32 rounding.
PARITY_RTOL = 1e-6
#: Ops that only make sense in training graphs.
TRAINING_OPS = frozenset({"Dropout", "Gradient", "Momentum", "Adagrad", "Adam", "SoftmaxCrossEntropyLoss",
                          "NegativeLogLikelihoodLoss", "RandomNormal", "RandomUniform", "RandomNormalLike",
                          "RandomUniformLike", "Bernoulli", "Multinomial"})


def _dims(value_info: Any) -> list[int | str]:
    return [(d.dim_param or d.dim_value) if (d.dim_param or d.dim_value) else "?"
            for d in value_info.type.tensor_type.shape.dim]


def _check_io(model: Any, io: GraphIO) -> list[Finding]:
    found: list[Finding] = []
    for kind, actual, expected in (("input", model.graph.input, io.inputs), ("output", model.graph.output, io.outputs)):
        names = [v.name for v in actual]
        if names != [t.name for t in expected]:
            found.append(Finding("structure", Severity.ERROR, f"graph {kind}s are {names}, expected {[t.name for t in expected]}"))
            continue
        for v, spec in zip(actual, expected):
            dims = _dims(v)
            want = [("dynamic" if s == -1 else s) for s in spec.shape]
            got = [("dynamic" if isinstance(d, str) else d) for d in dims]
            if got != want:
                msg = f"{kind} '{v.name}' has shape {dims}, expected {list(spec.shape)} (-1 = dynamic)"
                found.append(Finding("structure", Severity.ERROR, msg))
    return found


def check_structure(model: Any, io: GraphIO | None, opset: int | None = None) -> CheckResult:
    """Structural checks on an ``onnx.ModelProto`` (pure: reads nothing else).

    Args:
        model: the graph.
        io: expected inputs/outputs (None skips the I/O check).
        opset: the opset the graph must stay within (default: the graph's own default-domain opset).
    """
    onnx = require("onnx", "ONNX checks")
    found: list[Finding] = []
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx.checker.ValidationError and friends
        found.append(Finding("structure", Severity.ERROR, f"onnx.checker: {str(exc).strip().splitlines()[0]}"))
    graph_opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    opset = opset or graph_opset
    if opset is not None and graph_opset is not None and graph_opset > opset:
        found.append(Finding("structure", Severity.ERROR, f"graph declares opset {graph_opset}, expected <= {opset}"))
    for node in model.graph.node:
        if node.op_type in TRAINING_OPS:
            found.append(Finding("structure", Severity.ERROR, "training-only op in an inference graph", node.name, node.op_type))
        if node.op_type == "BatchNormalization" and any(a.name == "training_mode" and a.i for a in node.attribute):
            found.append(Finding("structure", Severity.ERROR, "BatchNormalization in training mode", node.name, node.op_type))
        if node.domain in ("", "ai.onnx") and opset is not None:
            try:
                onnx.defs.get_schema(node.op_type, opset, "")
            except Exception:
                found.append(Finding("structure", Severity.ERROR, f"op is not defined in opset {opset}", node.name, node.op_type))
        elif node.domain not in ("", "ai.onnx"):
            msg = f"custom-domain op ({node.domain}) outside the standard opset"
            found.append(Finding("structure", Severity.ERROR, msg, node.name, node.op_type))
    if io is not None:
        found.extend(_check_io(model, io))
    return result_of(found, opset=opset, node_count=len(model.graph.node))


def _chunks(io: GraphIO, n: int) -> list[slice]:
    """Face-index chunks: the graph's fixed batch, or 8 (exercising the dynamic axis, with a ragged tail)."""
    fixed = io.outputs[0].shape[0]
    step = fixed if fixed > 0 else 8
    if fixed > 0 and n % fixed:
        n = n - n % fixed or fixed
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _rows(io: GraphIO, sl: slice, k: int) -> slice:
    return sl if io.input_kind is InputKind.FACES else slice(sl.start * k, sl.stop * k)


def _compare(name: str, outputs: dict[str, np.ndarray], reference: dict[str, np.ndarray], atol: float) -> CheckResult:
    figures: dict[str, Any] = {}
    found = []
    for out in OUTPUT_NAMES:
        a, b = outputs[out], reference[out]
        if a.shape != b.shape:
            found.append(Finding("parity", Severity.ERROR, f"{name} output '{out}' has shape {a.shape}, torch gives {b.shape}"))
            continue
        delta = np.abs(a.astype(np.float64) - b)
        diff = float(np.max(delta)) if a.size else 0.0
        excess = float(np.max(delta - PARITY_RTOL * np.abs(b))) if a.size else 0.0
        figures[f"max_abs_diff_{out}"] = diff
        if not np.isfinite(diff) or excess > atol:
            msg = f"{name} vs torch eager: max |Δ{out}| = {diff:.3g} > {atol:g} (+{PARITY_RTOL:g}·|x|)"
            found.append(Finding("parity", Severity.ERROR, msg))
    figures["top1_agreement"] = top1_agreement(outputs["logits"], reference["logits"])
    return result_of(found, parity={"backend": name, "samples": int(reference["logits"].shape[0]), "atol": atol, **figures})


def _reference(torch_model: Any, io: GraphIO, x: np.ndarray, chunks: Sequence[slice]) -> dict[str, np.ndarray]:
    torch = require("torch", "parity checks")
    from ran_edge.export.io import export_module

    module = export_module(torch_model, io.input_kind).eval()
    k = torch_model.config.preset.num_regions
    outs: list[tuple[Any, Any]] = []
    with torch.no_grad():
        for sl in chunks:
            outs.append(module(torch.from_numpy(x[_rows(io, sl, k)])))
    return {name: np.concatenate([o[i].numpy() for o in outs]) for i, name in enumerate(OUTPUT_NAMES)}


def parity_onnx(model: Any, torch_model: Any, io: GraphIO, samples: int = PARITY_SAMPLES,
                atol: float = PARITY_ATOL) -> CheckResult:
    """ONNX Runtime (CPU) vs torch eager on ``samples`` preprocessed inputs; both outputs compared."""
    x = example_inputs(torch_model.config, io.input_kind, samples, seed=1)
    chunks = _chunks(io, samples)
    from ran_edge.runtime.ort_runner import cpu_runner

    k = torch_model.config.preset.num_regions
    with cpu_runner(model) as runner:
        got = [runner.infer({io.input_name: x[_rows(io, sl, k)]}, check=False) for sl in chunks]
    outputs = {name: np.concatenate([g[name] for g in got]) for name in OUTPUT_NAMES}
    return _compare("onnxruntime", outputs, _reference(torch_model, io, x, chunks), atol)


def parity_torchscript(ts_module: Any, torch_model: Any, io: GraphIO, samples: int = PARITY_SAMPLES,
                       atol: float = PARITY_ATOL) -> CheckResult:
    """TorchScript vs torch eager, at batch sizes other than the traced one (8 and a ragged tail)."""
    torch = require("torch", "parity checks")
    x = example_inputs(torch_model.config, io.input_kind, samples, seed=1)
    chunks = [slice(0, 8), slice(8, 13), slice(13, samples)] if io.outputs[0].shape[0] < 0 else _chunks(io, samples)
    k = torch_model.config.preset.num_regions
    with torch.no_grad():
        got = [ts_module(torch.from_numpy(x[_rows(io, sl, k)])) for sl in chunks]
    outputs = {name: np.concatenate([g[i].numpy() for g in got]) for i, name in enumerate(OUTPUT_NAMES)}
    return _compare("torchscript", outputs, _reference(torch_model, io, x, chunks), atol)


def check_onnx_model(model: Any, torch_model: Any | None, io: GraphIO, opset: int | None = None,
                     samples: int = PARITY_SAMPLES, log: Callable[[str], None] = print) -> CheckResult:
    """Structure + TensorRT lint (+ parity when ``torch_model`` is given) on one ModelProto.

    TensorRT lint findings are recorded (as warnings here: the graph is still a valid ONNX for ONNX
    Runtime); ``build-engine`` treats them as errors for the TensorRT version it targets.
    """
    from ran_edge.export.trt_lint import lint_tensorrt

    result = check_structure(model, io, opset)
    lint = lint_tensorrt(model)
    result = result.merged(result_of([Finding(f.check, Severity.WARNING, f.message, f.node, f.op_type) for f in lint],
                                     trt_lint=[str(f) for f in lint]))
    if torch_model is not None:
        result = result.merged(parity_onnx(model, torch_model, io, samples))
        p = result.figures["parity"]
        log(f"parity vs torch ({p['samples']} samples): max |Δlogits| {p.get('max_abs_diff_logits', float('nan')):.2e}, "
            f"max |Δregion_weights| {p.get('max_abs_diff_region_weights', float('nan')):.2e}")
    for f in result.findings:
        log(("ERROR: " if f.severity is Severity.ERROR else "warning: ") + str(f))
    return result


def check_onnx_file(path: str | Path, torch_model: Any | None = None, samples: int = PARITY_SAMPLES,
                    log: Callable[[str], None] = print) -> CheckResult:
    """Checks for an ONNX file on disk, with its sidecar giving the expected I/O (``inspect --check``).

    Parity runs only when the torch model (from the checkpoint) is given.
    """
    onnx = require("onnx", "ONNX checks")
    path = Path(path)
    try:
        model = onnx.load(str(path))
    except Exception as exc:
        raise RanEdgeError(f"{path}: not a readable ONNX model ({type(exc).__name__}); expected an .onnx file") from exc
    from ran_edge.artifact_check import validate_artifact

    meta = validate_artifact(path)  # the one artifact validation, as runtime.load, export-triton, serve and bench
    io = GraphIO(meta.input_kind, meta.inputs, meta.outputs)
    return check_onnx_model(model, torch_model, io, None, samples, log)
