"""``ran-edge calibrate`` as one library call: data → one calibration → measured search → INT8 flavours +
TensorRT cache + manifest, or a loud failure.

Every INT8 file is checked against FP32 on held-out faces (:mod:`ran_edge.quantize.search`); a flavour
that misses the quality target fails the whole call with :class:`~ran_edge.errors.AccuracyTargetError`
and nothing is written, unless ``on_miss=OnMiss.WARN`` (``--allow-accuracy-loss``), which writes the
files, records the miss in their sidecars and manifest, and logs one red line.
Everything is written into a hidden temp folder next to the output and moved into place only when all
files are complete, so a failure (bad data, corrupt model, missed target, interrupt) leaves nothing half-written.
"""

from __future__ import annotations

import enum
import shutil
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ran_edge.artifact import InputKind, sha256_file, sidecar_path
from ran_edge.errors import AccuracyTargetError, RanEdgeError
from ran_edge.outputs import ResultSet
from ran_edge._lazy import require
from ran_edge.quantize.accuracy import DEFAULT_TARGET, QualityTarget
from ran_edge.quantize.cost import layer_cost, ort_speedup
from ran_edge.quantize.histograms import CalibrationMethod
from ran_edge.quantize.manifest import build_manifest, default_manifest_path, write_manifest
from ran_edge.export.io import load_ran_onnx
from ran_edge.quantize.qdq import DEFAULT_FP32_SCOPE, Fp32Scope, QuantResult, QuantTarget, quantize_int8
from ran_edge.data.feeds import DatasetReader, open_calibration_data
from ran_edge.data.images import image_files
from ran_edge.quantize.search import (AUTO_SETTINGS, HeldOut, SearchOptions, SearchResult, candidate_layers, search_int8,
                                      synthetic_holdout)
from ran_edge.quantize.ranges import DEFAULT_PERCENTILE, CalibrationStats, RangeSetting, collect_stats
from ran_edge.quantize.trt_cache import DEFAULT_TRT_VERSION, version_code, write_trt_cache

AUTO = "auto"


class OnMiss(str, enum.Enum):
    """What a missed quality target does: ``fail`` (exit 1, nothing written) or ``warn`` (write, record, red line)."""

    FAIL = "fail"
    WARN = "warn"


@dataclass(frozen=True)
class CalibrationRun:
    """What one calibration wrote: INT8 files per target, the TensorRT cache, the manifest and its sha256."""

    results: Mapping[QuantTarget, QuantResult]
    stats: CalibrationStats
    trt_cache: Path
    manifest: Path
    manifest_sha256: str
    searches: Mapping[QuantTarget, SearchResult]


def output_paths(out: str | Path, targets: Sequence[QuantTarget]) -> dict[QuantTarget, Path]:
    """``--out`` is the file for the first target (TensorRT when both); the CPU flavour of a pair goes to
    ``<stem>.cpu.onnx`` (``model.int8.onnx`` → ``model.int8.cpu.onnx``)."""
    out = Path(out)
    stem = out.name[:-5] if out.name.endswith(".onnx") else out.name
    paths = {targets[0]: out}
    for t in targets[1:]:
        paths[t] = out.with_name(f"{stem}.{t.value}.onnx")
    return paths


def settings_for(method: str, percentile: float = DEFAULT_PERCENTILE) -> tuple[RangeSetting, ...]:
    """``auto`` → the measured candidates; a method name → that one setting."""
    if method == AUTO:
        return AUTO_SETTINGS
    try:
        return (RangeSetting(CalibrationMethod(method), percentile),)
    except ValueError:
        raise RanEdgeError(f"--method: got {method!r}, expected auto, {', '.join(m.value for m in CalibrationMethod)}") from None


def open_holdout(holdout: str, num: int, data: str, face_size: int, seed: int) -> HeldOut:
    """``synthetic`` (val split, all suites, at the model's face size) or a folder of faces (agreement only)."""
    if holdout.strip() == "synthetic":
        return synthetic_holdout(num, face_size, seed + 7919)
    if Path(holdout).expanduser().resolve() == Path(data).expanduser().resolve():
        raise RanEdgeError(f"--holdout {holdout} is the calibration folder; held-out faces must not be calibration faces")
    root = Path(holdout).expanduser()
    available = len(image_files(root)) if root.is_dir() else num
    ds, desc = open_calibration_data(holdout, max(1, min(num, available)))  # a folder gives what it has, up to num
    return HeldOut({"clean": ([ds[i].image for i in range(len(ds))], None)}, {**desc, "count": len(ds)})


def _check_options(num: int, batch_size: int, holdout_num: int, percentile: float, trt_version: str) -> None:
    if num < 1:
        raise RanEdgeError(f"--num must be >= 1, got {num}")
    if batch_size < 1:
        raise RanEdgeError(f"--batch-size must be >= 1, got {batch_size}")
    if holdout_num < 1:
        raise RanEdgeError(f"--holdout-num must be >= 1, got {holdout_num}")
    if not 0.0 < percentile <= 100.0:
        raise RanEdgeError(f"--percentile must be in (0, 100], got {percentile}")
    version_code(trt_version)


def red(line: str) -> str:
    """``line`` in red on a terminal (plain otherwise)."""
    return f"\033[31m{line}\033[0m" if sys.stderr.isatty() else line


def calibrate_onnx(onnx_path: str | Path, out: str | Path, *, data: str = "synthetic", num: int = 512,
                   method: str = AUTO, percentile: float = DEFAULT_PERCENTILE, per_channel: bool = True,
                   targets: Sequence[QuantTarget | str] = (QuantTarget.TENSORRT, QuantTarget.CPU),
                   keep_fp32: Fp32Scope | str = DEFAULT_FP32_SCOPE, manifest: str | Path | None = None,
                   trt_cache: str | Path | None = None, trt_version: str = DEFAULT_TRT_VERSION, batch_size: int = 16,
                   seed: int = 0, holdout: str = "synthetic", holdout_num: int = 400,
                   quality: QualityTarget = DEFAULT_TARGET, max_higher_precision: int | None = None,
                   on_miss: OnMiss | str = OnMiss.FAIL, progress: bool = True,
                   log: Callable[[str], None] = print) -> CalibrationRun:
    """Calibrate an FP32 RAN ONNX on ``data``, choose settings by measurement, and write the INT8 flavours,
    the TensorRT cache and the manifest.

    Args:
        onnx_path: FP32 ONNX from ``ran-edge export``.
        out: INT8 ONNX path of the first target (see :func:`output_paths`).
        data: ``synthetic`` (train split; options allowed, e.g. ``synthetic:seed=3``) or a folder of face images.
        num: number of calibration faces (error if the data has fewer).
        method: ``auto`` (measured choice among :data:`AUTO_SETTINGS`) or entropy / percentile / minmax.
        percentile: the percentile of ``method=percentile``.
        per_channel / keep_fp32: see :func:`quantize_int8`.
        targets: INT8 flavours to write, from the same calibration.
        holdout / holdout_num: held-out faces for the measurement (``synthetic`` or a folder), per suite.
        quality: the target each flavour must meet on the held-out faces.
        max_higher_precision: most trunk layers left unquantized (None: as many as needed; 0: none).
        on_miss: ``fail`` (raise, write nothing) or ``warn`` (write and record) when a target is missed.
        manifest / trt_cache / trt_version: where the manifest and TensorRT cache go, and the cache header's version.

    Raises:
        AccuracyTargetError: a flavour misses ``quality`` and ``on_miss`` is ``fail``.
        RanEdgeError / DataError: bad model, bad or too little data, bad option.
    """
    targets = [QuantTarget(t) for t in targets]
    if not targets or len(set(targets)) != len(targets):
        raise RanEdgeError(f"targets: got {[t.value for t in targets]}, expected one or both of tensorrt, cpu")
    on_miss = OnMiss(on_miss)
    keep_fp32 = Fp32Scope(keep_fp32)
    _check_options(num, batch_size, holdout_num, percentile, trt_version)
    settings = settings_for(method, percentile)
    onnx = require("onnx", "INT8 calibration")
    _, meta = load_ran_onnx(onnx_path)  # fail on a bad model before touching data
    out = Path(out)
    paths = output_paths(out, targets)
    stem = out.name[:-5] if out.name.endswith(".onnx") else out.name
    manifest_path = Path(manifest) if manifest else default_manifest_path(out)
    cache_path = Path(trt_cache) if trt_cache else out.with_name(stem + ".calibration.cache")
    final_files = [manifest_path, cache_path] + [f for t in targets for f in (paths[t], sidecar_path(paths[t]))]
    result_set = ResultSet(  # outputs that would destroy an input, or cannot be written, are refused before any work
        final_files, inputs=[onnx_path, sidecar_path(onnx_path), data, holdout])
    if data.strip() == "synthetic":
        data = f"synthetic:n_train={num}"  # generate only what is used (sample i does not depend on n)
    dataset, description = open_calibration_data(data, num, seed)
    held = open_holdout(holdout, holdout_num, data, meta.preprocess.face_size, seed)
    reader = DatasetReader(dataset, meta, num, batch_size, description)
    rows_per_face = meta.preset.num_regions if meta.input_kind is InputKind.REGIONS else 1
    staging = result_set.temp_for(out.with_name("scratch"), commit=False)
    staging.mkdir()
    options = SearchOptions(settings=settings, target=quality, max_higher_precision=max_higher_precision)
    try:
        stats = collect_stats(onnx_path, reader, settings[0], rows_per_face=rows_per_face, progress=progress, log=log)
        searches: dict[QuantTarget, SearchResult] = {}
        for t in targets:
            log(f"searching INT8 settings for the {t.value} flavour on {held.size} held-out faces")

            def trial(path: Path, setting: RangeSetting, higher: Sequence[str], _t: QuantTarget = t) -> Any:
                return quantize_int8(onnx_path, path, setting=setting, per_channel=per_channel, target=_t, keep_fp32=keep_fp32,
                                     higher_precision=higher, stats=stats, log=lambda s: None)

            flavour_options = options
            if t is QuantTarget.CPU:
                flavour_options = replace(options, settings=settings + tuple(replace(x, reduce_range=True) for x in settings))
            searches[t] = search_int8(onnx_path, meta, held, trial, flavour_options, log=log)
        misses = {t: s.misses for t, s in searches.items() if not s.met}
        if misses and on_miss is OnMiss.FAIL:
            first = next(iter(misses.items()))
            raise AccuracyTargetError(
                f"INT8 {first[0].value} flavour misses the quality target on held-out faces ({'; '.join(first[1])}); "
                f"nothing written (pass --allow-accuracy-loss to write it anyway)")
        costs = {}
        layers = candidate_layers(onnx.load(str(onnx_path)))
        for t in targets:  # the price of what was given back: layer counts, and measured CPU speed for the CPU flavour
            s = searches[t]
            costs[t] = layer_cost(s.higher_precision, layers)
            if t is QuantTarget.CPU:
                probe = quantize_int8(onnx_path, staging / "cost.onnx", setting=s.setting, per_channel=per_channel, target=t,
                                      keep_fp32=keep_fp32, higher_precision=s.higher_precision, stats=stats, log=lambda x: None)
                costs[t]["ort_cpu"] = ort_speedup(onnx_path, probe.path, next(iter(held.suites.values()))[0], meta)
        chosen = searches[targets[0]].setting
        doc = build_manifest(reader.describe(), meta, method=chosen.method.value, num=num, batches=stats.batches,
                             model_sha256=sha256_file(onnx_path), per_channel=per_channel)
        doc["range_setting"] = chosen.to_dict()
        doc["holdout"] = dict(held.description)
        doc["quality_target"] = quality.to_dict()
        doc["search"] = {t.value: {**s.summary(), "cost": costs[t]} for t, s in searches.items()}
        staged_manifest, manifest_sha = write_manifest(staging / "manifest.json", doc)
        write_trt_cache(stats.with_setting(chosen), staging / "trt.cache", trt_version)
        results = {}
        for t in targets:
            s = searches[t]
            quality_meta = {"int8_quality": {"target": quality.to_dict(), "meets_target": s.met, "misses": list(s.misses),
                                             "holdout": dict(held.description),
                                             "agreement": {k: c["top1_agreement"] for k, c in s.heldout.items()},
                                             "drop_points": {k: c["drop_points"] for k, c in s.heldout.items()},
                                             "cost": costs[t]}}
            results[t] = quantize_int8(onnx_path, staging / f"{t.value}.onnx", setting=s.setting, per_channel=per_channel,
                                       target=t, keep_fp32=keep_fp32, higher_precision=s.higher_precision, stats=stats,
                                       manifest_sha256=manifest_sha, extra_meta=quality_meta, log=lambda s: None)
        moves = [(staged_manifest, manifest_path), (staging / "trt.cache", cache_path)]
        for t in targets:
            moves += [(staging / f"{t.value}.onnx", paths[t]), (sidecar_path(staging / f"{t.value}.onnx"), sidecar_path(paths[t]))]
        for src, dst in moves:  # into the result set: all files moved into place together, or none
            shutil.move(str(src), str(result_set.path(dst)))
        result_set.commit()
    finally:
        result_set.__exit__(None, None, None)
    final = {t: QuantResult(paths[t], r.meta, r.report) for t, r in results.items()}
    for t, r in final.items():
        s = searches[t]
        agree = ", ".join(f"{k} {100 * c['top1_agreement']:.2f}%" for k, c in s.heldout.items())
        speed = r.meta.extra["int8_quality"]["cost"].get("ort_cpu")
        log(f"wrote {r.path} (INT8 {t.value}: {s.setting.label}, {len(s.higher_precision)} trunk layers left FP32; "
            f"held-out agreement {agree}" + (f"; ONNX Runtime {speed['speedup']:.2f}x FP32 at batch {speed['batch']}" if speed else "") + ")")
        given, total = len(s.higher_precision), costs[t]["quantizable_layers"]
        if given and given == total:
            log(red(f"NOTE: the INT8 {t.value} flavour keeps the quality target only with every one of its "
                    f"{total} trunk layers FP32 (no INT8 trunk left): this model is too sensitive to "
                    f"8-bit noise; deploy FP16 (TensorRT) or FP32 instead"))
        elif given > total / 2:
            log(red(f"NOTE: only {total - given} of {total} trunk layers of the INT8 {t.value} flavour run INT8 (the rest "
                    f"stay FP32 to keep the quality target): expect little gain over FP16 (TensorRT) or FP32"))
        if speed and speed["speedup"] < 1.0:
            log(red(f"NOTE: the INT8 {t.value} flavour runs slower than FP32 on this machine ({speed['speedup']:.2f}x, "
                    f"{len(s.higher_precision)} layers left FP32 to keep the quality target): prefer FP32 here"))
        if not s.met:
            log(red(f"WARNING: INT8 {t.value} flavour misses the quality target ({'; '.join(s.misses)}); written because "
                    f"--allow-accuracy-loss was given"))
    log(f"wrote {cache_path} (TensorRT calibration cache, {len(stats.ranges)} tensors) and {manifest_path} (manifest)")
    return CalibrationRun(final, stats, cache_path, manifest_path, manifest_sha, searches)
