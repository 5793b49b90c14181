"""Load a :class:`~ran_edge.bench.subjects.SubjectSpec` into a runnable :class:`Subject`.

File artifacts go through :func:`ran_edge.runtime.load` (the Runner protocol: ONNX Runtime, TorchScript,
TensorRT), never through TensorRT directly. Checkpoints and random models run in torch eager through the
three RAN paths (``run_per_region`` / ``run`` / ``run_regions``), or are exported first for the
TorchScript / ONNX Runtime peers (:mod:`ran_edge.bench.variants`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ran_edge.bench.config import Backend, BenchConfig, RegionPath
from ran_edge.bench.subjects import Subject, SubjectSpec
from ran_edge.errors import RanEdgeError

_RUNTIME_BACKEND = {Backend.ONNXRUNTIME: "ort", Backend.TORCHSCRIPT: "torchscript", Backend.TRT: "trt"}
#: sidecar ``extra`` keys that may name the FP32 model an artifact was made from (first found wins).
SOURCE_KEYS = ("source_onnx", "fp32_source", "source_artifact", "source_model", "source")


#: sidecar ``extra`` key holding the sha256 of the FP32 ONNX an INT8 file was quantized from.
SOURCE_SHA_KEY = "source_onnx_sha256"


def _find_by_sha256(sha: str, artifact: Path, candidates: tuple[str, ...]) -> str | None:
    """A file among ``candidates`` and the ``.onnx`` files next to ``artifact`` whose sha256 is ``sha``."""
    from ran_edge.artifact import sha256_file

    seen = set()
    for cand in [Path(c) for c in candidates] + sorted(artifact.parent.glob("*.onnx")):
        cand = cand.resolve()
        if cand in seen or cand == artifact.resolve() or cand.suffix != ".onnx" or not cand.is_file():
            continue
        seen.add(cand)
        if sha256_file(cand) == sha:
            return str(cand)
    return None


def reference_hint(artifact: str | Path, meta: Any, candidates: tuple[str, ...] = ()) -> str | None:
    """The FP32 source an artifact was made from, or None.

    Found from its sidecar: a path under one of :data:`SOURCE_KEYS` (relative to the artifact), or the
    ``source_onnx_sha256`` that ``ran-edge calibrate`` records, matched against ``candidates`` (the bench's
    other artifacts) and the ``.onnx`` files next to it.
    """
    extra = dict(getattr(meta, "extra", {}) or {})
    sha = extra.get(SOURCE_SHA_KEY)
    if isinstance(sha, str) and sha:
        found = _find_by_sha256(sha, Path(artifact), candidates)
        if found:
            return found
    for key in SOURCE_KEYS:
        value = extra.get(key)
        if isinstance(value, dict):
            value = value.get("path")
        if isinstance(value, str) and value:
            p = Path(value)
            cand = p if p.is_absolute() else Path(artifact).parent / p
            if cand.is_file():
                return str(cand)
            if p.is_file():
                return str(p)
    return None


def _flops_from_onnx(path: Path, k: int) -> tuple[float | None, str]:
    from ran_edge._lazy import is_available

    if not is_available("onnx"):
        return None, "unknown (onnx not installed)"
    from ran_edge.bench.flops import onnx_macs

    counted = onnx_macs(path, faces=1, regions_per_face=k)
    note = f"; {len(counted['uncounted'])} ops without shapes" if counted["uncounted"] else ""
    return 2.0 * counted["per_face"], f"counted from the ONNX graph (Conv/MatMul/Gemm){note}"


def load_runtime_subject(spec: SubjectSpec, cfg: BenchConfig, artifact: str | None = None) -> Subject:
    """A file artifact through ``ran_edge.runtime.load``."""
    from ran_edge.runtime import load

    path = Path(artifact or spec.artifact)
    options: dict[str, Any] = {}
    if spec.backend is Backend.ONNXRUNTIME:
        options = {"threads": cfg.threads}  # providers: CUDA when onnxruntime-gpu sees a GPU, else CPU
    elif spec.backend is Backend.TORCHSCRIPT:
        options = {"torch_device": cfg.torch_device}
        _set_torch_threads(cfg.threads)
    t0 = time.perf_counter_ns()
    clf = load(path, backend=_RUNTIME_BACKEND[spec.backend], device=cfg.device, **options)
    load_ms = (time.perf_counter_ns() - t0) / 1e6
    runner, meta = clf.runner, clf.meta
    name = runner.input_specs()[0].name
    dtype = np.dtype(runner.input_specs()[0].dtype)

    def run(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = runner.infer({name: x if x.dtype == dtype else x.astype(dtype)}, check=False)
        return out["logits"], out["region_weights"]

    def breakdown() -> dict[str, float] | None:
        gpu_ms = getattr(runner, "last_gpu_time_ms", None)
        host_s = runner.last_inference_time
        if gpu_ms is None or host_s is None:
            return None
        return {"gpu_compute_ms": float(gpu_ms), "copies_and_host_ms": max(0.0, host_s * 1e3 - float(gpu_ms))}

    k = meta.preset.num_regions
    onnx_path = path if path.suffix == ".onnx" else None
    flops, source = _flops_from_onnx(onnx_path, k) if onnx_path else (None, "unknown (no ONNX graph to count)")
    max_batch = None
    if spec.backend is Backend.TRT and hasattr(runner, "profile_batch"):
        hi = runner.profile_batch()[1]
        max_batch = hi // k if meta.input_kind.value == "regions" else hi
    return Subject(spec, meta.precision.value, meta.input_kind.value, tuple(meta.class_names), meta.preset,
                   meta.preprocess, run, load_ms, breakdown_fn=breakdown, close_fn=clf.close, flops_per_face=flops,
                   flops_source=source, reference_hint=reference_hint(path, meta, cfg.artifacts), max_batch=max_batch,
                   extra={"runtime_artifact": str(path),
                          "providers": list(getattr(runner, "active_providers", []) or []) or None})


def _set_torch_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def build_model(spec: SubjectSpec, trust: bool = False) -> tuple[Any, bool]:
    """``(RAN in eval mode, trained)`` for a checkpoint or a ``random:*`` pseudo-artifact."""
    import torch

    if spec.kind == "checkpoint":
        from ran_edge.model.checkpoint import load_checkpoint

        model, _ = load_checkpoint(spec.artifact, trust=trust)
        return model.eval(), True
    from ran_edge.data.classes import RAFDB_CLASSES
    from ran_edge.model.ran import build_ran
    from ran_edge.preprocess import PreprocessSpec

    torch.manual_seed(0)
    if spec.artifact == "random:full":  # the real RAN: ResNet-18 trunk, 224x224 faces and regions, 6 regions
        return build_ran(RAFDB_CLASSES, "ferplus6", "official", PreprocessSpec(), trunk_width=64).eval(), False
    return build_ran(RAFDB_CLASSES, "ferplus6", "official", PreprocessSpec(face_size=32, region_size=16), 8).eval(), False


def load_torch_subject(spec: SubjectSpec, cfg: BenchConfig, model: Any, trained: bool, load_ms: float) -> Subject:
    """Torch eager through one of the three RAN paths."""
    import torch

    from ran_edge.bench.flops import ran_macs

    _set_torch_threads(cfg.threads)
    device = torch.device(cfg.torch_device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RanEdgeError("--torch-device cuda: torch sees no CUDA device on this machine")
    model = model.to(device).eval()
    fn = {RegionPath.PER_REGION: model.run_per_region, RegionPath.REGION_BATCH: model.run,
          RegionPath.FUSED: model.run_regions}[spec.path]
    cuda = device.type == "cuda"
    events: list[Any] = []
    last: dict[str, float] = {}

    def run(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            t = torch.from_numpy(x).to(device, non_blocking=True)
            if cuda:
                if not events:
                    events.extend([torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)])
                events[0].record()
                out = fn(t)
                events[1].record()
            else:
                out = fn(t)
            logits, weights = out.logits.float().cpu().numpy(), out.region_weights.float().cpu().numpy()
        if cuda:
            torch.cuda.synchronize()
            last["gpu_compute_ms"] = float(events[0].elapsed_time(events[1]))
        return logits, weights

    kind = "regions" if spec.path is RegionPath.FUSED else "faces"
    macs = ran_macs(model.config, kind)["total"]
    pp = model.config.preprocess
    return Subject(spec, "fp32", kind, tuple(model.config.class_names), model.config.preset, pp, run, load_ms,
                   sync_fn=(torch.cuda.synchronize if cuda else (lambda: None)),
                   breakdown_fn=(lambda: dict(last) if last else None), flops_per_face=2.0 * macs,
                   flops_source="analytic from the RAN config (Conv/MatMul/Gemm MACs x 2)", trained=trained,
                   extra={"torch_device": str(device), "trunk_width": model.config.trunk_width,
                          "face_size": pp.face_size, "region_size": pp.region_size})


def load_subject(spec: SubjectSpec, cfg: BenchConfig, model_cache: dict[str, tuple[Any, bool, float]]) -> Subject:
    """Load any spec. Models are built once per artifact (``model_cache``); exports go to ``cfg.out/artifacts``."""
    if spec.kind not in ("checkpoint", "random"):
        return load_runtime_subject(spec, cfg)
    if spec.artifact not in model_cache:
        t0 = time.perf_counter_ns()
        model, trained = build_model(spec, cfg.trust_checkpoint)
        model_cache[spec.artifact] = (model, trained, (time.perf_counter_ns() - t0) / 1e6)
    model, trained, load_ms = model_cache[spec.artifact]
    if spec.backend is Backend.TORCH:
        subject = load_torch_subject(spec, cfg, model, trained, load_ms)
        if spec.kind == "checkpoint":
            from ran_edge.artifact import sha256_file

            subject.extra["checkpoint_sha256"] = sha256_file(spec.artifact)
        return subject
    from ran_edge.bench.variants import export_variant

    stem = "random-full" if spec.artifact == "random:full" else "random-tiny" if spec.artifact == "random:tiny" \
        else Path(spec.artifact).stem
    exported = export_variant(model, spec.backend, spec.path, cfg.out / "artifacts", stem)
    subject = load_runtime_subject(spec, cfg, str(exported))
    if subject.flops_per_face is None:
        from ran_edge.bench.flops import ran_macs

        kind = "regions" if spec.path is RegionPath.FUSED else "faces"
        subject.flops_per_face = 2.0 * ran_macs(model.config, kind)["total"]
        subject.flops_source = "analytic from the RAN config (Conv/MatMul/Gemm MACs x 2)"
    subject.trained = trained
    return subject
