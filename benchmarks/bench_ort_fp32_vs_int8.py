"""Experiment: ONNX Runtime FP32 vs INT8 (both QDQ flavours: TensorRT and CPU), speed and accuracy, from one run.

Trained demo RAN: export → calibrate INT8 (512 synthetic train faces, entropy, per-channel) → bench both on
ONNX Runtime at batches 1..16 with the clean/occlusion/pose30/pose45 suites; the INT8 file's reference is its
FP32 source (found through the sidecar). Full-size RAN (random init, ResNet-18 at 224, 6 regions): the same for
latency only (its INT8 calibration uses 64 synthetic faces). Configurations are interleaved (one call each per
round), so load from other processes on the machine hits all of them alike.

    .venv/bin/python benchmarks/bench_ort_fp32_vs_int8.py [--checkpoint best.pt] [--quick] [--calib-method minmax]

The one script of this experiment. ``--no-demo --threads 2 --calib-method minmax`` repeats the earlier
full-size-only run kept in ``benchmarks/results/ort_int8.{json,md}`` and quoted in README.md (that run timed the
three files round-robin at batches 1 and 8 and calibrated with MinMax on 32 synthetic faces; this script uses 64).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from bench_common import command_line, keep_only_reports, log, parse_args


def export_and_quantize(model, out_dir: Path, stem: str, calib_data: str, num: int, method: str = "auto") -> tuple[Path, ...]:
    """FP32 ONNX, INT8 for TensorRT (``<stem>.int8.onnx``: symmetric int8 QDQ) and INT8 for CPU
    (``<stem>.int8.cpu.onnx``: uint8 activations), both from one calibration."""
    from ran_edge.export import export_onnx
    from ran_edge.quantize import QuantTarget, calibrate_onnx

    fp32 = export_onnx(model, out_dir / f"{stem}.onnx", check=False, log=log).path
    run = calibrate_onnx(fp32, out_dir / f"{stem}.int8.onnx", data=calib_data, num=num, method=method,
                         targets=(QuantTarget.TENSORRT, QuantTarget.CPU), progress=False, log=log)
    return (fp32,) + tuple(r.path for r in run.results.values())


def _own_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--calib-method", default="auto",
                   help="INT8 calibration method of ran-edge calibrate (auto, minmax, entropy, percentile)")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args("ort_fp32_vs_int8", argv, __doc__, _own_options)
    from ran_edge.bench import BenchConfig, run_bench
    from ran_edge.bench.loaders import build_model
    from ran_edge.bench.subjects import SubjectSpec
    from ran_edge.bench.config import Backend, RegionPath
    from ran_edge.model.checkpoint import load_checkpoint

    out = Path(args.out)
    argv_note = command_line("bench_ort_fp32_vs_int8.py", argv)
    if not args.no_demo:
        model, _ = load_checkpoint(args.checkpoint, trust=args.trust_checkpoint)
        size = model.config.preprocess.face_size
        files = export_and_quantize(model, out / "demo" / "artifacts", "demo", f"synthetic:n_train=512,size={size}",
                                    64 if args.quick else 512, args.calib_method)
        run_bench(BenchConfig(artifacts=tuple(map(str, files)), out=out / "demo", backends=("onnxruntime",),
                              batches=(1, 2, 4, 8, 16), warmup=2 if args.quick else 5, iters=5 if args.quick else 200,
                              threads=args.threads, data=args.data, max_faces=100 if args.quick else None,
                              argv=argv_note), log=log)
        keep_only_reports(out / "demo")
    if not args.no_full:
        full, _ = build_model(SubjectSpec("random:full", "random", Backend.TORCH, RegionPath.REGION_BATCH))
        files = export_and_quantize(full, out / "full" / "artifacts", "full-random", "synthetic:n_train=64,size=224",
                                    16 if args.quick else 64, args.calib_method)
        run_bench(BenchConfig(artifacts=tuple(map(str, files)), out=out / "full", backends=("onnxruntime",),
                              batches=(1, 4, 8), warmup=1, iters=None, seconds=2.0 if args.quick else 6.0,
                              threads=args.threads, suites=(), argv=argv_note), log=log)
        keep_only_reports(out / "full")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
