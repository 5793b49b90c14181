"""What gets benchmarked: an artifact × backend × region path, resolved up front, loaded lazily.

:func:`plan_subjects` checks every artifact before anything runs (exists, is a RAN model, backend
installed, batches within an engine's profile) and raises a one-line :class:`RanEdgeError` otherwise.
:meth:`SubjectSpec.load` (in :mod:`ran_edge.bench.loaders`) then makes a :class:`Subject`; a failure there is
recorded for that configuration and the others still run.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from ran_edge._lazy import is_available
from ran_edge.artifact import artifact_kind as file_kind
from ran_edge.bench.config import RANDOM_ARTIFACTS, Backend, BenchConfig, RegionPath
from ran_edge.errors import RanEdgeError

#: artifact kind → backends that run it natively (first = ``auto``).
NATIVE = {"checkpoint": (Backend.TORCH,), "random": (Backend.TORCH,), "onnx": (Backend.ONNXRUNTIME, Backend.TRT),
          "torchscript": (Backend.TORCHSCRIPT,), "engine": (Backend.TRT,)}
#: backends a checkpoint can reach by exporting itself first.
VIA_EXPORT = (Backend.TORCHSCRIPT, Backend.ONNXRUNTIME)


def artifact_kind(artifact: str) -> str:
    """``onnx``, ``torchscript``, ``engine``, ``checkpoint`` or ``random``; unknown suffix → RanEdgeError."""
    if artifact in RANDOM_ARTIFACTS:
        return "random"
    if artifact.startswith("random:"):
        raise RanEdgeError(f"unknown pseudo-artifact {artifact!r}; expected one of {', '.join(RANDOM_ARTIFACTS)}")
    kind = file_kind(artifact)
    if kind is None:
        suffix = Path(artifact).suffix.lower()
        raise RanEdgeError(f"{artifact}: unknown artifact type {suffix or '(no suffix)'!r}; expected .onnx, .ts, .engine "
                           "or a .pt checkpoint")
    return kind.value


@dataclass(frozen=True)
class SubjectSpec:
    """A configuration to load: artifact, its kind, backend and region path."""

    artifact: str
    kind: str
    backend: Backend
    path: RegionPath
    meta: Any = None  # ArtifactMeta for file artifacts

    @property
    def label(self) -> str:
        name = Path(self.artifact).name if self.kind != "random" else self.artifact
        return f"{name} [{self.backend.value}, {self.path.value}]"


@dataclass
class Subject:
    """A loaded configuration: an active :class:`~ran_edge.runtime.base.Runner` plus its sidecar ``meta``.

    ``run(x) -> (logits, region_weights)`` on the model input ``x``; ``prepare(frame, boxes)`` makes ``x`` from a
    uint8 BGR frame and face boxes (crop + resize for a ``faces`` input, the region batch for a ``regions`` input).
    """

    spec: SubjectSpec
    runner: Any
    meta: Any  # ArtifactMeta: precision, input kind, classes, preset, preprocessing
    load_ms: float
    flops_per_face: float | None = None
    flops_source: str | None = None
    reference_hint: str | None = None  # FP32 source named by the sidecar
    max_batch: int | None = None
    trained: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    precision = property(lambda self: self.meta.precision.value)
    input_kind = property(lambda self: self.meta.input_kind.value)
    class_names = property(lambda self: tuple(self.meta.class_names))
    preset = property(lambda self: self.meta.preset)
    preprocess = property(lambda self: self.meta.preprocess)

    def __post_init__(self) -> None:
        spec = self.runner.input_specs()[0]
        self._input = (spec.name, np.dtype(spec.dtype))

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits and region weights for the model input ``x`` (cast to the model's dtype; feed not re-checked)."""
        name, dtype = self._input
        out = self.runner.infer({name: x if x.dtype == dtype else x.astype(dtype)}, check=False)
        return out["logits"], out["region_weights"]

    def sync(self) -> None:
        """Wait for the runner's queued device work (torch on CUDA; the others return host arrays)."""
        getattr(self.runner, "synchronize", lambda: None)()

    def last_breakdown(self) -> Mapping[str, float] | None:
        """Device compute vs copies + host time of the last call, when the runner times the device."""
        gpu_ms, host_s = getattr(self.runner, "last_gpu_time_ms", None), self.runner.last_inference_time
        if gpu_ms is None or host_s is None:
            return None
        return {"gpu_compute_ms": float(gpu_ms), "copies_and_host_ms": max(0.0, host_s * 1e3 - float(gpu_ms))}

    def close(self) -> None:
        """Release the runner."""
        self.runner.deactivate()

    def prepare(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Model input from a frame and face boxes, by the one preprocessing (or the fused kernel)."""
        from ran_edge.model_input import frame_model_input

        with _quiet_kernel():
            return frame_model_input(frame, boxes, self.meta.input_kind, self.preset, self.preprocess)

    def predict_faces(self, faces: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Logits and region weights for aligned faces (each face is its own frame, box = whole face)."""
        from ran_edge.model_input import prepare_model_input

        with _quiet_kernel():
            return self.run(prepare_model_input(list(faces), self.meta.input_kind, self.preset, self.preprocess))


@contextlib.contextmanager
def _quiet_kernel() -> Iterator[None]:
    """Silence the kernels' one-time "not built" warning (the report names the implementation)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _check_backend_installed(backend: Backend, artifact: str) -> None:
    pkg = backend.package
    if not is_available(pkg):
        extra = {"torch": "export", "onnxruntime": "quantize", "tensorrt": "trt"}[pkg]
        raise RanEdgeError(f"backend {backend.value} for {artifact}: '{pkg}' is not installed; "
                           f"install it with: pip install 'ran-edge[{extra}]'")


def _installed(backends: tuple[Backend, ...]) -> list[Backend]:
    return [b for b in backends if is_available(b.package)]


def _wanted(cfg: BenchConfig, kind: str) -> list[Backend]:
    """Explicit backends asked for; ``all`` expands to the installed ones that can run ``kind``."""
    if Backend.ALL in cfg.backends:
        reach = (Backend.TORCH,) + VIA_EXPORT if kind in ("checkpoint", "random") else NATIVE[kind]
        if kind == "onnx":
            reach = (Backend.ONNXRUNTIME,)  # TensorRT needs an engine built first
        return _installed(reach)
    return [b for b in cfg.backends if b is not Backend.AUTO]


def _file_specs(artifact: str, kind: str, cfg: BenchConfig) -> list[SubjectSpec]:
    from ran_edge.artifact_check import validate_artifact

    meta = validate_artifact(artifact)  # the one artifact validation, before any configuration runs
    own = RegionPath.of_meta(meta)
    wanted = _wanted(cfg, kind)
    backends = [b for b in wanted if b in NATIVE[kind]] if wanted else [NATIVE[kind][0]]
    if not backends:
        raise RanEdgeError(f"{artifact}: no requested backend can run a {kind} file "
                           f"(got {[b.value for b in wanted]}, expected one of {[b.value for b in NATIVE[kind]]})")
    for b in backends:
        _check_backend_installed(b, artifact)
        if b is Backend.TRT and kind == "onnx":
            raise RanEdgeError(f"{artifact}: TensorRT runs engines; build one with 'ran-edge build-engine {artifact}' "
                               "and bench the .engine")
    if cfg.paths is not None and own not in cfg.paths:
        raise RanEdgeError(f"{artifact}: it implements the {own.value} path, not {[p.value for p in cfg.paths]}; "
                           "bench the checkpoint to compare paths, or drop --paths")
    return [SubjectSpec(artifact, kind, b, own, meta) for b in backends]


def _model_specs(artifact: str, kind: str, cfg: BenchConfig) -> list[SubjectSpec]:
    if kind == "checkpoint" and not Path(artifact).is_file():
        raise RanEdgeError(f"artifact not found: {artifact}")
    wanted = _wanted(cfg, kind) or [Backend.TORCH]
    usable = [b for b in wanted if b is Backend.TORCH or b in VIA_EXPORT]
    if not usable:
        raise RanEdgeError(f"{artifact}: a checkpoint runs with torch, torchscript or onnxruntime; got "
                           f"{[b.value for b in wanted]} (for TensorRT build an engine with 'ran-edge build-engine')")
    for b in usable:
        _check_backend_installed(b, artifact)
    _check_backend_installed(Backend.TORCH, artifact)
    paths = cfg.paths or (RegionPath.PER_REGION, RegionPath.REGION_BATCH, RegionPath.FUSED)
    return [SubjectSpec(artifact, kind, b, p) for b in usable for p in paths]


def plan_subjects(cfg: BenchConfig) -> list[SubjectSpec]:
    """Every configuration of the run, validated (see the module docstring).

    The backends' packages are imported here, so a model's ``load_ms`` (cold start) measures loading the
    model, not importing Python packages.
    """
    specs: list[SubjectSpec] = []
    for artifact in cfg.artifacts:
        kind = artifact_kind(artifact)
        specs += _file_specs(artifact, kind, cfg) if kind in ("onnx", "torchscript", "engine") else _model_specs(artifact, kind, cfg)
    from ran_edge._lazy import require

    for pkg in dict.fromkeys(s.backend.package for s in specs):
        require(pkg, "bench")
    if any(s.kind in ("checkpoint", "random") for s in specs):
        require("ran_edge.model.checkpoint", "bench")
    return specs


def check_batches(subject: Subject, batches: tuple[int, ...]) -> None:
    """A batch above an engine's optimisation profile is a user error (one line)."""
    if subject.max_batch is not None and max(batches) > subject.max_batch:
        raise RanEdgeError(f"{subject.spec.artifact}: batch {max(batches)} is above the engine's profile (max "
                           f"{subject.max_batch}); rebuild with a larger --max-batch or bench --batch up to {subject.max_batch}")
