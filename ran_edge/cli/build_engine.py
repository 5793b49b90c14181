"""ran-edge build-engine: ONNX or checkpoint → TensorRT engine + sidecar (or a dry-run plan / trtexec line)."""

from __future__ import annotations

import argparse

HELP = "build a TensorRT engine (model.engine + model.engine.json) from an .onnx or a .pt checkpoint"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ran_edge.artifact import InputKind, Precision
    from ran_edge.cli.common import add_trust_flag
    from ran_edge.engine_contract.options import Int8Method

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
    p.add_argument("--allow-fp32-fallback", action="store_true",
                   help="--precision int8 from a model: let layers go back to FP32 below 50%% INT8 share when the quality "
                        "gate needs it (refused otherwise)")
    p.add_argument("--dry-run", action="store_true", help="print the build plan for each TensorRT version and lint the ONNX; no TensorRT needed")
    p.add_argument("--emit-trtexec", action="store_true",
                   help="print the equivalent trtexec command (e.g. for a Jetson Nano) instead of building; reads files only, "
                        "and says what to run first when the ONNX it needs does not exist yet")
    p.add_argument("--prepare-only", action="store_true",
                   help="run the pre-steps (export, INT8 QDQ, FP16 analysis/conversion) for --trt-version and write their "
                        "ONNX next to --out, without TensorRT; then --emit-trtexec prints a command that reads them")
    p.add_argument("--trt-version", metavar="X.Y", help="plan for this TensorRT version (dry-run / emit-trtexec); default: installed")
    p.add_argument("--device", type=int, default=0, help="CUDA device index")
    add_trust_flag(p)
    p.add_argument("--out", required=True, help="output engine, e.g. model.engine")


def run(args: argparse.Namespace) -> int:
    from ran_edge.engine_contract.options import BatchProfile, BuildRequest, CalibSource
    from ran_edge.engine.job import (BuildJob, TrtexecLines, build_engine_from_source, check_job_outputs, check_source,
                                     dry_run, emit_trtexec, prepare_only)

    from ran_edge.errors import RanEdgeError

    if args.prepare_only and (args.dry_run or args.emit_trtexec):
        raise RanEdgeError("--prepare-only writes the pre-step files; it does not combine with --dry-run or --emit-trtexec")
    source = check_source(args.model)
    request = BuildRequest(precision=args.precision, batch=BatchProfile.parse(args.batch),
                           calib=CalibSource.from_cli(args.calib_data, args.calib_cache), int8_method=args.int8_method,
                           workspace_mib=args.workspace, timing_cache=args.timing_cache, dla_core=args.dla_core,
                           allow_gpu_fallback=args.allow_gpu_fallback, version_compatible=args.version_compatible,
                           allow_fallback=args.allow_fallback)
    job = BuildJob(source=source, out=args.out, request=request, input_kind=args.input, trust_checkpoint=args.trust_checkpoint,
                   calib_num=args.calib_num, allow_accuracy_loss=args.allow_accuracy_loss,
                   allow_fp32_fallback=args.allow_fp32_fallback, trt_version=args.trt_version,
                   device=args.device)
    check_job_outputs(job)  # before any work, in every mode (a dry run refuses what the build would)
    if args.dry_run:
        return 0 if dry_run(job, TrtexecLines.ALL if args.emit_trtexec else TrtexecLines.NEEDED).ok else 1
    if args.emit_trtexec:
        return 0 if emit_trtexec(job).ok else 1
    if args.prepare_only:
        prepare_only(job)
        return 0
    build_engine_from_source(job)
    return 0
