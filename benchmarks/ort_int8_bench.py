"""ONNX Runtime CPU latency: FP32 vs INT8 (TensorRT flavour S8S8, CPU flavour U8S8) of the full-size RAN.

Full-size RAN = ResNet-18 trunk (width 64), 224x224 faces and regions, ferplus6 (6 regions), random init
(latency does not depend on the weights). Batch 1 face (6 regions through the trunk) and batch 8 faces
(48 regions). 2 intra-op threads. The three models are timed round-robin (one run of each in turn), so
load from other processes on the machine hits all three alike.

    .venv/bin/python benchmarks/ort_int8_bench.py [--repeat 15] [--out benchmarks/results]

Writes ``ort_int8.json`` and ``ort_int8.md`` into ``--out``. This is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _cpu_name() -> str:
    from ran_edge.bench.machine import cpu_info

    return cpu_info()["model"] or "unknown"


def build_models(work: Path, calib_num: int) -> dict[str, Path]:
    """Export the full-size RAN and quantize it (both flavours from one MinMax calibration)."""
    import torch

    from ran_edge.data.classes import RAFDB_CLASSES
    from ran_edge.export import export_onnx
    from ran_edge.model.ran import build_ran
    from ran_edge.quantize import QuantTarget, calibrate_onnx

    torch.manual_seed(0)
    model = build_ran(RAFDB_CLASSES, "ferplus6").eval()
    fp32 = work / "ran_full.onnx"
    # Parity of this export is covered by tests/export (slow full-size test); skipped here to keep the run short.
    export_onnx(model, fp32, check=False, log=lambda s: None)
    run = calibrate_onnx(fp32, work / "ran_full.int8.onnx", data="synthetic", num=calib_num, method="minmax",
                         targets=(QuantTarget.TENSORRT, QuantTarget.CPU), progress=False, log=lambda s: None)
    return {"fp32": fp32, "int8-tensorrt (S8S8)": run.results[QuantTarget.TENSORRT].path,
            "int8-cpu (U8S8)": run.results[QuantTarget.CPU].path}


def time_models(paths: dict[str, Path], batch: int, repeat: int, warmup: int, threads: int) -> dict[str, dict[str, float]]:
    from ran_edge.runtime.ort_runner import cpu_runner

    sessions = {name: cpu_runner(p, threads) for name, p in paths.items()}
    x = np.random.default_rng(0).random((batch, 3, 224, 224), dtype=np.float32)
    for sess in sessions.values():
        for _ in range(warmup):
            sess.infer({"faces": x}, check=False)
    times: dict[str, list[float]] = {name: [] for name in sessions}
    for _ in range(repeat):
        for name, sess in sessions.items():
            t0 = time.perf_counter()
            sess.infer({"faces": x}, check=False)
            times[name].append(1000.0 * (time.perf_counter() - t0))
    return {name: {"median_ms": statistics.median(t), "p10_ms": float(np.percentile(t, 10)),
                   "p90_ms": float(np.percentile(t, 90)), "runs": len(t)} for name, t in times.items()}


def to_markdown(result: dict) -> str:
    lines = [f"# ONNX Runtime CPU latency, full-size RAN (ResNet-18, 224, 6 regions), {result['threads']} threads", "",
             f"{result['cpu']}; onnxruntime {result['onnxruntime']}; {result['date']}; load average before/after "
             f"{result['loadavg_before']} / {result['loadavg_after']} (other jobs shared the machine).", "",
             "| batch (faces) | model | median ms | p10 ms | p90 ms | speed-up vs FP32 |", "|---|---|---|---|---|---|"]
    for batch, rows in result["latency"].items():
        base = rows["fp32"]["median_ms"]
        for name, r in rows.items():
            lines.append(f"| {batch} | {name} | {r['median_ms']:.1f} | {r['p10_ms']:.1f} | {r['p90_ms']:.1f} | {base / r['median_ms']:.2f}x |")
    lines += ["", "Round-robin timing (one run of each model in turn); random-init weights; QDQ files from "
              f"`ran-edge calibrate` (MinMax, {result['calibration_faces']} synthetic faces, crop + attention head in FP32). "
              "The TensorRT flavour (S8S8) is for TensorRT; on ONNX Runtime CPU it is expected to be slower than FP32."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--calib-num", type=int, default=32)
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = p.parse_args(argv)
    import onnxruntime
    import torch

    torch.set_num_threads(args.threads)
    before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="ran-edge-bench-") as tmp:
        paths = build_models(Path(tmp), args.calib_num)
        sizes = {name: round(p.stat().st_size / 2 ** 20, 1) for name, p in paths.items()}
        latency = {str(b): time_models(paths, b, args.repeat if b == 1 else max(5, args.repeat // 2), args.warmup, args.threads)
                   for b in (1, 8)}
    result = {"cpu": _cpu_name(), "onnxruntime": onnxruntime.__version__, "python": sys.version.split()[0],
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "threads": args.threads,
              "loadavg_before": [round(v, 2) for v in before], "loadavg_after": [round(v, 2) for v in os.getloadavg()],
              "calibration_faces": args.calib_num, "model_mib": sizes, "latency": latency,
              "speedup_vs_fp32": {b: {n: rows["fp32"]["median_ms"] / r["median_ms"] for n, r in rows.items()}
                                  for b, rows in latency.items()}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ort_int8.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "ort_int8.md").write_text(to_markdown(result))
    print(to_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
