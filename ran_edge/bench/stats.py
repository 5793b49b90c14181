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


# --- run-to-run comparison of latencies (``bench --compare``) ---------------------------------------------

#: timed iterations of one configuration are split, in time order, into this many repeats (fewer samples: one each)
REPEATS = 10
#: below this many repeats in either run there is no interval: the ratio alone is judged against the threshold
MIN_REPEATS = 3
#: verdicts of :func:`judge_ratio`
REGRESSION, IMPROVEMENT, WITHIN_NOISE = "regression", "improvement", "within noise"


def repeat_medians(samples: Sequence[float] | np.ndarray, repeats: int = REPEATS) -> np.ndarray:
    """Medians of ``repeats`` contiguous blocks of time-ordered ``samples`` (one block per sample when fewer).

    A block is a short repeat of the measurement; the spread of the block medians shows the drift of a shared
    machine within a run, which the spread of single iterations (correlated neighbours) hides.
    """
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size == 0:
        return x
    return np.array([float(np.median(b)) for b in np.array_split(x, min(int(repeats), x.size))])


def relative_spread(values: Sequence[float] | np.ndarray) -> float:
    """``(max - min) / median`` of repeat medians: how far one run's own repeats disagree (0 for < 2 values)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size < 2 or np.median(x) <= 0:
        return 0.0
    return float((x.max() - x.min()) / np.median(x))


@dataclass(frozen=True)
class RatioTest:
    """The evidence of one latency comparison: NEW/OLD ratio of medians, its interval, sizes, floor, verdict."""

    ratio: float
    low: float
    high: float
    level: float
    n_old: int
    n_new: int
    noise: float  # larger relative spread of the two runs' repeat medians
    floor: float  # max(threshold, noise): the relative change that counts
    verdict: str

    @property
    def has_interval(self) -> bool:
        return min(self.n_old, self.n_new) >= MIN_REPEATS

    def evidence(self) -> str:
        """One line: ``ratio 1.03 [0.97, 1.09] 95% CI, n=10/10 repeats, floor ±12%``."""
        ci = (f"[{self.low:.2f}, {self.high:.2f}] {self.level * 100:.0f}% CI" if self.has_interval
              else f"no interval (< {MIN_REPEATS} repeats)")
        return f"ratio {self.ratio:.2f} {ci}, n={self.n_old}/{self.n_new} repeats, floor {self.floor * 100:.0f}%"


def ratio_interval(old: Sequence[float] | np.ndarray, new: Sequence[float] | np.ndarray, level: float = 0.95,
                   n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``median(new) / median(old)``, each run resampled on its own (deterministic)."""
    a, b = np.asarray(old, np.float64).ravel(), np.asarray(new, np.float64).ravel()
    rng = np.random.default_rng(seed)
    ma = np.median(a[rng.integers(0, a.size, size=(n_boot, a.size))], axis=1)
    mb = np.median(b[rng.integers(0, b.size, size=(n_boot, b.size))], axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(mb / ma, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def judge_ratio(old_repeats: Sequence[float] | np.ndarray, new_repeats: Sequence[float] | np.ndarray,
                threshold: float, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> RatioTest:
    """Is NEW slower than OLD beyond what the two runs' own spread explains?

    ``ratio`` = median(new) / median(old) of the repeat medians (:func:`repeat_medians`), with a bootstrap interval
    over both runs' repeats. The change that counts, the *floor*, is the larger of ``threshold`` and the noise (the
    larger :func:`relative_spread` of the two runs: a machine whose repeats drift by 30 % within a run can drift as
    much between runs). "regression" when the interval's lower bound exceeds ``1 + floor``; "improvement" when its
    upper bound is below ``1 / (1 + floor)``; "within noise" otherwise. With fewer than :data:`MIN_REPEATS`
    repeats the interval is the ratio itself and the noise 0 (the old point rule).
    """
    a, b = np.asarray(old_repeats, np.float64).ravel(), np.asarray(new_repeats, np.float64).ravel()
    if a.size == 0 or b.size == 0 or np.median(a) <= 0:
        raise ValueError("judge_ratio needs non-empty, positive samples from both runs")
    r = float(np.median(b) / np.median(a))
    if min(a.size, b.size) >= MIN_REPEATS:
        lo, hi = ratio_interval(a, b, level, n_boot, seed)
        noise = max(relative_spread(a), relative_spread(b))
    else:
        lo = hi = r
        noise = 0.0
    floor = max(float(threshold), noise)
    verdict = REGRESSION if lo > 1.0 + floor else IMPROVEMENT if hi < 1.0 / (1.0 + floor) else WITHIN_NOISE
    return RatioTest(r, lo, hi, level, int(a.size), int(b.size), noise, floor, verdict)
