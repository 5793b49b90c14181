"""Statistics of timing samples and of accuracies (numpy only).

Percentiles use numpy's default *linear* interpolation between order statistics (type 7 of
Hyndman & Fan): for ``n`` sorted samples ``x``, the p-th percentile sits at rank ``(n-1)·p/100``.
Standard deviations are sample standard deviations (``ddof=1``); one sample has std 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ran_edge.metrics import Z95, Interval, bootstrap_interval, wilson_interval  # noqa: F401  (re-exported)


@dataclass(frozen=True)
class Summary:
    """Summary of a sample, in the unit of the sample (ms for latencies)."""

    n: int
    mean: float
    std: float
    min: float
    p50: float
    p90: float
    p99: float
    max: float

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "std": self.std, "min": self.min, "p50": self.p50,
                "p90": self.p90, "p99": self.p99, "max": self.max}


def summarize(samples: Sequence[float] | np.ndarray) -> Summary:
    """Mean, std (ddof=1), min, p50, p90, p99, max of a non-empty sample."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("cannot summarise an empty sample")
    p50, p90, p99 = np.percentile(x, [50, 90, 99])
    std = float(x.std(ddof=1)) if x.size > 1 else 0.0
    return Summary(int(x.size), float(x.mean()), std, float(x.min()), float(p50), float(p90), float(p99), float(x.max()))


def ns_to_ms(ns: Sequence[int] | np.ndarray) -> np.ndarray:
    """Nanoseconds (``perf_counter_ns``) → milliseconds, float64."""
    return np.asarray(ns, dtype=np.float64) / 1e6


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b`` or None when either is missing or ``b`` is 0."""
    if a is None or b is None or b == 0:
        return None
    return float(a) / float(b)
