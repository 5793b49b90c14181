"""``region_batch``: frame + face boxes -> the engine's ``regions`` input ``[N*K, 3, S, S]``, in one call.

Dispatch: the C++ CPU reference (``device="cpu"``) or the CUDA kernel (``device="cuda"``/``"cuda:N"``, host arrays
in and out) from the native libraries; when ``libran_edge_kernels`` is not built, ``device="cpu"`` falls back to the
numpy reference with a one-time warning. CUDA never falls back silently.
"""

from __future__ import annotations

import ctypes
import dataclasses
import warnings
from dataclasses import dataclass
from typing import Optional, Tuple, Union

import numpy as np

from ran_edge.errors import RanEdgeError
import ran_edge.kernels.library as library
from ran_edge.kernels.reference import region_batch_numpy
from ran_edge.preprocess import ColorOrder, PreprocessSpec
from ran_edge.presets import RegionPreset, get_preset

DTypeLike = Union[str, np.dtype, type]
_DTYPES = {np.dtype(np.float32): library.DTYPE_FLOAT32, np.dtype(np.float16): library.DTYPE_FLOAT16}
_warned_fallback = False


@dataclass(frozen=True)
class _Call:
    """Validated, C-ready arguments of one region_batch call."""

    frame: np.ndarray  # uint8 HxWx3, pixels and channels contiguous; rows `pitch` bytes apart
    pitch: int
    faces: np.ndarray  # float64 [N,4] or [N,6], C-contiguous
    affine: bool
    preset: RegionPreset
    spec: PreprocessSpec
    dtype: np.dtype
    frame_order: ColorOrder

    @property
    def shape(self) -> Tuple[int, int, int, int]:
        s = self.spec.region_size
        return (self.faces.shape[0] * self.preset.num_regions, 3, s, s)


def _frame_view(frame: np.ndarray) -> Tuple[np.ndarray, int]:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        got = f"{type(frame).__name__} {getattr(frame, 'dtype', '')} {tuple(getattr(frame, 'shape', ()))}"
        raise RanEdgeError(f"frame: got {got.strip()}, expected a numpy uint8 array HxWx3")
    rows, px, ch = frame.strides
    if not (ch == 1 and px == 3 and rows >= 3 * frame.shape[1]):
        frame = np.ascontiguousarray(frame)
        rows = frame.strides[0]
    return frame, int(rows)


#: bounds that keep a typo from allocating gigabytes (a region side of 10**6, a million faces)
MAX_SIZE = 1024
MAX_FACES = 4096


def _faces(boxes: Optional[np.ndarray], affines: Optional[np.ndarray]) -> Tuple[np.ndarray, bool]:
    if (boxes is None) == (affines is None):
        raise RanEdgeError("faces: got " + ("both boxes and affines" if boxes is not None else "neither boxes nor "
                           "affines") + ", expected exactly one of them")
    affine = affines is not None
    try:
        arr = np.asarray(affines if affine else boxes, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise RanEdgeError(f"faces: {'affines' if affine else 'boxes'} are not numbers ({exc}); expected a float array") from None
    width = 6 if affine else 4
    if arr.size == 0:
        arr = arr.reshape(0, width)
    elif affine and arr.ndim == 3 and arr.shape[1:] == (2, 3):
        arr = arr.reshape(-1, 6)
    if arr.ndim != 2 or arr.shape[1] != width:
        expected = "[N, 2, 3] affines" if affine else "[N, 4] boxes (x0, y0, x1, y1 in pixels)"
        raise RanEdgeError(f"faces: got shape {tuple(arr.shape)}, expected {expected}")
    if arr.shape[0] > MAX_FACES:
        raise RanEdgeError(f"faces: got {arr.shape[0]}, expected at most {MAX_FACES} per call (split the batch)")
    return np.ascontiguousarray(arr), affine


def resolve_options(
    preset: Union[str, RegionPreset],
    size: Optional[int],
    dtype: DTypeLike,
    spec: Optional[PreprocessSpec],
    frame_order: Union[str, ColorOrder],
) -> Tuple[RegionPreset, PreprocessSpec, np.dtype, ColorOrder]:
    """Check and normalise the options shared by every region_batch entry point."""
    spec = spec if spec is not None else PreprocessSpec()
    if not isinstance(spec, PreprocessSpec):
        raise RanEdgeError(f"spec: got {type(spec).__name__}, expected a PreprocessSpec")
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 1 <= int(size) <= MAX_SIZE:
            raise RanEdgeError(f"size: got {size!r}, expected an integer 1..{MAX_SIZE}")
        spec = dataclasses.replace(spec, region_size=int(size))
    try:
        dt = np.dtype(dtype)
        order = ColorOrder(frame_order.upper() if isinstance(frame_order, str) else frame_order)
    except (TypeError, ValueError) as exc:
        raise RanEdgeError(f"dtype/frame_order: {exc}; expected float32|float16 and 'BGR'|'RGB'") from exc
    if dt not in _DTYPES:
        raise RanEdgeError(f"dtype: got {dt}, expected float32 or float16")
    return get_preset(preset), spec, dt, order


def _prepare(
    frame: np.ndarray,
    boxes: Optional[np.ndarray],
    affines: Optional[np.ndarray],
    options: Tuple[RegionPreset, PreprocessSpec, np.dtype, ColorOrder],
) -> _Call:
    view, pitch = _frame_view(frame)
    faces, affine = _faces(boxes, affines)
    preset, spec, dt, order = options
    if affine and spec.crop.whole_pixel:
        raise RanEdgeError("affines: the 'official' crop convention cuts whole-pixel boxes, it has no rotated faces; "
                           "pass boxes, or use a model with the 'exact' convention for aligned (affine) faces")
    return _Call(view, pitch, faces, affine, preset, spec, dt, order)


def _output(call: _Call, out: Optional[np.ndarray]) -> np.ndarray:
    if out is None:
        return np.empty(call.shape, dtype=call.dtype)
    ok = (isinstance(out, np.ndarray) and out.shape == call.shape and out.dtype == call.dtype
          and out.flags.c_contiguous and out.flags.writeable)
    if not ok:
        got = f"{getattr(out, 'dtype', type(out).__name__)} {tuple(getattr(out, 'shape', ()))}"
        raise RanEdgeError(f"out: got {got}, expected a writeable C-contiguous {call.dtype} array {call.shape}")
    return out


def c_geometry(affine: bool, n: int, faces: Optional[np.ndarray], regions: np.ndarray) -> library.Geometry:
    """``re_geometry`` over float64 arrays that the caller keeps alive during the call."""
    dptr = ctypes.POINTER(ctypes.c_double)
    return library.Geometry(
        kind=library.GEOMETRY_AFFINES if affine else library.GEOMETRY_BOXES,
        n=n,
        faces=faces.ctypes.data_as(dptr) if faces is not None else None,
        k=regions.shape[0],
        regions=regions.ctypes.data_as(dptr),
    )


def c_output_spec(spec: PreprocessSpec, dtype: np.dtype, frame_order: ColorOrder) -> library.OutputSpec:
    """``re_output_spec`` of the model's preprocessing."""
    return library.OutputSpec(
        size=spec.region_size,
        dtype=_DTYPES[dtype],
        frame_order=library.ORDER_RGB if frame_order is ColorOrder.RGB else library.ORDER_BGR,
        out_order=library.ORDER_RGB if spec.color_order is ColorOrder.RGB else library.ORDER_BGR,
        scale=spec.scale,
        mean=(ctypes.c_float * 3)(*spec.mean),
        std=(ctypes.c_float * 3)(*spec.std),
    )


def preset_regions(preset: RegionPreset) -> np.ndarray:
    """The preset's boxes as a C-contiguous float64 ``[K,4]`` array."""
    return np.ascontiguousarray([b.box for b in preset.boxes], dtype=np.float64)


def _cuda_index(device: str) -> Optional[int]:
    """None for "cpu", the device index for "cuda" / "cuda:N"; RanEdgeError otherwise."""
    if not isinstance(device, str):
        raise RanEdgeError(f"device: got {type(device).__name__}, expected 'cpu', 'cuda' or 'cuda:N'")
    if device == "cpu":
        return None
    if device == "cuda":
        return 0
    if device.startswith("cuda:") and device[5:].isdigit():
        return int(device[5:])
    raise RanEdgeError(f"device: got {device!r}, expected 'cpu', 'cuda' or 'cuda:N'")


def _fallback(call: _Call, out: np.ndarray) -> np.ndarray:
    global _warned_fallback
    if not _warned_fallback:
        _warned_fallback = True
        warnings.warn("ran_edge.kernels: libran_edge_kernels is not built, using the numpy reference for "
                      "region_batch (much slower); build it with `make kernels`", RuntimeWarning, stacklevel=3)
    out[...] = region_batch_numpy(call.frame, call.faces, call.affine, call.preset, call.spec, call.frame_order)
    return out


def region_batch(
    frame: np.ndarray,
    boxes: Optional[np.ndarray],
    preset: Union[str, RegionPreset] = "ferplus6",
    size: Optional[int] = None,
    dtype: DTypeLike = "float32",
    out: Optional[np.ndarray] = None,
    device: str = "cpu",
    *,
    spec: Optional[PreprocessSpec] = None,
    affines: Optional[np.ndarray] = None,
    frame_order: Union[str, ColorOrder] = ColorOrder.BGR,
    num_threads: int = 0,
) -> np.ndarray:
    """Crop, resize, colour-convert and normalise the K regions of N faces straight from a frame.

    Args:
        frame: ``HxWx3`` uint8 video frame (BGR unless ``frame_order`` says otherwise); a row-strided view
            (e.g. a crop of a bigger frame) is read in place.
        boxes: ``[N,4]`` face boxes ``(x0, y0, x1, y1)`` in frame pixels (None when ``affines`` is given).
            Coordinates may lie outside the frame (the outside is filled with raw 0); NaN/Inf, empty and inverted
            boxes raise.
        preset: region preset name (``"ferplus6"``, ``"affectnet8"``, a JSON path) or a :class:`RegionPreset`.
        size: output side S; default ``spec.region_size``.
        dtype: ``float32`` or ``float16``.
        out: optional preallocated C-contiguous array ``[N*K, 3, S, S]`` of ``dtype``, filled and returned.
        device: ``"cpu"`` (C++ reference, or the numpy reference when not built), ``"cuda"`` or ``"cuda:N"``.
        spec: the model's preprocessing (crop convention, colour order, scale, mean, std); default
            :class:`PreprocessSpec()`. The ``official`` convention runs the kernels' tap-table entry points with
            weights from :mod:`ran_edge.crop` (boxes only).
        affines: ``[N,2,3]`` face-unit to frame-pixel maps for aligned faces, instead of ``boxes``.
        frame_order: channel order of ``frame``.
        num_threads: CPU threads, 0 = all.

    Returns:
        ``[N*K, 3, S, S]`` array, row ``n*K + k`` is region k of face n.

    Raises:
        RanEdgeError: invalid frame, boxes, preset, dtype, output or device; CUDA unavailable or failing.
    """
    call = _prepare(frame, boxes, affines, resolve_options(preset, size, dtype, spec, frame_order))
    if num_threads < 0:
        raise RanEdgeError(f"num_threads: got {num_threads}, expected 0 (all cores) or a positive count")
    result = _output(call, out)
    cuda_device = _cuda_index(device)
    lib = library.load()
    if lib is None and cuda_device is None:
        return _fallback(call, result)
    if lib is None or (cuda_device is not None and lib.cuda is None):
        why = lib.cuda_note if lib is not None else "libran_edge_kernels is not built"
        raise RanEdgeError(f"device {device!r}: the CUDA region-batch kernel is unavailable ({why}); build with "
                           "`make kernels` on a machine with nvcc, or use device='cpu'")
    spec_c = c_output_spec(call.spec, call.dtype, call.frame_order)
    h, w = call.frame.shape[:2]
    if call.spec.crop.whole_pixel:
        return _run_taps(lib, call, spec_c, result, cuda_device, num_threads)
    regions = preset_regions(call.preset)
    geometry = c_geometry(call.affine, call.faces.shape[0], call.faces, regions)
    args = (call.frame.ctypes.data, h, w, call.pitch, ctypes.byref(geometry), ctypes.byref(spec_c),
            result.ctypes.data, result.nbytes)
    return _dispatch(lib, "region_batch", args, result, cuda_device, num_threads)


def _dispatch(lib: library.KernelLibrary, entry: str, args: tuple, result: np.ndarray, cuda_device: Optional[int],
              num_threads: int) -> np.ndarray:
    """Call ``re_<entry>_cpu`` (with ``num_threads``) or ``re_<entry>_cuda_host`` (on ``cuda_device``); a failed
    status raises that library's error."""
    if cuda_device is None:
        status, error = getattr(lib.cpu, f"re_{entry}_cpu")(*args, int(num_threads)), lib.cpu_error
    else:
        status, error = getattr(lib.cuda, f"re_{entry}_cuda_host")(*args, cuda_device), lib.cuda_error
    if status != library.RE_OK:
        raise error(status)
    return result


def _run_taps(lib: library.KernelLibrary, call: _Call, spec_c: library.OutputSpec, result: np.ndarray,
              cuda_device: Optional[int], num_threads: int) -> np.ndarray:
    """The ``official`` crop convention: weights from ``ran_edge.crop`` as tap tables, same kernels' entry points."""
    from ran_edge.kernels.taps import tap_tables

    h, w = call.frame.shape[:2]
    tables = tap_tables(h, w, call.faces, call.preset, call.spec)
    struct = tables.c_struct()
    args = (call.frame.ctypes.data, h, w, call.pitch, ctypes.byref(struct), ctypes.byref(spec_c),
            result.ctypes.data, result.nbytes)
    return _dispatch(lib, "region_batch_taps", args, result, cuda_device, num_threads)
