"""Each derived artifact as one build-cache entry, made by the library's own steps.

``.pt`` → FP32 ONNX (:func:`ran_edge.engine.prepare.export_step`: export, simplify, structure and parity
checks); ``.pt`` → TorchScript (:func:`ran_edge.export.export_torchscript`); FP32 ONNX → FP16 ONNX (the FP16
range analysis, :func:`ran_edge.export.fp16.analyse_and_convert`); FP32 ONNX → INT8 QDQ ONNX (the calibration
path with its quality gate, :func:`ran_edge.quantize.calibrate_onnx`); ONNX or ``.pt`` → TensorRT engine (the
``build-engine`` job, :func:`ran_edge.engine.job.build_engine_from_source`). An entry is keyed by the sha256 of
the file it is made from, the ran-edge version and the step's options (:class:`ran_edge.cache.CacheKey`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Tuple

from ran_edge.artifact import InputKind, Precision, sha256_file, sidecar_path
from ran_edge.cache import BuildCache, CacheEntry, CacheKey

Log = Callable[[str], None]

#: faces of the FP16 range analysis (the FP16 step of build-engine uses the same data)
FP16_FACES = 64
#: calibration faces of an INT8 model made on demand (``ran-edge calibrate``'s default)
INT8_FACES = 512


def _copy_onnx(onnx: Path, folder: Path, name: str) -> Path:
    """``onnx`` and its sidecar copied into ``folder`` as ``name`` (steps that update the FP32 sidecar work on a
    copy, never on the user's file)."""
    dst = folder / name
    shutil.copyfile(onnx, dst)
    shutil.copyfile(sidecar_path(onnx), sidecar_path(dst))
    return dst


def exported_onnx(cache: BuildCache, pt: Path, input_kind: InputKind, trust: bool, log: Log,
                  source_sha: Optional[str] = None) -> Tuple[CacheEntry, bool]:
    """The FP32 ONNX export of checkpoint ``pt`` (faces or regions input, default opset)."""
    from ran_edge.export.onnx_export import DEFAULT_OPSET

    key = CacheKey("onnx", source_sha or sha256_file(pt), {"input_kind": input_kind.value, "opset": DEFAULT_OPSET})

    def build(folder: Path) -> None:
        from ran_edge.engine.prepare import export_step

        export_step(pt, folder, "model", input_kind, trust, log, opset=DEFAULT_OPSET)

    return cache.get_or_build(key, "model.onnx", build, str(pt))


def torchscript(cache: BuildCache, pt: Path, input_kind: InputKind, trust: bool, log: Log,
                source_sha: Optional[str] = None) -> Tuple[CacheEntry, bool]:
    """The TorchScript trace of checkpoint ``pt`` (the torch backend of the auto order)."""
    key = CacheKey("torchscript", source_sha or sha256_file(pt), {"input_kind": input_kind.value})

    def build(folder: Path) -> None:
        from ran_edge.export import export_torchscript
        from ran_edge.model.checkpoint import load_checkpoint

        model, _ = load_checkpoint(pt, trust=trust)
        export_torchscript(model, folder / "model.ts", input_kind=input_kind, checkpoint_path=pt, log=log)

    return cache.get_or_build(key, "model.ts", build, str(pt))


def fp16_onnx(cache: BuildCache, onnx: Path, log: Log, label: str = "") -> Tuple[CacheEntry, bool]:
    """The FP16 ONNX of an FP32 ONNX, with the layers the range analysis keeps in FP32 (``label``: the source
    as ``cache list`` names it, default the ONNX path)."""
    key = CacheKey("fp16", sha256_file(onnx), {"analysis": "synthetic", "faces": FP16_FACES})

    def build(folder: Path) -> None:
        from ran_edge.export.fp16 import analyse_and_convert

        fp32 = _copy_onnx(onnx, folder, "fp32.onnx")
        analyse_and_convert(fp32, data="synthetic", num=FP16_FACES, out=folder / "model.fp16.onnx", log=log)

    return cache.get_or_build(key, "model.fp16.onnx", build, label or str(onnx))


def int8_onnx(cache: BuildCache, onnx: Path, calib_data: str, allow_accuracy_loss: bool, log: Log,
              label: str = "") -> Tuple[CacheEntry, bool]:
    """The INT8 QDQ ONNX (CPU flavour, for ONNX Runtime) of an FP32 ONNX, through the calibration path: the
    quality gate fails the build unless ``allow_accuracy_loss`` (then the miss is recorded in the sidecar)."""
    from ran_edge.quantize import OnMiss, QuantTarget

    data = calib_data if calib_data == "synthetic" else str(Path(calib_data).resolve())
    key = CacheKey("int8", sha256_file(onnx), {"flavour": QuantTarget.CPU.value, "calib_data": data, "faces": INT8_FACES,
                                                "allow_accuracy_loss": bool(allow_accuracy_loss)})

    def build(folder: Path) -> None:
        from ran_edge.quantize import calibrate_onnx
        from ran_edge.quantize.finetune import default_finetune

        fp32 = _copy_onnx(onnx, folder, "fp32.onnx")
        calibrate_onnx(fp32, folder / "model.int8.onnx", data=data, num=INT8_FACES, targets=(QuantTarget.CPU,),
                       on_miss=OnMiss.WARN if allow_accuracy_loss else OnMiss.FAIL,
                       finetune=default_finetune("auto", data, progress=False, log=log), progress=False, log=log)

    return cache.get_or_build(key, "model.int8.onnx", build, label or str(onnx))


def engine(cache: BuildCache, source: Path, precision: Precision, facts: Mapping[str, Any], input_kind: InputKind,
           calib_data: Optional[str], device: int, allow_accuracy_loss: bool, log: Log,
           label: str = "") -> Tuple[CacheEntry, bool]:
    """A TensorRT engine of ``source`` (FP32/FP16/INT8 ONNX, or a ``.pt``), built by the ``build-engine`` job
    for this device; keyed also by the TensorRT version, compute capability, precision and batch profile."""
    from ran_edge.engine_contract.options import BatchProfile, BuildRequest, CalibSource

    request = BuildRequest(precision=precision, batch=BatchProfile(), calib=CalibSource.from_cli(calib_data, None))
    key = CacheKey("engine", sha256_file(source), {
        "tensorrt_version": str(facts["tensorrt_version"]), "compute_capability": str(facts["compute_capability"]),
        "precision": precision.value, "batch_profile": [request.batch.min, request.batch.opt, request.batch.max],
        "input_kind": input_kind.value, "calib": request.calib.describe(),
        "allow_accuracy_loss": bool(allow_accuracy_loss)})

    def build(folder: Path) -> None:
        from ran_edge.engine.job import BuildJob, build_engine_from_source

        job = BuildJob(source=source, out=folder / "model.engine", request=request, input_kind=input_kind,
                       allow_accuracy_loss=allow_accuracy_loss, device=device)
        build_engine_from_source(job, log=log, env=facts.get("env"))

    return cache.get_or_build(key, "model.engine", build, label or str(source))
