"""Find and load the native region-batch libraries with ctypes (no build-time Python dependency).

Search order for ``libran_edge_kernels`` (the CPU reference + C API):

1. ``$RAN_EDGE_KERNELS_LIB``: a path to the library file, or to a directory holding it (an error if missing);
2. next to this package (``ran_edge/kernels/``), where an installer may copy it;
3. ``build/`` of a repository checkout (what ``make kernels`` produces).

``libran_edge_kernels_cuda`` is looked up in the same directory as the CPU library and is optional.
"""

from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import List, Optional, Tuple

from ran_edge.errors import RanEdgeError

#: Must equal RE_ABI_VERSION in csrc/region_batch.h.
#: ``re_tap_tables.arithmetic``: RE_ARITH_FLOAT / RE_ARITH_PILLOW_U8 (csrc/region_batch.h).
ARITH_FLOAT, ARITH_PILLOW_U8 = 0, 1
ABI_VERSION = 3
ENV_VAR = "RAN_EDGE_KERNELS_LIB"

RE_OK = 0
DTYPE_FLOAT32, DTYPE_FLOAT16, DTYPE_FLOAT64 = 0, 1, 2
ORDER_BGR, ORDER_RGB = 0, 1
GEOMETRY_BOXES, GEOMETRY_AFFINES = 0, 1


class OutputSpec(ctypes.Structure):
    """``re_output_spec``."""

    _fields_ = [
        ("size", ctypes.c_int32),
        ("dtype", ctypes.c_int32),
        ("frame_order", ctypes.c_int32),
        ("out_order", ctypes.c_int32),
        ("scale", ctypes.c_float),
        ("mean", ctypes.c_float * 3),
        ("std", ctypes.c_float * 3),
    ]


class TapTables(ctypes.Structure):
    """``re_tap_tables``: separable per-pixel resampling weights (crop conventions given as weights)."""

    _fields_ = [
        ("items", ctypes.c_int32),
        ("x_taps", ctypes.c_int32),
        ("y_taps", ctypes.c_int32),
        ("x_index", ctypes.POINTER(ctypes.c_int32)),
        ("x_weight", ctypes.POINTER(ctypes.c_float)),
        ("y_index", ctypes.POINTER(ctypes.c_int32)),
        ("y_weight", ctypes.POINTER(ctypes.c_float)),
        ("arithmetic", ctypes.c_int32),
    ]


class Geometry(ctypes.Structure):
    """``re_geometry``."""

    _fields_ = [
        ("kind", ctypes.c_int32),
        ("n", ctypes.c_int32),
        ("faces", ctypes.POINTER(ctypes.c_double)),
        ("k", ctypes.c_int32),
        ("regions", ctypes.POINTER(ctypes.c_double)),
    ]


def library_filename(stem: str) -> str:
    """Platform file name of a CMake shared library target called ``stem``."""
    if sys.platform == "win32":
        return f"{stem}.dll"
    if sys.platform == "darwin":
        return f"lib{stem}.dylib"
    return f"lib{stem}.so"


@dataclass(frozen=True)
class KernelLibrary:
    """The loaded CPU library and, when present, the CUDA library."""

    path: Path
    cpu: ctypes.CDLL
    cuda_path: Optional[Path]
    cuda: Optional[ctypes.CDLL]
    cuda_note: str  # why there is no CUDA library, or how many devices it sees

    def cuda_device_count(self) -> int:
        """Number of CUDA devices the CUDA library sees (0 without the library, a device or a driver)."""
        return int(self.cuda.re_cuda_device_count()) if self.cuda is not None else 0

    def cpu_error(self, status: int) -> RanEdgeError:
        return _error(self.cpu, "re_last_error", status)

    def cuda_error(self, status: int) -> RanEdgeError:
        return _error(self.cuda or self.cpu, "re_cuda_last_error" if self.cuda else "re_last_error", status,
                      names=self.cpu)


def _error(lib: ctypes.CDLL, getter: str, status: int, names: Optional[ctypes.CDLL] = None) -> RanEdgeError:
    message = getattr(lib, getter)().decode("utf-8", "replace")
    name = (names or lib).re_status_name(status).decode()
    return RanEdgeError(f"region_batch: {message or 'failed'} ({name})")


def candidate_paths() -> List[Path]:
    """Where ``libran_edge_kernels`` is looked for, in order (``$RAN_EDGE_KERNELS_LIB`` excluded)."""
    name = library_filename("ran_edge_kernels")
    here = Path(__file__).resolve().parent
    return [here / name, here.parent.parent / "build" / name]


def _from_env() -> Optional[Path]:
    value = os.environ.get(ENV_VAR)
    if not value:
        return None
    path = Path(value)
    if path.is_dir():
        path = path / library_filename("ran_edge_kernels")
    if not path.is_file():
        raise RanEdgeError(f"{ENV_VAR}={value}: no such library file; expected the path of "
                           f"{library_filename('ran_edge_kernels')} (built by `make kernels`) or its directory")
    return path


def _declare_cpu(lib: ctypes.CDLL) -> None:
    c = ctypes
    lib.re_abi_version.restype = c.c_int32
    lib.re_status_name.argtypes, lib.re_status_name.restype = [c.c_int32], c.c_char_p
    lib.re_last_error.restype = c.c_char_p
    lib.re_output_bytes.argtypes = [c.c_int32] * 4
    lib.re_output_bytes.restype = c.c_int64
    lib.re_region_batch_cpu.argtypes = [c.c_void_p, c.c_int32, c.c_int32, c.c_int64, c.POINTER(Geometry),
                                        c.POINTER(OutputSpec), c.c_void_p, c.c_int64, c.c_int32]
    lib.re_region_batch_cpu.restype = c.c_int32
    lib.re_region_batch_taps_cpu.argtypes = [c.c_void_p, c.c_int32, c.c_int32, c.c_int64, c.POINTER(TapTables),
                                             c.POINTER(OutputSpec), c.c_void_p, c.c_int64, c.c_int32]
    lib.re_region_batch_taps_cpu.restype = c.c_int32


def _declare_cuda(lib: ctypes.CDLL) -> None:
    c = ctypes
    lib.re_cuda_abi_version.restype = c.c_int32
    lib.re_cuda_last_error.restype = c.c_char_p
    lib.re_cuda_device_count.restype = c.c_int32
    lib.re_region_batch_cuda_host.argtypes = [c.c_void_p, c.c_int32, c.c_int32, c.c_int64, c.POINTER(Geometry),
                                              c.POINTER(OutputSpec), c.c_void_p, c.c_int64, c.c_int32]
    lib.re_region_batch_cuda_host.restype = c.c_int32
    lib.re_region_batch_taps_cuda_host.argtypes = [c.c_void_p, c.c_int32, c.c_int32, c.c_int64, c.POINTER(TapTables),
                                                   c.POINTER(OutputSpec), c.c_void_p, c.c_int64, c.c_int32]
    lib.re_region_batch_taps_cuda_host.restype = c.c_int32
    lib.re_region_batch_cuda_device.argtypes = [c.c_void_p, c.c_int32, c.c_int32, c.c_int64, c.POINTER(Geometry),
                                                c.c_void_p, c.c_int32, c.POINTER(OutputSpec), c.c_void_p,
                                                c.c_int64, c.c_void_p, c.c_void_p]
    lib.re_region_batch_cuda_device.restype = c.c_int32


def _open(path: Path, what: str) -> ctypes.CDLL:
    try:
        return ctypes.CDLL(str(path))
    except OSError as exc:
        raise RanEdgeError(f"{path}: cannot load the {what} ({exc}); rebuild it with `make kernels`") from exc


def _check_abi(path: Path, version: int) -> None:
    if version != ABI_VERSION:
        raise RanEdgeError(f"{path}: C ABI version {version}, expected {ABI_VERSION}; the library is stale, "
                           "rebuild it with `make kernels`")


def _load_cuda(directory: Path) -> Tuple[Optional[Path], Optional[ctypes.CDLL], str]:
    path = directory / library_filename("ran_edge_kernels_cuda")
    if not path.is_file():
        return None, None, f"{path.name} not built (nvcc was not found when the kernels were built)"
    lib = _open(path, "CUDA region-batch library")
    _declare_cuda(lib)
    _check_abi(path, int(lib.re_cuda_abi_version()))
    count = int(lib.re_cuda_device_count())
    why = lib.re_cuda_last_error().decode("utf-8", "replace")
    return path, lib, f"{count} CUDA device(s)" + (f" ({why})" if count == 0 and why else "")


@lru_cache(maxsize=1)
def load() -> Optional[KernelLibrary]:
    """The native libraries, or None when ``libran_edge_kernels`` is not built.

    Raises:
        RanEdgeError: ``$RAN_EDGE_KERNELS_LIB`` names a missing file, or a found library cannot be loaded or has
            the wrong C ABI version (stale build).
    """
    path = _from_env()
    if path is None:
        path = next((p for p in candidate_paths() if p.is_file()), None)
    if path is None:
        return None
    lib = _open(path, "region-batch library")
    _declare_cpu(lib)
    _check_abi(path, int(lib.re_abi_version()))
    cuda_path, cuda, note = _load_cuda(path.parent)
    return KernelLibrary(path=path, cpu=lib, cuda_path=cuda_path, cuda=cuda, cuda_note=note)


def reset() -> None:
    """Forget the loaded library so the next :func:`load` searches again (after a rebuild or an env change)."""
    load.cache_clear()
