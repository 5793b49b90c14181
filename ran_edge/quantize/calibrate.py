"""``ran-edge calibrate`` as one library call: data → one calibration → measured search → INT8 flavours +
TensorRT cache + manifest, or a loud failure.

Every INT8 file is all-INT8 first and checked against FP32 on held-out faces by the gate
(:mod:`ran_edge.quantize.gate`, :mod:`ran_edge.quantize.search`). When no all-INT8 setting passes, or one
passes without margin (:func:`~ran_edge.quantize.gate.clear_pass`), a ``finetune`` hook (quantization-aware
training, when the caller has labelled data) runs before any layer goes back to FP32, and its file is kept
when it does better; the fallback never takes a file below 50 % INT8 share unless ``allow_fp32_fallback``
(a file below it is refused with :class:`Int8ShareError`). A flavour that misses the gate fails the whole
call with :class:`~ran_edge.errors.AccuracyTargetError` and nothing is written, unless
``on_miss=OnMiss.WARN`` (``--allow-accuracy-loss``), which writes the files, records the miss in their
sidecars and manifest, and logs one red line. Every INT8 file records and prints its INT8 share and its
measured ONNX Runtime speed against FP32.
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
from ran_edge.quantize.cost import ort_speedup
from ran_edge.quantize.gate import DEFAULT_TARGET, QualityTarget, clear_pass
from ran_edge.quantize.heldout import DEFAULT_HOLDOUT_PER_SUITE, HeldOut, HeldOutEval, synthetic_holdout
from ran_edge.quantize.histograms import CalibrationMethod
from ran_edge.quantize.manifest import build_manifest, default_manifest_path, write_manifest
from ran_edge.export.io import load_ran_onnx
from ran_edge.quantize.qdq import DEFAULT_FP32_SCOPE, Fp32Scope, QuantResult, QuantTarget, quantize_int8
from ran_edge.data.feeds import DatasetReader, open_calibration_data
from ran_edge.data.images import image_files
from ran_edge.quantize.search import AUTO_SETTINGS, SearchOptions, SearchResult, search_int8
from ran_edge.quantize.share import MIN_INT8_SHARE, describe_share
from ran_edge.quantize.ranges import DEFAULT_PERCENTILE, CalibrationStats, RangeSetting, collect_stats
from ran_edge.quantize.trt_cache import DEFAULT_TRT_VERSION, version_code, write_trt_cache

AUTO = "auto"


class Int8ShareError(RanEdgeError):
    """An INT8 file would run less than half of its multiply-adds in INT8 and FP32 fallback was not allowed."""


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


def calibration_files(out: str | Path, targets: Sequence[QuantTarget], manifest: str | Path | None = None,
                      trt_cache: str | Path | None = None) -> list[Path]:
    """Every file a calibration writes: the manifest, the TensorRT cache, each flavour and its sidecar (defaults
    beside ``out``), so that a caller can check its own outputs (``--report``) against them before any work."""
    out = Path(out)
    stem = out.name[:-5] if out.name.endswith(".onnx") else out.name
    paths = output_paths(out, targets)
    manifest_path = Path(manifest) if manifest else default_manifest_path(out)
    cache_path = Path(trt_cache) if trt_cache else out.with_name(stem + ".calibration.cache")
    return [manifest_path, cache_path] + [f for t in targets for f in (paths[t], sidecar_path(paths[t]))]


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
    return HeldOut({"clean": ([ds[i].image for i in range(len(ds))], None)}, {**desc, "count": len(ds)}, pooled=("clean",))


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


@dataclass(frozen=True)
class FinetuneResult:
    """What quantization-aware fine-tuning returns: the fine-tuned FP32 ONNX (same graph as the source), ready INT8
    files per flavour (with sidecars; a flavour left out is quantized from ``fp32_onnx`` with the calibration's
    ranges) and a record for the sidecars (``extra["qat"]``)."""

    fp32_onnx: Path
    files: Mapping[QuantTarget, Path]
    record: Mapping[str, Any]


#: ``finetune(fp32_onnx, {flavour: best PTQ file}, stats, workdir) -> FinetuneResult`` (see :class:`FinetuneResult`).
Finetune = Callable[[Path, Mapping[QuantTarget, Path], CalibrationStats, Path], FinetuneResult]


@dataclass(frozen=True)
class FlavourChoice:
    """The file chosen for one flavour: from the search (``search``), or fine-tuned (``file`` + ``qat`` record)."""

    search: SearchResult
    file: Path | None = None
    qat: Mapping[str, Any] | None = None
    gate: Any = None

    @property
    def verdict(self) -> Any:
        return self.gate if self.gate is not None else self.search.chosen.gate


def _fail_line(t: QuantTarget, c: "FlavourChoice", held: HeldOutEval, allow_fallback: bool, finetuned: bool) -> str:
    s = c.search
    hints = ([] if finetuned else ["fine-tune it with 'ran-edge qat'"]) + \
        ([] if allow_fallback else ["--allow-fp32-fallback lets more layers go back to FP32"]) + \
        ["--allow-accuracy-loss writes it anyway"]
    return (f"INT8 {t.value} flavour misses the quality gate on {held.size} held-out faces "
            f"({'; '.join(c.verdict.misses)}) with {len(s.higher_precision)} trunk layers FP32 and "
            f"{describe_share(s.chosen.share)}; nothing written ({'; '.join(hints)})")


def calibrate_onnx(onnx_path: str | Path, out: str | Path, *, data: str = "synthetic", num: int = 512,
                   method: str = AUTO, percentile: float = DEFAULT_PERCENTILE, per_channel: bool = True,
                   targets: Sequence[QuantTarget | str] = (QuantTarget.TENSORRT, QuantTarget.CPU),
                   keep_fp32: Fp32Scope | str = DEFAULT_FP32_SCOPE, manifest: str | Path | None = None,
                   trt_cache: str | Path | None = None, trt_version: str = DEFAULT_TRT_VERSION, batch_size: int = 16,
                   seed: int = 0, holdout: str = "synthetic", holdout_num: int = DEFAULT_HOLDOUT_PER_SUITE,
                   quality: QualityTarget = DEFAULT_TARGET, max_higher_precision: int | None = None,
                   allow_fp32_fallback: bool = False, finetune: Finetune | None = None,
                   on_miss: OnMiss | str = OnMiss.FAIL, progress: bool = True,
                   log: Callable[[str], None] = print) -> CalibrationRun:
    """Calibrate an FP32 RAN ONNX on ``data``, make every flavour all-INT8 if the gate allows, and write the INT8
    flavours, the TensorRT cache and the manifest.

    Args:
        onnx_path: FP32 ONNX from ``ran-edge export``.
        out: INT8 ONNX path of the first target (see :func:`output_paths`).
        data: ``synthetic`` (train split; options allowed, e.g. ``synthetic:seed=3``) or a folder of face images.
        num: number of calibration faces (error if the data has fewer).
        method: ``auto`` (the first of :data:`AUTO_SETTINGS` that passes the gate) or entropy / percentile / minmax.
        percentile: the percentile of ``method=percentile``.
        per_channel / keep_fp32: see :func:`quantize_int8`.
        targets: INT8 flavours to write, from the same calibration.
        holdout / holdout_num: held-out faces for the gate (``synthetic``: per suite, pose x3; or a folder).
        quality: the gate (:class:`~ran_edge.quantize.gate.QualityTarget`).
        max_higher_precision: most trunk layers the fallback may leave FP32 (None: no count limit; 0: no fallback).
        allow_fp32_fallback: let the fallback take a flavour below 50 % INT8 share (refused otherwise).
        finetune: quantization-aware fine-tuning, tried before any layer goes back to FP32.
        on_miss: ``fail`` (raise, write nothing) or ``warn`` (write and record) when the gate is missed.
        manifest / trt_cache / trt_version: where the manifest and TensorRT cache go, and the cache header's version.

    Raises:
        AccuracyTargetError: a flavour misses the gate and ``on_miss`` is ``fail``.
        Int8ShareError: a flavour would be below 50 % INT8 share without ``allow_fp32_fallback``.
        RanEdgeError / DataError: bad model, bad or too little data, bad option.
    """
    targets = [QuantTarget(t) for t in targets]
    if not targets or len(set(targets)) != len(targets):
        raise RanEdgeError(f"targets: got {[t.value for t in targets]}, expected one or both of tensorrt, cpu")
    on_miss = OnMiss(on_miss)
    keep_fp32 = Fp32Scope(keep_fp32)
    _check_options(num, batch_size, holdout_num, percentile, trt_version)
    settings = settings_for(method, percentile)
    _, meta = load_ran_onnx(onnx_path)  # fail on a bad model before touching data
    out = Path(out)
    paths = output_paths(out, targets)
    final_files = calibration_files(out, targets, manifest, trt_cache)
    manifest_path, cache_path = final_files[0], final_files[1]
    result_set = ResultSet(  # outputs that would destroy an input, or cannot be written, are refused before any work
        final_files, inputs=[onnx_path, sidecar_path(onnx_path), data, holdout])
    if data.strip() == "synthetic":
        data = f"synthetic:n_train={num}"  # generate only what is used (sample i does not depend on n)
    dataset, description = open_calibration_data(data, num, seed)
    held_faces = open_holdout(holdout, holdout_num, data, meta.preprocess.face_size, seed)
    reader = DatasetReader(dataset, meta, num, batch_size, description)
    rows_per_face = meta.preset.num_regions if meta.input_kind is InputKind.REGIONS else 1
    staging = result_set.temp_for(out.with_name("scratch"), commit=False)
    staging.mkdir()
    min_share = 0.0 if allow_fp32_fallback else MIN_INT8_SHARE
    try:
        stats = collect_stats(onnx_path, reader, settings[0], rows_per_face=rows_per_face, progress=progress, log=log)
        log(f"gate: {quality.describe()}")
        log(f"held-out: {held_faces.size} faces; FP32 runs over each at most once, when a trial first needs it")
        held = HeldOutEval(onnx_path, meta, held_faces, quality, seed=seed)

        def quantizer(t: QuantTarget, source: Path = Path(onnx_path)) -> Any:
            def q(path: Path, setting: RangeSetting, higher: Sequence[str]) -> Any:
                return quantize_int8(source, path, setting=setting, per_channel=per_channel, target=t, keep_fp32=keep_fp32,
                                     higher_precision=higher, stats=stats, log=lambda s: None)
            return q

        def flavour_settings(t: QuantTarget) -> tuple[RangeSetting, ...]:
            return settings + tuple(replace(x, reduce_range=True) for x in settings) if t is QuantTarget.CPU else settings

        choices: dict[QuantTarget, FlavourChoice] = {}
        for t in targets:  # 1. all-INT8
            log(f"INT8 {t.value} flavour: all-INT8 first, on {held.size} held-out faces")
            s = search_int8(onnx_path, held, quantizer(t), stats, SearchOptions(settings=flavour_settings(t), fallback=False),
                            label=t.value, log=log)
            choices[t] = FlavourChoice(s)
        missed = [t for t in targets if not choices[t].verdict.met]
        narrow = [t for t in targets if choices[t].verdict.met and not clear_pass(choices[t].verdict, quality)]
        if (missed or narrow) and finetune is not None:  # 2. quantization-aware fine-tuning before any layer goes back
            tune = missed + narrow
            log(f"all-INT8 {'misses the gate' if missed else 'passes without margin'} for "
                f"{', '.join(t.value for t in tune)}: quantization-aware fine-tuning")
            ptq = {}
            for t in tune:
                ptq[t] = staging / f"ptq.{t.value}.onnx"
                quantizer(t)(ptq[t], choices[t].search.setting, ())
            ft = finetune(Path(onnx_path), ptq, stats, staging)
            for t in tune:
                file = ft.files.get(t)
                if file is None:
                    file = staging / f"qat.{t.value}.onnx"
                    quantizer(t, ft.fp32_onnx)(file, choices[t].search.setting, ())
                verdict = held.evaluate(file)
                better = verdict.met and (t in missed or verdict.slack_points > choices[t].verdict.slack_points)
                log(f"  {t.value} after fine-tuning: " + ("PASSES" if verdict.met else "misses: " + "; ".join(verdict.misses))
                    + f"; {verdict.summary_line()} -> " + ("kept" if better else "the post-training file stays"))
                if better:
                    choices[t] = FlavourChoice(choices[t].search, file, dict(ft.record), verdict)
        for t in [t for t in targets if not choices[t].verdict.met]:  # 3. fallback
            if max_higher_precision == 0:
                continue
            log(f"INT8 {t.value} flavour: layers back to FP32, fewest first")
            s = search_int8(onnx_path, held, quantizer(t), stats,
                            SearchOptions(settings=(choices[t].search.setting,), fallback=True,
                                          max_higher_precision=max_higher_precision, min_int8_share=min_share),
                            label=t.value, log=log)
            if s.chosen.gate.slack_points >= choices[t].verdict.slack_points or s.met:
                choices[t] = FlavourChoice(s)
        misses = {t: c for t, c in choices.items() if not c.verdict.met}
        if misses and on_miss is OnMiss.FAIL:
            t, c = next(iter(misses.items()))
            raise AccuracyTargetError(_fail_line(t, c, held, allow_fp32_fallback, finetune is not None))
        files: dict[QuantTarget, Path] = {}
        for t in targets:
            c = choices[t]
            if c.file is None:
                files[t] = staging / f"final.{t.value}.onnx"
                quantizer(t)(files[t], c.search.setting, c.search.higher_precision)
            else:
                files[t] = c.file
        return _finish(onnx_path, meta, targets, choices, files, stats, held, quality, reader, num, per_channel,
                       allow_fp32_fallback, staging, paths, manifest_path, cache_path, trt_version, result_set, log)
    finally:
        result_set.__exit__(None, None, None)


def _finish(onnx_path: str | Path, meta: Any, targets: Sequence[QuantTarget], choices: Mapping[QuantTarget, FlavourChoice],
            files: Mapping[QuantTarget, Path], stats: CalibrationStats, held: HeldOutEval, quality: QualityTarget,
            reader: DatasetReader, num: int, per_channel: bool, allow_fp32_fallback: bool, staging: Path,
            paths: Mapping[QuantTarget, Path], manifest_path: Path, cache_path: Path, trt_version: str,
            result_set: ResultSet, log: Callable[[str], None]) -> CalibrationRun:
    """Share check, speed, manifest, cache and sidecars; everything moved into place together."""
    onnx = require("onnx", "INT8 calibration")
    from ran_edge.artifact import read_sidecar, write_json_atomic
    from ran_edge.quantize.share import int8_share

    shares = {t: int8_share(onnx.load(str(files[t]))) for t in targets}
    for t in targets:
        if shares[t]["int8_share"] < MIN_INT8_SHARE and not allow_fp32_fallback:
            raise Int8ShareError(f"INT8 {t.value} flavour would run only {describe_share(shares[t])} (below "
                                 f"{100 * MIN_INT8_SHARE:g} %): that is FP32 with extra steps, not INT8; nothing written "
                                 f"(pass --allow-fp32-fallback to write it anyway)")
    speeds = {t: ort_speedup(onnx_path, files[t], list(held.faces[:8]), meta, exact_qdq=t is QuantTarget.TENSORRT)
              for t in targets}
    chosen = choices[targets[0]].search.setting
    doc = build_manifest(reader.describe(), meta, method=chosen.method.value, num=num, batches=stats.batches,
                         model_sha256=sha256_file(onnx_path), per_channel=per_channel)
    doc["range_setting"] = chosen.to_dict()
    doc["holdout"] = held.describe()
    doc["quality_target"] = quality.to_dict()
    doc["search"] = {t.value: {**c.search.summary(), "int8_share": shares[t], "speed": speeds[t],
                               "qat": dict(c.qat) if c.qat else None, "gate": c.verdict.to_dict()}
                     for t, c in choices.items()}
    staged_manifest, manifest_sha = write_manifest(staging / "manifest.json", doc)
    write_trt_cache(stats.with_setting(chosen), staging / "trt.cache", trt_version)
    moves = [(staged_manifest, manifest_path), (staging / "trt.cache", cache_path)]
    final: dict[QuantTarget, QuantResult] = {}
    for t in targets:
        c = choices[t]
        side = read_sidecar(files[t])
        side.extra["calibration_manifest_sha256"] = manifest_sha
        side.extra["int8_quality"] = {"target": quality.to_dict(), "meets_target": c.verdict.met, "misses": list(c.verdict.misses),
                                      "gate": c.verdict.to_dict(), "holdout": held.describe(), "int8_share": shares[t],
                                      "speed": speeds[t], "higher_precision_layers": len(c.search.higher_precision),
                                      "fine_tuned": c.qat is not None}
        if c.qat:
            side.extra["qat"] = dict(c.qat)
        staged = staging / f"out.{t.value}.onnx"
        shutil.copyfile(files[t], staged)
        write_json_atomic(sidecar_path(staged), side.to_dict())
        moves += [(staged, paths[t]), (sidecar_path(staged), sidecar_path(paths[t]))]
        final[t] = QuantResult(paths[t], side, {"target": t.value, **side.extra.get("int8", {})})
    for src, dst in moves:  # into the result set: all files moved into place together, or none
        shutil.move(str(src), str(result_set.path(dst)))
    result_set.commit()
    for t in targets:
        c, sp = choices[t], speeds[t]
        how = "fine-tuned (QAT)" if c.qat else c.search.setting.label
        log(f"wrote {paths[t]} (INT8 {t.value}, {how}: {describe_share(shares[t])}; {c.verdict.summary_line()}; "
            f"ONNX Runtime {sp['speedup']:.2f}x FP32 at batch {sp['batch']}{sp['note']})")
        if not c.verdict.met:
            log(red(f"WARNING: INT8 {t.value} flavour misses the quality gate ({'; '.join(c.verdict.misses)}); written "
                    f"because --allow-accuracy-loss was given"))
        if shares[t]["int8_share"] < MIN_INT8_SHARE:
            log(red(f"NOTE: the INT8 {t.value} flavour runs only {100 * shares[t]['int8_share']:.0f} % of its multiply-adds in "
                    f"INT8 ({len(c.search.higher_precision)} layers FP32, written because --allow-fp32-fallback was given): "
                    f"expect little gain over FP16 (TensorRT) or FP32"))
        if sp["speedup"] < 1.0 and t is QuantTarget.CPU:
            log(red(f"NOTE: the INT8 {t.value} flavour runs slower than FP32 in ONNX Runtime on this machine "
                    f"({sp['speedup']:.2f}x at batch {sp['batch']}): prefer FP32 on this CPU"))
    log(f"wrote {cache_path} (TensorRT calibration cache, {len(stats.ranges)} tensors) and {manifest_path} (manifest)")
    return CalibrationRun(final, stats, cache_path, manifest_path, manifest_sha, {t: c.search for t, c in choices.items()})
