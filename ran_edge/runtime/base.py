"""The runner lifecycle and the numpy feed/fetch contract shared by every backend.

A runner is created cheaply, then ``activate()``-d (load the model, allocate) and
``deactivate()``-d, or used as ``with runner: ...``. ``infer(feed)`` takes ``{input name: ndarray}``
and returns ``{output name: ndarray}``; the base class checks the feed first (names, dtype, rank,
fixed dimensions, batch bounds, empty batch, NaN/Inf) with "got X, expected Y" messages, and times
the call into :attr:`Runner.last_inference_time` (seconds).
"""

from __future__ import annotations

import time
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from ran_edge.artifact import TensorSpec
from ran_edge.errors import InputError, RanEdgeError


def check_feed(feed: Mapping[str, np.ndarray], specs: Sequence[TensorSpec],
               batch_range: Optional[Tuple[int, Optional[int]]] = None, check_finite: bool = True) -> None:
    """Validate ``feed`` against ``specs`` (``-1`` marks a dynamic dimension).

    Args:
        feed: input name → array.
        specs: the model's inputs.
        batch_range: ``(min, max)`` allowed on axis 0 (``max`` None: unbounded).
        check_finite: reject NaN/Inf in floating-point inputs.

    Raises:
        InputError: the first problem found, as "input 'x': got ..., expected ...".
    """
    if not isinstance(feed, Mapping):
        raise InputError(f"feed: got {type(feed).__name__}, expected a dict of input name -> numpy array")
    names = [s.name for s in specs]
    missing = [n for n in names if n not in feed]
    unknown = [n for n in feed if n not in names]
    if missing or unknown:
        raise InputError(f"feed: got inputs {sorted(feed)}, expected {names}")
    for spec in specs:
        arr = feed[spec.name]
        where = f"input '{spec.name}'"
        if not isinstance(arr, np.ndarray):
            raise InputError(f"{where}: got {type(arr).__name__}, expected a numpy array")
        if arr.dtype != np.dtype(spec.dtype):
            raise InputError(f"{where}: got dtype {arr.dtype}, expected {spec.dtype}")
        if arr.ndim != len(spec.shape):
            raise InputError(f"{where}: got shape {list(arr.shape)}, expected {list(spec.shape)} (rank {len(spec.shape)})")
        if arr.ndim and arr.shape[0] == 0:
            raise InputError(f"{where}: got an empty batch (shape {list(arr.shape)}), expected at least one item")
        for axis, (got, want) in enumerate(zip(arr.shape, spec.shape)):
            if want > 0 and got != want:
                raise InputError(f"{where}: got shape {list(arr.shape)}, expected {list(spec.shape)} (axis {axis} must be {want})")
        if batch_range is not None and arr.ndim:
            lo, hi = batch_range
            if arr.shape[0] < lo or (hi is not None and arr.shape[0] > hi):
                bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
                raise InputError(f"{where}: got batch {arr.shape[0]}, expected {bound} (the engine's profile)")
        if check_finite and np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
            bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
            raise InputError(f"{where}: got {bad} NaN/Inf values, expected finite numbers")


class Runner:
    """Base of :class:`OrtRunner`, :class:`TrtRunner`, :class:`TorchScriptRunner`.

    Subclasses implement ``activate_impl``, ``deactivate_impl``, ``input_specs_impl``,
    ``output_names`` and ``infer_impl``; callers use ``activate``/``deactivate``/``infer``.
    """

    name = "runner"

    def __init__(self) -> None:
        self.is_active = False
        self.last_inference_time: Optional[float] = None

    # lifecycle -----------------------------------------------------------------------------------
    def activate(self) -> "Runner":
        """Load the model and allocate resources (idempotent)."""
        if not self.is_active:
            self.activate_impl()
            self.is_active = True
        return self

    def deactivate(self) -> None:
        """Release everything ``activate`` acquired (idempotent)."""
        if self.is_active:
            try:
                self.deactivate_impl()
            finally:
                self.is_active = False

    def __enter__(self) -> "Runner":
        return self.activate()

    def __exit__(self, *exc: object) -> None:
        self.deactivate()

    # contract ------------------------------------------------------------------------------------
    def input_specs(self) -> Tuple[TensorSpec, ...]:
        """The model inputs (``-1`` for dynamic dimensions); the runner must be active."""
        self._require_active("input_specs")
        return self.input_specs_impl()

    def batch_range(self) -> Optional[Tuple[int, Optional[int]]]:
        """Allowed batch sizes ``(min, max)`` accepted by :meth:`infer` (None: any)."""
        return None

    def infer(self, feed: Mapping[str, np.ndarray], check: bool = True) -> Dict[str, np.ndarray]:
        """Run the model: ``{input: ndarray}`` → ``{output: ndarray}``; sets ``last_inference_time``.

        Args:
            feed: the inputs, exactly the model's input names.
            check: validate the feed first (see :func:`check_feed`); leave on unless already checked.
        """
        self._require_active("infer")
        if check:
            check_feed(feed, self.input_specs_impl(), self.batch_range())
        start = time.perf_counter()
        out = self.infer_impl(feed)
        self.last_inference_time = time.perf_counter() - start
        return out

    def _require_active(self, what: str) -> None:
        if not self.is_active:
            raise RanEdgeError(f"{self.name}: {what}() needs an active runner; use 'with runner:' or runner.activate()")

    # for subclasses --------------------------------------------------------------------------------
    def activate_impl(self) -> None:
        raise NotImplementedError

    def deactivate_impl(self) -> None:
        raise NotImplementedError

    def input_specs_impl(self) -> Tuple[TensorSpec, ...]:
        raise NotImplementedError

    def output_names(self) -> Tuple[str, ...]:
        raise NotImplementedError

    def infer_impl(self, feed: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
        raise NotImplementedError
