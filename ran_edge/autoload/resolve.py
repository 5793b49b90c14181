"""``prepare_artifact(request) -> Prepared``: the backend that runs the source here and the artifact it needs.

Walks the candidates (``backend="auto"``: TensorRT → ONNX Runtime CUDA → ONNX Runtime CPU → TorchScript; an
explicit backend: its own), passing over one that is not installed, does not work here, or cannot run the
source at the precision asked, and says why. The first that fits gets its artifact from the build cache
(made on first use). A TensorRT engine that fails to build under ``auto`` is reported and the walk goes on;
under ``backend="trt"`` the failure is the error.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ran_edge.artifact import ArtifactKind, ArtifactMeta, Backend, Precision, artifact_kind, read_sidecar, sha256_file, verify_hash
import ran_edge.autoload.derive as derive
from ran_edge.autoload.probe import AUTO_ORDER, BY_BACKEND, Candidate, Probe, probe
from ran_edge.cache import BuildCache, CacheEntry
from ran_edge.errors import RanEdgeError
from ran_edge.runtime.choice import AUTO, LoadChoice, LoadRequest, Prepared


class _Source:
    """The file given, its kind, its precision (a checkpoint is FP32) and, for an ONNX or engine, its sidecar."""

    def __init__(self, path: Path):
        self.path = path
        self.kind = artifact_kind(path)
        self.meta: Optional[ArtifactMeta] = None
        if self.kind in (ArtifactKind.ONNX, ArtifactKind.ENGINE, ArtifactKind.TORCHSCRIPT):
            self.meta = read_sidecar(path)
            verify_hash(path, self.meta)
        self.precision = Precision(self.meta.precision) if self.meta else Precision.FP32
        self._sha: Optional[str] = None

    @property
    def sha(self) -> str:
        if self._sha is None:
            self._sha = sha256_file(self.path)
        return self._sha


def _candidates(backend: str) -> Tuple[Candidate, ...]:
    if backend == AUTO:
        return AUTO_ORDER
    return BY_BACKEND[Backend(backend)]


def _unfit(cand: Candidate, src: _Source, precision: Precision, req: LoadRequest) -> str:
    """Why ``cand`` cannot run ``src`` at ``precision`` (empty: it can)."""
    if src.kind is ArtifactKind.ENGINE and cand is not Candidate.TENSORRT:
        return "an engine runs on TensorRT only"
    if src.kind is ArtifactKind.TORCHSCRIPT and cand is not Candidate.TORCHSCRIPT:
        return "a TorchScript file runs on torch only"
    if src.kind in (ArtifactKind.ENGINE, ArtifactKind.TORCHSCRIPT) and precision is not src.precision:
        return f"the file is {src.precision.value}; {precision.value} needs the checkpoint or ONNX it came from"
    if cand is Candidate.TORCHSCRIPT and src.kind is ArtifactKind.ONNX:
        return "an ONNX model does not convert to TorchScript (give the .pt)"
    if cand is Candidate.TORCHSCRIPT and precision is not Precision.FP32:
        return f"TorchScript runs fp32 only, not {precision.value}"
    if src.precision is not Precision.FP32 and precision is not src.precision:
        return f"the source is {src.precision.value}; {precision.value} needs an FP32 source"
    return ""


def _fp32_onnx(cache: BuildCache, src: _Source, req: LoadRequest, made: List[Tuple[CacheEntry, bool]]) -> Path:
    """The FP32 (or the source's own) ONNX: the source itself, or its export from the cache."""
    if src.kind is ArtifactKind.ONNX:
        return src.path
    made.append(derive.exported_onnx(cache, src.path, req.input_kind, req.trust_checkpoint, req.log, src.sha))
    return made[-1][0].artifact


def _artifact(cand: Candidate, probe_: Probe, cache: BuildCache, src: _Source, precision: Precision,
              req: LoadRequest) -> Tuple[Path, List[Tuple[CacheEntry, bool]]]:
    """The file ``cand`` runs, with the cache entries looked up or built on the way."""
    made: List[Tuple[CacheEntry, bool]] = []
    if src.kind in (ArtifactKind.ENGINE, ArtifactKind.TORCHSCRIPT):
        return src.path, made
    if cand is Candidate.TORCHSCRIPT:
        made.append(derive.torchscript(cache, src.path, req.input_kind, req.trust_checkpoint, req.log, src.sha))
        return made[-1][0].artifact, made
    onnx = _fp32_onnx(cache, src, req, made)
    label = str(src.path) if onnx == src.path else f"{src.path} (its ONNX export)"
    if cand is Candidate.TENSORRT:
        made.append(derive.engine(cache, onnx, precision, probe_.facts, req.input_kind, req.calib_data, req.device,
                                  req.allow_accuracy_loss, req.log, label))
        return made[-1][0].artifact, made
    if precision is src.precision and src.kind is ArtifactKind.ONNX:
        return onnx, made
    if precision is Precision.FP16:
        made.append(derive.fp16_onnx(cache, onnx, req.log, label))
    elif precision is Precision.INT8:
        made.append(derive.int8_onnx(cache, onnx, str(req.calib_data), req.allow_accuracy_loss, req.log, label))
    return (made[-1][0].artifact if made else onnx), made


def _cache_note(made: List[Tuple[CacheEntry, bool]], seconds: float) -> str:
    if not made:
        return ""
    built = [e.kind for e, b in made if b]
    return f"built {'+'.join(built)} in {seconds:.1f} s" if built else "from the cache"


def _check_int8(src: _Source, precision: Precision, req: LoadRequest) -> None:
    if precision is Precision.INT8 and src.precision is not Precision.INT8 and not req.calib_data:
        raise RanEdgeError(f"{src.path}: precision int8 needs a QDQ INT8 ONNX or calibration data; expected "
                           "calib_data='synthetic' or a folder of aligned faces (--calib-data), as 'ran-edge calibrate' takes")


def prepare_artifact(req: LoadRequest) -> Prepared:
    """The artifact, backend and runner options that run ``req.source`` here (see the module docstring).

    Raises:
        RanEdgeError: no candidate fits (each one's reason in the message), a failed step of an explicit
            backend, or an unwritable cache (naming ``$RAN_EDGE_CACHE_DIR``).
    """
    src = _Source(Path(req.source))
    if src.kind is None:
        raise RanEdgeError(f"{src.path}: unknown model file '{src.path.suffix}', expected .pt, .onnx, .engine or .ts")
    precision = Precision(req.precision) if req.precision else src.precision
    _check_int8(src, precision, req)
    cache = BuildCache(req.cache_dir, log=req.log)
    passed: List[str] = []
    for cand in _candidates(req.backend):
        probe_ = probe(cand, req.device)
        reason = probe_.reason if not probe_.ok else _unfit(cand, src, precision, req)
        if reason:
            passed.append(f"{cand.value}: {reason}")
            continue
        start = time.perf_counter()
        try:
            artifact, made = _artifact(cand, probe_, cache, src, precision, req)
        except RanEdgeError as exc:
            if req.backend != AUTO or cand is not Candidate.TENSORRT:
                raise
            req.log(f"warning: TensorRT engine for {src.path} failed ({exc}); trying the next backend")
            passed.append(f"{cand.value}: engine build failed")
            continue
        return _prepared(cand, probe_, src, precision, req, artifact, passed, _cache_note(made, time.perf_counter() - start))
    what = "auto" if req.backend == AUTO else f"backend '{Backend(req.backend).short}'"
    raise RanEdgeError(f"{src.path}: nothing here runs it at {precision.value} ({what}): " + "; ".join(passed))


def _prepared(cand: Candidate, probe_: Probe, src: _Source, precision: Precision, req: LoadRequest, artifact: Path,
              passed: List[str], cache_note: str) -> Prepared:
    options: Dict[str, Any] = {}
    detail = ""
    if cand in (Candidate.ORT_CUDA, Candidate.ORT_CPU):
        options["providers"] = ["cuda"] if cand is Candidate.ORT_CUDA else ["cpu"]
        detail = str(probe_.facts.get("provider", ""))
    elif cand is Candidate.TENSORRT:
        detail = f"TensorRT {probe_.facts.get('tensorrt_version')}, {probe_.facts.get('gpu_name')} sm {probe_.facts.get('compute_capability')}"
    if req.backend == AUTO:
        why = "auto: " + ("; ".join(passed) + " -> " if passed else "") + f"{cand.value} is the fastest that fits"
    else:
        why = f"backend {cand.backend.short} as asked" + (f" ({'; '.join(passed)})" if passed else "")
    facts = {k: v for k, v in probe_.facts.items() if k != "env"}
    choice = LoadChoice(str(src.path), str(artifact), cand.backend, precision, why, detail, cache_note, facts)
    req.log(choice.line())
    return Prepared(artifact, cand.backend, options, choice)
