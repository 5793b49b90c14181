"""What an INT8 file gains or costs in speed: measured ONNX Runtime latency against FP32, side by side."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ran_edge.artifact import ArtifactMeta
from ran_edge.data.feeds import feed_for_images


def ort_speedup(fp32: str | Path, int8: str | Path, images: Sequence[np.ndarray], meta: ArtifactMeta, *, batch: int = 8,
                iters: int = 7, threads: int = 2, exact_qdq: bool = False) -> dict[str, Any]:
    """Median latency of ``batch`` faces through FP32 and the INT8 file, interleaved so both see the same machine
    load; ``speedup`` = FP32 / INT8. ``exact_qdq`` runs the Q/DQ pairs as written (the TensorRT flavour's
    arithmetic: a correctness mode, far slower than TensorRT's INT8 kernels, and said so in ``note``).

    Both sessions run without thread spinning: two sessions taking turns on a few cores otherwise slow each other
    at random (on 2 cores the same pair of files measured 0.55-1.19x with spinning, 0.83-0.89x without)."""
    from ran_edge.runtime.ort_runner import cpu_runner

    feed = feed_for_images(list(images[:batch]), meta)
    sessions = {"fp32": cpu_runner(fp32, threads, spinning=False),
                "int8": cpu_runner(int8, threads, exact_qdq=exact_qdq, spinning=False)}
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for s in sessions.values():  # warm-up
        s.infer(feed, check=False)
    for _ in range(iters):
        for name, s in sessions.items():
            t0 = time.perf_counter()
            s.infer(feed, check=False)
            times[name].append(time.perf_counter() - t0)
    fp32_ms, int8_ms = (1000 * float(np.median(times[k])) for k in ("fp32", "int8"))
    return {"batch": min(batch, len(images)), "threads": threads,
            "fp32_ms": round(fp32_ms, 3), "int8_ms": round(int8_ms, 3), "speedup": round(fp32_ms / int8_ms, 3),
            "execution": "exact Q/DQ" if exact_qdq else "fused integer kernels",
            "note": " (exact Q/DQ emulation in ONNX Runtime, not TensorRT's speed)" if exact_qdq else ""}
