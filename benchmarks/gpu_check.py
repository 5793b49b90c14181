"""Short GPU bench for ran-edge (run by benchmarks/gpu_check.sh): a full-size RAN (ResNet-18 trunk, ferplus6,
224 px, random init) exported to ONNX, built as fp32 / fp16 / int8 TensorRT engines by
``ran_edge.engine.job.build_engine_from_source`` (what ``ran-edge build-engine`` runs), then timed with
the TrtRunner (plain and CUDA graph) and compared with ONNX Runtime on CPU.

Writes ``gpu_bench.json`` and ``gpu_bench.md`` into ``--out``. Random-init weights: logit deltas are
meaningful, top-1 agreement much less so (near-uniform probabilities); the trained-model parity checks
are in tests/engine/test_trt_build.py.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np


def _time(fn, iters: int) -> Dict[str, float]:
    for _ in range(3):
        fn()
    wall: List[float] = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        wall.append((time.perf_counter() - t) * 1e3)
    wall.sort()
    return {"median_ms": statistics.median(wall), "p90_ms": wall[int(0.9 * (len(wall) - 1))], "min_ms": wall[0]}


def _engines(onnx: Path, out: Path, calib_num: int) -> Dict[str, Any]:
    from ran_edge.engine import BatchProfile, BuildRequest, CalibKind, CalibSource
    from ran_edge.engine.job import BuildJob, build_engine_from_source
    from ran_edge.errors import RanEdgeError

    built = {}
    for prec in ("fp32", "fp16", "int8"):
        engine = out / f"ran.{prec}.engine"
        calib = CalibSource(CalibKind.SYNTHETIC) if prec == "int8" else CalibSource()
        request = BuildRequest(precision=prec, batch=BatchProfile(1, 8, 16), calib=calib, timing_cache=str(out / "timing.cache"))
        t = time.perf_counter()
        try:
            build_engine_from_source(BuildJob(source=onnx, out=engine, request=request, calib_num=calib_num))
            rc = 0
        except (RanEdgeError, OSError, MemoryError) as exc:  # what 'ran-edge build-engine' reports as exit 1
            print(f"build {prec}: error: {' '.join(str(exc).split())}")
            rc = 1
        built[prec] = {"rc": rc, "wall_s": round(time.perf_counter() - t, 1), "path": str(engine) if rc == 0 else None}
    return built


def _bench_engine(path: Path, x: np.ndarray, ref: np.ndarray, batches: List[int], iters: int) -> Dict[str, Any]:
    from ran_edge.artifact import read_sidecar
    from ran_edge.runtime import TrtRunner

    meta = read_sidecar(path)
    row: Dict[str, Any] = {"precision_built": meta.precision.value, "build_time_s": meta.extra.get("build_time_s"),
                           "size_mib": round(path.stat().st_size / 2**20, 2)}
    for graph in (False, True):
        with TrtRunner(path, meta, cuda_graph=graph) as runner:
            logits = runner.infer({"faces": x})["logits"]
            if not graph:
                row["max_abs_dlogit_vs_ort_fp32"] = float(np.abs(logits - ref).max())
                row["top1_agreement_vs_ort_fp32"] = float((logits.argmax(1) == ref.argmax(1)).mean())
            for b in batches:
                feed = {"faces": x[:b]}
                stats = _time(lambda: runner.infer(feed, check=False), iters)
                stats["gpu_ms_last"] = runner.last_gpu_time_ms
                row[f"{'graph' if graph else 'plain'}_b{b}"] = stats
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True)
    p.add_argument("--batches", default="1,8,16")
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--calib-num", type=int, default=64)
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    batches = [int(b) for b in args.batches.split(",")]

    from ran_edge.data.classes import RAFDB_CLASSES
    from ran_edge.data.synthetic.faces import iter_faces
    from ran_edge.engine.build import detect_env
    from ran_edge.export import export_onnx
    from ran_edge.model.ran import build_ran
    from ran_edge.preprocess import prepare_faces
    from ran_edge.runtime import OrtRunner

    env = detect_env()
    report: Dict[str, Any] = {"env": env.__dict__, "model": "RAN ResNet-18 ferplus6 224px, random init", "engines": {}}
    model = build_ran(RAFDB_CLASSES, "ferplus6").eval()
    onnx = export_onnx(model, out / "ran.onnx", log=print).path
    faces = [s.image for s in iter_faces(max(batches), split="test", size=224)]
    x = prepare_faces(faces, model.config.preprocess)
    with OrtRunner(onnx, providers="cpu") as ort_cpu:
        ref = ort_cpu.infer({"faces": x})["logits"]
    built = _engines(onnx, out, args.calib_num)
    for prec, info in built.items():
        report["engines"][prec] = {"build": info}
        if info["path"]:
            report["engines"][prec].update(_bench_engine(Path(info["path"]), x, ref, batches, args.iters))
    try:
        with OrtRunner(onnx, providers="cuda") as ort_gpu:
            report["ort_cuda"] = {f"b{b}": _time(lambda: ort_gpu.infer({"faces": x[:b]}, check=False), args.iters) for b in batches}
    except Exception as exc:  # optional: onnxruntime-gpu may be absent
        report["ort_cuda"] = f"not run: {exc}"
    (out / "gpu_bench.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    lines = [f"# ran-edge GPU check: {env.gpu_name} (sm {env.cc_text}), TensorRT {env.trt_version}, CUDA {env.cuda_version}", "",
             "| engine | built | max abs dlogit vs ORT fp32 | " + " | ".join(f"b{b} plain / graph ms (median)" for b in batches) + " |",
             "|---|---|---|" + "---|" * len(batches)]
    for prec, row in report["engines"].items():
        if "precision_built" not in row:
            lines.append(f"| {prec} | build failed (rc {row['build']['rc']}) | | " + " | " * len(batches))
            continue
        cells = [f"{row[f'plain_b{b}']['median_ms']:.3f} / {row[f'graph_b{b}']['median_ms']:.3f}" for b in batches]
        lines.append(f"| {prec} | {row['precision_built']} | {row['max_abs_dlogit_vs_ort_fp32']:.4f} | " + " | ".join(cells) + " |")
    (out / "gpu_bench.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r["build"]["rc"] == 0 for r in report["engines"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
