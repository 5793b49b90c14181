"""ran-edge demo: the whole pipeline on built-in synthetic faces."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run the main job on synthetic faces: train a small RAN, evaluate clean/occlusion/pose, export, quantize, bench"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ran_edge.demo_run import DemoConfig

    d = DemoConfig(out=Path("demo_out"))
    p.add_argument("--out", default="demo_out", help="output folder (default demo_out)")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"training epochs (default {d.epochs})")
    p.add_argument("--n-train", type=int, default=d.n_train, help=f"synthetic training faces (default {d.n_train})")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--video", action="store_true",
                   help="also generate a labelled test video and run the video pipeline on it")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--allow-accuracy-loss", action="store_true",
                   help="finish with a red warning instead of exit 1 when INT8 misses its quality gate")
    p.add_argument("--allow-fp32-fallback", action="store_true",
                   help="let INT8 layers go back to FP32 below 50%% INT8 share when the gate needs it (refused otherwise)")
    p.add_argument("--no-qat", action="store_true",
                   help="no quantization-aware fine-tuning when all-INT8 post-training quantization misses the gate")


def run(args: argparse.Namespace) -> int:
    from ran_edge._lazy import require

    require("torch", "the demo (training)")
    from ran_edge.demo_run import DemoConfig, run_demo

    cfg = DemoConfig(out=Path(args.out), epochs=args.epochs, n_train=args.n_train, seed=args.seed,
                     video=args.video, progress=not args.no_progress, allow_accuracy_loss=args.allow_accuracy_loss,
                     allow_fp32_fallback=args.allow_fp32_fallback, int8_qat=not args.no_qat)
    report = run_demo(cfg)
    print(f"\ndemo finished in {report.seconds['total']:.0f} s; clean test accuracy {report.figures['clean_accuracy']:.4f}")
    for name, path in report.artifacts.items():
        print(f"  {name:>16s}: {path}")
    return 0
