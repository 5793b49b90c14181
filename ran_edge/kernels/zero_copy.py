"""Zero-copy CUDA entry: device pointers in and out, enqueued on a caller's stream.

For pipelines whose frames and engine inputs already live on the GPU (``torch.Tensor.data_ptr()``,
``cupy.ndarray.data.ptr``, a TensorRT binding address). Nothing is copied or synchronised here.
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

from ran_edge.crop import CropConvention
from ran_edge.errors import RanEdgeError
import ran_edge.kernels.library as library
from ran_edge.kernels.api import DTypeLike, c_geometry, c_output_spec, preset_regions, resolve_options
from ran_edge.preprocess import ColorOrder, PreprocessSpec
from ran_edge.presets import RegionPreset

_FACE_DTYPES = {np.dtype(np.float32): library.DTYPE_FLOAT32, np.dtype(np.float64): library.DTYPE_FLOAT64}


def region_batch_cuda_ptr(
    frame_ptr: int,
    height: int,
    width: int,
    pitch: int,
    faces_ptr: int,
    num_faces: int,
    out_ptr: int,
    *,
    preset: Union[str, RegionPreset] = "ferplus6",
    size: Optional[int] = None,
    dtype: DTypeLike = "float32",
    spec: Optional[PreprocessSpec] = None,
    affine: bool = False,
    faces_dtype: DTypeLike = "float32",
    frame_order: Union[str, ColorOrder] = ColorOrder.BGR,
    stream: int = 0,
    error_flag_ptr: int = 0,
) -> None:
    """Enqueue the region-batch kernel on ``stream`` with device memory only.

    Args:
        frame_ptr: device address of an ``height x width x 3`` uint8 frame, rows ``pitch`` bytes apart.
        faces_ptr: device address of ``[num_faces, 4]`` boxes (or ``[num_faces, 6]`` affines when ``affine``).
        out_ptr: device address of ``num_faces*K*3*S*S`` elements of ``dtype``.
        stream: a ``cudaStream_t`` as an integer (0 = legacy default stream).
        error_flag_ptr: optional device address of an int32 the caller zeroes; the kernel stores 3
            (``RE_ERR_BOX``) into it when a face is NaN/Inf, empty, inverted or degenerate (such faces get fill
            values, since device memory cannot be checked from the host without a synchronisation).
        Other options as :func:`ran_edge.kernels.region_batch`.

    Raises:
        RanEdgeError: CUDA library unavailable, invalid options, or a failed launch.
    """
    preset_obj, spec_obj, dt, order = resolve_options(preset, size, dtype, spec, frame_order)
    if spec_obj.crop is not CropConvention.EXACT:
        raise RanEdgeError(f"region_batch_cuda_ptr: the '{spec_obj.crop.value}' crop convention is not available on "
                           "device pointers (faces live on the GPU, its weights are made on the host); use "
                           "region_batch(..., device='cuda') with host boxes")
    try:
        fdt = _FACE_DTYPES[np.dtype(faces_dtype)]
    except (KeyError, TypeError) as exc:
        raise RanEdgeError(f"faces_dtype: got {faces_dtype!r}, expected float32 or float64") from exc
    lib = library.load()
    if lib is None or lib.cuda is None:
        why = lib.cuda_note if lib is not None else "libran_edge_kernels is not built"
        raise RanEdgeError(f"region_batch_cuda_ptr: the CUDA region-batch kernel is unavailable ({why})")
    regions = preset_regions(preset_obj)
    geometry = c_geometry(affine, int(num_faces), None, regions)
    spec_c = c_output_spec(spec_obj, dt, order)
    out_bytes = int(lib.cpu.re_output_bytes(int(num_faces), regions.shape[0], spec_obj.region_size,
                                            spec_c.dtype))
    status = lib.cuda.re_region_batch_cuda_device(
        frame_ptr, int(height), int(width), int(pitch), geometry, faces_ptr, fdt, spec_c, out_ptr, out_bytes,
        stream or None, error_flag_ptr or None,
    )
    if status != library.RE_OK:
        raise lib.cuda_error(status)
