"""Tap tables of the native kernels for crop conventions given as weights (``official``, ``official-uint8``), numpy
only.

The weights are those of :func:`ran_edge.preprocess.official_axes` (also behind
:func:`~ran_edge.preprocess.frame_axis_matrices`: one definition for the graph, the numpy reference and both
kernels); this module only packs each row's non-zero entries into fixed-width ``(index, weight)`` tables,
``[N*K*S, taps]`` per axis, for ``re_region_batch_taps_cpu`` / ``_cuda_host``. For ``official-uint8`` the weights
are Pillow's fixed-point integers (:func:`ran_edge.crop.fixed_point`, exact in float32) and the tables say so
(``arithmetic``): the kernels then run Pillow's integer passes.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from ran_edge.crop import fixed_point
from ran_edge.errors import RanEdgeError
import ran_edge.kernels.library as library
from ran_edge.preprocess import PreprocessSpec, check_boxes, official_axes
from ran_edge.presets import RegionPreset

#: Must equal RE_MAX_TAPS in csrc/region_batch.h.
MAX_TAPS = 130


@dataclass(frozen=True)
class TapTables:
    """Packed tables; keep this object alive while the C call runs (the struct points into its arrays)."""

    items: int
    x_index: np.ndarray  # int32 [items*S, x_taps]
    x_weight: np.ndarray  # float32 [items*S, x_taps] (fixed-point integers for ARITH_PILLOW_U8)
    y_index: np.ndarray
    y_weight: np.ndarray
    arithmetic: int = library.ARITH_FLOAT

    def c_struct(self) -> library.TapTables:
        i32, f32 = ctypes.POINTER(ctypes.c_int32), ctypes.POINTER(ctypes.c_float)
        return library.TapTables(
            items=self.items, x_taps=self.x_index.shape[1], y_taps=self.y_index.shape[1],
            x_index=self.x_index.ctypes.data_as(i32), x_weight=self.x_weight.ctypes.data_as(f32),
            y_index=self.y_index.ctypes.data_as(i32), y_weight=self.y_weight.ctypes.data_as(f32),
            arithmetic=self.arithmetic)


def pack(matrices: list[np.ndarray], offsets: list[int] | None = None,
         lengths: list[int] | None = None) -> Tuple[np.ndarray, np.ndarray]:
    """Rows of ``[S, L]`` weight matrices → ``(index int32, weight float32)`` of shape ``[rows, taps]``.

    Column ``c`` of matrix ``i`` is source pixel ``offsets[i] + c`` (0 when not given); pixels outside
    ``[0, lengths[i])`` are dropped (black). Each row keeps its non-zero weights in ascending index order;
    shorter rows are padded with weight 0 at the row's first pixel (index 0 for rows with no weight: those give
    the fill value).
    """
    offsets = offsets or [0] * len(matrices)
    lengths = lengths or [m.shape[1] for m in matrices]
    rows, cols, vals, count = [], [], [], 0
    for m, off, length in zip(matrices, offsets, lengths):
        src = off + np.arange(m.shape[1])
        keep = (src >= 0) & (src < length)
        r, c = np.nonzero((m != 0) & keep[None, :])
        rows.append(r + count)
        cols.append(src[c])
        vals.append(m[r, c])
        count += m.shape[0]
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    per_row = np.bincount(r, minlength=count)
    taps = max(1, int(per_row.max())) if count else 1
    if taps > MAX_TAPS:
        raise RanEdgeError(f"tap tables: a region needs {taps} taps per pixel, expected at most {MAX_TAPS}; the "
                           "face is too large for the region size, resize the frame first")
    weight = np.zeros((count, taps), np.float32)
    slot = np.arange(r.size) - np.searchsorted(r, r)  # position of each non-zero within its row (r is sorted)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    first = np.zeros(count, np.int64)
    first[r[slot == 0]] = c[slot == 0]
    index = np.repeat(first[:, None], taps, axis=1).astype(np.int32)  # padding taps: the row's first pixel
    index[r, slot] = c
    weight[r, slot] = np.concatenate(vals) if vals else []
    return index, weight


def tap_tables(height: int, width: int, boxes: np.ndarray, preset: RegionPreset, spec: PreprocessSpec) -> TapTables:
    """The tables of every region of every face box ``[N,4]`` of an ``height x width`` frame (``official`` float
    weights, or ``official-uint8`` fixed-point integers)."""
    arr = check_boxes(boxes)
    u8 = spec.crop.uint8
    ys, xs = [], []
    for box in arr:
        for region in preset.boxes:
            y_axis, x_axis = official_axes(box, region, spec.region_size, spec)
            if u8:  # exact in float32: |coefficient| < 2^24
                y_axis, x_axis = ((o, fixed_point(w).astype(np.float64)) for o, w in (y_axis, x_axis))
            ys.append(y_axis)
            xs.append(x_axis)
    xi, xw = pack([w for _, w in xs], [o for o, _ in xs], [width] * len(xs))
    yi, yw = pack([w for _, w in ys], [o for o, _ in ys], [height] * len(ys))
    return TapTables(len(xs), np.ascontiguousarray(xi), np.ascontiguousarray(xw), np.ascontiguousarray(yi),
                     np.ascontiguousarray(yw), library.ARITH_PILLOW_U8 if u8 else library.ARITH_FLOAT)
