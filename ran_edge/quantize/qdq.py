"""Explicitly quantized (QDQ) INT8 ONNX with onnxruntime.quantization, in two flavours from one calibration.

* ``QuantTarget.TENSORRT`` — S8S8: symmetric int8 activations (zero point 0) and per-channel symmetric
  int8 weights, float weights behind a Q/DQ pair (the layout of NVIDIA's QAT exports, which TensorRT's
  explicit-quantization path folds), biases left float (TensorRT 8.6's parser takes INT8 DequantizeLinear
  only, not an int32 bias). On ONNX Runtime CPU this flavour is *slower* than FP32; it is for TensorRT.
* ``QuantTarget.CPU`` — U8S8: asymmetric uint8 activations and per-channel int8 weights stored as int8,
  int32 biases, which ONNX Runtime fuses into QLinearConv/MatMulInteger kernels (the fast CPU/ARM path).
  TensorRT rejects UINT8 Q/DQ; the sidecar says which flavour a file is.

What stays FP32 (:class:`Fp32Scope`) is decided by measurement (``benchmarks``/report): the in-graph crop
MatMuls always (they resample the input image; quantizing them quantizes the image), and by default the
attention head (sigmoid/softmax weights across regions and normalised sums, which are a small share of
the compute).
"""

from __future__ import annotations

import enum
import logging
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ran_edge._lazy import require
from ran_edge.artifact import ArtifactMeta, Precision, sha256_file, sidecar_path, write_json_atomic
from ran_edge.errors import RanEdgeError
from ran_edge.export.io import load_ran_onnx
from ran_edge.quantize.graph_parts import ensure_node_names, node_groups
from ran_edge.data.feeds import CalibrationReader
from ran_edge.quantize.ranges import CalibrationMethod, CalibrationStats, RangeSetting, collect_stats


class QuantTarget(str, enum.Enum):
    """Which runtime the INT8 file is for (see the module docstring)."""

    TENSORRT = "tensorrt"
    CPU = "cpu"


class Fp32Scope(str, enum.Enum):
    """Which graph parts stay FP32 (see :mod:`ran_edge.quantize.graph_parts`)."""

    NONE = "none"
    HEAD = "head"
    CROP = "crop"
    CROP_HEAD = "crop+head"

    def groups(self) -> tuple[str, ...]:
        return {"none": (), "head": ("head",), "crop": ("crop",), "crop+head": ("crop", "head")}[self.value]


DEFAULT_FP32_SCOPE = Fp32Scope.CROP_HEAD


@dataclass(frozen=True)
class QuantResult:
    """An INT8 artifact: path, its sidecar metadata, and a report (flavour, FP32 nodes, lint findings)."""

    path: Path
    meta: ArtifactMeta
    report: Mapping[str, Any]


def _flavour(target: QuantTarget, q: Any) -> tuple[Any, dict[str, Any], dict[str, str]]:
    if target is QuantTarget.TENSORRT:
        return q.QuantType.QInt8, {"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False,
                                   "AddQDQPairToWeight": True}, {"activations": "int8 symmetric", "weights": "int8 symmetric per-channel"}
    return q.QuantType.QUInt8, {"ActivationSymmetric": False, "WeightSymmetric": True}, \
        {"activations": "uint8 asymmetric", "weights": "int8 symmetric per-channel"}


def unquantize_inputs(model: Any, names: Sequence[str]) -> int:
    """Feed the nodes ``names`` the float tensors behind their input Q→DQ pairs, in place; returns the inputs rewired.

    ``quantize_static(nodes_to_exclude=...)`` leaves an excluded node's own output float, but its input keeps
    the Q/DQ pair its (quantized) producer put on the tensor, so the node still reads rounded, clipped
    values; in TensorRT a Q/DQ pair forces the tensor to INT8. A layer in higher precision must read the
    float tensor itself. Q/DQ nodes left without consumers are removed.
    """
    producer = {o: n for n in model.graph.node for o in n.output}
    wanted, rewired = set(names), 0
    for node in model.graph.node:
        if node.name not in wanted:
            continue
        for i, name in enumerate(node.input):
            dq = producer.get(name)
            q = producer.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
            if q is not None and q.op_type == "QuantizeLinear":
                node.input[i] = q.input[0]
                rewired += 1
    graph_outputs = {o.name for o in model.graph.output}
    while True:  # prune Q/DQ nodes nothing reads any more
        used = {i for n in model.graph.node for i in n.input} | graph_outputs
        dead = [n for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear") and not (set(n.output) & used)]
        if not dead:
            break
        for n in dead:
            model.graph.node.remove(n)
    return rewired


def quantize_int8(onnx_path: str | Path, out: str | Path, *, reader: CalibrationReader | None = None,
                  setting: RangeSetting | None = None, method: CalibrationMethod | str | None = None, per_channel: bool = True,
                  target: QuantTarget | str = QuantTarget.TENSORRT, keep_fp32: Fp32Scope | str = DEFAULT_FP32_SCOPE,
                  higher_precision: Sequence[str] = (), stats: CalibrationStats | None = None,
                  manifest_sha256: str | None = None, extra_meta: Mapping[str, Any] | None = None,
                  log: Callable[[str], None] = print) -> QuantResult:
    """Write ``out`` (QDQ INT8 ONNX) + ``out.json`` from an FP32 RAN ONNX.

    Args:
        onnx_path: FP32 ONNX from ``ran-edge export`` (its sidecar is required).
        out: INT8 ONNX to write (atomically, with its sidecar).
        reader: calibration feeds (iterable of ``{input: array}``); not needed when ``stats`` is given.
        setting: how ranges come from the calibration histograms (default: the stats' own setting).
        method: shorthand for ``setting=RangeSetting(method)`` (its default percentile).
        per_channel: per-output-channel weight scales (recommended; TensorRT supports them).
        target: ``tensorrt`` (S8S8) or ``cpu`` (U8S8).
        keep_fp32: which graph parts stay FP32.
        higher_precision: trunk nodes left unquantized (mixed precision, from :mod:`ran_edge.quantize.search`):
            they run FP32 in ONNX Runtime and in TensorRT (the QDQ path builds with the INT8 flag only, so
            layers without Q/DQ stay FP32), so the measured agreement is the agreement of what is built.
        stats: statistics from :func:`collect_stats` to reuse (both flavours from one calibration).
        manifest_sha256: sha256 of the calibration manifest, recorded in the sidecar.
        extra_meta: more sidecar keys (e.g. the measured agreement of the search).

    Raises:
        RanEdgeError: corrupt/non-RAN ONNX, no calibration data.
    """
    q = require("onnxruntime.quantization", "INT8 quantization")
    onnx = require("onnx", "INT8 quantization")
    from ran_edge.export.onnx_export import StagedFiles
    from ran_edge.export.trt_lint import lint_tensorrt, summarize

    target, keep_fp32 = QuantTarget(target), Fp32Scope(keep_fp32)
    if method is not None and setting is None:
        setting = RangeSetting(CalibrationMethod(method))
    model, meta = load_ran_onnx(onnx_path)
    if stats is None:
        if reader is None:
            raise RanEdgeError("quantize_int8 needs calibration data (a reader) or precomputed stats")
        stats = collect_stats(onnx_path, reader, setting or RangeSetting(), log=log)
    if setting is not None and setting != stats.setting:
        stats = stats.with_setting(setting)
    ensure_node_names(model)
    groups = node_groups(model)
    fp32_nodes = [n for g in keep_fp32.groups() for n in groups[g]]
    if meta.preprocess.crop.uint8 and "crop" not in keep_fp32.groups():
        fp32_nodes += groups["crop"]  # official-uint8: Pillow's integer arithmetic is exact in float32 only
    unknown = sorted(set(higher_precision) - set(groups["trunk"]))
    if unknown:
        raise RanEdgeError(f"higher_precision: {unknown} are not trunk nodes of {onnx_path}")
    fp32_nodes += [n for n in groups["trunk"] if n in set(higher_precision)]
    act_type, extra, desc = _flavour(target, q)
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="ran-edge-q-") as tmp, StagedFiles() as staged:
        cache = stats.save_ort_cache(Path(tmp) / "ranges.json")
        named = Path(tmp) / "named.onnx"
        onnx.save(model, str(named))
        tmp_out = staged.temp_for(out)
        level = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)  # ORT logs a pre-processing hint at WARNING for every call
        try:
            q.quantize_static(str(named), str(tmp_out), None, quant_format=q.QuantFormat.QDQ, per_channel=per_channel,
                              reduce_range=stats.setting.reduce_range and target is QuantTarget.CPU,
                              activation_type=act_type, weight_type=q.QuantType.QInt8, nodes_to_exclude=fp32_nodes,
                              calibrate_method=q.CalibrationMethod.MinMax, calibration_cache_path=str(cache),
                              extra_options=extra)
        finally:
            logging.getLogger().setLevel(level)
        qmodel = onnx.load(str(tmp_out))
        if higher_precision:
            unquantize_inputs(qmodel, higher_precision)
            onnx.save(qmodel, str(tmp_out))
        lint = summarize(lint_tensorrt(qmodel))
        counts = {op: sum(1 for n in qmodel.graph.node if n.op_type == op) for op in ("QuantizeLinear", "DequantizeLinear")}
        report = {"target": target.value, **desc, **stats.setting.to_dict(), "per_channel": per_channel,
                  "fp32_scope": keep_fp32.value, "fp32_nodes": fp32_nodes, "higher_precision_nodes": list(higher_precision),
                  "higher_precision_dtype": "fp32",
                  "ort_execution": "exact Q/DQ" if target is QuantTarget.TENSORRT else "fused integer kernels",
                  "qdq_nodes": counts, "trt_lint": lint}
        sidecar_extra = {**dict(extra_meta or {}), "int8_flavour": target.value, "int8": {k: v for k, v in report.items() if k != "trt_lint"},
                      "source_onnx_sha256": sha256_file(onnx_path), "onnx_sha256": sha256_file(tmp_out),
                      "calibration_manifest_sha256": manifest_sha256, "trt_lint": lint}
        base = {k: v for k, v in meta.extra.items() if k != "parity"}  # FP32 parity does not describe this file
        new_meta = replace(meta, precision=Precision.INT8, extra={**base, "fp32_parity": meta.extra.get("parity"), **sidecar_extra})
        write_json_atomic(staged.temp_for(sidecar_path(out)), new_meta.to_dict())
        staged.commit()
    log(f"wrote {out} (INT8 {target.value}: {desc['activations']} activations, {len(fp32_nodes)} nodes FP32, "
        f"{counts['QuantizeLinear']} Q / {counts['DequantizeLinear']} DQ)")
    return QuantResult(out, new_meta, report)
