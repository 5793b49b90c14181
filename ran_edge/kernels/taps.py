"""Tap tables of the native kernels for crop conventions given as weights (``official``), numpy only.

The weights are the rows of :func:`ran_edge.preprocess.frame_axis_matrices` (one definition for the graph, the
numpy reference and both kernels); this module only packs each row's non-zero entries into fixed-width
``(index, weight)`` tables, ``[N*K*S, taps]`` per axis, for ``re_region_batch_taps_cpu`` / ``_cuda_host``.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from ran_edge.errors import RanEdgeError
from ran_edge.kernels import library
from ran_edge.preprocess import PreprocessSpec, check_boxes, frame_axis_matrices
from ran_edge.presets import RegionPreset

#: Must equal RE_MAX_TAPS in csrc/region_batch.h.
MAX_TAPS = 130


@dataclass(frozen=True)
class TapTables:
    """Packed tables; keep this object alive while the C call runs (the struct points into its arrays)."""

    items: int
    x_index: np.ndarray  # int32 [items*S, x_taps]
    x_weight: np.ndarray  # float32 [items*S, x_taps]
    y_index: np.ndarray
    y_weight: np.ndarray

    def c_struct(self) -> library.TapTables:
        i32, f32 = ctypes.POINTER(ctypes.c_int32), ctypes.POINTER(ctypes.c_float)
        return library.TapTables(
            items=self.items, x_taps=self.x_index.shape[1], y_taps=self.y_index.shape[1],
            x_index=self.x_index.ctypes.data_as(i32), x_weight=self.x_weight.ctypes.data_as(f32),
            y_index=self.y_index.ctypes.data_as(i32), y_weight=self.y_weight.ctypes.data_as(f32))


def pack(matrices: list[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
    """Rows of ``[S, L]`` matrices → ``(index int32, weight float32)`` of shape ``[rows, taps]``.

    Each row keeps its non-zero weights in ascending index order; shorter rows are padded with index 0 and
    weight 0. Rows with no weight (all outside the source) stay all-zero: the fill value.
    """
    rows = np.concatenate(matrices) if matrices else np.zeros((0, 1), np.float32)
    nz = rows != 0
    taps = max(1, int(nz.sum(1).max())) if rows.size else 1
    if taps > MAX_TAPS:
        raise RanEdgeError(f"tap tables: a region needs {taps} taps per pixel, expected at most {MAX_TAPS}; the "
                           "face is too large for the region size, resize the frame first")
    index = np.zeros((rows.shape[0], taps), np.int32)
    weight = np.zeros((rows.shape[0], taps), np.float32)
    r, c = np.nonzero(nz)
    slot = np.arange(r.size) - np.searchsorted(r, r)  # position of each non-zero within its row
    index[r, slot] = c
    weight[r, slot] = rows[r, c]
    return index, weight


def tap_tables(height: int, width: int, boxes: np.ndarray, preset: RegionPreset, spec: PreprocessSpec) -> TapTables:
    """The tables of every region of every face box ``[N,4]`` of an ``height x width`` frame."""
    arr = check_boxes(boxes)
    ys, xs = [], []
    for box in arr:
        for region in preset.boxes:
            my, mx = frame_axis_matrices(height, width, box, region, spec.region_size, spec)
            ys.append(my)
            xs.append(mx)
    xi, xw = pack(xs)
    yi, yw = pack(ys)
    return TapTables(len(xs), np.ascontiguousarray(xi), np.ascontiguousarray(xw), np.ascontiguousarray(yi),
                     np.ascontiguousarray(yw))
