"""One engine job from a source model (an ``.onnx`` with its sidecar, or a ``.pt`` checkpoint), shared by
``ran-edge build-engine`` and the benchmarks: the dry-run plan table, trtexec command lines, or the build.

The source is planned once per TensorRT version (:func:`~ran_edge.engine_contract.plan.plan_build`); that plan's
pre-steps (export, QDQ quantization, FP16 analysis/conversion) run through :mod:`ran_edge.engine.prepare`,
and only when they produced another ONNX is the plan remade for the file TensorRT actually reads.
Progress and results go through ``log`` (``print`` by default); errors are :class:`RanEdgeError`.
No TensorRT import until :func:`build_engine_from_source` runs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple, Union

from ran_edge.artifact import ArtifactMeta, InputKind, Precision
from ran_edge.engine_contract.options import BuildRequest
from ran_edge.engine_contract.plan import BuildPlan
from ran_edge.engine_contract.versions import TrtVersion
from ran_edge.errors import RanEdgeError

Log = Callable[[str], None]


def check_source(path: Union[str, Path]) -> Path:
    """``path`` as a build source: an existing ``.onnx`` or ``.pt`` file, else :class:`RanEdgeError`."""
    src = Path(path)
    if src.suffix.lower() not in (".onnx", ".pt"):
        raise RanEdgeError(f"{src}: got a '{src.suffix}' file, expected model.onnx or a .pt checkpoint")
    if not src.is_file():
        raise RanEdgeError(f"model not found: {src}")
    return src


def check_job_outputs(job: "BuildJob") -> None:
    """The engine and its sidecar against the inputs (the source and its companions, the calibration data or cache,
    the timing cache), before any work, in every mode: ``--dry-run`` and ``--emit-trtexec`` refuse what a build
    would refuse (an output onto an input, under a regular file, in an unwritable folder)."""
    from ran_edge import option_checks as checks
    from ran_edge.artifact import sidecar_path

    calib = job.request.calib
    checks.outputs([job.out_path, sidecar_path(job.out_path)],
                   inputs=[job.source, getattr(calib, "path", None), job.request.timing_cache])


@dataclass(frozen=True)
class BuildJob:
    """An engine job: what to build from, where to write it, and the request.

    Attributes:
        source: ``model.onnx`` (with ``model.onnx.json``) or a ran-edge ``.pt`` checkpoint (exported first).
        out: the engine path, as given (trtexec lines print it so); pre-step files (``<stem>.onnx``,
            ``.int8.onnx``, ``.fp16.onnx``) go next to it.
        request: precision, profile, calibration and builder options.
        input_kind: for a ``.pt``: the graph input the export gives the ONNX.
        trust_checkpoint: allow checkpoints that need arbitrary unpickling.
        calib_num: calibration / FP16-analysis faces.
        allow_accuracy_loss: keep a QDQ INT8 ONNX that misses the quality gate (recorded) instead of failing.
        allow_fp32_fallback: let INT8 layers go back to FP32 below 50 % INT8 share when the gate needs it.
        trt_version: ``"X.Y"`` to plan for (dry run, trtexec); None: the installed TensorRT, else every target.
        device: CUDA device index of a real build.
    """

    source: Path
    out: Union[str, Path]
    request: BuildRequest = field(default_factory=BuildRequest)
    input_kind: InputKind = InputKind.FACES
    trust_checkpoint: bool = False
    calib_num: int = 512
    allow_accuracy_loss: bool = False
    allow_fp32_fallback: bool = False
    trt_version: Optional[str] = None
    device: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", Path(self.source))
        object.__setattr__(self, "input_kind", InputKind(self.input_kind))

    @property
    def out_path(self) -> Path:
        """:attr:`out` as a path."""
        return Path(self.out)

    @property
    def from_checkpoint(self) -> bool:
        """The source is a ``.pt`` checkpoint (the plan starts with the export pre-step)."""
        return self.source.suffix.lower() == ".pt"


class TrtexecLines(str, enum.Enum):
    """Which versions of a dry run also show their trtexec command: ``needed`` (those without the ran-edge
    Python runtime, e.g. the Nano's 8.2) or ``all`` (``--dry-run --emit-trtexec``)."""

    NEEDED = "needed"
    ALL = "all"


@dataclass(frozen=True)
class PlanOutcome:
    """What a dry run or a trtexec emission did: the versions planned, how many were refused, and whether
    that is a success (a dry run fails only for a refused ``--trt-version``; an emission when nothing came out)."""

    versions: Tuple[TrtVersion, ...]
    refused: int
    ok: bool


@dataclass(frozen=True)
class BuildResult:
    """A built engine: its path and sidecar, the plan it was built with, the ONNX TensorRT read, and the
    precision built (lower than asked only with ``allow_fallback``; ``precision_note`` says why)."""

    engine: Path
    meta: ArtifactMeta
    plan: BuildPlan
    onnx: Path
    built: Precision
    precision_note: str = ""


def source_meta(job: BuildJob) -> ArtifactMeta:
    """The sidecar of the source ONNX, or for a checkpoint the sidecar its export would write."""
    from ran_edge.engine.prepare import checkpoint_meta, load_source_meta

    if job.from_checkpoint:
        return checkpoint_meta(job.source, job.input_kind, job.trust_checkpoint)[1]
    return load_source_meta(job.source)


def target_versions(job: BuildJob) -> List[TrtVersion]:
    """``job.trt_version``, else the installed TensorRT, else every target version (Nano 8.2 … 11.x)."""
    from ran_edge.engine.build import installed_trt_version
    from ran_edge.engine_contract.versions import TARGET_VERSIONS

    if job.trt_version:
        return [TrtVersion.parse(job.trt_version)]
    installed = installed_trt_version()
    return [installed] if installed else [v for v, _ in TARGET_VERSIONS]


def _lint(src: Path, versions: List[TrtVersion], log: Log) -> None:
    """TensorRT-compatibility lint of the export library, when it and onnx are available."""
    try:
        import onnx

        from ran_edge.export.trt_lint import lint_tensorrt
    except ImportError as exc:
        log(f"TensorRT lint: skipped ({exc})")
        return
    targets = [v for v in versions if v.has_python_runtime]  # the lint's tables start at 8.5
    if not targets:
        return
    try:
        model = onnx.load(str(src), load_external_data=False)
    except Exception as exc:  # DecodeError and friends
        raise RanEdgeError(f"{src}: not a readable ONNX model ({type(exc).__name__}); expected a file from 'ran-edge export'") from exc
    findings = lint_tensorrt(model, [str(v) for v in targets])
    log(f"TensorRT lint ({', '.join(str(v) for v in targets)}): " + ("clean" if not findings else f"{len(findings)} findings"))
    for f in findings[:20]:
        log(f"  {f}")
    if len(findings) > 20:
        log(f"  ... and {len(findings) - 20} more")


def dry_run(job: BuildJob, trtexec: TrtexecLines = TrtexecLines.NEEDED, log: Log = print) -> PlanOutcome:
    """Log the source, the request and the plan (or the refusal) for ``job.trt_version`` or every target
    version, with trtexec lines per ``trtexec``, then lint an ONNX source. Builds and writes nothing."""
    from ran_edge.engine.emit import trtexec_line
    from ran_edge.engine_contract.plan import plan_table
    from ran_edge.engine_contract.versions import TARGET_VERSIONS

    src, from_ckpt, request = job.source, job.from_checkpoint, job.request
    meta = source_meta(job)
    versions = target_versions(job) if job.trt_version else [v for v, _ in TARGET_VERSIONS]
    where = dict((v, w) for v, w in TARGET_VERSIONS)
    log(f"source: {src} ({'checkpoint, exported first' if from_ckpt else 'ONNX'}; {meta.precision.value}, "
        f"input {meta.input_kind.value} {list(meta.inputs[0].shape)})")
    log(f"classes: {', '.join(meta.class_names)}; preset {meta.preset.name} (K={meta.preset.num_regions}); "
        f"preprocess {meta.preprocess.color_order.value} {meta.preprocess.face_size}px scale {meta.preprocess.scale:.6g}")
    log(f"request: {request.precision.value}, batch {request.batch.min},{request.batch.opt},{request.batch.max}, "
        f"calibration {request.calib.describe()}")
    failed = 0
    for v, plan, reason in plan_table(meta, request, versions, from_ckpt):
        label = f" [{where[v]}]" if v in where else ""
        if plan is None:
            failed += 1
            log(f"TensorRT {v}{label}: refused: {reason}")
            continue
        lines = plan.describe()
        log(lines[0] + label)
        log("\n".join(lines[1:]))
        if trtexec is TrtexecLines.ALL or not v.has_python_runtime:
            try:
                log("  trtexec: " + trtexec_line(job, meta, v)[1])
            except RanEdgeError as exc:
                log(f"  trtexec: not yet: {exc}")
    if not from_ckpt:
        _lint(src, versions, log)
    return PlanOutcome(tuple(versions), failed, ok=not (job.trt_version and failed))


def prepare(job: BuildJob, plan: BuildPlan, meta: ArtifactMeta, log: Log = print) -> Tuple[Path, ArtifactMeta]:
    """Run ``plan``'s pre-steps; returns the ONNX the TensorRT build consumes and its sidecar. An export is made at
    an opset the plan's TensorRT parser reads."""
    from ran_edge.engine.emit import export_opset
    from ran_edge.engine_contract.plan import PreStep
    from ran_edge.engine.prepare import export_step, fp16_step, quantize_step

    stem, out_dir = job.out_path.stem, job.out_path.parent
    onnx, onnx_meta = job.source, meta
    for step in plan.pre_steps:
        if step is PreStep.EXPORT_ONNX:
            onnx, onnx_meta = export_step(job.source, out_dir, stem, job.input_kind, job.trust_checkpoint, log,
                                          opset=export_opset(plan.trt_version))
        elif step is PreStep.QUANTIZE_QDQ:
            onnx, onnx_meta = quantize_step(onnx, plan.calibration, out_dir, stem, job.calib_num, log,
                                            allow_accuracy_loss=job.allow_accuracy_loss,
                                            allow_fp32_fallback=job.allow_fp32_fallback)
        elif step in (PreStep.ANALYSE_FP16, PreStep.CONVERT_FP16):
            onnx, onnx_meta = fp16_step(onnx, plan.calibration, out_dir, stem, job.calib_num, log,
                                        keep_fp32_onnx=step is PreStep.ANALYSE_FP16)
    return onnx, onnx_meta


def prepare_only(job: BuildJob, log: Log = print) -> Optional[Path]:
    """``--prepare-only``: run the pre-steps of ``job``'s plan for one TensorRT version (``job.trt_version`` or the
    installed one) and write their ONNX files, without TensorRT, so that ``--emit-trtexec`` can then print a
    command that reads them. Returns the ONNX trtexec will read (None: nothing to prepare). The FP16 analysis is
    recorded in the FP32 ONNX's sidecar, as a build records it."""
    from ran_edge import option_checks as checks
    from ran_edge.artifact import sidecar_path
    from ran_edge.engine.emit import needed_steps, check_opset
    from ran_edge.engine_contract.plan import plan_build
    from ran_edge.engine.prepare import consumed_onnx

    versions = target_versions(job)
    if len(versions) != 1:
        raise RanEdgeError("--prepare-only prepares for one TensorRT version: pass --trt-version X.Y")
    version, meta = versions[0], source_meta(job)
    plan = plan_build(meta, job.request, version, job.from_checkpoint, for_trtexec=True)
    if not job.from_checkpoint:
        check_opset(job, job.source, meta, version)
    steps = needed_steps(plan)
    if not steps:
        log(f"nothing to prepare for TensorRT {version}: trtexec reads {job.source} as it is")
        return None
    target = consumed_onnx(job.source, job.from_checkpoint, steps, job.out_path)
    if target != job.source:
        checks.outputs([target, sidecar_path(target)], inputs=[job.source, sidecar_path(job.source)])
    onnx, _ = prepare(job, replace(plan, pre_steps=steps), meta, log)
    log(f"prepared {onnx} for TensorRT {version}; now run the same command with --emit-trtexec instead of --prepare-only")
    return Path(onnx)


def _consumed_plan(plan: BuildPlan, onnx_meta: ArtifactMeta, request: BuildRequest, for_trtexec: bool) -> BuildPlan:
    """The plan for the ONNX TensorRT reads: the source plan itself when it had no pre-steps (same input,
    same plan), else planned again for the exported / quantized / analysed file."""
    from ran_edge.engine_contract.plan import plan_build

    if not plan.pre_steps:
        return plan
    return plan_build(onnx_meta, request, plan.trt_version, for_trtexec=for_trtexec)


def emit_trtexec(job: BuildJob, log: Log = print) -> PlanOutcome:
    """Log the trtexec command for ``job.trt_version`` (or the installed TensorRT); with neither, one command
    per target version (Nano 8.2 … 11.x), each preceded by a comment naming it. Reads files only: no pre-step
    runs and nothing is written (:mod:`ran_edge.engine.emit`); a command whose ONNX does not exist yet, or that
    the target's parser cannot read, is replaced by what to run first (an error for a single version)."""
    from ran_edge.engine.emit import trtexec_line
    from ran_edge.engine_contract.versions import TARGET_VERSIONS

    versions = target_versions(job)
    labels = dict(TARGET_VERSIONS)
    if len(versions) != 1:
        log("# TensorRT is not installed here: one command per target version (choose one with --trt-version X.Y)")
    meta = source_meta(job)
    failed = 0
    for version in versions:
        try:
            plan, line = trtexec_line(job, meta, version)
        except RanEdgeError as exc:
            if len(versions) == 1:
                raise
            log(f"# TensorRT {version}: not yet: {exc}")
            failed += 1
            continue
        if len(versions) != 1:
            log(f"# TensorRT {version} [{labels.get(version, 'target')}]")
        for note in plan.notes:
            log(f"# note: {note}")
        log(line)
    return PlanOutcome(tuple(versions), failed, ok=failed != len(versions))


def _calibration(job: BuildJob, plan: BuildPlan, onnx: Path, meta: ArtifactMeta) -> Tuple[Any, Optional[Path], Optional[str]]:
    """Feeds, cache path and manifest sha256 for the implicit calibrator (or the QDQ ONNX's manifest hash)."""
    from ran_edge.engine.calib import calibrator_reader
    from ran_edge.engine_contract.options import CalibKind
    from ran_edge.engine_contract.plan import PrecisionPath

    if plan.path is not PrecisionPath.INT8_CALIBRATOR:
        return None, None, meta.extra.get("calibration_manifest_sha256")
    if plan.calibration.kind is CalibKind.CACHE:
        return [], Path(str(plan.calibration.path)), None
    out = job.out_path
    k = meta.preset.num_regions if meta.input_kind.value == "regions" else 1
    reader, sha = calibrator_reader(onnx, meta, plan.calibration, plan.profiles[0].opt[0] // k, job.calib_num,
                                    out.with_name(out.stem + ".calibration.json"))
    return reader, out.with_name(out.stem + ".calibration.cache"), sha


def _resolve_precision(job: BuildJob, meta: ArtifactMeta, version: TrtVersion, env: Any,
                       log: Log) -> Tuple[BuildRequest, BuildPlan, Precision, str]:
    """Plan the source for the installed TensorRT and decide the precision this GPU builds; a fallback
    (``allow_fallback``) is warned about and planned again with the lower precision."""
    from ran_edge.engine.build import hardware_fast_precisions
    from ran_edge.engine_contract.options import CalibKind, CalibSource
    from ran_edge.engine_contract.plan import plan_build
    from ran_edge.engine_contract.versions import resolve_built_precision

    request = job.request
    plan = plan_build(meta, request, version, job.from_checkpoint)
    built, note = resolve_built_precision(request.precision, hardware_fast_precisions(env), request.allow_fallback,
                                          plan.strongly_typed, env.gpu_name)
    if built is not request.precision:
        log(f"warning: {note}")
        keep_calib = built is Precision.INT8 or (built is Precision.FP16 and request.calib.kind is not CalibKind.CACHE)
        request = replace(request, precision=built, calib=request.calib if keep_calib else CalibSource())
        plan = plan_build(meta, request, version, job.from_checkpoint)
    return request, plan, built, note


def build_engine_from_source(job: BuildJob, log: Log = print, env: Optional[Any] = None) -> BuildResult:
    """Build ``job.out`` (+ ``.json`` sidecar) with the installed TensorRT: plan, pre-steps, calibration,
    build. ``env``: the :class:`~ran_edge.engine_contract.meta.DeviceEnv` already detected for ``job.device``
    (None: detected here). Raises :class:`RanEdgeError` (TensorRT missing, a refused plan, a failed step or build)."""
    from ran_edge.engine.build import build_engine, detect_env, require_tensorrt

    require_tensorrt()
    env = env if env is not None else detect_env(job.device)
    version = TrtVersion.parse(env.trt_version)
    meta = source_meta(job)
    request, plan, built, note = _resolve_precision(job, meta, version, env, log)
    onnx, onnx_meta = prepare(job, plan, meta, log)
    plan = _consumed_plan(plan, onnx_meta, request, for_trtexec=False)
    for line in plan.describe():
        log(line)
    feeds, cache, manifest_sha = _calibration(job, plan, onnx, onnx_meta)
    engine_meta = build_engine(onnx, onnx_meta, plan, job.out_path, env, built=built, precision_note=note, calib_feeds=feeds,
                               calib_cache=cache, calib_manifest_sha256=manifest_sha, log=log)
    return BuildResult(engine=job.out_path, meta=engine_meta, plan=plan, onnx=Path(onnx), built=built, precision_note=note)
