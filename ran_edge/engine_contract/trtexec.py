"""The trtexec command equivalent to a :class:`~ran_edge.engine_contract.plan.BuildPlan` (``--emit-trtexec``).

For the Jetson Nano (TensorRT 8.0/8.2, no ran-edge Python build) and for users who build on the
device. The ``.engine.json`` sidecar is not written by trtexec: copy the ONNX sidecar and run
``ran-edge inspect`` on the device, or build with ran-edge where TensorRT >= 8.5.
"""

from __future__ import annotations

import shlex
from typing import List

from ran_edge.engine_contract.plan import BuildPlan, PrecisionPath
from ran_edge.engine_contract.versions import TrtVersion
from ran_edge.errors import RanEdgeError


def _shape(s) -> str:
    return "x".join(str(d) for d in s)


def trtexec_command(plan: BuildPlan, onnx_path: str, engine_path: str) -> List[str]:
    """The argv of the trtexec call that builds ``plan`` (flags per the plan's TensorRT version).

    Raises:
        RanEdgeError: the plan needs something trtexec cannot do (calibrating from images).
    """
    v: TrtVersion = plan.trt_version
    cmd = ["trtexec", f"--onnx={onnx_path}", f"--saveEngine={engine_path}"]
    if plan.profiles:
        for key, pick in (("minShapes", "min"), ("optShapes", "opt"), ("maxShapes", "max")):
            cmd.append(f"--{key}=" + ",".join(f"{p.input}:{_shape(getattr(p, pick))}" for p in plan.profiles))
    if plan.strongly_typed:
        cmd.append("--stronglyTyped")
    if "FP16" in plan.builder_flags:
        cmd.append("--fp16")
    if "INT8" in plan.builder_flags:
        cmd.append("--int8")
    if plan.path is PrecisionPath.INT8_CALIBRATOR:
        if plan.calibration.kind.value != "cache":
            raise RanEdgeError("trtexec cannot calibrate from images; pass --calib-cache FILE (made by a ran-edge build "
                               "with --calib-data on TensorRT >= 8.5) or use a QDQ ONNX")
        cmd.append(f"--calib={plan.calibration.path}")
    if plan.path is PrecisionPath.FP32 or (plan.path is PrecisionPath.STRONGLY_TYPED and plan.requested.value == "fp32"):
        cmd.append("--noTF32")
    if plan.fp32_layers and (v.major, v.minor) >= (8, 4):  # no per-layer precision flags in 8.2 trtexec
        cmd.append("--precisionConstraints=obey")
        cmd.append("--layerPrecisions=" + ",".join(f"{n}:fp32" for n in plan.fp32_layers))
        cmd.append("--layerOutputTypes=" + ",".join(f"{n}:fp32" for n in plan.fp32_layers))
    if plan.workspace_mib:
        # --memPoolSize from 8.4 (unit MiB until 10, where a suffix is accepted); --workspace before.
        cmd.append(f"--memPoolSize=workspace:{plan.workspace_mib}" if (v.major, v.minor) >= (8, 4)
                   else f"--workspace={plan.workspace_mib}")
    if plan.timing_cache:
        cmd.append(f"--timingCacheFile={plan.timing_cache}")
    if plan.dla_core is not None:
        cmd.append(f"--useDLACore={plan.dla_core}")
        if "GPU_FALLBACK" in plan.builder_flags:
            cmd.append("--allowGPUFallback")
    if plan.version_compatible:
        cmd.append("--versionCompatible")
    return cmd


def format_command(argv: List[str]) -> str:
    """Shell-quoted one-line command."""
    return " ".join(shlex.quote(a) for a in argv)
