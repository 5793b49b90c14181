"""The engine build plan: ``plan_build(meta, request, trt_version) -> BuildPlan`` (pure).

The plan decides, for one TensorRT version, how the requested precision is obtained (builder
flag, FP32-pinned layers, QDQ, implicit calibrator or strongly typed network), the optimisation
profile and every builder option. A request the version cannot honour raises
:class:`~ran_edge.errors.RanEdgeError` with the reason and what to do instead. The real build
(:mod:`ran_edge.engine.build`), ``--dry-run`` and ``--emit-trtexec`` all read the same plan.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ran_edge.artifact import ArtifactMeta, InputKind, Precision
from ran_edge.engine_contract.options import BuildRequest, CalibKind, CalibSource, Int8Method
from ran_edge.engine_contract.versions import TrtVersion
from ran_edge.errors import RanEdgeError

#: Sidecar ``extra`` key (written by the FP16 analysis of ran_edge.export) listing ONNX node names to keep in FP32.
FP16_KEEP_KEY = "fp16_keep_fp32_layers"


class PrecisionPath(str, enum.Enum):
    """How the engine gets its precision."""

    FP32 = "fp32"  # no precision flags (TF32 off)
    FP16_FLAG = "fp16-flag"  # BuilderFlag.FP16 (+ FP32-pinned layers, OBEY_PRECISION_CONSTRAINTS)
    INT8_QDQ = "int8-qdq"  # BuilderFlag.INT8 on a QDQ ONNX (explicit quantization)
    INT8_CALIBRATOR = "int8-calibrator"  # BuilderFlag.INT8 + IInt8EntropyCalibrator2 (+ cache)
    STRONGLY_TYPED = "strongly-typed"  # NetworkDefinitionCreationFlag.STRONGLY_TYPED; types from the ONNX


class PreStep(str, enum.Enum):
    """Work done before the TensorRT build (by ran_edge.export / ran_edge.quantize)."""

    EXPORT_ONNX = "export-onnx"  # .pt → FP32 ONNX (+ simplify + checks)
    QUANTIZE_QDQ = "quantize-qdq"  # FP32 ONNX + calibration data → QDQ ONNX
    ANALYSE_FP16 = "analyse-fp16"  # FP16 range analysis: which layers to pin to FP32 (sidecar key)
    CONVERT_FP16 = "convert-fp16"  # FP16 analysis + FP32 ONNX → FP16 ONNX (for strongly typed builds)


@dataclass(frozen=True)
class ProfileShape:
    """One optimisation-profile entry: an input and its min/opt/max shapes."""

    input: str
    min: Tuple[int, ...]
    opt: Tuple[int, ...]
    max: Tuple[int, ...]

    def to_dict(self) -> Dict[str, Any]:
        return {"input": self.input, "min": list(self.min), "opt": list(self.opt), "max": list(self.max)}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "ProfileShape":
        return cls(str(d["input"]), tuple(d["min"]), tuple(d["opt"]), tuple(d["max"]))


@dataclass(frozen=True)
class BuildPlan:
    """Everything the builder will do, for one TensorRT version (see module docstring)."""

    trt_version: TrtVersion
    requested: Precision
    path: PrecisionPath
    onnx_precision: Precision  # the ONNX the TensorRT build consumes (after pre-steps)
    pre_steps: Tuple[PreStep, ...]
    builder_flags: Tuple[str, ...]
    strongly_typed: bool
    calibration: CalibSource
    fp32_layers: Tuple[str, ...]
    profiles: Tuple[ProfileShape, ...]
    workspace_mib: Optional[int]
    timing_cache: Optional[str]
    dla_core: Optional[int]
    version_compatible: bool
    allow_fallback: bool
    notes: Tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "trt_version": str(self.trt_version), "requested": self.requested.value, "path": self.path.value,
            "onnx_precision": self.onnx_precision.value, "pre_steps": [s.value for s in self.pre_steps],
            "builder_flags": list(self.builder_flags), "strongly_typed": self.strongly_typed,
            "calibration": {"kind": self.calibration.kind.value, "path": self.calibration.path},
            "fp32_layers": list(self.fp32_layers), "profiles": [p.to_dict() for p in self.profiles],
            "workspace_mib": self.workspace_mib, "timing_cache": self.timing_cache, "dla_core": self.dla_core,
            "version_compatible": self.version_compatible, "allow_fallback": self.allow_fallback,
            "notes": list(self.notes),
        }

    def describe(self) -> List[str]:
        """Human-readable lines for ``--dry-run``."""
        lines = [f"TensorRT {self.trt_version}: {self.requested.value} via {self.path.value}"]
        if self.pre_steps:
            lines.append("  before the build: " + " -> ".join(s.value for s in self.pre_steps))
        kind = {"fp32": "an FP32", "fp16": "an FP16", "int8": "a QDQ INT8"}[self.onnx_precision.value]
        lines.append(f"  network: {'strongly typed' if self.strongly_typed else 'weakly typed'} from {kind} ONNX")
        tf32 = " (TF32 off)" if self.requested is Precision.FP32 else ""
        lines.append("  builder flags: " + (", ".join(self.builder_flags) or "none") + tf32)
        for p in self.profiles:
            lines.append(f"  profile {p.input}: min {list(p.min)} opt {list(p.opt)} max {list(p.max)}")
        if self.path is PrecisionPath.INT8_CALIBRATOR or PreStep.QUANTIZE_QDQ in self.pre_steps:
            lines.append(f"  calibration: {self.calibration.describe()}")
        elif {PreStep.ANALYSE_FP16, PreStep.CONVERT_FP16} & set(self.pre_steps):
            source = self.calibration.describe() if self.calibration.kind is not CalibKind.NONE else "synthetic faces"
            lines.append(f"  FP16 analysis data: {source}")
        if self.fp32_layers:
            lines.append(f"  layers pinned to FP32 ({len(self.fp32_layers)}): " + ", ".join(self.fp32_layers))
        if self.workspace_mib:
            lines.append(f"  workspace: {self.workspace_mib} MiB")
        if self.timing_cache:
            lines.append(f"  timing cache: {self.timing_cache} (loaded if present, saved after)")
        if self.dla_core is not None:
            lines.append(f"  DLA core {self.dla_core}" + (" with GPU fallback" if "GPU_FALLBACK" in self.builder_flags else ""))
        lines.extend(f"  note: {n}" for n in self.notes)
        return lines


def profile_shapes(meta: ArtifactMeta, request: BuildRequest) -> Tuple[ProfileShape, ...]:
    """Optimisation profile from ``--batch`` (in faces; a ``regions`` input is ``x K``)."""
    if len(meta.inputs) != 1:
        raise RanEdgeError(f"expected a model with one input, got {len(meta.inputs)}: {[t.name for t in meta.inputs]}")
    spec = meta.inputs[0]
    rest = tuple(spec.shape[1:])
    if any(d < 1 for d in rest):
        raise RanEdgeError(f"input '{spec.name}' has dynamic non-batch dimensions {list(spec.shape)}; expected [N,3,S,S]")
    k = meta.preset.num_regions if InputKind(meta.input_kind) is InputKind.REGIONS else 1
    b = request.batch
    sizes = (b.min * k, b.opt * k, b.max * k)
    fixed = spec.shape[0]
    if fixed > 0 and sizes != (fixed, fixed, fixed):
        raise RanEdgeError(
            f"the ONNX input '{spec.name}' has a fixed batch of {fixed}, but --batch asks for "
            f"{b.min},{b.opt},{b.max} faces; re-export with a dynamic batch or pass --batch {fixed // k}")
    return (ProfileShape(spec.name, (sizes[0],) + rest, (sizes[1],) + rest, (sizes[2],) + rest),)


def _need_calib_data(request: BuildRequest, why: str) -> None:
    if request.calib.kind in (CalibKind.NONE, CalibKind.CACHE):
        raise RanEdgeError(f"{why} needs calibration data: pass --calib-data DIR (aligned faces) or --calib-data synthetic")


def _int8_path(meta_prec: Precision, request: BuildRequest, v: TrtVersion, notes: List[str]
               ) -> Tuple[PrecisionPath, Tuple[PreStep, ...], Tuple[str, ...]]:
    calibrator_asked = request.int8_method is Int8Method.CALIBRATOR or request.calib.kind is CalibKind.CACHE
    if meta_prec is Precision.FP16:
        raise RanEdgeError("INT8 needs the FP32 ONNX (or its QDQ version), got an FP16 ONNX")
    if v.strongly_typed_only:
        if calibrator_asked:
            raise RanEdgeError(
                f"TensorRT {v} has no implicit INT8 calibrator (strongly typed networks only); drop "
                "--calib-cache/--int8-method calibrator and build from a QDQ ONNX (--int8-method qdq with --calib-data)")
        steps: Tuple[PreStep, ...] = ()
        if meta_prec is Precision.FP32:
            _need_calib_data(request, "quantizing to a QDQ ONNX")
            steps = (PreStep.QUANTIZE_QDQ,)
        return PrecisionPath.STRONGLY_TYPED, steps, ()
    use_calibrator = calibrator_asked or (request.dla_core is not None and request.int8_method is Int8Method.AUTO
                                          and meta_prec is Precision.FP32)
    if use_calibrator:
        if meta_prec is Precision.INT8:
            raise RanEdgeError("the implicit calibrator needs the FP32 ONNX, got a QDQ (already quantized) ONNX; "
                               "drop --int8-method calibrator/--calib-cache or give the FP32 ONNX")
        if request.calib.kind is CalibKind.NONE:
            raise RanEdgeError("the implicit INT8 calibrator needs --calib-data DIR|synthetic or --calib-cache FILE")
        if (v.major, v.minor) >= (10, 1):
            notes.append(f"implicit INT8 calibration is deprecated from TensorRT 10.1 (found {v}); QDQ is preferred")
        flags = ("INT8", "FP16") if request.dla_core is not None else ("INT8",)
        return PrecisionPath.INT8_CALIBRATOR, (), flags
    steps = ()
    if meta_prec is Precision.FP32:
        _need_calib_data(request, "INT8 from a QDQ ONNX (the preferred path)")
        steps = (PreStep.QUANTIZE_QDQ,)
    return PrecisionPath.INT8_QDQ, steps, ("INT8",)


def _fp16_path(meta: ArtifactMeta, meta_prec: Precision, v: TrtVersion, notes: List[str]
               ) -> Tuple[PrecisionPath, Tuple[PreStep, ...], Tuple[str, ...], Tuple[str, ...]]:
    if meta_prec is Precision.INT8:
        raise RanEdgeError("FP16 needs the FP32 (or FP16) ONNX, got a QDQ INT8 ONNX")
    keep = tuple(str(n) for n in meta.extra.get(FP16_KEEP_KEY, ()) or ())
    if v.strongly_typed_only or (meta_prec is Precision.FP16 and v.has_strongly_typed):
        steps = (PreStep.CONVERT_FP16,) if meta_prec is Precision.FP32 else ()
        if keep:
            notes.append(f"{len(keep)} FP16-sensitive layers stay FP32 through Casts in the FP16 ONNX, not through layer precisions")
        return PrecisionPath.STRONGLY_TYPED, steps, (), ()
    flags: Tuple[str, ...] = ("FP16",)
    if FP16_KEEP_KEY not in meta.extra:
        notes.append("the ONNX sidecar has no FP16 analysis yet: the analyse-fp16 step decides which layers stay FP32")
        return PrecisionPath.FP16_FLAG, (PreStep.ANALYSE_FP16,), flags, ()
    if keep:
        flags += ("OBEY_PRECISION_CONSTRAINTS",)
    return PrecisionPath.FP16_FLAG, (), flags, keep


def _check_dla(req: BuildRequest, v: TrtVersion) -> None:
    if req.dla_core is None:
        return
    if v.strongly_typed_only:
        raise RanEdgeError(f"--dla-core: TensorRT {v} does not support DLA (NVIDIA's 11.x notes: no DLA, no JetPack); "
                           "build DLA engines with JetPack's TensorRT (8.5-10.x)")
    if req.precision is Precision.FP32:
        raise RanEdgeError("DLA runs FP16 or INT8 only, got --precision fp32 with --dla-core; use fp16 or int8")
    if not req.batch.is_static:
        raise RanEdgeError(f"DLA engines need a static batch, got --batch {req.batch.min},{req.batch.opt},{req.batch.max}; "
                           "use --batch N")


def _trtexec_notes(meta: ArtifactMeta, v: TrtVersion, fp32_layers: Tuple[str, ...]) -> List[str]:
    notes = []
    if fp32_layers and (v.major, v.minor) < (8, 4):
        notes.append(f"trtexec {v} has no --layerPrecisions: the {len(fp32_layers)} FP16-sensitive layers cannot be pinned to FP32")
    opset = int(meta.extra.get("opset") or 0)
    if (v.major, v.minor) < (8, 5) and opset > 13:
        notes.append(f"the ONNX has opset {opset}; the TensorRT {v} parser reads up to opset 13: re-export with --opset 13")
    if not v.has_python_runtime:
        notes.append(f"TensorRT {v}: build with trtexec on the device; the ran-edge Python runtime needs 8.5+ (use ONNX Runtime there)")
    return notes


def plan_build(meta: ArtifactMeta, request: BuildRequest, trt_version: TrtVersion | str,
               from_checkpoint: bool = False, for_trtexec: bool = False) -> BuildPlan:
    """Plan the build of ``meta``'s ONNX with ``request`` on TensorRT ``trt_version``.

    Args:
        meta: sidecar of the source ONNX (``meta.precision`` tells FP32 / FP16 / QDQ-INT8).
        request: the user's options.
        trt_version: the installed (or a hypothetical) TensorRT version.
        from_checkpoint: the source is a ``.pt`` (adds the export pre-step).
        for_trtexec: plan for a trtexec command line (allowed below 8.5, e.g. Jetson Nano).

    Raises:
        RanEdgeError: the request cannot be honoured on that version; the message says why and what to do.
    """
    v = trt_version if isinstance(trt_version, TrtVersion) else TrtVersion.parse(trt_version)
    if not for_trtexec and not v.has_python_runtime:
        raise RanEdgeError(
            f"TensorRT {v} is older than 8.5, the first version with the name-based tensor API that ran-edge's "
            "build and runtime use (Jetson Nano / JetPack 4.6); use --emit-trtexec and build on the device with trtexec")
    req = request
    notes: List[str] = []
    meta_prec = Precision(meta.precision)
    if req.version_compatible and not v.has_version_compatible:
        raise RanEdgeError(f"--version-compatible needs TensorRT 8.6 or newer, found {v}")
    _check_dla(req, v)
    fp32_layers: Tuple[str, ...] = ()
    if req.precision is Precision.FP32:
        if meta_prec is not Precision.FP32:
            raise RanEdgeError(f"--precision fp32 needs the FP32 ONNX, got a {meta_prec.value} ONNX")
        path, steps, flags = (PrecisionPath.STRONGLY_TYPED if v.strongly_typed_only else PrecisionPath.FP32), (), ()
    elif req.precision is Precision.FP16:
        path, steps, flags, fp32_layers = _fp16_path(meta, meta_prec, v, notes)
    else:
        path, steps, flags = _int8_path(meta_prec, req, v, notes)
    if from_checkpoint:
        steps = (PreStep.EXPORT_ONNX,) + tuple(steps)
    onnx_prec = meta_prec
    if PreStep.QUANTIZE_QDQ in steps:
        onnx_prec = Precision.INT8
    elif PreStep.CONVERT_FP16 in steps:
        onnx_prec = Precision.FP16
    if any(f in flags for f in ("FP16", "INT8")) and (v.major, v.minor) >= (10, 12):
        notes.append(f"TensorRT {v} deprecates weak typing (FP16/INT8 builder flags, removed in 11); "
                     "an FP16 / QDQ ONNX built strongly typed is the lasting path")
    if req.version_compatible:
        flags += ("VERSION_COMPATIBLE",)
    if req.allow_gpu_fallback:
        flags += ("GPU_FALLBACK",)
    if for_trtexec:
        notes += _trtexec_notes(meta, v, fp32_layers)
    return BuildPlan(
        trt_version=v, requested=req.precision, path=path, onnx_precision=onnx_prec, pre_steps=tuple(steps),
        builder_flags=tuple(flags), strongly_typed=path is PrecisionPath.STRONGLY_TYPED, calibration=req.calib,
        fp32_layers=fp32_layers, profiles=profile_shapes(meta, req), workspace_mib=req.workspace_mib,
        timing_cache=req.timing_cache, dla_core=req.dla_core, version_compatible=req.version_compatible,
        allow_fallback=req.allow_fallback, notes=tuple(notes))


def plan_table(meta: ArtifactMeta, request: BuildRequest, versions: Sequence[TrtVersion],
               from_checkpoint: bool = False) -> List[Tuple[TrtVersion, Optional[BuildPlan], str]]:
    """Plans for several versions: ``(version, plan or None, refusal reason or "")`` each."""
    rows = []
    for v in versions:
        try:
            rows.append((v, plan_build(meta, request, v, from_checkpoint, for_trtexec=not v.has_python_runtime), ""))
        except RanEdgeError as exc:
            rows.append((v, None, str(exc)))
    return rows
