"""``ran-edge bench``: speed, memory, power and accuracy of RAN artifacts, with JSON/Markdown/PNG reports.

Torch-free at import; heavy packages (torch, onnxruntime, matplotlib, psutil, tqdm) load lazily.
The flow (see :func:`ran_edge.bench.harness.run_bench`)::

    BenchConfig ──▶ subjects.py (artifact × backend × path → a Subject: a ran_edge.runtime Runner + its sidecar;
                                 loaded by loaders.py)
               ──▶ timing.py   (warm-up, timed iterations, cold start, memory/power samplers)
               ──▶ ran_edge.metrics (accuracy + Wilson interval, agreement with the reference)
               ──▶ schema.py   (bench.json, versioned)  ──▶ report.py (bench.md) / plots.py
    compare.py: two bench.json files → diff table, non-zero exit past a regression threshold.
"""

from __future__ import annotations

__all__ = ["BenchConfig", "BenchResult", "run_bench"]


def __getattr__(name: str):  # lazy, so `import ran_edge.bench` stays light
    if name in ("BenchConfig",):
        from ran_edge.bench.config import BenchConfig

        return BenchConfig
    if name in ("BenchResult", "run_bench"):
        from ran_edge.bench import harness as _run

        return getattr(_run, name)
    raise AttributeError(name)
