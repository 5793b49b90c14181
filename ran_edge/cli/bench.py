"""ran-edge bench: latency, throughput, memory, power and accuracy of artifacts; or compare two reports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ran_edge.cli.common import add_trust_flag

HELP = "benchmark artifacts (speed, memory, accuracy vs labels and vs the FP32 reference) or compare two reports"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("artifacts", nargs="*", metavar="ARTIFACT",
                   help=".onnx / .ts / .engine (with their .json sidecar), a .pt checkpoint, or random:full "
                        "(random-init full-size RAN: ResNet-18, 224, 6 regions; latency only)")
    p.add_argument("--backend", default="auto",
                   help="comma list of auto, all, trt, onnxruntime, torchscript, torch; a checkpoint is exported for "
                        "torchscript/onnxruntime so peers run in one bench; 'all' = every installed runner (default auto)")
    p.add_argument("--batch", default="1,2,4,8,16", help="comma list of batch sizes (default 1,2,4,8,16)")
    p.add_argument("--warmup", type=int, default=5, help="untimed iterations per configuration (default 5)")
    timing = p.add_mutually_exclusive_group()
    timing.add_argument("--iters", type=int, default=None, help="timed iterations per configuration (default 50)")
    timing.add_argument("--seconds", type=float, default=None, help="time each configuration for this long instead")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads for ONNX Runtime / torch")
    p.add_argument("--data", default="synthetic", help="dataset for accuracy: synthetic[:opts] or a --data spec")
    p.add_argument("--suites", default="clean,occlusion,pose30,pose45",
                   help="accuracy suites ('none' to skip accuracy)")
    p.add_argument("--lists", default=None, metavar="DIR",
                   help="folder with the official challenge lists (Challenge-condition-FER-dataset checkout), "
                        "for occlusion/pose suites of rafdb/ferplus/affectnet data")
    p.add_argument("--max-faces", type=int, default=None, help="cap faces per accuracy suite")
    p.add_argument("--reference", default=None, metavar="ARTIFACT",
                   help="compare predictions against this artifact (default: the FP32 source named in the sidecar)")
    p.add_argument("--paths", default=None, help="region paths: per-region,region-batch,fused (checkpoints: default all)")
    p.add_argument("--measure", default="all", choices=["all", "speed", "accuracy"])
    p.add_argument("--schedule", default="interleaved", choices=["interleaved", "sequential"],
                   help="interleaved: configurations take turns each round (fair ratios on a busy machine); "
                        "sequential: one at a time (per-configuration power/energy)")
    p.add_argument("--device", type=int, default=0, help="GPU index (TensorRT, ONNX Runtime CUDA)")
    p.add_argument("--torch-device", default="cpu", choices=["cpu", "cuda"], help="device for checkpoints run by torch")
    add_trust_flag(p)
    p.add_argument("--out", default="bench-out", help="report folder (bench.json, bench.md, PNGs); must be empty or new "
                                                      "unless --force")
    p.add_argument("--force", action="store_true", help="write the report into a folder that already holds files "
                                                        "(replaces bench.json, bench.md and the plots)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--compare", nargs=2, metavar=("OLD.json", "NEW.json"), default=None,
                   help="print a diff table of two bench.json files (ratio, 95%% interval, repeats, verdict per row); "
                        "exit 3 on a regression")
    p.add_argument("--max-regression", default="5%",
                   help="--compare: a latency row regresses when the 95%% interval of NEW/OLD (median of the runs' repeats) "
                        "lies above 1 + this and above the runs' own spread (default 5%%)")
    p.add_argument("--max-accuracy-drop", default="1%", help="allowed accuracy drop, absolute, for --compare (default 1%%)")


def run(args: argparse.Namespace) -> int:
    from ran_edge.bench.config import BenchConfig
    from ran_edge.bench.session import check_options, compare_report_files, run_and_report
    from ran_edge.errors import RanEdgeError

    if args.compare:
        if args.artifacts:
            raise RanEdgeError("--compare takes two bench.json files and no artifacts")
        return compare_report_files(*args.compare, args.max_regression, args.max_accuracy_drop)
    if not args.artifacts:
        raise RanEdgeError("no artifact given; expected one or more .onnx/.ts/.engine/.pt files or random:full")
    check_options(warmup=args.warmup, iters=args.iters, seconds=args.seconds, threads=args.threads,
                  max_faces=args.max_faces, device=args.device, batches=args.batch, artifacts=args.artifacts,
                  reference=args.reference, lists=args.lists, out=args.out, force=args.force)
    cfg = BenchConfig(artifacts=tuple(args.artifacts), out=Path(args.out), backends=args.backend, batches=args.batch,
                      warmup=args.warmup, iters=None if args.seconds else (args.iters or 50), seconds=args.seconds,
                      threads=args.threads, data=args.data, suites=() if args.suites.strip() == "none" else args.suites,
                      lists_dir=Path(args.lists) if args.lists else None, reference=args.reference, paths=args.paths,
                      measure=args.measure, schedule=args.schedule, max_faces=args.max_faces, plots=not args.no_plots,
                      progress=not args.no_progress, device=args.device, torch_device=args.torch_device,
                      trust_checkpoint=args.trust_checkpoint, argv=tuple(["ran-edge"] + sys.argv[1:]))
    run_and_report(cfg)
    return 0
