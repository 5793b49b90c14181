"""Shared helpers of the benchmark experiments (one ``bench_*.py`` script per experiment).

Each experiment makes its artifacts (export, INT8 calibration) into ``<out>/artifacts`` and runs one
``ran_edge.bench.run_bench`` so every ratio in its report comes from one run on one machine. Results go
to ``benchmarks/results/<machine>/<experiment>/`` (bench.json, bench.md, PNGs); artifacts are not committed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHECKPOINT = Path("demo_out/train/best.pt")
#: The demo's data: synthetic faces at the demo checkpoint's training size (64x64).
DEMO_DATA = "synthetic:n_test=1400,size=64"


def parse_args(name: str, argv: Sequence[str] | None, doc: str,
               extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """The options every experiment script shares; ``extra`` adds the script's own."""
    from ran_edge.bench.machine import machine_slug

    p = argparse.ArgumentParser(description=doc)
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="trained RAN checkpoint (.pt)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / machine_slug() / name))
    p.add_argument("--data", default=DEMO_DATA, help="accuracy data spec")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (default: library default)")
    p.add_argument("--quick", action="store_true", help="few iterations and faces (smoke test)")
    p.add_argument("--no-full", action="store_true", help="skip the full-size RAN (ResNet-18, 224, 6 regions)")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="allow a checkpoint that needs arbitrary unpickling (only for files you trust)")
    p.add_argument("--no-demo", action="store_true", help="skip the trained demo RAN (run only the full-size one)")
    if extra is not None:
        extra(p)
    return p.parse_args(argv)


def command_line(script: str, argv: Sequence[str] | None) -> tuple[str, ...]:
    """The command as typed, for the report's machine.command_line."""
    return (f"benchmarks/{script}", *(sys.argv[1:] if argv is None else argv))


def keep_only_reports(out: Path) -> None:
    """Remove the exported artifacts after the run (the reports name them; they are rebuilt on demand)."""
    shutil.rmtree(out / "artifacts", ignore_errors=True)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
