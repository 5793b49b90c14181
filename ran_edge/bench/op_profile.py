"""Where an ONNX model's time goes in ONNX Runtime: kernel time per operator type, from ORT's own profiler.

A speed-up of a whole model (INT8 vs FP32) mixes the operators that got faster with those that did not; the
per-type split says which is which (e.g. ``Conv`` against the ``QLinearConv`` that replaced it), so a ratio
can be read against what the CPU's instructions allow.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ran_edge.errors import RanEdgeError


def op_type_times_from_trace(trace: list[Mapping[str, Any]], runs: int) -> dict[str, float]:
    """Mean kernel milliseconds per run by operator type from an ONNX Runtime profile (its JSON event list),
    largest first. ``runs``: how many ``run`` calls the profile covers."""
    if runs < 1:
        raise RanEdgeError(f"runs: got {runs}, expected at least 1")
    total: Counter[str] = Counter()
    for event in trace:
        if event.get("cat") == "Node" and str(event.get("name", "")).endswith("_kernel_time"):
            op = (event.get("args") or {}).get("op_name", "?")
            total[op] += float(event.get("dur", 0.0))
    return {op: round(us / runs / 1000.0, 3) for op, us in total.most_common()}


def op_type_times(model: Any, feed: Mapping[str, np.ndarray], *, runs: int = 3, threads: int = 2) -> dict[str, float]:
    """Profile ``model`` (an ``.onnx`` path, ``ModelProto`` or bytes) on the CPU with ``feed``: one warm-up run,
    then ``runs`` profiled runs; mean kernel ms per run by operator type (the profile file is removed)."""
    from ran_edge.runtime.ort_runner import cpu_runner

    with tempfile.TemporaryDirectory(prefix="ran-edge-profile-") as tmp:
        runner = cpu_runner(model, threads, profile_prefix=str(Path(tmp) / "ort"))
        for _ in range(runs + 1):
            runner.infer(dict(feed), check=False)
        path = runner.end_profiling()
        trace = json.loads(path.read_text())
        warm_up = _first_run_end(trace)
        measured = [e for e in trace if float(e.get("ts", 0.0)) > warm_up]
        return op_type_times_from_trace(measured, runs)


def _first_run_end(trace: list[Mapping[str, Any]]) -> float:
    """The end timestamp of the first ``model_run`` event (the warm-up), or -1 when there is none."""
    for event in trace:
        if event.get("cat") == "Session" and event.get("name") == "model_run":
            return float(event.get("ts", 0.0)) + float(event.get("dur", 0.0))
    return -1.0
