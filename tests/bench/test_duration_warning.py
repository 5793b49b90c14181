"""A bench that will take minutes says so first, with the expected duration (issue 26)."""

from __future__ import annotations

import pytest

from ran_edge.bench import timing
from ran_edge.bench.timing import TimingPlan, duration_warning, estimated_seconds


def test_estimate_from_the_plan():
    # 2 ms/face: (5 + 50) calls at batch 1 and at batch 8, then 100 accuracy faces
    assert estimated_seconds([2.0], (1, 8), TimingPlan(5, 50), 100) == pytest.approx((55 * 1 + 55 * 8) * 0.002 + 0.2)
    assert estimated_seconds([1.0, 3.0], (1, 2), TimingPlan(0, None, 10.0), 0) == pytest.approx(4 * 10.0)
    assert estimated_seconds([], (1,), TimingPlan(), 1000) == 0.0


def test_warning_line_only_for_minutes():
    assert duration_warning(59.0) is None
    assert "about 1 min" in duration_warning(61.0) and "about 3 min" in duration_warning(190.0)
    assert duration_warning(190.0).startswith("[bench] this run will take about 3 min")


def test_the_line_comes_before_the_measurement(tiny_artifacts, tmp_path, monkeypatch):
    from ran_edge.bench.config import BenchConfig
    from ran_edge.bench.harness import run_bench

    cfg = BenchConfig(artifacts=(str(tiny_artifacts["onnx"]),), out=tmp_path / "b", batches=(1,), warmup=0, iters=2,
                      threads=1, measure="speed", plots=False, progress=False, argv=("ran-edge", "bench"))
    lines: list = []
    run_bench(cfg, log=lines.append)
    assert not any("will take about" in line for line in lines)  # a run of seconds says nothing
    monkeypatch.setattr(timing, "LONG_RUN_S", 0.0)
    lines.clear()
    run_bench(cfg, log=lines.append)
    said = [i for i, line in enumerate(lines) if "will take about" in line]
    written = [i for i, line in enumerate(lines) if line.startswith("[bench] wrote")]
    assert len(said) == 1 and written and said[0] < written[0]
