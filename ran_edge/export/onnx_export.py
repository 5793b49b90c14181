"""RAN → ONNX: export, simplify, check, write atomically with its sidecar (docs/architecture.md §1-3).

**Default opset 17.** TensorRT 8.6 (JetPack 6.0) parses opsets up to 17 and TensorRT 10.x opsets 9–20
(onnx-tensorrt docs/operators.md of each release), so 17 is the highest opset every supported TensorRT
reads; nothing in RAN needs a newer op. Opsets 13–20 are accepted (13 is the first with the
per-axis QuantizeLinear that explicit INT8 uses).

**Exporter.** The TorchScript-based ``torch.onnx.export(..., dynamo=False)`` writes exactly the asked
opset. The torch.export-based exporter (torch's default since 2.9) emits opset ≥ 18 only and its
down-conversion to 17 fails on RAN's ``ReduceSum`` (axes moved from attribute to input in opset 13/18),
measured with torch 2.14.1 + onnxscript 0.7.2. The legacy exporter is deprecated in torch but present in
2.14; when it is removed, export at opset 18+ (TensorRT 10.x only) with ``dynamo=True``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from ran_edge._lazy import require
from ran_edge.artifact import (ArtifactMeta, InputKind, RegionPath, meta_for_model_config, sha256_file, sidecar_path,
                               write_json_atomic)
from ran_edge.errors import RanEdgeError
from ran_edge.outputs import ResultSet
from ran_edge.export.io import GraphIO, OUTPUT_NAMES, example_inputs, export_module, graph_io

DEFAULT_OPSET = 17
MIN_OPSET, MAX_OPSET = 13, 20


@dataclass(frozen=True)
class ExportResult:
    """An exported artifact: its path, its sidecar metadata, and the export report
    (parity, node counts, simplification outcome, TensorRT lint findings, warnings)."""

    path: Path
    meta: ArtifactMeta
    report: Mapping[str, Any]


def structure_extra(per_region: bool) -> dict[str, Any]:
    """Sidecar ``extra`` keys of a per-region export (not a shipping artifact: a peer for benchmarks)."""
    return {"structure": RegionPath.PER_REGION.value, "note": "bench variant, not a shipping artifact"} if per_region else {}


#: the former staging helper, now the package's one output mechanism (:class:`ran_edge.outputs.ResultSet`)
StagedFiles = ResultSet


def _torch_to_onnx(module: Any, example: Any, path: Path, io: GraphIO, opset: int) -> list[str]:
    torch = require("torch", "ONNX export")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.onnx.export(module, (example,), str(path), dynamo=False, opset_version=opset,
                          input_names=[io.input_name], output_names=list(OUTPUT_NAMES),
                          dynamic_axes=io.dynamic_axes() or None, do_constant_folding=True)
    return sorted({str(w.message).splitlines()[0][:200] for w in caught if "legacy TorchScript" not in str(w.message)
                   and "will be removed" not in str(w.message)})


def _pin_io_shapes(model: Any, io: GraphIO) -> Any:
    """Write the contract's I/O shapes into the graph (the exporter leaves some output dims symbolic,
    e.g. ``region_weights`` dim 1 as ``Divregion_weights_dim_1``); the parity check then runs on it."""
    for value, spec in zip(list(model.graph.input) + list(model.graph.output), io.inputs + io.outputs):
        dims = value.type.tensor_type.shape.dim
        if len(dims) != len(spec.shape):
            continue  # left for check_structure to report
        for d, size in zip(dims, spec.shape):
            if size == -1:
                name = d.dim_param or io.dynamic_axes()[spec.name][0]
                d.Clear()
                d.dim_param = name
            else:
                d.Clear()
                d.dim_value = size
    return model


def _check_opset(opset: int) -> None:
    if not MIN_OPSET <= int(opset) <= MAX_OPSET:
        raise RanEdgeError(f"--opset {opset} is not supported; expected {MIN_OPSET}..{MAX_OPSET} "
                           f"(TensorRT 8.6 reads <= 17, TensorRT 10.x <= 20; default {DEFAULT_OPSET})")


def export_onnx(model: Any, out: str | Path, *, input_kind: InputKind = InputKind.FACES, opset: int = DEFAULT_OPSET,
                batch: int | None = None, simplify: bool = True, check: bool = True,
                checkpoint_path: str | Path | None = None, per_region: bool = False,
                log: Callable[[str], None] = print) -> ExportResult:
    """Export a RAN to ONNX with named I/O, simplify and verify it, and write ``out`` + ``out.json``.

    Args:
        model: a :class:`ran_edge.model.RAN` (put in eval mode for the export, restored afterwards).
        out: path of the ``.onnx`` file; the sidecar goes to ``<out>.json``.
        input_kind: ``faces`` (region batch made in graph) or ``regions`` (the fused-kernel input).
        opset: ONNX opset (default 17, see the module docstring).
        batch: fixed batch size, or ``None`` for a dynamic batch axis.
        simplify: run onnx-simplifier (its result is verified; a failed check keeps the original graph).
        check: run structure, parity (ONNX Runtime vs torch, 32 samples) and TensorRT-lint checks;
            structure or parity failures abort the export.
        checkpoint_path: the source checkpoint, whose sha256 goes into the sidecar.
        per_region: export the per-region structure (one trunk call per region; ``faces`` input, sidecar
            ``extra.structure = "per-region"``), a benchmark peer rather than a shipping artifact.
        log: where progress and warnings go.

    Raises:
        RanEdgeError: bad option, or a check failed (nothing is written then).
    """
    onnx = require("onnx", "ONNX export")
    torch = require("torch", "ONNX export")
    _check_opset(opset)
    kind, out = InputKind(input_kind), Path(out)
    io = graph_io(model.config, kind, batch)
    was_training = model.training
    model.eval()
    report: dict[str, Any] = {"opset": opset, "input_kind": kind.value}
    try:
        with StagedFiles() as staged:
            raw = staged.temp_for(out.with_name(out.name + ".raw"), commit=False)
            module = export_module(model, kind, per_region)
            original, kept, simp = _export_graph(model, module, kind, io, opset, batch, simplify, raw, report, log)
            if check:
                kept, simp, report["checks"] = _checked(kept, original, simp, model, io, opset, log)
            report["simplify"] = simp.to_dict()
            tmp = staged.temp_for(out)
            onnx.save(kept, str(tmp))
            extra = {**structure_extra(per_region), "opset": opset, "nodes_before_simplify": simp.nodes_before, "nodes_after_simplify": simp.nodes_after,
                     "simplified": simp.simplified, "simplify_note": simp.reason, "onnx_sha256": sha256_file(tmp),
                     "checkpoint_sha256": sha256_file(checkpoint_path) if checkpoint_path else None,
                     "checkpoint_file": str(Path(checkpoint_path).resolve()) if checkpoint_path else None,
                     "training_data": getattr(model, "training_data", None),
                     "exporter": f"torch {torch.__version__} torch.onnx (TorchScript-based)", "checked": bool(check)}
            if check:
                extra.update(parity=report["checks"]["parity"], trt_lint=report["checks"]["trt_lint"])
            meta = meta_for_model_config(model.config, "onnx", kind, io.inputs, io.outputs, **extra)
            write_json_atomic(staged.temp_for(sidecar_path(out)), meta.to_dict())
            staged.commit()
    finally:
        model.train(was_training)
    log(f"wrote {out} ({simp.nodes_before} -> {simp.nodes_after} nodes{'' if simp.simplified else ', NOT simplified'})")
    return ExportResult(out, meta, report)


def _export_graph(model: Any, module: Any, kind: InputKind, io: GraphIO, opset: int, batch: int | None, simplify: bool, raw: Path,
                  report: dict[str, Any], log: Callable[[str], None]) -> tuple[Any, Any, Any]:
    """torch → ONNX (I/O shapes pinned, structure checked) → onnxsim (verified).

    Returns ``(original graph, graph to keep, SimplifyReport)``; the original is the fallback when the
    simplified graph fails parity.
    """
    onnx = require("onnx", "ONNX export")
    torch = require("torch", "ONNX export")
    from ran_edge.export.checks import check_structure
    from ran_edge.export.simplify import SimplifyReport, simplify_onnx

    n_example = 2 if batch is None else batch
    example = torch.from_numpy(example_inputs(model.config, kind, n_example))
    log(f"exporting ONNX (opset {opset}, input {kind.value}, batch {'dynamic' if batch is None else batch})")
    report["warnings"] = _torch_to_onnx(module, example, raw, io, opset)
    original = _pin_io_shapes(onnx.load(str(raw)), io)
    check_structure(original, io, opset).raise_if_failed("exported graph")
    if not simplify:
        n = len(original.graph.node)
        return original, original, SimplifyReport(n, n, False, "not asked")
    k = 1 if kind is InputKind.FACES else model.config.preset.num_regions
    test_shapes = {io.input_name: [n_example * k, *io.inputs[0].shape[1:]]}
    copy = onnx.ModelProto()
    copy.CopyFrom(original)
    kept, simp = simplify_onnx(copy, log, test_shapes)
    return original, kept, simp


def _checked(kept: Any, original: Any, simp: Any, model: Any, io: GraphIO, opset: int,
             log: Callable[[str], None]) -> tuple[Any, Any, dict[str, Any]]:
    """Run the checks on the graph to ship; if the simplified one fails parity, fall back to the original."""
    from ran_edge.export.checks import check_onnx_model
    from ran_edge.export.simplify import SimplifyReport

    result = check_onnx_model(kept, model, io, opset, log=log)
    if not result.ok and simp.simplified:
        log(f"WARNING: the SIMPLIFIED graph failed our checks ({result.summary()}); trying the unsimplified graph")
        reason = f"simplified graph failed parity: {result.summary()}"
        kept, simp = original, SimplifyReport(simp.nodes_before, simp.nodes_before, False, reason)
        result = check_onnx_model(kept, model, io, opset, log=log)
    result.raise_if_failed("exported ONNX")
    return kept, simp, result.to_dict()
