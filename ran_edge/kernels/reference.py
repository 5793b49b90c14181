"""Numpy reference of the region-batch kernel for faces given as 2x3 affines, and the pure-Python fallback.

Boxes use :func:`ran_edge.preprocess.region_batch_reference` as they are. An affine face maps face-unit coordinates
``(fx, fy)`` in ``[0, 1]^2`` to frame pixels::

    X = a00*fx + a01*fy + a02,    Y = a10*fx + a11*fy + a12

so the box ``(x0, y0, x1, y1)`` is the affine ``[[x1-x0, 0, x0], [0, y1-y0, y0]]``. Output pixel ``(j, i)`` of region
``[rx0, rx1) x [ry0, ry1)`` samples ``fx = rx0 + (i + 0.5) * (rx1 - rx0) / S`` (likewise ``fy`` with ``j``), then the
frame at ``(X, Y)`` by the convention of :mod:`ran_edge.preprocess` (half-pixel centres, bilinear, edge replicate,
raw 0 outside the frame). This file samples every output pixel directly (vectorised numpy), independently of the
separable matrices of the box path.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from ran_edge.errors import RanEdgeError
from ran_edge.preprocess import ColorOrder, PreprocessSpec, check_image, normalise, region_batch_reference
from ran_edge.presets import RegionPreset


def check_affines(affines: np.ndarray) -> np.ndarray:
    """Validate face affines ``[N,2,3]`` (or ``[N,6]``); returns them as float64 ``[N,2,3]``."""
    arr = np.asarray(affines, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 2, 3)
    if arr.ndim == 2 and arr.shape[1] == 6:
        arr = arr.reshape(-1, 2, 3)
    if arr.ndim != 3 or arr.shape[1:] != (2, 3):
        raise RanEdgeError(f"affines: got shape {tuple(arr.shape)}, expected [N, 2, 3] (face-unit to frame pixels)")
    det = arr[:, 0, 0] * arr[:, 1, 1] - arr[:, 0, 1] * arr[:, 1, 0]
    bad = np.nonzero(~np.all(np.isfinite(arr.reshape(len(arr), 6)), axis=1) | ~np.isfinite(det) | (det == 0))[0]
    if bad.size:
        raise RanEdgeError(f"affines: affine {int(bad[0])} is non-finite or degenerate (determinant 0), expected an "
                           "invertible face-to-frame map")
    return arr


def affine_from_box(box: Tuple[float, float, float, float]) -> np.ndarray:
    """The ``[2,3]`` affine equivalent to a face box ``(x0, y0, x1, y1)`` in pixels."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return np.array([[x1 - x0, 0.0, x0], [0.0, y1 - y0, y0]])


def affine_from_cv2(matrix: np.ndarray, face_size: int) -> np.ndarray:
    """The ``[2,3]`` face affine of an OpenCV alignment matrix.

    Args:
        matrix: the ``2x3`` matrix given to ``cv2.warpAffine`` to map the frame onto an aligned face of
            ``face_size x face_size`` pixels (frame -> face, OpenCV's pixel-centres-at-integers coordinates).
        face_size: side of that aligned face in pixels.

    Returns:
        ``[2,3]`` map from face-unit coordinates to frame pixels in this package's convention (centres at
        ``i + 0.5``), so that ``region_batch(..., affines=...)`` samples what ``cv2.warpAffine`` would.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (2, 3) or not np.all(np.isfinite(m)):
        raise RanEdgeError(f"matrix: got shape {m.shape}, expected a finite 2x3 cv2.warpAffine matrix")
    lin = m[:, :2]
    if np.linalg.det(lin) == 0:
        raise RanEdgeError("matrix: degenerate (determinant 0), expected an invertible frame-to-face map")
    inv = np.linalg.inv(lin)
    t = -inv @ m[:, 2]  # face (OpenCV coords) -> frame (OpenCV coords): x = inv @ u + t
    # ours: X = x + 0.5 with u = F*f - 0.5
    return np.concatenate([inv * face_size, (t + 0.5 - 0.5 * inv.sum(axis=1))[:, None]], axis=1)


def _taps(u: np.ndarray, size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Indices and float32 weights of the two taps at coordinates ``u`` (zero weights outside ``[0, size]``)."""
    inside = (u >= 0.0) & (u <= size)
    p = np.where(inside, u, 0.5) - 0.5
    f = np.floor(p)
    frac = p - f
    i0 = np.clip(f, 0, size - 1).astype(np.intp)
    i1 = np.clip(f + 1, 0, size - 1).astype(np.intp)
    w0 = np.where(inside, 1.0 - frac, 0.0).astype(np.float32)
    w1 = np.where(inside, frac, 0.0).astype(np.float32)
    return i0, i1, w0, w1


def _sample_region(src: np.ndarray, a: np.ndarray, reg: Tuple[float, float, float, float], r: int) -> np.ndarray:
    """One region of one affine face: ``[3, r, r]`` float32 raw values (BGR)."""
    h, w = src.shape[:2]
    rx0, ry0, rx1, ry1 = reg
    j = np.arange(r, dtype=np.float64) + 0.5
    fx = rx0 + j * ((rx1 - rx0) / r)
    fy = ry0 + j * ((ry1 - ry0) / r)
    x = (a[0, 0] * fx)[None, :] + (a[0, 1] * fy + a[0, 2])[:, None]  # [row j, column i]
    y = (a[1, 0] * fx)[None, :] + (a[1, 1] * fy + a[1, 2])[:, None]
    x0, x1, wx0, wx1 = _taps(x, w)
    y0, y1, wy0, wy1 = _taps(y, h)
    wx0, wx1, wy0, wy1 = (v[..., None] for v in (wx0, wx1, wy0, wy1))
    top = wx0 * src[y0, x0] + wx1 * src[y0, x1]
    bottom = wx0 * src[y1, x0] + wx1 * src[y1, x1]
    return np.transpose(wy0 * top + wy1 * bottom, (2, 0, 1))


def region_batch_affine_reference(
    frame: np.ndarray, affines: np.ndarray, preset: RegionPreset, spec: PreprocessSpec
) -> np.ndarray:
    """Region batch ``[N*K, 3, R, R]`` float32 of faces given as affines (see the module docstring).

    Args:
        frame: ``HxWx3`` uint8 BGR frame.
        affines: ``[N,2,3]`` (or ``[N,6]``) face-unit to frame-pixel maps.
        preset: region preset.
        spec: preprocessing (region size, colour order, scale, mean, std).
    """
    check_image(frame, "frame")
    arr = check_affines(affines)
    r, k = spec.region_size, preset.num_regions
    src = frame.astype(np.float32)
    out = np.empty((arr.shape[0] * k, 3, r, r), dtype=np.float32)
    for n, a in enumerate(arr):
        for j, reg in enumerate(preset.boxes):
            out[n * k + j] = _sample_region(src, a, reg.box, r)
    return normalise(out, spec)


def region_batch_numpy(
    frame: np.ndarray,
    faces: np.ndarray,
    affine: bool,
    preset: RegionPreset,
    spec: PreprocessSpec,
    frame_order: ColorOrder,
) -> np.ndarray:
    """The pure-Python path of :func:`ran_edge.kernels.region_batch` (float32 result)."""
    bgr = frame if frame_order is ColorOrder.BGR else frame[..., ::-1]
    if affine:
        return region_batch_affine_reference(bgr, faces, preset, spec)
    return region_batch_reference(bgr, faces, preset, spec)
