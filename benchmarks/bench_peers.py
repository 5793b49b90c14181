"""Experiment: torch eager vs TorchScript vs ONNX Runtime (FP32, region-batch path), from one run.

The trained demo RAN is exported by the bench itself for the TorchScript and ONNX Runtime peers (same
weights), with accuracy and agreement vs torch eager on the clean suite. The full-size RAN (random init,
ResNet-18 at 224, 6 regions) is measured the same way for latency only.

    .venv/bin/python benchmarks/bench_peers.py [--checkpoint best.pt] [--quick]
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from bench_common import command_line, keep_only_reports, log, parse_args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args("peers", argv, __doc__)
    from ran_edge.bench import BenchConfig, run_bench

    out = Path(args.out)
    argv_note = command_line("bench_peers.py", argv)
    backends = ("torch", "torchscript", "onnxruntime")
    if not args.no_demo:
        run_bench(BenchConfig(artifacts=(args.checkpoint,), out=out / "demo", backends=backends, paths=("region-batch",),
                              batches=(1, 2, 4, 8, 16), warmup=2 if args.quick else 5, iters=5 if args.quick else 200,
                              threads=args.threads, data=args.data, suites=("clean",), trust_checkpoint=args.trust_checkpoint,
                              max_faces=100 if args.quick else None,
                              argv=argv_note), log=log)
        keep_only_reports(out / "demo")
    if not args.no_full:
        run_bench(BenchConfig(artifacts=("random:full",), out=out / "full", backends=backends, paths=("region-batch",),
                              batches=(1, 4, 8), warmup=1, iters=None, seconds=2.0 if args.quick else 20.0,
                              threads=args.threads, suites=(), argv=argv_note), log=log)
        keep_only_reports(out / "full")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
