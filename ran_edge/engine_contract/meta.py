"""The engine sidecar (``model.engine.json``) and the load-time compatibility check (pure).

The sidecar is an :class:`~ran_edge.artifact.ArtifactMeta` with ``format="engine"``; the
TensorRT-specific facts live in ``extra`` under the keys of :data:`ENGINE_KEYS`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ran_edge.artifact import ArtifactMeta, Precision, TensorSpec
from ran_edge.engine_contract.plan import BuildPlan
from ran_edge.engine_contract.versions import TrtVersion
from ran_edge.errors import EngineMismatchError, RanEdgeError

#: ``extra`` keys written into every engine sidecar.
ENGINE_KEYS = ("tensorrt_version", "cuda_version", "gpu_name", "compute_capability", "jetpack", "precision_requested",
               "precision_note", "build_plan", "profiles", "onnx_sha256", "onnx_path", "calibration_manifest_sha256",
               "build_time_s", "built_at", "version_compatible", "dla_core", "fp32_layers_pinned", "engine_sha256")


@dataclass(frozen=True)
class DeviceEnv:
    """The TensorRT / CUDA / GPU an engine is built or loaded on."""

    trt_version: str
    gpu_name: str
    compute_capability: Tuple[int, int]
    cuda_version: Optional[str] = None
    jetpack: Optional[str] = None

    @property
    def cc_text(self) -> str:
        return f"{self.compute_capability[0]}.{self.compute_capability[1]}"


@dataclass(frozen=True)
class BuildRecord:
    """Facts of one finished build, for the sidecar."""

    built: Precision
    precision_note: str
    inputs: Tuple[TensorSpec, ...]
    outputs: Tuple[TensorSpec, ...]
    onnx_sha256: str
    onnx_path: str
    calibration_manifest_sha256: Optional[str]
    build_time_s: float
    fp32_layers_pinned: Tuple[str, ...] = ()


def parse_cc(text: Any) -> Tuple[int, int]:
    """``"8.7"`` or ``[8, 7]`` → ``(8, 7)``."""
    if isinstance(text, (list, tuple)) and len(text) == 2:
        return int(text[0]), int(text[1])
    major, _, minor = str(text).partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError as exc:
        raise RanEdgeError(f"compute capability: got '{text}', expected MAJOR.MINOR such as 8.7") from exc


def engine_meta(onnx_meta: ArtifactMeta, plan: BuildPlan, env: DeviceEnv, record: BuildRecord) -> ArtifactMeta:
    """Sidecar of an engine built from ``onnx_meta``'s ONNX by ``plan`` on ``env``."""
    extra: Dict[str, Any] = {
        "tensorrt_version": env.trt_version, "cuda_version": env.cuda_version, "gpu_name": env.gpu_name,
        "compute_capability": env.cc_text, "jetpack": env.jetpack,
        "precision_requested": plan.requested.value, "precision_note": record.precision_note,
        "build_plan": plan.to_dict(), "profiles": [p.to_dict() for p in plan.profiles],
        "onnx_sha256": record.onnx_sha256, "onnx_path": record.onnx_path,
        "calibration_manifest_sha256": record.calibration_manifest_sha256,
        "build_time_s": round(record.build_time_s, 3),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "version_compatible": plan.version_compatible, "dla_core": plan.dla_core,
        "fp32_layers_pinned": list(record.fp32_layers_pinned),
        "source_onnx_extra": dict(onnx_meta.extra),
    }
    return replace(onnx_meta, format="engine", precision=record.built, inputs=record.inputs,
                   outputs=record.outputs, extra=extra)


def rebuild_hint(meta: ArtifactMeta, engine_path: str) -> str:
    """The command that rebuilds this engine on the current machine."""
    onnx = meta.extra.get("onnx_path") or "model.onnx"
    prec = meta.extra.get("precision_requested") or Precision(meta.precision).value
    batch = ""
    profiles = meta.extra.get("profiles") or []
    if profiles:
        k = meta.preset.num_regions if meta.input_kind.value == "regions" else 1
        p = profiles[0]
        batch = f" --batch {p['min'][0] // k},{p['opt'][0] // k},{p['max'][0] // k}"
    return f"rebuild it here with: ran-edge build-engine {onnx} --precision {prec}{batch} --out {engine_path}"


def engine_problems(meta: ArtifactMeta, env: DeviceEnv) -> Tuple[List[str], List[str]]:
    """Compare an engine sidecar with the TensorRT/GPU at hand → ``(errors, warnings)``.

    A plan needs the same TensorRT version (major.minor.patch) and the same compute capability;
    a version-compatible engine (8.6+) runs on the same major version, same or newer.
    """
    errors: List[str] = []
    warnings: List[str] = []
    if meta.format != "engine":
        return [f"the metadata describes a '{meta.format}' artifact, not an engine"], warnings
    x = meta.extra
    if not x.get("tensorrt_version") or not x.get("compute_capability"):
        return ["the sidecar lacks tensorrt_version/compute_capability (not written by ran-edge build-engine)"], warnings
    built, here = TrtVersion.parse(x["tensorrt_version"]), TrtVersion.parse(env.trt_version)
    if x.get("version_compatible"):
        if here.major != built.major or here < built:
            errors.append(f"the engine is version-compatible from TensorRT {built} (same major, same or newer), "
                          f"but TensorRT {here} is installed")
    elif built != here:
        errors.append(f"the engine was built with TensorRT {built}, but TensorRT {here} is installed")
    cc_built = parse_cc(x["compute_capability"])
    if cc_built != tuple(env.compute_capability):
        errors.append(f"the engine was built for compute capability {cc_built[0]}.{cc_built[1]} "
                      f"({x.get('gpu_name', '?')}), this GPU is {env.cc_text} ({env.gpu_name})")
    elif x.get("gpu_name") and x["gpu_name"] != env.gpu_name:
        warnings.append(f"built on {x['gpu_name']}, running on {env.gpu_name} (same compute capability; "
                        "rebuild for best speed)")
    return errors, warnings


def check_engine(meta: ArtifactMeta, env: DeviceEnv, engine_path: str) -> List[str]:
    """Raise :class:`EngineMismatchError` (one line, with the rebuild command) or return warnings."""
    errors, warnings = engine_problems(meta, env)
    if errors:
        raise EngineMismatchError(f"{engine_path}: " + "; ".join(errors) + "; " + rebuild_hint(meta, engine_path))
    return warnings


def io_specs_from_names(names: Sequence[Tuple[str, Tuple[int, ...], str]]) -> Tuple[TensorSpec, ...]:
    """``[(name, shape, dtype)]`` → TensorSpecs (helper for the builder)."""
    return tuple(TensorSpec(n, tuple(int(d) for d in s), str(dt)) for n, s, dt in names)
