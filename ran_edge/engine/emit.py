"""The trtexec line of a build job, from files that exist; what to run first when they do not.

``build-engine --emit-trtexec`` and ``--dry-run`` read files and write nothing: they never run a pre-step (export,
QDQ quantization, FP16 analysis or conversion). When the ONNX that trtexec must read does not exist yet, they name
the command that writes it (``build-engine ... --prepare-only``, no TensorRT needed); when the ONNX has an opset the
target's parser cannot read (Jetson Nano: TensorRT 8.0/8.2 read up to opset 13), the ``ran-edge export`` command
that re-exports it at a readable opset; when the calibration cache it names does not exist, how to make it.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, List, Tuple

from ran_edge.artifact import ArtifactMeta, InputKind, sidecar_path
from ran_edge.engine_contract.options import BatchProfile, CalibKind, Int8Method
from ran_edge.engine_contract.plan import FP16_KEEP_KEY, BuildPlan, PrecisionPath, PreStep, plan_build
from ran_edge.engine_contract.versions import TrtVersion
from ran_edge.errors import RanEdgeError

if TYPE_CHECKING:
    from ran_edge.engine.job import BuildJob

#: the ``extra`` key of an ONNX sidecar naming the checkpoint it was exported from
CHECKPOINT_FILE_KEY = "checkpoint_file"


def readable_opset(version: TrtVersion) -> int:
    """Highest ONNX opset the parser of TensorRT ``version`` reads (13 before 8.5)."""
    from ran_edge.export.trt_table import max_opset

    return max_opset((version.major, version.minor))


def export_opset(version: TrtVersion) -> int:
    """The opset a pre-step export uses for ``version``: the default, or lower where the parser needs it."""
    from ran_edge.export.onnx_export import DEFAULT_OPSET

    return min(DEFAULT_OPSET, readable_opset(version))


def _quote(argv: List[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


def prepare_command(job: "BuildJob", version: TrtVersion) -> str:
    """The ``ran-edge build-engine ... --prepare-only`` command that writes the files ``job``'s trtexec line reads."""
    r = job.request
    argv = ["ran-edge", "build-engine", str(job.source), "--precision", r.precision.value]
    if job.from_checkpoint:
        argv += ["--input", job.input_kind.value]
    if r.calib.kind in (CalibKind.SYNTHETIC, CalibKind.DIRECTORY):
        argv += ["--calib-data", "synthetic" if r.calib.kind is CalibKind.SYNTHETIC else str(r.calib.path)]
    elif r.calib.kind is CalibKind.CACHE:
        argv += ["--calib-cache", str(r.calib.path)]
    if job.calib_num != 512:
        argv += ["--calib-num", str(job.calib_num)]
    if r.int8_method is not Int8Method.AUTO:
        argv += ["--int8-method", r.int8_method.value]
    if r.batch != BatchProfile():
        argv += ["--batch", f"{r.batch.min},{r.batch.opt},{r.batch.max}"]
    if job.allow_accuracy_loss:
        argv.append("--allow-accuracy-loss")
    if job.allow_fp32_fallback:
        argv.append("--allow-fp32-fallback")
    if job.trust_checkpoint:
        argv.append("--trust-checkpoint")
    return _quote(argv + ["--trt-version", str(version), "--prepare-only", "--out", str(job.out)])


def check_opset(job: "BuildJob", onnx: Path, meta: ArtifactMeta, version: TrtVersion) -> None:
    """Refuse an ONNX whose opset the parser of ``version`` cannot read, naming the re-export command."""
    opset, readable = int(meta.extra.get("opset") or 0), readable_opset(version)
    if opset <= readable:
        return
    ckpt = str(job.source) if job.from_checkpoint else str(meta.extra.get(CHECKPOINT_FILE_KEY) or "CHECKPOINT.pt")
    new = onnx.with_name(f"{onnx.stem}.opset{readable}.onnx")
    argv = ["ran-edge", "export", ckpt, "--format", "onnx", "--input", InputKind(meta.input_kind).value,
            "--opset", str(readable)]
    fixed = meta.inputs[0].shape[0] if meta.inputs else -1
    if fixed > 0:
        k = meta.preset.num_regions if InputKind(meta.input_kind) is InputKind.REGIONS else 1
        argv += ["--batch", str(fixed // k)]
    raise RanEdgeError(f"TensorRT {version}'s ONNX parser reads opsets up to {readable}, but {onnx} has opset {opset}: "
                       f"re-export it first with `{_quote(argv + ['--out', str(new)])}`, then emit from {new}")


def needed_steps(plan: BuildPlan) -> Tuple[PreStep, ...]:
    """Pre-steps whose result the trtexec line needs (before 8.4 trtexec cannot pin layers: no FP16 analysis)."""
    v = plan.trt_version
    return tuple(s for s in plan.pre_steps if not (s is PreStep.ANALYSE_FP16 and (v.major, v.minor) < (8, 4)))


def trtexec_line(job: "BuildJob", meta: ArtifactMeta, version: TrtVersion) -> Tuple[BuildPlan, str]:
    """``(plan, command)``: the trtexec command for ``version``, reading only files that exist.

    Raises:
        RanEdgeError: the request cannot be planned; the ONNX has an opset the parser cannot read (names the
            re-export); or the ONNX trtexec reads has not been made yet (names the ``--prepare-only`` command).
    """
    from ran_edge.engine.prepare import consumed_onnx, load_source_meta
    from ran_edge.engine_contract.trtexec import format_command, trtexec_command

    plan = plan_build(meta, job.request, version, job.from_checkpoint, for_trtexec=True)
    if not job.from_checkpoint:
        check_opset(job, job.source, meta, version)
    steps = needed_steps(plan)
    onnx = job.source
    if steps:
        onnx = consumed_onnx(job.source, job.from_checkpoint, steps, job.out_path)
        first = (f"TensorRT {version} reads {onnx}, made by the pre-steps ({', '.join(s.value for s in steps)}); run first "
                 f"`{prepare_command(job, version)}` (no TensorRT needed), then this command again")
        if not (onnx.is_file() and sidecar_path(onnx).is_file()):
            raise RanEdgeError(first)
        onnx_meta = load_source_meta(onnx)
        check_opset(job, onnx, onnx_meta, version)
        plan = plan_build(onnx_meta, job.request, version, for_trtexec=True)
        if needed_steps(plan) or (PreStep.ANALYSE_FP16 in steps and FP16_KEEP_KEY not in onnx_meta.extra):
            raise RanEdgeError(first)
    cache = plan.calibration.path
    if plan.path is PrecisionPath.INT8_CALIBRATOR and plan.calibration.kind is CalibKind.CACHE and not Path(str(cache)).is_file():
        raise RanEdgeError(f"trtexec would read the calibration cache {cache}, which does not exist: make it with a ran-edge "
                           "build on TensorRT >= 8.5 (`ran-edge build-engine MODEL --precision int8 --int8-method calibrator "
                           "--calib-data DIR --out X.engine` writes X.calibration.cache) or build from a QDQ ONNX instead")
    return plan, format_command(trtexec_command(plan, str(onnx), str(job.out)))
