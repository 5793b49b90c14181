"""Region crop conventions: how a region box of a face becomes an ``R x R`` crop, as 1-D resampling matrices.

Numpy only. Every region path (the in-graph MatMuls of the model, the numpy reference, the C++ and CUDA
kernels) takes its weights from this module, so there is one definition of each convention.

``exact`` (what ran-edge trains with): the fractional box ``[f0*S, f1*S)`` is sampled bilinearly at half-pixel
centres (:func:`ran_edge.preprocess.resample_matrix`), no antialiasing.

``official`` (what the authors' code computes, ``part_attentioon_sample_fly.py``, the only official crop code):

* the box is truncated to whole pixels with Python's ``int()``: ``(int(f0*S), int(f1*S))``, computed in double
  precision (``int(0.05*224) = 11``, not 11.2);
* the crop is resized to ``R`` with ``PIL.Image.resize`` and the filter of the Pillow the user names
  (:class:`PilFilter`; BICUBIC, the default since Pillow 7; NEAREST for the Pillow of 2019).

``official-uint8`` (the default of ``import-checkpoint``): the same boxes and weights with Pillow's integer
arithmetic (below), so the crops are Pillow's bit for bit; ``official`` applies the weights in float (cheaper).

For a fixed filter and whole-pixel box this resize is linear, so it is a matrix. :func:`pil_weights` computes
Pillow's coefficients as ``Resample.c`` does: ``scale = in/out``; on downscale the filter support is widened by
``scale`` (antialiasing), i.e. ``support = filter_support * max(scale, 1)``; output pixel ``j`` is centred at
``(j + 0.5) * scale``; its taps are input pixels ``[int(centre - support + 0.5), int(centre + support + 0.5))``
clipped to the image, weighted by ``filter((i - centre + 0.5) * (1 / max(scale, 1)))`` and normalised to sum 1 per
row (summed in order, divided per tap: the doubles are Pillow's, which its fixed-point rounding needs).
NEAREST is not a filter in Pillow: it takes input pixel ``int(x_j)``, ``x_0 = scale / 2``, ``x_{j+1} = x_j + scale``
(accumulated in double, as ``ImagingScaleAffine``). A resize to the same size is
a copy (Pillow returns ``copy()``).

**Pillow's uint8 arithmetic** (``Resample.c``, 8-bit images): each double coefficient becomes a fixed-point integer
``kk = int(w * 2^22 ± 0.5)`` (``PRECISION_BITS = 22``, truncation toward zero; :func:`fixed_point`); the
horizontal pass runs first, ``clip8((2^21 + Σ px·kk) >> 22)`` per output pixel, i.e. rounded half up and clipped to
``[0, 255]``, written as uint8; then the vertical pass over those uint8 rows, rounded and clipped the same way
(:func:`pillow_resize_u8`). The ``official`` convention applies the same weights in float32 without the two
roundings (a crop then differs from Pillow's by about one grey level per pixel; the model effect is measured in
``tests/model/test_official_parity.py``); ``official-uint8`` reproduces them bit for bit in every region path. In
a float32 graph the integer sums are exact when each coefficient is split into two 11-bit halves
(:func:`split_fixed`, :func:`combine_split_u8`), which also keeps them exact under TF32 MatMuls.

The official code names ``img.size[0]`` (the width) ``height``; its faces are square, so nothing here depends on
that; ran-edge applies x fractions to the width and y fractions to the height.
"""

from __future__ import annotations

import enum
import math
from functools import lru_cache
from typing import Callable

import numpy as np


class CropConvention(str, enum.Enum):
    """How region boxes are cut: ``exact`` fractional bilinear; ``official`` whole-pixel box + PIL resize weights in
    float; ``official-uint8`` the same boxes and weights with Pillow's integer arithmetic, step by step."""

    EXACT = "exact"
    OFFICIAL = "official"
    OFFICIAL_UINT8 = "official-uint8"

    @property
    def whole_pixel(self) -> bool:
        """True for the conventions of the official loader (whole-pixel boxes, Pillow's resize weights)."""
        return self is not CropConvention.EXACT

    @property
    def uint8(self) -> bool:
        """True when each resize pass is rounded and clipped to uint8 as Pillow does (:func:`pillow_resize_u8`)."""
        return self is CropConvention.OFFICIAL_UINT8


class PilFilter(str, enum.Enum):
    """The ``Image.resize`` filter of the ``official`` convention (Pillow's default: BICUBIC since 7.0)."""

    NEAREST = "nearest"
    BOX = "box"
    BILINEAR = "bilinear"
    HAMMING = "hamming"
    BICUBIC = "bicubic"
    LANCZOS = "lanczos"


def _box(x: float) -> float:
    return 1.0 if -0.5 < x <= 0.5 else 0.0


def _bilinear(x: float) -> float:
    x = abs(x)
    return 1.0 - x if x < 1.0 else 0.0


def _hamming(x: float) -> float:
    x = abs(x)
    if x == 0.0:
        return 1.0
    if x >= 1.0:
        return 0.0
    x *= math.pi
    # Pillow multiplies by the float constants 0.54f and 0.46f (float32 values, promoted to double).
    return math.sin(x) / x * (float(np.float32(0.54)) + float(np.float32(0.46)) * math.cos(x))


def _bicubic(x: float, a: float = -0.5) -> float:
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    if x < 2.0:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


def _sinc(x: float) -> float:
    if x == 0.0:
        return 1.0
    x *= math.pi
    return math.sin(x) / x


def _lanczos(x: float) -> float:
    return _sinc(x) * _sinc(x / 3) if -3.0 <= x < 3.0 else 0.0


#: Pillow's filters and their supports (``Resample.c``).
_FILTERS: dict[PilFilter, tuple[Callable[[float], float], float]] = {
    PilFilter.BOX: (_box, 0.5),
    PilFilter.BILINEAR: (_bilinear, 1.0),
    PilFilter.HAMMING: (_hamming, 1.0),
    PilFilter.BICUBIC: (_bicubic, 2.0),
    PilFilter.LANCZOS: (_lanczos, 3.0),
}


def pil_weights(in_size: int, out_size: int, pil_filter: PilFilter = PilFilter.BICUBIC) -> np.ndarray:
    """Pillow's ``Image.resize`` of a whole axis of ``in_size`` pixels to ``out_size``, as ``[out_size, in_size]``.

    float64 weights before Pillow's 22-bit fixed-point rounding (see the module docstring). The array is
    cached and read-only (video frames repeat crop sizes); copy it to modify it.
    """
    if in_size <= 0 or out_size <= 0:
        raise ValueError(f"lengths must be positive, got in_size={in_size}, out_size={out_size}")
    return _pil_weights(int(in_size), int(out_size), PilFilter(pil_filter))


@lru_cache(maxsize=4096)
def _pil_weights(in_size: int, out_size: int, pil_filter: PilFilter) -> np.ndarray:
    m = _compute_pil_weights(in_size, out_size, pil_filter)
    m.flags.writeable = False
    return m


def _compute_pil_weights(in_size: int, out_size: int, pil_filter: PilFilter) -> np.ndarray:
    m = np.zeros((out_size, in_size), dtype=np.float64)
    if in_size == out_size:
        np.fill_diagonal(m, 1.0)
        return m
    scale = in_size / out_size
    if pil_filter is PilFilter.NEAREST:
        # ImagingScaleAffine: the source coordinate starts at scale/2 and is stepped by += scale in double
        # (the accumulated rounding decides ties such as 12.5 * 2.24 = 28), then truncated.
        pos = scale * 0.5
        for j in range(out_size):
            m[j, min(int(pos), in_size - 1)] = 1.0
            pos += scale
        return m
    fn, base_support = _FILTERS[pil_filter]
    filterscale = max(scale, 1.0)
    support = base_support * filterscale
    ss = 1.0 / filterscale  # Pillow multiplies by the reciprocal (the last bit matters for the fixed-point rounding)
    for j in range(out_size):
        centre = (j + 0.5) * scale
        lo = max(int(centre - support + 0.5), 0)
        hi = min(int(centre + support + 0.5), in_size)
        w = [fn((i - centre + 0.5) * ss) for i in range(lo, hi)]
        total = 0.0
        for v in w:  # summed in order, as Resample.c
            total += v
        m[j, lo:hi] = [v / total for v in w] if total != 0.0 else w
    return m


def official_bounds(f0: float, f1: float, size: int) -> tuple[int, int]:
    """The whole-pixel interval the official loader crops: ``(int(f0 * size), int(f1 * size))``."""
    return int(f0 * size), int(f1 * size)


def axis_matrix(src_len: int, start: int, end: int, dst_len: int, pil_filter: PilFilter) -> np.ndarray:
    """``[dst_len, src_len]``: Pillow's resize of the whole-pixel interval ``[start, end)`` of an axis.

    Pixels of the interval outside ``[0, src_len)`` are black (``Image.crop`` pads with 0), so their columns
    are dropped without renormalising.
    """
    if end <= start:
        raise ValueError(f"empty crop interval [{start}, {end}), expected end > start")
    w = pil_weights(end - start, dst_len, pil_filter)
    m = np.zeros((dst_len, src_len), dtype=np.float64)
    lo, hi = max(start, 0), min(end, src_len)
    if hi > lo:
        m[:, lo:hi] = w[:, lo - start:hi - start]
    return m


def face_pixel_box(x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
    """A face box in frame pixels snapped to whole pixels as ``Image.crop`` does (``round``, half to even)."""
    return int(round(x0)), int(round(y0)), int(round(x1)), int(round(y1))


# -- Pillow's uint8 arithmetic (``official-uint8``) -------------------------------------------------------------

#: ``Resample.c``: 32 - 8 - 2 bits of fixed-point coefficient precision for 8-bit images.
PRECISION_BITS = 22
#: The split of a fixed-point coefficient for float graphs: ``kk = hi * SPLIT + lo``, ``lo`` in ``[-SPLIT/2, SPLIT/2)``.
SPLIT = 1 << 12
_EXACT_FLOAT = 1 << 24  # float32 holds every integer below this exactly


def fixed_point(weights: np.ndarray) -> np.ndarray:
    """Pillow's ``normalize_coeffs_8bpc``: ``int(w * 2^22 + 0.5)`` (``- 0.5`` for negative ``w``), truncated toward
    zero, as int64. ``weights`` are float64 as :func:`pil_weights` gives them."""
    k = np.asarray(weights, dtype=np.float64) * float(1 << PRECISION_BITS)
    return np.where(k < 0, np.trunc(k - 0.5), np.trunc(k + 0.5)).astype(np.int64)


def clip8(acc: np.ndarray) -> np.ndarray:
    """Pillow's ``clip8`` of a pass's integer sums ``Σ px·kk`` (int64): ``(acc + 2^21) >> 22``, clipped to 0..255."""
    return np.clip((acc + (1 << (PRECISION_BITS - 1))) >> PRECISION_BITS, 0, 255)


def pillow_resize_u8(chw: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Pillow's 8-bit resize of ``[..., H, W]`` integer pixels by float64 weights ``rows [R,H]``, ``cols [R',W]``.

    The horizontal pass (``cols``) first, rounded and clipped to uint8, then the vertical pass (``rows``), rounded
    and clipped: ``Image.resize`` bit for bit when the weights are :func:`pil_weights` (the same-size axis Pillow
    skips has the identity, which the integer pass reproduces exactly). Returns int64 values in ``[0, 255]``.
    """
    x = np.asarray(chw).astype(np.int64)
    x = clip8(x @ fixed_point(cols).T)
    return clip8(fixed_point(rows) @ x)


def split_fixed(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(hi, lo)`` float32 with ``fixed_point(weights) = hi * SPLIT + lo``, ``lo`` in ``[-SPLIT/2, SPLIT/2)``.

    Both halves have at most 11 significant bits (exact in TF32 and float32), and a pass's sums of uint8 pixels
    times either half stay below 2^24 (exact float32 integers): checked here, ``ValueError`` otherwise.
    """
    k = fixed_point(weights)
    hi = np.floor((k + SPLIT // 2) / SPLIT).astype(np.int64)
    lo = k - hi * SPLIT
    for part in (hi, lo):
        worst = 255 * int(np.abs(part).sum(axis=-1).max(initial=0)) + SPLIT
        if worst >= _EXACT_FLOAT:
            raise ValueError(f"resize weights too wide for exact float32 sums (bound {worst} >= 2^24); expected a "
                             "resize to at most ~1/8 of the source per axis")
    return hi.astype(np.float32), lo.astype(np.float32)


#: ``combine_split_u8``'s constants: ``2^21 / SPLIT`` (the rounding half) and ``SPLIT / 2^22`` (the final shift).
SPLIT_HALF = float((1 << (PRECISION_BITS - 1)) // SPLIT)
SPLIT_STEP = float(SPLIT) / float(1 << PRECISION_BITS)


def combine_split_u8(sum_hi: np.ndarray, sum_lo: np.ndarray) -> np.ndarray:
    """One pass's uint8 values (float32) from the exact sums ``Σ px·hi`` and ``Σ px·lo`` of :func:`split_fixed`.

    ``clip8(Σ px·kk) = clip(floor((sum_hi + floor(sum_lo / SPLIT) + SPLIT_HALF) * SPLIT_STEP), 0, 255)``: with
    ``sum_lo = a·SPLIT + b``, ``0 <= b < SPLIT``, ``Σ px·kk + 2^21 = (sum_hi + a + 512)·SPLIT + b``, and ``b``
    cannot carry into the floor. Every step is exact in float32 (power-of-two scalings of integers below 2^24); the
    model's graph (``ran_edge/model/pillow_crop.py``) runs the same steps as ONNX ops.
    """
    a = np.floor(sum_lo * np.float32(1.0 / SPLIT))
    return np.clip(np.floor((sum_hi + a + np.float32(SPLIT_HALF)) * np.float32(SPLIT_STEP)), 0.0, 255.0)
