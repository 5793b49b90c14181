"""Benchmark: the fused region-batch kernel (C++ CPU) vs per-region OpenCV vs the numpy reference.

One 1920x1080 BGR frame, 1 / 4 / 16 faces, the ferplus6 preset (K=6), regions of 224x224, FP32 output
``[N*6, 3, 224, 224]``. Methods run round-robin (rep by rep) so that load from other processes hits them alike;
the JSON/Markdown report gives median and min wall-clock times, the speed-ups, the machine and its load.

    python benchmarks/region_batch_bench.py            # writes benchmarks/results/region_batch_cpu.{json,md}

Not a test: it asserts nothing about speed. It does check that the fused output equals the numpy reference.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

# One BLAS thread: the numpy reference's matmuls otherwise leave OpenBLAS threads spinning on the same cores
# while the other methods are timed. Must be set before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from ran_edge._lazy import require  # noqa: E402
from ran_edge.kernels import describe, library, region_batch  # noqa: E402
from ran_edge.preprocess import PreprocessSpec, region_batch_reference  # noqa: E402
from ran_edge.presets import FERPLUS6  # noqa: E402

FRAME_H, FRAME_W, K = 1080, 1920, FERPLUS6.num_regions


def make_boxes(n: int, rng: np.random.Generator) -> np.ndarray:
    """n face boxes of 200-320 px on a grid, all inside the frame (so the OpenCV crops need no padding)."""
    cols = int(np.ceil(np.sqrt(n * FRAME_W / FRAME_H)))
    cell_w, cell_h = FRAME_W / cols, FRAME_H / int(np.ceil(n / cols))
    boxes = []
    for i in range(n):
        side = rng.uniform(200, min(320, cell_w - 2, cell_h - 2))
        cx = (i % cols + 0.5) * cell_w + rng.uniform(-0.05, 0.05) * cell_w
        cy = (i // cols + 0.5) * cell_h + rng.uniform(-0.05, 0.05) * cell_h
        boxes.append([cx - side / 2, cy - side / 2, cx + side / 2, cy + side * 1.1 / 2])
    return np.clip(np.array(boxes), 0, [FRAME_W, FRAME_H, FRAME_W, FRAME_H])


def opencv_per_region(cv2, frame: np.ndarray, boxes: np.ndarray, size: int, out: np.ndarray) -> np.ndarray:
    """The usual host pipeline: per region crop, cv2.resize (INTER_LINEAR), cvtColor, scale, transpose."""
    scale = np.float32(1.0 / 255.0)
    for n, (x0, y0, x1, y1) in enumerate(boxes):
        bw, bh = x1 - x0, y1 - y0
        for k, reg in enumerate(FERPLUS6.boxes):
            crop = frame[int(y0 + reg.y0 * bh):int(np.ceil(y0 + reg.y1 * bh)),
                         int(x0 + reg.x0 * bw):int(np.ceil(x0 + reg.x1 * bw))]
            resized = cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR)
            rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
            out[n * K + k] = (rgb.astype(np.float32) * scale).transpose(2, 0, 1)
    return out


ISA_ENV = "RAN_EDGE_CPU_ISA"
_USER_ISA = os.environ.get(ISA_ENV)


def set_isa(isa: Optional[str]) -> None:
    """Cap the CPU kernel's instruction set (read by the library on every call); None restores the user's setting."""
    value = isa if isa is not None else _USER_ISA
    if value is None:
        os.environ.pop(ISA_ENV, None)
    else:
        os.environ[ISA_ENV] = value


def cpu_isa_path() -> str:
    """The instruction set the CPU kernel's box path uses here (mirrors cpu_isa() in csrc/cpu_box_rows.h)."""
    flags: set = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    best = "avx512" if "avx512f" in flags else ("avx2" if {"avx2", "f16c"} <= flags else "portable")
    order = ["portable", "avx2", "avx512"]
    cap = _USER_ISA if _USER_ISA in order else best
    return order[min(order.index(best), order.index(cap))]


def machine_info(cv2) -> Dict[str, object]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lib = library.load()
    return {
        "cpu_model": model,
        "logical_cpus": os.cpu_count(),
        "cpus_available_to_process": affinity,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "opencv_threads": cv2.getNumThreads(),
        "kernel_library": str(lib.path) if lib else None,
        "kernel_cpu_isa": cpu_isa_path(),
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "kernels": describe(),
    }


def time_round_robin(methods: Dict[str, Tuple[Callable[[], object], Callable[[], object]]],
                     reps: int) -> Dict[str, Tuple[List[float], List[float]]]:
    """(wall, process CPU) seconds per call of every method, one call of each per round, after a warm-up call.

    ``methods`` maps a name to ``(setup, fn)``; ``setup`` runs untimed before each call (e.g. OpenCV's thread count).
    """
    for setup, fn in methods.values():
        setup()
        fn()
    times: Dict[str, Tuple[List[float], List[float]]] = {name: ([], []) for name in methods}
    for _ in range(reps):
        for name, (setup, fn) in methods.items():
            setup()
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            c1, w1 = time.process_time(), time.perf_counter()
            times[name][0].append(w1 - w0)
            times[name][1].append(c1 - c0)
    return times


def run(faces: List[int], reps: int, numpy_reps: int, size: int) -> Dict[str, object]:
    cv2 = require("cv2", feature="the region-batch benchmark's OpenCV baseline")
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (FRAME_H, FRAME_W, 3), dtype=np.uint8)
    spec = PreprocessSpec(region_size=size)
    report: Dict[str, object] = {"machine": machine_info(cv2), "load_average_start": os.getloadavg(),
                                 "config": {"frame": [FRAME_H, FRAME_W, 3], "preset": "ferplus6", "size": size,
                                            "output": "float32 [N*6,3,S,S]", "reps": reps,
                                            "numpy_reps": numpy_reps}}
    rows = []
    for n in faces:
        boxes = make_boxes(n, rng)
        out = np.empty((n * K, 3, size, size), np.float32)
        out16 = np.empty(out.shape, np.float16)
        out_cv = np.empty(out.shape, np.float32)
        cv_threads = cv2.getNumThreads()
        nothing = lambda: None  # noqa: E731
        best_isa = lambda: set_isa(None)  # noqa: E731
        methods = {
            "fused C++ (all threads)": (best_isa, lambda: region_batch(frame, boxes, FERPLUS6, size, out=out)),
            "fused C++ (1 thread)": (best_isa, lambda: region_batch(frame, boxes, FERPLUS6, size, out=out,
                                                                    num_threads=1)),
            "fused C++ FP16 (all threads)": (best_isa, lambda: region_batch(frame, boxes, FERPLUS6, size, "float16",
                                                                            out=out16)),
            "fused C++ (1 thread, portable code)": (lambda: set_isa("portable"), lambda: region_batch(
                frame, boxes, FERPLUS6, size, out=out, num_threads=1)),
            "per-region OpenCV (all threads)": (lambda: cv2.setNumThreads(cv_threads),
                                                lambda: opencv_per_region(cv2, frame, boxes, size, out_cv)),
            "per-region OpenCV (1 thread)": (lambda: cv2.setNumThreads(1),
                                             lambda: opencv_per_region(cv2, frame, boxes, size, out_cv)),
            "output write floor (fill)": (nothing, lambda: out.fill(0.5)),
        }
        times = time_round_robin(methods, reps)
        set_isa(None)
        cv2.setNumThreads(cv_threads)
        wall: List[float] = []
        cpu: List[float] = []
        for _ in range(numpy_reps):  # slow (a full-frame matmul per region): timed alone, no warm-up
            w0, c0 = time.perf_counter(), time.process_time()
            ref = region_batch_reference(frame, boxes, FERPLUS6, spec)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
        times["numpy reference"] = (wall, cpu)
        fused = region_batch(frame, boxes, FERPLUS6, size)
        accuracy = {"fused_vs_numpy_max_abs": float(np.abs(fused - ref).max()),
                    "opencv_vs_numpy_max_abs": float(np.abs(opencv_per_region(cv2, frame, boxes, size, out_cv)
                                                            - ref).max())}
        out_bytes = out.nbytes
        for name, (ts, cs) in times.items():
            rows.append({"faces": n, "method": name, "reps": len(ts), "median_ms": 1e3 * statistics.median(ts),
                         "min_ms": 1e3 * min(ts), "max_ms": 1e3 * max(ts), "cpu_median_ms": 1e3 * statistics.median(cs),
                         "output_bytes": out_bytes,
                         **({"accuracy": accuracy} if name.startswith("fused C++ (all") else {})})
        print(f"{n:2d} faces: " + ", ".join(f"{r['method']} {r['median_ms']:.2f} ms" for r in rows if r["faces"] == n),
              flush=True)
    report["results"] = rows
    report["load_average_end"] = os.getloadavg()
    report["speedup_vs_opencv"] = speedups(rows, faces)
    return report


def speedups(rows: List[Dict[str, object]], faces: List[int]) -> Dict[str, Dict[str, float]]:
    """OpenCV time / fused time, like for like (all threads vs all threads, 1 thread vs 1 thread)."""
    def get(n: int, method: str, key: str) -> float:
        return next(float(r[key]) for r in rows if r["faces"] == n and r["method"] == method)

    out = {}
    for n in faces:
        out[str(n)] = {
            f"{threads} / {key}": get(n, f"per-region OpenCV ({threads})", key) / get(n, f"fused C++ ({threads})", key)
            for threads in ("all threads", "1 thread") for key in ("median_ms", "min_ms", "cpu_median_ms")
        }
    return out


def markdown(report: Dict[str, object]) -> str:
    m = report["machine"]
    lines = [
        "# Fused region-batch kernel vs per-region OpenCV (CPU)",
        "",
        f"Machine: {m['cpu_model']}, {m['cpus_available_to_process']} CPUs available ({m['logical_cpus']} logical), "
        f"{m['platform']}; Python {m['python']}, numpy {m['numpy']}, OpenCV {m['opencv']} "
        f"({m['opencv_threads']} threads). Load average (1/5/15 min) at start "
        f"{'/'.join(f'{v:.1f}' for v in report['load_average_start'])}, at end "
        f"{'/'.join(f'{v:.1f}' for v in report['load_average_end'])}: other processes share these CPUs.",
        "",
        f"Frame 1920x1080 BGR uint8, preset ferplus6 (K=6), regions {report['config']['size']}x"
        f"{report['config']['size']}, output float32 [N*6,3,S,S] unless noted. Times per call: wall clock and "
        f"process CPU time (all threads), "
        f"methods interleaved round-robin, {report['config']['reps']} reps "
        f"({report['config']['numpy_reps']} for the numpy reference, timed on its own after the others).",
        "",
        "| faces | method | median ms | min ms | CPU ms (median, all threads) | output MB |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        lines.append(f"| {r['faces']} | {r['method']} | {r['median_ms']:.2f} | {r['min_ms']:.2f} | "
                     f"{r['cpu_median_ms']:.2f} | {r['output_bytes'] / 1e6:.1f} |")
    lines += ["", "Speed-up of the fused kernel over per-region OpenCV, like for like (OpenCV time / fused time; "
              "wall clock median and min, and process CPU time):", "",
              "| faces | all threads: median | min | CPU | 1 thread: median | min | CPU |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for n, s in report["speedup_vs_opencv"].items():
        cells = [f"{s[f'{t} / {k}']:.2f}x" for t in ("all threads", "1 thread")
                 for k in ("median_ms", "min_ms", "cpu_median_ms")]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    acc = [r["accuracy"] for r in report["results"] if "accuracy" in r]
    lines += ["", "Accuracy against the numpy reference (max |difference|, model units [0,1]): fused "
              f"{max(a['fused_vs_numpy_max_abs'] for a in acc):.2e}; per-region OpenCV "
              f"{max(a['opencv_vs_numpy_max_abs'] for a in acc):.2e} (integer crop bounds and OpenCV's fixed-point "
              "bilinear weights: it does not follow the sampling convention)."]
    lines += ["", "## Analysis (computed from the figures above)", "", *analysis(report)]
    if report.get("notes"):
        lines += ["", report["notes"]]
    return "\n".join(lines).rstrip() + "\n"


def analysis(report: Dict[str, object], faces: int = 4, target: float = 3.0) -> List[str]:
    """Target check at `faces` faces and where the fused kernel's time goes, from the measured numbers."""
    rows = [r for r in report["results"] if r["faces"] == faces]
    if not rows:
        return [f"(no run with {faces} faces)"]
    by = {r["method"]: r for r in rows}
    fused1, fused, fill = by["fused C++ (1 thread)"], by["fused C++ (all threads)"], by["output write floor (fill)"]
    ocv1, ocv = by["per-region OpenCV (1 thread)"], by["per-region OpenCV (all threads)"]
    half = by["fused C++ FP16 (all threads)"]
    portable = by.get("fused C++ (1 thread, portable code)")
    values = fused1["output_bytes"] / 4
    cpu_ratio = ocv1["cpu_median_ms"] / fused1["cpu_median_ms"]
    cpu_ratio_all = ocv["cpu_median_ms"] / fused["cpu_median_ms"]
    wall = ", ".join(f"{a['median_ms'] / b['median_ms']:.2f}x median / {a['min_ms'] / b['min_ms']:.2f}x min ({t})"
                     for a, b, t in ((ocv1, fused1, "1 thread"), (ocv, fused, "all threads")))
    met = "met" if min(cpu_ratio, cpu_ratio_all) >= target else "not met"
    isa = report["machine"].get("kernel_cpu_isa", "unknown")
    lines = [
        f"* Target (fused >= {target:.0f}x per-region OpenCV at {faces} faces): **{met}** on this machine, judged "
        f"on the work ratio (process CPU time, robust to other load): {cpu_ratio:.2f}x on 1 thread, "
        f"{cpu_ratio_all:.2f}x on all threads. Wall-clock ratios, which other processes on these CPUs make noisy: "
        f"{wall}.",
        f"* Kernel code path here: `{isa}` (chosen at run time, see csrc/README.md). Output: {faces}x6x3x224x224 "
        f"float32 = {fused1['output_bytes'] / 1e6:.1f} MB per call. Writing it alone (`fill`, ordinary stores) "
        f"takes {fill['cpu_median_ms']:.2f} ms ({fused1['output_bytes'] / 1e6 / fill['cpu_median_ms']:.1f} GB/s). "
        f"The fused kernel needs {fused1['cpu_median_ms']:.2f} ms CPU = "
        f"{1e6 * fused1['cpu_median_ms'] / values:.2f} ns per output value, "
        f"{fused1['cpu_median_ms'] / fill['cpu_median_ms']:.1f}x the write floor; FP16 output (half the bytes) "
        f"needs {half['cpu_median_ms']:.2f} ms.",
    ]
    if portable is not None:
        lines.append(
            f"* The portable code (the path of CPUs without AVX2, e.g. aarch64/NEON; forced here with "
            f"`{ISA_ENV}=portable`) needs {portable['cpu_median_ms']:.2f} ms CPU on 1 thread: "
            f"{ocv1['cpu_median_ms'] / portable['cpu_median_ms']:.2f}x per-region OpenCV.")
    lines += [
        f"* Per-region OpenCV costs {ocv1['cpu_median_ms']:.2f} ms CPU for the same output: fixed-point uint8 "
        "resize (fast SIMD), then numpy's float conversion, scaling and CHW copy per region, plus Python overhead "
        "per region. It does not follow the convention (integer crop bounds, fixed-point weights).",
        f"* Threads: the load average was {report['load_average_start'][0]:.1f} at start on "
        f"{report['machine']['cpus_available_to_process']} CPUs (other processes): the 'all threads' runs used "
        f"{fused['cpu_median_ms']:.2f} ms CPU and took {fused['median_ms']:.2f} ms wall (median). Whole regions "
        "are dealt to the threads that get a core; the min times show what free cores give.",
    ]
    return lines


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faces", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--numpy-reps", type=int, default=1)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--notes", default="", help="text appended to the Markdown report")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "region_batch_cpu")
    parser.add_argument("--render", type=Path, help="only rewrite the Markdown of an existing JSON report")
    args = parser.parse_args(argv)
    if args.render is not None:
        args.render.with_suffix(".md").write_text(markdown(json.loads(args.render.read_text())))
        return 0
    if library.load() is None:
        print("libran_edge_kernels is not built: run `make kernels` first", file=sys.stderr)
        return 1
    report = run(args.faces, args.reps, args.numpy_reps, args.size)
    report["notes"] = args.notes
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
