"""Statistics on known samples: percentiles, std, Wilson and bootstrap intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ran_edge.bench.stats import bootstrap_interval, ns_to_ms, ratio, summarize, wilson_interval


def test_summary_of_1_to_100_uses_linear_interpolation():
    s = summarize(np.arange(1, 101))
    assert (s.n, s.min, s.max, s.mean) == (100, 1.0, 100.0, 50.5)
    # rank (n-1)p: p50 -> 49.5 -> 50.5; p90 -> 89.1 -> 90.1; p99 -> 98.01 -> 99.01
    assert s.p50 == pytest.approx(50.5)
    assert s.p90 == pytest.approx(90.1)
    assert s.p99 == pytest.approx(99.01)
    assert s.std == pytest.approx(math.sqrt(sum((x - 50.5) ** 2 for x in range(1, 101)) / 99))


def test_summary_single_sample_and_empty():
    s = summarize([3.5])
    assert (s.p50, s.p99, s.std) == (3.5, 3.5, 0.0)
    with pytest.raises(ValueError):
        summarize([])


def test_ns_to_ms():
    assert ns_to_ms([1_500_000, 2_000_000]).tolist() == [1.5, 2.0]


@pytest.mark.parametrize("k,n,low,high", [
    (8, 10, 0.4901625, 0.9433178),     # textbook Wilson 95% for 8/10
    (0, 10, 0.0, 0.2775328),           # zero successes: low is exactly 0, high > 0
    (10, 10, 0.7224672, 1.0),
    (50, 100, 0.4038315, 0.5961685),
])
def test_wilson_known_values(k, n, low, high):
    ci = wilson_interval(k, n)
    assert ci.low == pytest.approx(low, abs=1e-6)
    assert ci.high == pytest.approx(high, abs=1e-6)
    assert ci.level == pytest.approx(0.95, abs=1e-6)
    assert ci.method == "wilson"


def test_wilson_edge_cases():
    assert (wilson_interval(0, 0).low, wilson_interval(0, 0).high) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(5, 3)


def test_bootstrap_interval_covers_mean_and_is_deterministic():
    rng = np.random.default_rng(1)
    x = rng.normal(10.0, 2.0, 400)
    a = bootstrap_interval(x, n_boot=500, seed=3)
    b = bootstrap_interval(x, n_boot=500, seed=3)
    assert (a.low, a.high) == (b.low, b.high)
    assert a.low < x.mean() < a.high
    # standard error of the mean is 0.1: a 95% interval is about +-0.2 wide around the mean
    assert 0.25 < a.high - a.low < 0.55


def test_ratio_handles_missing():
    assert ratio(2.0, 4.0) == 0.5
    assert ratio(None, 1.0) is None and ratio(1.0, 0.0) is None
