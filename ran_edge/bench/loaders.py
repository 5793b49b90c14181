"""Load a :class:`~ran_edge.bench.subjects.SubjectSpec` into a :class:`Subject`: a runtime Runner plus its sidecar.

File artifacts go through :func:`ran_edge.runtime.load` (ONNX Runtime, TorchScript, TensorRT runners).
Checkpoints and random models run in torch eager through :class:`ran_edge.runtime.torch_runner.TorchRunner`
(the three RAN region paths), or are exported first by :mod:`ran_edge.export` for the TorchScript / ONNX
Runtime peers (the per-region structure with ``per_region=True``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ran_edge.artifact import Backend, RegionPath, TensorSpec, meta_for_model_config
from ran_edge.bench.config import BenchConfig
from ran_edge.bench.subjects import Subject, SubjectSpec

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
    """The FP32 source an artifact was made from, or None: the ``source_onnx_sha256`` that ``ran-edge calibrate``
    records in the sidecar, matched against ``candidates`` (the bench's other artifacts) and the ``.onnx`` files
    next to it."""
    sha = dict(getattr(meta, "extra", {}) or {}).get(SOURCE_SHA_KEY)
    return _find_by_sha256(sha, Path(artifact), candidates) if isinstance(sha, str) and sha else None


def _flops_from_onnx(path: Path, k: int) -> tuple[float | None, str]:
    from ran_edge._lazy import is_available

    if not is_available("onnx"):
        return None, "unknown (onnx not installed)"
    from ran_edge.bench.flops import onnx_macs

    counted = onnx_macs(path, faces=1, regions_per_face=k)
    note = f"; {len(counted['uncounted'])} ops without shapes" if counted["uncounted"] else ""
    return 2.0 * counted["per_face"], f"counted from the ONNX graph (Conv/MatMul/Gemm){note}"


def ort_spinning(cfg: BenchConfig, configurations: int) -> bool:
    """Whether ONNX Runtime's idle threads may spin: not when configurations take turns (interleaved schedule) with
    more than one of them, where each session's spinning threads slow the next one at random (on 2 cores, two ORT
    sessions of the demo model taking turns measured 4-7 ms a batch with spinning and a steady 2.4 ms without; one
    session alone is about 25 % faster with spinning, so a sequential run keeps it)."""
    from ran_edge.bench.config import Schedule

    return cfg.schedule is not Schedule.INTERLEAVED or configurations < 2


def load_runtime_subject(spec: SubjectSpec, cfg: BenchConfig, artifact: str | None = None, spinning: bool = True) -> Subject:
    """A file artifact through ``ran_edge.runtime.load`` (``spinning``: see :func:`ort_spinning`)."""
    from ran_edge.runtime import load

    path = Path(artifact or spec.artifact)
    options: dict[str, Any] = {}
    if spec.backend is Backend.ORT:
        options = {"threads": cfg.threads, "spinning": spinning}  # providers: CUDA when onnxruntime-gpu sees a GPU
    elif spec.backend is Backend.TORCHSCRIPT:
        options = {"torch_device": cfg.torch_device}
        _set_torch_threads(cfg.threads)
    t0 = time.perf_counter_ns()
    clf = load(path, backend=spec.backend, device=cfg.device, **options)
    load_ms = (time.perf_counter_ns() - t0) / 1e6
    runner, meta = clf.runner, clf.meta
    k = meta.preset.num_regions
    flops, source = _flops_from_onnx(path, k) if path.suffix == ".onnx" else (None, "unknown (no ONNX graph to count)")
    max_batch = None
    if spec.backend is Backend.TRT and hasattr(runner, "profile_batch"):
        hi = runner.profile_batch()[1]
        max_batch = hi // k if meta.input_kind.value == "regions" else hi
    return Subject(spec, runner, meta, load_ms, flops_per_face=flops, flops_source=source,
                   reference_hint=reference_hint(path, meta, cfg.artifacts), max_batch=max_batch,
                   extra={"runtime_artifact": str(path), **({"ort_spinning": spinning} if spec.backend is Backend.ORT else {}),
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


def _analytic_flops(model: Any, path: RegionPath) -> tuple[float, str]:
    from ran_edge.bench.flops import ran_macs

    return 2.0 * ran_macs(model.config, path.input_kind.value)["total"], \
        "analytic from the RAN config (Conv/MatMul/Gemm MACs x 2)"


def load_torch_subject(spec: SubjectSpec, cfg: BenchConfig, model: Any, trained: bool, load_ms: float) -> Subject:
    """Torch eager through one of the three RAN region paths (a :class:`TorchRunner`)."""
    from ran_edge.runtime.torch_runner import OUTPUT_NAMES, TorchRunner

    runner = TorchRunner(model, spec.path, cfg.torch_device, cfg.threads).activate()
    cfg_ = runner.model.config
    outputs = (TensorSpec(OUTPUT_NAMES[0], (-1, len(cfg_.class_names))), TensorSpec(OUTPUT_NAMES[1], (-1, cfg_.preset.num_regions)))
    meta = meta_for_model_config(cfg_, "torch", spec.path.input_kind, runner.input_specs(), outputs)
    flops, source = _analytic_flops(runner.model, spec.path)
    pp = cfg_.preprocess
    return Subject(spec, runner, meta, load_ms, flops_per_face=flops, flops_source=source, trained=trained,
                   extra={"torch_device": str(cfg.torch_device), "trunk_width": cfg_.trunk_width,
                          "face_size": pp.face_size, "region_size": pp.region_size})


def export_variant(model: Any, backend: Backend, path: RegionPath, out_dir: Path, stem: str) -> Path:
    """Write ``out_dir/<stem>.<path><suffix>`` (+ sidecar) for ``backend`` through :mod:`ran_edge.export`; unchecked
    (the bench measures agreement itself) and, for the per-region structure, not simplified."""
    from ran_edge.export import export_onnx, export_torchscript

    out_dir.mkdir(parents=True, exist_ok=True)
    per_region = path is RegionPath.PER_REGION
    if backend is Backend.ORT:
        target = out_dir / f"{stem}.{path.value}.onnx"
        return export_onnx(model, target, input_kind=path.input_kind, check=False, simplify=not per_region,
                           per_region=per_region, log=lambda _: None).path
    target = out_dir / f"{stem}.{path.value}.ts"
    return export_torchscript(model, target, input_kind=path.input_kind, check=False, per_region=per_region,
                              log=lambda _: None).path


def load_subject(spec: SubjectSpec, cfg: BenchConfig, model_cache: dict[str, tuple[Any, bool, float]],
                 spinning: bool = True) -> Subject:
    """Load any spec. Models are built once per artifact (``model_cache``); exports go to ``cfg.out/artifacts``;
    ``spinning``: whether ONNX Runtime sessions may spin (:func:`ort_spinning`)."""
    if spec.kind not in ("checkpoint", "random"):
        return load_runtime_subject(spec, cfg, spinning=spinning)
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
    stem = "random-full" if spec.artifact == "random:full" else "random-tiny" if spec.artifact == "random:tiny" \
        else Path(spec.artifact).stem
    exported = export_variant(model, spec.backend, spec.path, cfg.out / "artifacts", stem)
    subject = load_runtime_subject(spec, cfg, str(exported), spinning)
    if subject.flops_per_face is None:
        subject.flops_per_face, subject.flops_source = _analytic_flops(model, spec.path)
    subject.trained = trained
    return subject
