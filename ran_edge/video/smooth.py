"""Temporal smoothing of class probabilities (and region weights) per track.

``--smooth ema:0.6`` keeps 60 % of the history each frame (``s = 0.6 * s + 0.4 * p``);
``--smooth window:N`` averages the last N frames; ``--smooth none`` passes values through.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass
from typing import Deque, Dict, Iterable, Optional

import numpy as np

from ran_edge.errors import RanEdgeError


class SmoothKind(str, enum.Enum):
    NONE = "none"
    EMA = "ema"
    WINDOW = "window"


@dataclass(frozen=True)
class SmoothConfig:
    """``kind`` with its parameter: ``decay`` for EMA (weight of the history, 0..1), ``window`` frames."""

    kind: SmoothKind = SmoothKind.EMA
    decay: float = 0.6
    window: int = 5

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", SmoothKind(self.kind))
        if not (0.0 <= self.decay < 1.0):
            raise RanEdgeError(f"EMA decay must be in [0, 1), got {self.decay}")
        if self.window < 1:
            raise RanEdgeError(f"smoothing window must be >= 1 frame, got {self.window}")

    @classmethod
    def parse(cls, text: str) -> "SmoothConfig":
        """``ema:0.6`` | ``window:5`` | ``none``."""
        kind, _, arg = text.strip().partition(":")
        try:  # noqa: SIM105 - a range error below is re-raised with the option's name

            if kind == SmoothKind.NONE.value and not arg:
                return cls(SmoothKind.NONE)
            if kind == SmoothKind.EMA.value:
                return cls(SmoothKind.EMA, decay=float(arg) if arg else 0.6)
            if kind == SmoothKind.WINDOW.value:
                return cls(SmoothKind.WINDOW, window=int(arg) if arg else 5)
        except (ValueError, RanEdgeError):
            pass
        raise RanEdgeError(f"--smooth: got '{text}', expected ema:DECAY (0<=DECAY<1), window:N (N>=1) or none")

    def describe(self) -> str:
        if self.kind is SmoothKind.EMA:
            return f"ema:{self.decay:g}"
        if self.kind is SmoothKind.WINDOW:
            return f"window:{self.window}"
        return "none"


class Smoother:
    """Per-track running state. Call :meth:`update` once per frame per visible track."""

    def __init__(self, config: SmoothConfig = SmoothConfig()):
        self.config = config
        self._ema: Dict[int, np.ndarray] = {}
        self._win: Dict[int, Deque[np.ndarray]] = {}

    def update(self, track_id: int, values: np.ndarray) -> np.ndarray:
        """Add this frame's vector for ``track_id`` and return its smoothed value (same shape)."""
        v = np.asarray(values, dtype=np.float64)
        cfg = self.config
        if cfg.kind is SmoothKind.EMA:
            prev = self._ema.get(track_id)
            out = v if prev is None or prev.shape != v.shape else cfg.decay * prev + (1.0 - cfg.decay) * v
            self._ema[track_id] = out
            return out.copy()
        if cfg.kind is SmoothKind.WINDOW:
            q = self._win.setdefault(track_id, deque(maxlen=cfg.window))
            if q and q[-1].shape != v.shape:
                q.clear()
            q.append(v)
            return np.mean(np.stack(q), axis=0)
        return v.copy()

    def peek(self, track_id: int) -> Optional[np.ndarray]:
        """The current smoothed value of a track without adding a frame (None if unknown)."""
        if self.config.kind is SmoothKind.EMA:
            prev = self._ema.get(track_id)
            return None if prev is None else prev.copy()
        q = self._win.get(track_id)
        return np.mean(np.stack(q), axis=0) if q else None

    def retain(self, live_ids: Iterable[int]) -> None:
        """Drop the state of tracks that are gone."""
        keep = set(live_ids)
        for d in (self._ema, self._win):
            for k in [k for k in d if k not in keep]:
                del d[k]
