"""Preprocessing, written once and shared by training, export checks, calibration and the runtime.

Numpy only (no torch, no OpenCV), so it runs on a bare Jetson.

**Region crop convention**: ``PreprocessSpec.crop`` (stored in checkpoints and sidecars) says how regions are
cut: ``exact`` (below), ``official`` (whole-pixel boxes + Pillow's resize filter in float, :mod:`ran_edge.crop`) or
``official-uint8`` (the same with Pillow's uint8 arithmetic: each pass rounded and clipped, bit-exact with Pillow).
Every region path takes its weights from :func:`region_matrices` / :func:`frame_axis_matrices`.

**Sampling convention** of ``exact`` (also of the face resize of :func:`prepare_faces`, followed by the
in-graph region crops of the model and by the fused C++/CUDA kernel in ``csrc/``):

* pixel ``i`` of a row covers ``[i, i+1)``; its centre is ``i + 0.5`` (half-pixel centres);
* resampling the source interval ``[start, end)`` to ``n`` output pixels puts output pixel ``j`` at
  source coordinate ``u = start + (j + 0.5) * (end - start) / n``;
* the value there is linear interpolation between the two nearest pixel centres (bilinear in 2-D,
  separable), taps past the first/last pixel clamp to the edge pixel (edge replicate);
* a sample point outside the source (``u < 0`` or ``u > size``) takes the fill value 0 (black, in raw
  pixel units, before scaling), so faces partly outside a video frame are padded with black;
* no antialiasing (as TensorRT's Resize and the CUDA kernel).

Colour order, scale, mean and std come from :class:`PreprocessSpec`; the official RAN preprocessing
is RGB, values in [0, 1] (scale 1/255), no mean/std (docs/model.md §6).
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ran_edge.crop import (CropConvention, PilFilter, axis_matrix, face_pixel_box, official_bounds, pil_weights,
                           pillow_resize_u8)
from ran_edge.errors import RanEdgeError
from ran_edge.presets import RegionBox, RegionPreset


class ColorOrder(str, enum.Enum):
    """Channel order the model expects (input frames are always BGR, as OpenCV gives them)."""

    RGB = "RGB"
    BGR = "BGR"


@dataclass(frozen=True)
class PreprocessSpec:
    """How an aligned face becomes the model input.

    Attributes:
        face_size: side S of the square aligned face fed to the ``faces`` input ``[N,3,S,S]``.
        region_size: side R of each region crop in the region batch ``[N*K,3,R,R]`` (224 in RAN).
        color_order: channel order of the model input.
        scale: raw uint8 value is multiplied by this (1/255 → [0, 1]).
        mean, std: per-channel normalisation after scaling, in ``color_order``.
        crop: region crop convention (:class:`ran_edge.crop.CropConvention`); ``exact`` when absent (old files).
        pil_filter: Pillow resize filter of the ``official`` convention (BICUBIC: Pillow >= 7; NEAREST: 2019).
    """

    face_size: int = 224
    region_size: int = 224
    color_order: ColorOrder = ColorOrder.RGB
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    crop: CropConvention = CropConvention.EXACT
    pil_filter: PilFilter = PilFilter.BICUBIC

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "crop", CropConvention(self.crop))
            f = self.pil_filter
            object.__setattr__(self, "pil_filter", PilFilter(f if isinstance(f, PilFilter) else str(f).lower()))
        except ValueError as exc:
            raise RanEdgeError(f"crop convention: {exc}; expected crop in {[c.value for c in CropConvention]} and "
                               f"pil_filter in {[f.value for f in PilFilter]}") from exc
        object.__setattr__(self, "color_order", ColorOrder(self.color_order))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if self.face_size < 4 or self.region_size < 4:
            raise RanEdgeError(f"face_size and region_size must be >= 4, got {self.face_size}, {self.region_size}")
        if len(self.mean) != 3 or len(self.std) != 3 or any(s <= 0 for s in self.std):
            raise RanEdgeError(f"mean/std must have 3 values with std > 0, got {self.mean}, {self.std}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["color_order"] = self.color_order.value
        d["mean"], d["std"] = list(self.mean), list(self.std)
        d["crop"], d["pil_filter"] = self.crop.value, self.pil_filter.value
        d["interpolation"] = self.describe_crop()
        return d

    def describe_crop(self) -> str:
        """One line describing how regions are cut."""
        if self.crop is CropConvention.OFFICIAL:
            return (f"official: whole-pixel boxes int(f*size), PIL {self.pil_filter.value.upper()} resize "
                    "(antialiased on downscale), float weights without PIL's uint8 rounding")
        if self.crop is CropConvention.OFFICIAL_UINT8:
            return (f"official-uint8: whole-pixel boxes int(f*size), PIL {self.pil_filter.value.upper()} resize "
                    "(antialiased on downscale) with PIL's arithmetic: 22-bit coefficients, horizontal then vertical "
                    "pass, each rounded and clipped to uint8 (bit-exact with Pillow)")
        return "exact: bilinear, half-pixel centres, edge replicate, fill 0 outside the source"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PreprocessSpec":
        keys = {"face_size", "region_size", "color_order", "scale", "mean", "std", "crop", "pil_filter"}
        return cls(**{k: v for k, v in data.items() if k in keys})


def resample_matrix(src_len: int, start: float, end: float, dst_len: int) -> np.ndarray:
    """Linear-interpolation matrix ``[dst_len, src_len]`` that resamples ``[start, end)`` of a row.

    ``out = M @ row`` follows the module's sampling convention exactly. Rows whose sample point
    lies outside the source are all zero (the fill value).
    """
    if src_len <= 0 or dst_len <= 0:
        raise ValueError(f"lengths must be positive, got src_len={src_len}, dst_len={dst_len}")
    u = start + (np.arange(dst_len, dtype=np.float64) + 0.5) * ((end - start) / dst_len)
    inside = (u >= 0.0) & (u <= src_len)
    p = u - 0.5
    i0 = np.floor(p)
    frac = p - i0
    a = np.clip(i0, 0, src_len - 1).astype(np.int64)
    b = np.clip(i0 + 1, 0, src_len - 1).astype(np.int64)
    m = np.zeros((dst_len, src_len), dtype=np.float64)
    rows = np.arange(dst_len)
    np.add.at(m, (rows, a), np.where(inside, 1.0 - frac, 0.0))
    np.add.at(m, (rows, b), np.where(inside, frac, 0.0))
    return m.astype(np.float32)


def region_matrices(preset: RegionPreset, face_size: int, region_size: int,
                    spec: "PreprocessSpec | None" = None, dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Per-region row and column resampling matrices for crops of an ``S x S`` face.

    Returns ``(rows [K,R,S], cols [K,R,S])`` (float32, or ``dtype``) such that region k of a face
    channel ``X [S,S]`` is ``rows[k] @ X @ cols[k].T``. The model uses these as constants (two MatMuls in the graph). The crop
    convention is ``spec``'s (``exact`` when None).
    """
    spec = spec or PreprocessSpec()
    box = (0.0, 0.0, float(face_size), float(face_size))
    pairs = [frame_axis_matrices(face_size, face_size, box, b, region_size, spec, dtype) for b in preset.boxes]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def frame_axis_matrices(height: int, width: int, box: Sequence[float], region: RegionBox, size: int,
                        spec: "PreprocessSpec", dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Row ``[R,H]`` and column ``[R,W]`` matrices (float32, or ``dtype``) cutting ``region`` of face ``box``.

    ``box`` is ``(x0, y0, x1, y1)`` in frame pixels. ``exact``: the fractional region box is resampled
    bilinearly. ``official`` and ``official-uint8``: the face box is snapped to whole pixels
    (:func:`ran_edge.crop.face_pixel_box`), the region to ``face0 + int(f * face_side)``
    (:func:`ran_edge.crop.official_bounds`), and resized with
    Pillow's filter; pixels outside the frame are black. The matrices hold float weights in every convention;
    ``official-uint8`` applies them with Pillow's integer arithmetic (:func:`ran_edge.crop.pillow_resize_u8`).
    """
    bx0, by0, bx1, by1 = (float(v) for v in box)
    if spec.crop is CropConvention.EXACT:
        bw, bh = bx1 - bx0, by1 - by0
        my = resample_matrix(height, by0 + region.y0 * bh, by0 + region.y1 * bh, size)
        mx = resample_matrix(width, bx0 + region.x0 * bw, bx0 + region.x1 * bw, size)
        return my.astype(dtype), mx.astype(dtype)
    (ys, wy), (xs, wx) = official_axes(box, region, size, spec)
    return (axis_matrix(height, ys, ys + wy.shape[1], size, spec.pil_filter).astype(dtype),
            axis_matrix(width, xs, xs + wx.shape[1], size, spec.pil_filter).astype(dtype))


def official_axes(box: Sequence[float], region: RegionBox, size: int,
                  spec: "PreprocessSpec") -> tuple[tuple[int, np.ndarray], tuple[int, np.ndarray]]:
    """The ``official`` crop of ``region`` of face ``box`` in compact form: per axis (y, then x) the first source
    pixel of the whole-pixel crop and Pillow's weights ``[size, crop_len]`` (read-only, cached).

    The face box is snapped to whole pixels (:func:`ran_edge.crop.face_pixel_box`), the region to
    ``face0 + int(f * face_side)`` (:func:`ran_edge.crop.official_bounds`, at least one pixel).
    """
    fx0, fy0, fx1, fy1 = face_pixel_box(*(float(v) for v in box))
    fx1, fy1 = max(fx1, fx0 + 1), max(fy1, fy0 + 1)
    axes = []
    for f0, f1, lo, hi in ((region.y0, region.y1, fy0, fy1), (region.x0, region.x1, fx0, fx1)):
        a, b = official_bounds(f0, f1, hi - lo)
        axes.append((lo + a, pil_weights(max(b, a + 1) - a, size, spec.pil_filter)))
    return axes[0], axes[1]


def check_image(img: np.ndarray, what: str) -> None:
    if not isinstance(img, np.ndarray):
        raise RanEdgeError(f"{what}: got {type(img).__name__}, expected a numpy array HxWx3 uint8 (BGR)")
    if img.dtype != np.uint8:
        raise RanEdgeError(f"{what}: got dtype {img.dtype}, expected uint8 (BGR)")
    if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] < 1 or img.shape[1] < 1:
        raise RanEdgeError(f"{what}: got shape {tuple(img.shape)}, expected HxWx3 (BGR)")


def normalise(chw: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """BGR float CHW (raw 0..255 units) → model colour order, scaled and normalised."""
    if spec.color_order is ColorOrder.RGB:
        chw = chw[..., ::-1, :, :] if chw.ndim == 4 else chw[::-1]
    mean = np.asarray(spec.mean, np.float32).reshape(3, 1, 1)
    std = np.asarray(spec.std, np.float32).reshape(3, 1, 1)
    out = chw.astype(np.float32) * np.float32(spec.scale)
    if spec.mean != (0.0, 0.0, 0.0) or spec.std != (1.0, 1.0, 1.0):
        out = (out - mean) / std
    return np.ascontiguousarray(out, dtype=np.float32)


def resize_face(face: np.ndarray, size: int) -> np.ndarray:
    """Resize a ``HxWx3`` image to ``3 x size x size`` float32 (BGR, raw units), by the convention."""
    h, w = face.shape[:2]
    my = resample_matrix(h, 0.0, float(h), size)
    mx = resample_matrix(w, 0.0, float(w), size)
    chw = np.transpose(face, (2, 0, 1)).astype(np.float32)
    return my[None] @ chw @ mx.T[None]


def prepare_faces(faces: Sequence[np.ndarray] | np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Aligned face crops (list of ``HxWx3`` uint8 BGR, or an ``NxHxWx3`` array) → ``[N,3,S,S]`` float32.

    Each face is resized to ``spec.face_size`` with the module's convention, converted to the
    model's colour order, scaled and normalised.
    """
    if isinstance(faces, np.ndarray) and faces.ndim == 4:
        items: Sequence[np.ndarray] = list(faces)
    elif isinstance(faces, np.ndarray) and faces.ndim == 3:
        items = [faces]
    else:
        items = list(faces)
    if not items:
        raise RanEdgeError("got an empty batch of faces, expected at least one HxWx3 uint8 face")
    s = spec.face_size
    out = np.empty((len(items), 3, s, s), dtype=np.float32)
    for i, face in enumerate(items):
        check_image(face, f"face {i}")
        if face.shape[0] == s and face.shape[1] == s:
            out[i] = np.transpose(face, (2, 0, 1))
        else:
            out[i] = resize_face(face, s)
    return normalise(out, spec)


def check_boxes(boxes: np.ndarray) -> np.ndarray:
    """Validate face boxes ``[N,4]`` (x0, y0, x1, y1 in pixels); returns them as float64."""
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise RanEdgeError(f"boxes: got shape {tuple(arr.shape)}, expected [N, 4] (x0, y0, x1, y1 in pixels)")
    if not np.all(np.isfinite(arr)):
        raise RanEdgeError("boxes: got NaN or Inf, expected finite pixel coordinates")
    bad = np.nonzero((arr[:, 2] <= arr[:, 0]) | (arr[:, 3] <= arr[:, 1]))[0]
    if bad.size:
        raise RanEdgeError(f"boxes: box {int(bad[0])} {arr[bad[0]].tolist()} is empty or inverted, expected x1 > x0 and y1 > y0")
    return arr


def region_batch_reference(
    frame: np.ndarray, boxes: np.ndarray, preset: RegionPreset, spec: PreprocessSpec
) -> np.ndarray:
    """Numpy reference of the fused region-batch kernel.

    Args:
        frame: ``HxWx3`` uint8 BGR video frame.
        boxes: ``[N,4]`` face boxes ``(x0, y0, x1, y1)`` in frame pixels.
        preset: region preset; region k of face n is ``preset.boxes[k]`` mapped into box n.
        spec: preprocessing (region size, crop convention, colour order, scale, mean, std).

    Returns:
        ``[N*K, 3, R, R]`` float32, face-major (row ``n*K + k``).
    """
    check_image(frame, "frame")
    arr = check_boxes(boxes)
    h, w = frame.shape[:2]
    r, k = spec.region_size, preset.num_regions
    out = np.empty((arr.shape[0] * k, 3, r, r), dtype=np.float32)
    chw = np.transpose(frame, (2, 0, 1)).astype(np.float32)
    u8 = spec.crop.uint8
    for n, face_box in enumerate(arr):
        for j, reg in enumerate(preset.boxes):
            if u8:  # Pillow's integer passes on the raw pixels the region reads, float64 weights → fixed point
                my, mx = frame_axis_matrices(h, w, face_box, reg, r, spec, np.float64)
                ys, xs = np.nonzero(my.any(0))[0], np.nonzero(mx.any(0))[0]
                if ys.size == 0 or xs.size == 0:  # wholly outside the frame: black
                    out[n * k + j] = 0.0
                    continue
                y0, y1, x0, x1 = ys[0], ys[-1] + 1, xs[0], xs[-1] + 1
                out[n * k + j] = pillow_resize_u8(frame[y0:y1, x0:x1].transpose(2, 0, 1), my[:, y0:y1], mx[:, x0:x1])
            else:
                my, mx = frame_axis_matrices(h, w, face_box, reg, r, spec)
                out[n * k + j] = my[None] @ chw @ mx.T[None]
    return normalise(out, spec)
