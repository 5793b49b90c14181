"""ran-edge qat: quantization-aware fine-tuning of the INT8 TensorRT flavour (docs/qat.md)."""

from __future__ import annotations

import argparse

HELP = "quantization-aware fine-tuning: checkpoint or FP32 ONNX -> INT8 QDQ (TensorRT and CPU flavours), Q/DQ placement of PTQ"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ran_edge.cli.common import add_trust_flag

    p.add_argument("model", help="ran-edge checkpoint (.pt, exported first) or FP32 ONNX from 'ran-edge export'")
    p.add_argument("--data", default="synthetic", help="labelled training faces, a --data spec (default synthetic: train split; "
                                                       "held-out faces from its val split)")
    p.add_argument("--out", required=True, help="QAT INT8 TensorRT flavour (e.g. model.int8.onnx); also writes <stem>.fp32.onnx "
                                                "(fine-tuned FP32) and <stem>.cpu.onnx (CPU flavour), each with a sidecar")
    p.add_argument("--epochs", type=int, default=8, help="fine-tuning epochs (default 8)")
    p.add_argument("--lr", type=float, default=2e-5, help="Adam learning rate, cosine decay (default 2e-5)")
    p.add_argument("--loss", choices=["distill", "ce_rb", "both"], default="distill",
                   help="distill: KL to the FP32 model (default); ce_rb: cross-entropy + RB-loss on labels; both")
    p.add_argument("--num", type=int, default=2048, help="training faces (default 2048)")
    p.add_argument("--holdout-num", type=int, default=1000, help="held-out faces of the export check (default 1000)")
    p.add_argument("--batch-size", type=int, default=32, help="faces per step (default 32)")
    p.add_argument("--calib-data", default="synthetic", help="calibration faces of the PTQ start: synthetic or a folder")
    p.add_argument("--calib-num", type=int, default=512, help="calibration faces (default 512)")
    p.add_argument("--seed", type=int, default=0, help="seed of data order and synthetic faces (default 0)")
    p.add_argument("--threads", type=int, default=1, help="torch threads while training (default 1: robust when other jobs share the cores)")
    add_trust_flag(p)


def run(args: argparse.Namespace) -> int:
    from ran_edge import option_checks as checks

    checks.int_range("--epochs", args.epochs, 1, 1000)
    checks.int_range("--num", args.num, 1, 10_000_000)
    checks.int_range("--holdout-num", args.holdout_num, 1, 10_000_000)
    checks.int_range("--batch-size", args.batch_size, 1, checks.MAX_BATCH)
    checks.int_range("--calib-num", args.calib_num, 1, 10_000_000)
    checks.int_range("--seed", args.seed, 0)
    checks.int_range("--threads", args.threads, 1, 256)
    checks.existing_file("model", args.model, "a .pt checkpoint or an FP32 .onnx from 'ran-edge export'")
    checks.face_folder("--calib-data", args.calib_data)
    from pathlib import Path

    from ran_edge.artifact import sidecar_path

    out = Path(args.out)
    stem = out.name[:-5] if out.name.endswith(".onnx") else out.name
    files = [out, out.with_name(f"{stem}.fp32.onnx"), out.with_name(f"{stem}.cpu.onnx")]
    # every output and its sidecar, against the model, its companions and the data, before any work
    checks.outputs([p for f in files for p in (f, sidecar_path(f))], inputs=[args.model, args.data, args.calib_data])
    from ran_edge._lazy import require

    require("torch", "QAT")
    require("onnxruntime", "QAT")
    from ran_edge.quantize.qat import QatOptions
    from ran_edge.quantize.qat_run import qat_model

    options = QatOptions(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, loss=args.loss, num=args.num,
                         holdout_num=args.holdout_num, seed=args.seed)
    qat_model(args.model, args.out, data=args.data, options=options, calib_data=args.calib_data, calib_num=args.calib_num,
              trust_checkpoint=args.trust_checkpoint, threads=args.threads)
    return 0
