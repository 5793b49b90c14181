"""ran-edge calibrate: FP32 ONNX → INT8 QDQ ONNX (TensorRT and/or CPU flavour) + TensorRT cache + manifest."""

from __future__ import annotations

import argparse

HELP = "INT8-quantize an exported ONNX (QDQ, TensorRT and CPU flavours) with a recorded calibration set"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("onnx", help="FP32 ONNX from 'ran-edge export' (with its .json sidecar)")
    p.add_argument("--data", default="synthetic", help="calibration faces: 'synthetic' (train split) or a folder of images")
    p.add_argument("--num", type=int, default=512, help="number of calibration faces (default 512)")
    p.add_argument("--method", choices=["auto", "entropy", "percentile", "minmax"], default="auto",
                   help="activation ranges: auto (default) measures percentile 99.99 / 99.999 / minmax on held-out faces and "
                        "keeps the best; or one method (see calibration/README.md)")
    p.add_argument("--percentile", type=float, default=99.99, help="percentile of |x| for --method percentile (default 99.99)")
    p.add_argument("--holdout", default="synthetic",
                   help="held-out faces for the quality check: 'synthetic' (val split: clean, occlusion, pose, pose beyond 30 degrees) or a folder "
                        "(agreement only); never the calibration faces")
    p.add_argument("--holdout-num", type=int, default=1000,
                   help="held-out faces per suite (default 1000: with 'synthetic', 1000 clean + 1000 occlusion + 3000 pose, "
                        "enough for the gate's paired bound; a faster, weaker check takes fewer)")
    p.add_argument("--max-higher-precision", type=int, default=None, metavar="N",
                   help="most trunk layers the fallback may leave FP32 when all-INT8 misses the gate (they run FP32, in "
                        "TensorRT too); default: no count limit, but never below 50%% INT8 share without "
                        "--allow-fp32-fallback; 0: no fallback")
    p.add_argument("--allow-fp32-fallback", action="store_true",
                   help="let the fallback take a flavour below 50%% INT8 share (multiply-adds in INT8); without it such a "
                        "file is refused, exit 1")
    p.add_argument("--qat", default="auto", metavar="auto|off|SPEC",
                   help="quantization-aware fine-tuning when no all-INT8 setting passes the gate, before any layer goes "
                        "back to FP32: auto (default) fine-tunes on synthetic labelled faces when --data is synthetic; "
                        "off; or a labelled --data spec to fine-tune on")
    p.add_argument("--allow-accuracy-loss", action="store_true",
                   help="write the INT8 files even when they miss the quality gate (a red warning, recorded in the "
                        "sidecar); without it a miss exits 1 and writes nothing")
    p.add_argument("--per-channel", action=argparse.BooleanOptionalAction, default=True,
                   help="per-output-channel weight scales (default on)")
    p.add_argument("--target", choices=["tensorrt", "cpu", "both"], default="both",
                   help="tensorrt: S8S8 symmetric (TensorRT explicit INT8); cpu: U8S8 (ONNX Runtime CPU/ARM); both (default): "
                        "OUT is the TensorRT file, the CPU file goes to <OUT stem>.cpu.onnx")
    p.add_argument("--keep-fp32", choices=["crop+head", "crop", "head", "none"], default="crop+head",
                   help="graph parts left in FP32 (default crop+head: the in-graph crop MatMuls and the attention head)")
    p.add_argument("--out", required=True, help="INT8 ONNX to write (e.g. model.int8.onnx)")
    p.add_argument("--manifest", default=None, help="calibration manifest path (default <OUT stem>.calibration.json next to OUT)")
    p.add_argument("--trt-cache", default=None, help="TensorRT calibration cache path (default <OUT stem>.calibration.cache)")
    p.add_argument("--trt-version", default="8.6.1", help="TensorRT version for the cache header (default 8.6.1)")
    p.add_argument("--batch-size", type=int, default=16, help="faces per calibration batch")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic calibration faces")
    p.add_argument("--eval", type=int, default=0, metavar="N",
                   help="after calibrating, compare with FP32 on N synthetic test faces per suite (clean, occlusion, pose)")
    p.add_argument("--report", default=None, help="write the calibration (and --eval) report as JSON here")


def run(args: argparse.Namespace) -> int:
    from ran_edge import option_checks as checks

    checks.int_range("--eval", args.eval, 0, 100_000)
    checks.int_range("--max-higher-precision", args.max_higher_precision, 0)
    checks.int_range("--holdout-num", args.holdout_num, 1, 100_000)
    checks.int_range("--batch-size", args.batch_size, 1, checks.MAX_BATCH)
    checks.face_folder("--data", args.data)
    checks.face_folder("--holdout", args.holdout)
    from ran_edge._lazy import require

    require("onnxruntime", "INT8 calibration")
    from ran_edge.cli.common import write_json_atomic
    from ran_edge.quantize import OnMiss, QuantTarget, calibrate_onnx
    from ran_edge.quantize.calibrate import calibration_files
    from ran_edge.quantize.finetune import default_finetune

    targets = [QuantTarget.TENSORRT, QuantTarget.CPU] if args.target == "both" else [QuantTarget(args.target)]
    # every output (the flavours, their sidecars, manifest, cache and --report), distinct and none onto an input or
    # an input's companion, before any work
    checks.outputs(calibration_files(args.out, targets, args.manifest, args.trt_cache) + [args.report],
                   inputs=[args.onnx, args.data, args.holdout])
    run_ = calibrate_onnx(args.onnx, args.out, data=args.data, num=args.num, method=args.method, percentile=args.percentile,
                          per_channel=args.per_channel, targets=targets, keep_fp32=args.keep_fp32, manifest=args.manifest,
                          trt_cache=args.trt_cache, trt_version=args.trt_version, batch_size=args.batch_size, seed=args.seed,
                          holdout=args.holdout, holdout_num=args.holdout_num, max_higher_precision=args.max_higher_precision,
                          allow_fp32_fallback=args.allow_fp32_fallback,
                          finetune=default_finetune(args.qat, args.data, args.seed), on_miss=OnMiss.WARN if args.allow_accuracy_loss else OnMiss.FAIL)
    report = {"onnx": args.onnx, "manifest": str(run_.manifest), "manifest_sha256": run_.manifest_sha256,
              "trt_cache": str(run_.trt_cache), "outputs": {t.value: {"path": str(r.path), **r.report} for t, r in run_.results.items()},
              "search": {t.value: s.summary() for t, s in run_.searches.items()}}
    if args.eval:
        from ran_edge.quantize.int8_eval import evaluate_int8

        report["accuracy"] = evaluate_int8(args.onnx, {t.value: r.path for t, r in run_.results.items()}, args.eval)
    if args.report:
        write_json_atomic(args.report, report)
        print(f"wrote {args.report}")
    return 0
