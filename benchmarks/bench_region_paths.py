"""Experiment: per-region loop (official structure) vs region-batch in graph vs fused kernel + regions graph.

One run per model over the three paths, in torch eager (RAN.run_per_region / RAN.run / kernel + RAN.run_regions)
and in ONNX Runtime (a per-region graph, the faces graph, the regions graph, exported by the bench). The fused
path's region batch comes from ``ran_edge.kernels.region_batch`` (C++ CPU build when present), timed separately
as "prep". Trained demo RAN with accuracy (all three paths must agree); full-size RAN (random init) for latency.

    .venv/bin/python benchmarks/bench_region_paths.py [--checkpoint best.pt] [--quick]
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from bench_common import command_line, keep_only_reports, log, parse_args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args("region_paths", argv, __doc__)
    from ran_edge.bench import BenchConfig, run_bench

    out = Path(args.out)
    argv_note = command_line("bench_region_paths.py", argv)
    paths = ("per-region", "region-batch", "fused")
    if not args.no_demo:
        run_bench(BenchConfig(artifacts=(args.checkpoint,), out=out / "demo", backends=("torch", "onnxruntime"), paths=paths,
                              batches=(1, 2, 4, 8, 16), warmup=2 if args.quick else 5, iters=5 if args.quick else 200,
                              threads=args.threads, data=args.data, suites=("clean",), trust_checkpoint=args.trust_checkpoint,
                              max_faces=100 if args.quick else 400,
                              argv=argv_note), log=log)
        keep_only_reports(out / "demo")
    if not args.no_full:
        run_bench(BenchConfig(artifacts=("random:full",), out=out / "full", backends=("torch", "onnxruntime"), paths=paths,
                              batches=(1, 4, 8), warmup=1, iters=None, seconds=2.0 if args.quick else 20.0,
                              threads=args.threads, suites=(), argv=argv_note), log=log)
        keep_only_reports(out / "full")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
