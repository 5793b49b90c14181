"""Where the time went: wall-clock per pipeline stage, per frame and as a share of the total."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Dict, Iterator, List

#: The stages in report order (others are appended in first-seen order).
STAGES = ("decode", "detect", "track", "preprocess", "infer", "smooth", "overlay", "encode", "events")


@dataclass(frozen=True)
class StageTime:
    """Total seconds of one stage, its mean per frame (ms) and its share of all stage time."""

    name: str
    total_s: float
    ms_per_frame: float
    share: float


class StageClock:
    """Accumulates ``time.perf_counter`` per stage: ``with clock("detect"): ...``."""

    def __init__(self) -> None:
        self.totals: Dict[str, float] = {}
        self.frames = 0

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - t0)

    def add(self, stage: str, seconds: float) -> None:
        self.totals[stage] = self.totals.get(stage, 0.0) + seconds

    def tick(self) -> None:
        """Count one processed frame."""
        self.frames += 1

    def report(self) -> List[StageTime]:
        """Stages in :data:`STAGES` order with per-frame milliseconds and share of the summed time."""
        total = sum(self.totals.values()) or 1.0
        n = max(1, self.frames)
        names = [s for s in STAGES if s in self.totals] + [s for s in self.totals if s not in STAGES]
        return [StageTime(s, self.totals[s], 1000.0 * self.totals[s] / n, self.totals[s] / total) for s in names]

    def fps(self) -> float:
        """Frames per second over the summed stage time."""
        total = sum(self.totals.values())
        return self.frames / total if total > 0 else 0.0

    def to_dict(self) -> Dict[str, object]:
        return {
            "frames": self.frames,
            "fps": self.fps(),
            "stages": {s.name: {"total_s": s.total_s, "ms_per_frame": s.ms_per_frame, "share": s.share}
                       for s in self.report()},
        }

    def table(self) -> str:
        """A small plain-text table for the end of ``ran-edge run``."""
        rows = [f"{'stage':<11} {'ms/frame':>9} {'share':>7}"]
        for s in self.report():
            rows.append(f"{s.name:<11} {s.ms_per_frame:9.2f} {100 * s.share:6.1f}%")
        total_ms = 1000.0 * sum(self.totals.values()) / max(1, self.frames)
        rows.append(f"{'total':<11} {total_ms:9.2f} {100.0:6.1f}%   ({self.fps():.1f} FPS over {self.frames} frames)")
        return "\n".join(rows)
