"""Timing one subject at one batch: warm-up (excluded), timed iterations, resource sampling.

Host timing is ``time.perf_counter_ns`` around ``subject.run`` followed by ``subject.sync()`` (a device
synchronise for GPU subjects, so the timer stops after the work). Subjects that can time on the device
(CUDA events) or split host↔device copies from compute report that per call through
``subject.last_breakdown()``; the means of those breakdowns are recorded next to the host latencies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

import numpy as np

from ran_edge.bench.samplers import ResourceSampler, energy_per_face_mj
from ran_edge.bench.stats import Summary, ns_to_ms, summarize


class Timed(Protocol):
    """What the timer needs from a subject."""

    def run(self, x: np.ndarray) -> Any: ...

    def sync(self) -> None: ...

    def last_breakdown(self) -> Mapping[str, float] | None: ...


@dataclass(frozen=True)
class TimingPlan:
    """How long to time: ``warmup`` untimed calls, then ``iters`` calls or ``seconds`` of calls (>= ``min_iters``)."""

    warmup: int = 5
    iters: int | None = 50
    seconds: float | None = None
    min_iters: int = 3


@dataclass
class SpeedSample:
    """Raw result of timing one configuration."""

    batch: int
    latency_ms: np.ndarray  # per call (batch), host clock
    wall_s: float
    breakdown_ms: dict[str, float] = field(default_factory=dict)  # mean of subject breakdowns
    resources: dict[str, Any] = field(default_factory=dict)

    @property
    def batch_summary(self) -> Summary:
        return summarize(self.latency_ms)

    @property
    def face_summary(self) -> Summary:
        return summarize(self.latency_ms / self.batch)

    @property
    def throughput_fps(self) -> float:
        return self.batch * self.latency_ms.size / (self.latency_ms.sum() / 1e3)


def time_calls(subject: Timed, x: np.ndarray, batch: int, plan: TimingPlan, gpu: bool = False,
               on_iter: Callable[[], None] | None = None) -> SpeedSample:
    """Warm up, then time ``subject.run(x)`` per ``plan`` while sampling memory (and GPU power)."""
    for _ in range(plan.warmup):
        subject.run(x)
        subject.sync()
    samples: list[int] = []
    breakdowns: list[Mapping[str, float]] = []
    deadline = None if plan.seconds is None else time.perf_counter() + plan.seconds
    with ResourceSampler(gpu=gpu) as sampler:
        t_start = time.perf_counter_ns()
        while True:
            t0 = time.perf_counter_ns()
            subject.run(x)
            subject.sync()
            samples.append(time.perf_counter_ns() - t0)
            b = subject.last_breakdown()
            if b:
                breakdowns.append(b)
            if on_iter is not None:
                on_iter()
            n = len(samples)
            if deadline is not None:
                if time.perf_counter() >= deadline and n >= plan.min_iters:
                    break
            elif n >= int(plan.iters or 1):
                break
        wall_s = (time.perf_counter_ns() - t_start) / 1e9
    res = sampler.report.to_dict() if sampler.report else {}
    faces = batch * len(samples)
    res["energy_per_face_mj"] = energy_per_face_mj(res.get("mean_power_w"), wall_s, faces)
    mean_breakdown = {k: float(np.mean([b[k] for b in breakdowns if k in b])) for k in (breakdowns[0] if breakdowns else {})}
    return SpeedSample(batch, ns_to_ms(samples), wall_s, mean_breakdown, res)


def time_once_ms(fn: Callable[[], Any], sync: Callable[[], None] = lambda: None) -> float:
    """Milliseconds of one call of ``fn`` (with ``sync`` before the clock stops)."""
    t0 = time.perf_counter_ns()
    fn()
    sync()
    return (time.perf_counter_ns() - t0) / 1e6


def time_interleaved(items: list[tuple[Timed, np.ndarray, int]], plan: TimingPlan,
                     on_round: Callable[[], None] | None = None) -> list[SpeedSample | BaseException]:
    """Time several configurations in rounds: each round runs every configuration once, in turn.

    Background load that drifts during the run (other processes on a shared machine) then hits every
    configuration alike, so ratios between them stay fair. A configuration that raises is dropped from the
    rounds and its exception is returned in its place. Resources are sampled over the whole phase (peak RSS is
    the process peak with every configuration loaded); energy per face needs the sequential schedule.
    """
    errors: dict[int, BaseException] = {}
    for i, (subject, x, _) in enumerate(items):
        try:
            for _ in range(plan.warmup):
                subject.run(x)
                subject.sync()
        except Exception as exc:  # noqa: BLE001 - reported per configuration
            errors[i] = exc
    samples: list[list[int]] = [[] for _ in items]
    breakdowns: list[list[Mapping[str, float]]] = [[] for _ in items]
    live = [i for i in range(len(items)) if i not in errors]
    deadline = None if plan.seconds is None else time.perf_counter() + plan.seconds * max(1, len(live))
    with ResourceSampler(gpu=False) as sampler:
        rounds = 0
        while live:
            for i in list(live):
                subject, x, _ = items[i]
                try:
                    t0 = time.perf_counter_ns()
                    subject.run(x)
                    subject.sync()
                    samples[i].append(time.perf_counter_ns() - t0)
                except Exception as exc:  # noqa: BLE001
                    errors[i] = exc
                    live.remove(i)
                    continue
                b = subject.last_breakdown()
                if b:
                    breakdowns[i].append(b)
            rounds += 1
            if on_round is not None:
                on_round()
            if deadline is not None:
                if time.perf_counter() >= deadline and rounds >= plan.min_iters:
                    break
            elif rounds >= int(plan.iters or 1):
                break
    res = sampler.report.to_dict() if sampler.report else {}
    res["energy_per_face_mj"] = None
    res["mean_power_w"] = None
    res["power_source"] = None
    out: list[SpeedSample | BaseException] = []
    for i, (_, _, batch) in enumerate(items):
        if i in errors:
            out.append(errors[i])
            continue
        lat = ns_to_ms(samples[i])
        keys = breakdowns[i][0] if breakdowns[i] else {}
        mean_b = {k: float(np.mean([b[k] for b in breakdowns[i] if k in b])) for k in keys}
        out.append(SpeedSample(batch, lat, float(lat.sum() / 1e3), mean_b, dict(res)))
    return out


#: a bench whose estimate exceeds this many seconds says so before it starts timing
LONG_RUN_S = 60.0


def estimated_seconds(per_face_ms: list[float], batches: tuple[int, ...], plan: TimingPlan, suite_faces: int) -> float:
    """Seconds a bench will spend timing and predicting, from each configuration's per-face time of one warm call.

    Speed: ``plan.seconds`` per configuration and batch, or ``(warmup + iters)`` calls of ``batch`` faces each;
    accuracy: ``suite_faces`` faces per configuration (its reference runs add at most as much again).
    """
    total = 0.0
    for face_ms in per_face_ms:
        for batch in batches:
            if plan.seconds is not None:
                total += plan.seconds + plan.warmup * batch * face_ms / 1e3
            else:
                total += (plan.warmup + int(plan.iters or 1)) * batch * face_ms / 1e3
        total += suite_faces * face_ms / 1e3
    return total


def duration_warning(seconds: float, threshold_s: float = LONG_RUN_S) -> str | None:
    """``"[bench] this run will take about N min ..."`` for a run longer than ``threshold_s``, else None."""
    if seconds < threshold_s:
        return None
    minutes = max(1, round(seconds / 60.0))
    return (f"[bench] this run will take about {minutes} min (estimated from one warm call per configuration); "
            "--iters, --seconds, --batch, --suites or --max-faces make it shorter")
