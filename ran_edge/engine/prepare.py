"""Pre-steps of a build (:class:`~ran_edge.engine_contract.plan.PreStep`), through the export/quantize library.

``.pt`` → FP32 ONNX (export, simplify, checks); FP32 ONNX → QDQ INT8 ONNX (calibration);
FP32 ONNX → FP16 ONNX (for strongly typed builds). Files go next to the engine:
``<stem>.onnx``, ``<stem>.int8.onnx``, ``<stem>.fp16.onnx``, each with its sidecar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Tuple

from ran_edge.artifact import ArtifactMeta, InputKind, read_sidecar
from ran_edge.engine_contract.options import CalibKind, CalibSource
from ran_edge.errors import RanEdgeError

Log = Callable[[str], None]


def consumed_onnx(src: Path, from_checkpoint: bool, pre_steps: Tuple[Any, ...], out: Path) -> Path:
    """The ONNX file the TensorRT build will read after ``pre_steps`` (the names the steps write)."""
    from ran_edge.engine_contract.plan import PreStep

    path = out.parent / f"{out.stem}.onnx" if from_checkpoint else src
    if PreStep.QUANTIZE_QDQ in pre_steps:
        path = out.parent / f"{out.stem}.int8.onnx"
    elif PreStep.CONVERT_FP16 in pre_steps:
        path = out.parent / f"{out.stem}.fp16.onnx"
    return path


def load_source_meta(path: Path) -> ArtifactMeta:
    """Sidecar of an ONNX source; refuses other artifact formats."""
    from ran_edge.artifact_check import validate_artifact

    meta = validate_artifact(path)  # the one artifact validation (the graph I/O against the sidecar too)
    if meta.format != "onnx":
        raise RanEdgeError(f"{path}: the sidecar says format '{meta.format}', expected an ONNX model")
    return meta


def checkpoint_meta(pt: Path, input_kind: InputKind, trust: bool) -> Tuple[Any, ArtifactMeta]:
    """``(model, the ONNX sidecar an export would write)`` without exporting (for --dry-run)."""
    from ran_edge.artifact import meta_for_model_config
    from ran_edge.export.io import graph_io
    from ran_edge.model.checkpoint import load_checkpoint

    model, _ = load_checkpoint(pt, trust=trust)
    io = graph_io(model.config, input_kind, None)
    return model, meta_for_model_config(model.config, "onnx", input_kind, io.inputs, io.outputs)


def export_step(pt: Path, out_dir: Path, stem: str, input_kind: InputKind, trust: bool, log: Log,
                opset: int | None = None) -> Tuple[Path, ArtifactMeta]:
    """``.pt`` → ``<stem>.onnx`` (+ sidecar) through :func:`ran_edge.export.export_onnx` (``opset``: its default if None)."""
    from ran_edge.model.checkpoint import load_checkpoint

    from ran_edge.export import export_onnx

    model, _ = load_checkpoint(pt, trust=trust)
    kwargs = {} if opset is None else {"opset": opset}
    result = export_onnx(model, out_dir / f"{stem}.onnx", input_kind=input_kind, checkpoint_path=pt, log=log, **kwargs)
    return Path(result.path), result.meta


def quantize_step(onnx: Path, calib: CalibSource, out_dir: Path, stem: str, num: int, log: Log,
                  allow_accuracy_loss: bool = False, allow_fp32_fallback: bool = False) -> Tuple[Path, ArtifactMeta]:
    """FP32 ONNX → QDQ INT8 ONNX for TensorRT (``<stem>.int8.onnx`` + manifest + cache) through
    :func:`ran_edge.quantize.calibrate_onnx`; a missed quality target raises ``AccuracyTargetError`` unless
    ``allow_accuracy_loss``. With synthetic calibration data, quantization-aware fine-tuning runs when all-INT8
    misses the gate or passes it without margin (:func:`ran_edge.quantize.finetune.default_finetune`)."""
    from ran_edge.engine.calib import calibration_data_spec
    from ran_edge.quantize import OnMiss, QuantTarget, calibrate_onnx
    from ran_edge.quantize.finetune import default_finetune

    if calib.kind not in (CalibKind.SYNTHETIC, CalibKind.DIRECTORY):
        raise RanEdgeError("quantizing to a QDQ ONNX needs --calib-data DIR|synthetic")
    data = "synthetic" if calib.kind is CalibKind.SYNTHETIC else calibration_data_spec(calib, num)
    run = calibrate_onnx(onnx, out_dir / f"{stem}.int8.onnx", data=data, num=num, targets=(QuantTarget.TENSORRT,),
                         on_miss=OnMiss.WARN if allow_accuracy_loss else OnMiss.FAIL, allow_fp32_fallback=allow_fp32_fallback,
                         finetune=default_finetune("auto", data, progress=False, log=log), progress=False, log=log)
    result = run.results[QuantTarget.TENSORRT]
    return Path(result.path), result.meta


def _fp16_data(calib: CalibSource) -> str:
    return str(calib.path) if calib.kind is CalibKind.DIRECTORY else "synthetic"


def fp16_step(onnx: Path, calib: CalibSource, out_dir: Path, stem: str, num: int, log: Log,
              keep_fp32_onnx: bool) -> Tuple[Path, ArtifactMeta]:
    """FP16 range analysis (+ FP16 ONNX ``<stem>.fp16.onnx``) through :func:`ran_edge.export.fp16.analyse_and_convert`.

    It records the layers to keep in FP32 in the FP32 ONNX's sidecar (``fp16_keep_fp32_layers``).
    Returns the FP32 ONNX and its updated sidecar when ``keep_fp32_onnx`` (the FP16-flag path pins those
    layers), else the FP16 ONNX (the strongly typed path).
    """
    from ran_edge.export.fp16 import analyse_and_convert

    _, fp16 = analyse_and_convert(onnx, data=_fp16_data(calib), num=num, out=out_dir / f"{stem}.fp16.onnx", log=log)
    path = Path(onnx) if keep_fp32_onnx else Path(fp16)
    return path, read_sidecar(path)


def fp16_analysis(onnx: Path, num: int, log: Log) -> Any:
    """FP16 range analysis of an ONNX on ``num`` synthetic faces, writing nothing (``inspect --fp16``)."""
    from ran_edge.export.fp16 import analyse_fp16
    from ran_edge.export.io import load_ran_onnx
    from ran_edge.data.feeds import DatasetReader, open_calibration_data

    model, meta = load_ran_onnx(onnx)
    dataset, description = open_calibration_data(f"synthetic:n_train={num}", num)
    report, _ = analyse_fp16(model, DatasetReader(dataset, meta, num, 16, description), log)
    return report
