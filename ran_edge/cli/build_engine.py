"""ran-edge build-engine: ONNX or checkpoint → TensorRT engine + sidecar (or a dry-run plan / trtexec line)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any, List, Optional, Tuple

HELP = "build a TensorRT engine (model.engine + model.engine.json) from an .onnx or a .pt checkpoint"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ran_edge.artifact import InputKind, Precision
    from ran_edge.cli.common import add_trust_flag
    from ran_edge.engine.options import Int8Method

    p.add_argument("model", help="model.onnx (with model.onnx.json) or a ran-edge .pt checkpoint")
    p.add_argument("--precision", choices=[x.value for x in Precision], default="fp32", help="engine precision")
    p.add_argument("--input", choices=[k.value for k in InputKind], default="faces",
                   help="for a .pt: export the faces input (regions cropped in graph) or the regions input (fused kernel)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--calib-data", metavar="synthetic|DIR",
                   help="INT8 calibration (or FP16 analysis) faces: a folder of aligned faces, or 'synthetic'")
    g.add_argument("--calib-cache", metavar="FILE", help="existing TensorRT calibration cache (implicit calibrator)")
    p.add_argument("--calib-num", type=int, default=512, metavar="N",
                   help="number of calibration / FP16-analysis faces (default 512)")
    p.add_argument("--int8-method", choices=[m.value for m in Int8Method], default="auto",
                   help="INT8 from a QDQ ONNX (preferred) or the implicit entropy calibrator; auto: QDQ, calibrator for DLA before TRT 11")
    p.add_argument("--batch", default="1,8,32", metavar="MIN,OPT,MAX", help="optimisation profile in faces (default 1,8,32)")
    p.add_argument("--workspace", type=int, metavar="MiB", help="builder workspace limit")
    p.add_argument("--timing-cache", metavar="FILE", help="timing cache: loaded if present, saved after the build")
    p.add_argument("--dla-core", type=int, metavar="N", help="build for DLA core N (Jetson Xavier/Orin)")
    p.add_argument("--allow-gpu-fallback", action="store_true", help="with --dla-core: run unsupported layers on the GPU")
    p.add_argument("--version-compatible", action="store_true", help="version-compatible engine (TensorRT 8.6+)")
    p.add_argument("--allow-fallback", action="store_true",
                   help="if the GPU has no fast FP16/INT8, build a lower precision (recorded) instead of failing")
    p.add_argument("--allow-accuracy-loss", action="store_true",
                   help="--precision int8 from a model: keep an INT8 ONNX that misses the quality target on held-out faces "
                        "(red warning, recorded) instead of failing")
    p.add_argument("--dry-run", action="store_true", help="print the build plan for each TensorRT version and lint the ONNX; no TensorRT needed")
    p.add_argument("--emit-trtexec", action="store_true", help="print the equivalent trtexec command (e.g. for a Jetson Nano) instead of building")
    p.add_argument("--trt-version", metavar="X.Y", help="plan for this TensorRT version (dry-run / emit-trtexec); default: installed")
    p.add_argument("--device", type=int, default=0, help="CUDA device index")
    add_trust_flag(p)
    p.add_argument("--out", required=True, help="output engine, e.g. model.engine")


def _request(args: argparse.Namespace) -> Any:
    from ran_edge.engine.options import BatchProfile, BuildRequest, CalibSource

    return BuildRequest(precision=args.precision, batch=BatchProfile.parse(args.batch),
                        calib=CalibSource.from_cli(args.calib_data, args.calib_cache), int8_method=args.int8_method,
                        workspace_mib=args.workspace, timing_cache=args.timing_cache, dla_core=args.dla_core,
                        allow_gpu_fallback=args.allow_gpu_fallback, version_compatible=args.version_compatible,
                        allow_fallback=args.allow_fallback)


def _source(args: argparse.Namespace) -> Tuple[Path, bool]:
    from ran_edge.errors import RanEdgeError

    src = Path(args.model)
    if src.suffix.lower() not in (".onnx", ".pt"):
        raise RanEdgeError(f"{src}: got a '{src.suffix}' file, expected model.onnx or a .pt checkpoint")
    if not src.is_file():
        raise RanEdgeError(f"model not found: {src}")
    return src, src.suffix.lower() == ".pt"


def _source_meta(args: argparse.Namespace, src: Path, from_ckpt: bool) -> Any:
    from ran_edge.artifact import InputKind
    from ran_edge.engine.prepare import checkpoint_meta, load_source_meta

    if from_ckpt:
        return checkpoint_meta(src, InputKind(args.input), args.trust_checkpoint)[1]
    return load_source_meta(src)


def _versions(args: argparse.Namespace) -> List[Any]:
    from ran_edge.engine.build import installed_trt_version
    from ran_edge.engine.versions import TARGET_VERSIONS, TrtVersion

    if args.trt_version:
        return [TrtVersion.parse(args.trt_version)]
    installed = installed_trt_version()
    return [installed] if installed else [v for v, _ in TARGET_VERSIONS]


def _lint(src: Path, versions: List[Any]) -> None:
    """TensorRT-compatibility lint of the export library, when it and onnx are available."""
    try:
        import onnx

        from ran_edge.export.trt_lint import lint_tensorrt
    except ImportError as exc:
        print(f"TensorRT lint: skipped ({exc})")
        return
    targets = [v for v in versions if v.has_python_runtime]  # the lint's tables start at 8.5
    if not targets:
        return
    try:
        model = onnx.load(str(src), load_external_data=False)
    except Exception as exc:  # DecodeError and friends
        from ran_edge.errors import RanEdgeError

        raise RanEdgeError(f"{src}: not a readable ONNX model ({type(exc).__name__}); expected a file from 'ran-edge export'") from exc
    findings = lint_tensorrt(model, [str(v) for v in targets])
    print(f"TensorRT lint ({', '.join(str(v) for v in targets)}): " + ("clean" if not findings else f"{len(findings)} findings"))
    for f in findings[:20]:
        print(f"  {f}")
    if len(findings) > 20:
        print(f"  ... and {len(findings) - 20} more")


def _dry_run(args: argparse.Namespace, src: Path, from_ckpt: bool, request: Any) -> int:
    from ran_edge.engine.plan import plan_table
    from ran_edge.engine.prepare import consumed_onnx
    from ran_edge.engine.trtexec import format_command, trtexec_command
    from ran_edge.engine.versions import TARGET_VERSIONS
    from ran_edge.errors import RanEdgeError

    meta = _source_meta(args, src, from_ckpt)
    versions = _versions(args) if args.trt_version else [v for v, _ in TARGET_VERSIONS]
    where = dict((v, w) for v, w in TARGET_VERSIONS)
    print(f"source: {src} ({'checkpoint, exported first' if from_ckpt else 'ONNX'}; {meta.precision.value}, "
          f"input {meta.input_kind.value} {list(meta.inputs[0].shape)})")
    print(f"classes: {', '.join(meta.class_names)}; preset {meta.preset.name} (K={meta.preset.num_regions}); "
          f"preprocess {meta.preprocess.color_order.value} {meta.preprocess.face_size}px scale {meta.preprocess.scale:.6g}")
    print(f"request: {request.precision.value}, batch {request.batch.min},{request.batch.opt},{request.batch.max}, "
          f"calibration {request.calib.describe()}")
    failed = 0
    for v, plan, reason in plan_table(meta, request, versions, from_ckpt):
        label = f" [{where[v]}]" if v in where else ""
        if plan is None:
            failed += 1
            print(f"TensorRT {v}{label}: refused: {reason}")
            continue
        lines = plan.describe()
        print(lines[0] + label)
        print("\n".join(lines[1:]))
        if args.emit_trtexec or not v.has_python_runtime:
            try:
                onnx = consumed_onnx(src, from_ckpt, plan.pre_steps, Path(args.out))
                print("  trtexec: " + format_command(trtexec_command(plan, str(onnx), args.out)))
            except RanEdgeError as exc:
                print(f"  trtexec: not possible: {exc}")
    if not from_ckpt:
        _lint(src, versions)
    if args.trt_version and failed:
        return 1
    return 0


def _prepare(args: argparse.Namespace, src: Path, from_ckpt: bool, plan: Any, meta: Any) -> Tuple[Path, Any]:
    """Run the plan's pre-steps; returns the ONNX the TensorRT build consumes and its sidecar."""
    from ran_edge.artifact import InputKind
    from ran_edge.engine.plan import PreStep
    from ran_edge.engine.prepare import export_step, fp16_step, quantize_step

    out = Path(args.out)
    stem, out_dir = out.stem, out.parent
    onnx, onnx_meta = src, meta
    for step in plan.pre_steps:
        if step is PreStep.EXPORT_ONNX:
            onnx, onnx_meta = export_step(src, out_dir, stem, InputKind(args.input), args.trust_checkpoint, print)
        elif step is PreStep.QUANTIZE_QDQ:
            onnx, onnx_meta = quantize_step(onnx, plan.calibration, out_dir, stem, args.calib_num, print,
                                            allow_accuracy_loss=args.allow_accuracy_loss)
        elif step in (PreStep.ANALYSE_FP16, PreStep.CONVERT_FP16):
            onnx, onnx_meta = fp16_step(onnx, plan.calibration, out_dir, stem, args.calib_num, print,
                                        keep_fp32_onnx=step is PreStep.ANALYSE_FP16)
    return onnx, onnx_meta


def _emit(args: argparse.Namespace, src: Path, from_ckpt: bool, request: Any) -> int:
    """Print the trtexec command for ``--trt-version`` (or the installed TensorRT); with neither, one
    command per target version (Nano 8.2 … 11.x), each preceded by a comment naming it."""
    from ran_edge.engine.plan import plan_build
    from ran_edge.engine.trtexec import format_command, trtexec_command
    from ran_edge.engine.versions import TARGET_VERSIONS
    from ran_edge.errors import RanEdgeError

    versions = _versions(args)
    labels = dict(TARGET_VERSIONS)
    if len(versions) != 1:
        print("# TensorRT is not installed here: one command per target version (choose one with --trt-version X.Y)")
    meta = _source_meta(args, src, from_ckpt)
    prepared: dict = {}  # pre-steps → (onnx, meta): export/quantize once for versions that share them
    failed = 0
    for version in versions:
        try:
            plan = plan_build(meta, request, version, from_ckpt, for_trtexec=True)
            if plan.pre_steps not in prepared:
                prepared[plan.pre_steps] = _prepare(args, src, from_ckpt, plan, meta)
            onnx, onnx_meta = prepared[plan.pre_steps]
            plan = plan_build(onnx_meta, request, version, for_trtexec=True)
        except RanEdgeError as exc:
            if len(versions) == 1:
                raise
            print(f"# TensorRT {version}: not possible: {exc}")
            failed += 1
            continue
        if len(versions) != 1:
            print(f"# TensorRT {version} [{labels.get(version, 'target')}]")
        for note in plan.notes:
            print(f"# note: {note}")
        print(format_command(trtexec_command(plan, str(onnx), args.out)))
    return 1 if failed == len(versions) else 0


def _calibration(args: argparse.Namespace, plan: Any, onnx: Path, meta: Any) -> Tuple[Any, Optional[Path], Optional[str]]:
    """Feeds, cache path and manifest sha256 for the implicit calibrator (or the QDQ ONNX's manifest hash)."""
    from ran_edge.engine.calib import calibrator_reader
    from ran_edge.engine.options import CalibKind
    from ran_edge.engine.plan import PrecisionPath

    if plan.path is not PrecisionPath.INT8_CALIBRATOR:
        return None, None, meta.extra.get("calibration_manifest_sha256")
    if plan.calibration.kind is CalibKind.CACHE:
        return [], Path(str(plan.calibration.path)), None
    out = Path(args.out)
    k = meta.preset.num_regions if meta.input_kind.value == "regions" else 1
    reader, sha = calibrator_reader(onnx, meta, plan.calibration, plan.profiles[0].opt[0] // k, args.calib_num,
                                    out.with_name(out.stem + ".calibration.json"))
    return reader, out.with_name(out.stem + ".calibration.cache"), sha


def _build(args: argparse.Namespace, src: Path, from_ckpt: bool, request: Any) -> int:
    from ran_edge.artifact import Precision
    from ran_edge.engine.build import build_engine, detect_env, hardware_fast_precisions, require_tensorrt
    from ran_edge.engine.options import CalibKind, CalibSource
    from ran_edge.engine.plan import plan_build
    from ran_edge.engine.versions import TrtVersion, resolve_built_precision

    require_tensorrt()
    env = detect_env(args.device)
    version = TrtVersion.parse(env.trt_version)
    meta = _source_meta(args, src, from_ckpt)
    plan = plan_build(meta, request, version, from_ckpt)
    built, note = resolve_built_precision(request.precision, hardware_fast_precisions(env), request.allow_fallback,
                                          plan.strongly_typed, env.gpu_name)
    if built is not request.precision:
        print(f"warning: {note}")
        keep_calib = built is Precision.INT8 or (built is Precision.FP16 and request.calib.kind is not CalibKind.CACHE)
        request = replace(request, precision=built, calib=request.calib if keep_calib else CalibSource())
        plan = plan_build(meta, request, version, from_ckpt)
    onnx, onnx_meta = _prepare(args, src, from_ckpt, plan, meta)
    plan = plan_build(onnx_meta, request, version)
    for line in plan.describe():
        print(line)
    feeds, cache, manifest_sha = _calibration(args, plan, onnx, onnx_meta)
    build_engine(onnx, onnx_meta, plan, Path(args.out), env, built=built, precision_note=note, calib_feeds=feeds,
                 calib_cache=cache, calib_manifest_sha256=manifest_sha)
    return 0


def run(args: argparse.Namespace) -> int:
    src, from_ckpt = _source(args)
    request = _request(args)
    if args.dry_run:
        return _dry_run(args, src, from_ckpt, request)
    if args.emit_trtexec:
        return _emit(args, src, from_ckpt, request)
    return _build(args, src, from_ckpt, request)
