"""``ran-edge calibrate`` as one library call: data → one calibration → INT8 flavours + TensorRT cache + manifest.

Everything is written into a hidden temp folder next to the output and moved into place only when all
files are complete, so a failure (bad data, corrupt model, interrupt) leaves nothing half-written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from ran_edge.artifact import sha256_file, sidecar_path
from ran_edge.errors import RanEdgeError
from ran_edge.quantize.manifest import build_manifest, default_manifest_path, write_manifest
from ran_edge.quantize.qdq import DEFAULT_FP32_SCOPE, Fp32Scope, QuantResult, QuantTarget, load_ran_onnx, quantize_int8
from ran_edge.quantize.readers import DatasetReader, open_calibration_data
from ran_edge.quantize.stats import DEFAULT_METHOD, CalibrationMethod, CalibrationStats, collect_stats
from ran_edge.quantize.trt_cache import DEFAULT_TRT_VERSION, write_trt_cache


@dataclass(frozen=True)
class CalibrationRun:
    """What one calibration wrote: INT8 files per target, the TensorRT cache, the manifest and its sha256."""

    results: Mapping[QuantTarget, QuantResult]
    stats: CalibrationStats
    trt_cache: Path
    manifest: Path
    manifest_sha256: str


def output_paths(out: str | Path, targets: Sequence[QuantTarget]) -> dict[QuantTarget, Path]:
    """``--out`` is the file for the first target (TensorRT when both); the CPU flavour of a pair goes to
    ``<stem>.cpu.onnx`` (``model.int8.onnx`` → ``model.int8.cpu.onnx``)."""
    out = Path(out)
    stem = out.name[:-5] if out.name.endswith(".onnx") else out.name
    paths = {targets[0]: out}
    for t in targets[1:]:
        paths[t] = out.with_name(f"{stem}.{t.value}.onnx")
    return paths


def calibrate_onnx(onnx_path: str | Path, out: str | Path, *, data: str = "synthetic", num: int = 512,
                   method: CalibrationMethod | str = DEFAULT_METHOD, per_channel: bool = True,
                   targets: Sequence[QuantTarget | str] = (QuantTarget.TENSORRT, QuantTarget.CPU),
                   keep_fp32: Fp32Scope | str = DEFAULT_FP32_SCOPE, manifest: str | Path | None = None,
                   trt_cache: str | Path | None = None, trt_version: str = DEFAULT_TRT_VERSION, batch_size: int = 16,
                   seed: int = 0, progress: bool = True, log: Callable[[str], None] = print) -> CalibrationRun:
    """Calibrate an FP32 RAN ONNX on ``data`` and write the INT8 flavours, the TensorRT cache and the manifest.

    Args:
        onnx_path: FP32 ONNX from ``ran-edge export``.
        out: INT8 ONNX path of the first target (see :func:`output_paths`).
        data: ``synthetic`` (train split; options allowed, e.g. ``synthetic:seed=3``) or a folder of face images.
        num: number of calibration faces (error if the data has fewer).
        method / per_channel / keep_fp32: see :func:`quantize_int8`.
        targets: INT8 flavours to write, from the same calibration.
        manifest: manifest path (default ``<out stem>.calibration.json`` next to ``out``).
        trt_cache: TensorRT cache path (default ``<out stem>.calibration.cache``).
        trt_version: TensorRT version written in the cache header.

    Raises:
        RanEdgeError / DataError: bad model, bad or too little data, bad option.
    """
    targets = [QuantTarget(t) for t in targets]
    if not targets or len(set(targets)) != len(targets):
        raise RanEdgeError(f"targets: got {[t.value for t in targets]}, expected one or both of tensorrt, cpu")
    method = CalibrationMethod(method)
    _, meta = load_ran_onnx(onnx_path)  # fail on a bad model before touching data
    if data.strip() == "synthetic":
        data = f"synthetic:n_train={num}"  # generate only what is used (sample i does not depend on n)
    dataset, description = open_calibration_data(data, num, seed)
    reader = DatasetReader(dataset, meta, num, batch_size, description)
    out = Path(out)
    paths = output_paths(out, targets)
    stem = out.name[:-5] if out.name.endswith(".onnx") else out.name
    manifest_path = Path(manifest) if manifest else default_manifest_path(out)
    cache_path = Path(trt_cache) if trt_cache else out.with_name(stem + ".calibration.cache")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".ran-edge-calibrate-", dir=out.parent))
    try:
        stats = collect_stats(onnx_path, reader, method, progress=progress, log=log)
        doc = build_manifest(reader.describe(), meta, method=method.value, num=num, batches=stats.batches,
                             model_sha256=sha256_file(onnx_path), per_channel=per_channel)
        staged_manifest, manifest_sha = write_manifest(staging / "manifest.json", doc)
        write_trt_cache(stats, staging / "trt.cache", trt_version)
        results = {t: quantize_int8(onnx_path, staging / f"{t.value}.onnx", method=method, per_channel=per_channel,
                                    target=t, keep_fp32=keep_fp32, stats=stats, manifest_sha256=manifest_sha, log=lambda s: None)
                   for t in targets}
        moves = [(staged_manifest, manifest_path), (staging / "trt.cache", cache_path)]
        for t in targets:
            moves += [(staging / f"{t.value}.onnx", paths[t]), (sidecar_path(staging / f"{t.value}.onnx"), sidecar_path(paths[t]))]
        for src, dst in moves:
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(src, 0o644)  # temp files are created 0600
            os.replace(src, dst) if dst.parent.resolve() == staging.parent.resolve() else shutil.move(str(src), str(dst))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    final = {t: QuantResult(paths[t], r.meta, r.report) for t, r in results.items()}
    for t, r in final.items():
        log(f"wrote {r.path} (INT8 {t.value}: {r.report['activations']} activations, {len(r.report['fp32_nodes'])} nodes FP32)")
    log(f"wrote {cache_path} (TensorRT calibration cache, {len(stats.ranges)} tensors) and {manifest_path} (manifest)")
    return CalibrationRun(final, stats, cache_path, manifest_path, manifest_sha)
