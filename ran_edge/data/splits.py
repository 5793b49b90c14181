"""Dataset splits: the :class:`Split` names and the deterministic stratified train/val split.

The lowest module of :mod:`ran_edge.data`: every reader (:mod:`ran_edge.data.readers`) and the ``--data``
spec (:mod:`ran_edge.data.spec`) use it; it imports neither of them.
"""

from __future__ import annotations

import difflib
import enum
from typing import Sequence

import numpy as np

from ran_edge.errors import RanEdgeError


class Split(str, enum.Enum):
    """Which part of a dataset to read."""

    TRAIN = "train"
    VAL = "val"
    TEST = "test"


def suggestion(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices`` to a mistyped ``word``, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def as_split(split: Split | str) -> Split:
    """Coerce ``"train"``/``"val"``/``"test"`` (or a :class:`Split`) to :class:`Split`."""
    if isinstance(split, Split):
        return split
    try:
        return Split(str(split).strip().lower())
    except ValueError:
        names = [s.value for s in Split]
        raise RanEdgeError(f"unknown split {split!r}{suggestion(str(split), names)}; expected one of {', '.join(names)}") from None


def check_val_fraction(val_fraction: float) -> float:
    """Validate the fraction of train carved out as validation (strictly between 0 and 1)."""
    if not 0.0 < float(val_fraction) < 1.0:
        raise RanEdgeError(f"val_fraction={val_fraction} is invalid; expected a number between 0 and 1 (exclusive)")
    return float(val_fraction)


def stratified_split(labels: Sequence[int] | np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic stratified train/val split of indices ``0..len(labels)-1``.

    Per class with ``n`` samples, ``round(n * val_fraction)`` go to val, at least 1 when ``n >= 2`` and
    at most ``n - 1`` (a class with one sample stays in train). The choice depends only on the labels,
    ``val_fraction`` and ``seed``. Both index arrays are returned sorted (original order).
    """
    frac = check_val_fraction(val_fraction)
    labels = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    is_val = np.zeros(len(labels), dtype=bool)
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        n = len(idx)
        n_val = 0 if n < 2 else min(max(int(round(n * frac)), 1), n - 1)
        is_val[rng.permutation(idx)[:n_val]] = True
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)
