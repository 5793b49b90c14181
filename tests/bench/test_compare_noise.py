"""``bench --compare`` does not cry wolf (issue 26): the verdict accounts for both runs' spread.

The statistics are tested on synthetic, seeded samples (deterministic); one end-to-end run compares real bench
reports, the second with every inference slowed by a sleep far longer than the tiny model's own time.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from ran_edge.bench.compare import compare_reports, speed_repeats
from ran_edge.bench.stats import IMPROVEMENT, REGRESSION, WITHIN_NOISE, judge_ratio, repeat_medians
from ran_edge.cli.main import main


def _run(seed: int, base_ms: float, drift: tuple[float, float], n: int = 50) -> np.ndarray:
    """``n`` time-ordered samples: 10 blocks, each slowed by a load factor drawn from ``drift``, 3 % jitter each."""
    rng = np.random.default_rng(seed)
    load = np.repeat(rng.uniform(*drift, size=10), n // 10)
    return base_ms * load * (1.0 + 0.03 * rng.standard_normal(n))


def test_two_runs_of_the_same_artifact_are_within_noise():
    old, new = _run(1, 10.0, (1.0, 1.0)), _run(2, 10.0, (1.0, 1.0))
    t = judge_ratio(repeat_medians(old), repeat_medians(new), 0.05)
    assert t.verdict == WITHIN_NOISE and t.low <= 1.0 <= t.high and (t.n_old, t.n_new) == (10, 10)


def test_a_busier_machine_in_the_second_run_is_within_noise_not_a_regression():
    """The reported false alarm: same artifacts, +19..+48 % p50 because the machine was busier in one run."""
    old, new = _run(3, 10.0, (1.0, 1.3)), _run(4, 10.0, (1.2, 1.8))
    p50_change = np.median(new) / np.median(old) - 1.0
    assert p50_change > 0.15  # the old rule (p50 change > 5 %) called this a regression
    t = judge_ratio(repeat_medians(old), repeat_medians(new), 0.05)
    assert t.verdict == WITHIN_NOISE and t.floor == t.noise > 0.05 and t.low <= 1.0 + t.floor


def test_three_times_slower_is_a_regression_and_three_times_faster_an_improvement():
    old, slow = _run(5, 10.0, (1.0, 1.3)), _run(6, 30.0, (1.0, 1.3))
    t = judge_ratio(repeat_medians(old), repeat_medians(slow), 0.05)
    assert t.verdict == REGRESSION and t.low > 1.0 + t.floor and 2.5 < t.ratio < 3.5
    back = judge_ratio(repeat_medians(slow), repeat_medians(old), 0.05)
    assert back.verdict == IMPROVEMENT and back.high < 1.0 / (1.0 + back.floor)


def test_the_interval_is_deterministic_and_printed():
    a, b = repeat_medians(_run(7, 10.0, (1.0, 1.1))), repeat_medians(_run(8, 12.0, (1.0, 1.1)))
    assert judge_ratio(a, b, 0.05) == judge_ratio(a, b, 0.05)
    line = judge_ratio(a, b, 0.05).evidence()
    assert line.startswith("ratio 1.") and "95% CI" in line and "n=10/10 repeats" in line and "floor" in line


def test_too_few_repeats_fall_back_to_the_point_rule():
    t = judge_ratio([10.0, 10.2], [13.0, 13.1], 0.05)
    assert t.verdict == REGRESSION and t.low == t.high == t.ratio and "no interval" in t.evidence()
    assert judge_ratio([10.0], [10.4], 0.05).verdict == WITHIN_NOISE


def test_old_reports_are_read_from_their_samples_or_p50():
    rec = {"batch": 2, "samples_ms": [20.0, 22.0, 24.0, 26.0], "latency_face_ms": {"p50": 11.5}}
    assert speed_repeats(rec) == pytest.approx([10.0, 11.0, 12.0, 13.0])  # schema 1-2: from samples_ms
    assert speed_repeats({"batch": 1, "samples_ms": [], "latency_face_ms": {"p50": 7.0}}) == [7.0]


def test_a_schema_2_report_without_repeats_is_compared_from_its_samples():
    rng = np.random.default_rng(9)
    old_face, new_face = 10 * (1 + 0.02 * rng.standard_normal(40)), 30 * (1 + 0.02 * rng.standard_normal(40))

    def doc(face, version):
        rec = {"model": "m0", "batch": 2, "status": "ok", "samples_ms": (2 * face).tolist(),
               "latency_face_ms": {"p50": float(np.median(face))}}
        if version >= 3:
            rec["repeat_medians_face_ms"] = repeat_medians(face).tolist()
        return {"schema_version": version, "models": [{"id": "m0", "artifact": "m.onnx", "backend": "onnxruntime",
                                                       "path": "region-batch", "precision": "fp32"}],
                "speed": [rec], "accuracy": []}

    row = compare_reports(doc(old_face, 2), doc(new_face, 3)).rows[0]
    assert row.verdict == REGRESSION and row.test.n_old == row.test.n_new == 10


def _bench(artifact, out, extra=()):
    return main(["bench", str(artifact), "--batch", "1", "--iters", "20", "--warmup", "1", "--threads", "1",
                 "--measure", "speed", "--no-plots", "--no-progress", "--out", str(out), *extra])


def test_end_to_end_same_report_within_noise_and_slowed_runner_regression(tiny_artifacts, tmp_path, capsys, monkeypatch):
    assert _bench(tiny_artifacts["onnx"], tmp_path / "a") == 0
    old = tmp_path / "a" / "bench.json"
    doc = json.loads(old.read_text())
    assert doc["schema_version"] == 3 and len(doc["speed"][0]["repeat_medians_face_ms"]) == 10
    assert main(["bench", "--compare", str(old), str(old)]) == 0
    assert "within noise" in capsys.readouterr().out

    from ran_edge.bench.subjects import Subject

    fast_ms = doc["speed"][0]["latency_face_ms"]["p50"]
    delay_s = max(0.02, 5 * fast_ms / 1e3)  # every call at least 5x its measured time plus the model itself
    real_run = Subject.run

    def slowed(self, x):
        time.sleep(delay_s)
        return real_run(self, x)

    monkeypatch.setattr(Subject, "run", slowed)
    assert _bench(tiny_artifacts["onnx"], tmp_path / "b") == 0
    capsys.readouterr()
    rc = main(["bench", "--compare", str(old), str(tmp_path / "b" / "bench.json"), "--max-regression", "5%"])
    out = capsys.readouterr().out
    assert rc == 3 and "REGRESSION" in out and "95% CI" in out and "n=10/10 repeats" in out
    row = compare_reports(doc, json.loads((tmp_path / "b" / "bench.json").read_text())).rows[0]
    assert row.verdict == REGRESSION and row.test.low > 1.0 + row.test.floor
