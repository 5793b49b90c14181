"""Python face of ``csrc/``: the fused region-batch kernel (C++ CPU reference + CUDA), loaded with ctypes.

Imports numpy only; the native libraries are found and loaded on first use (see :mod:`ran_edge.kernels.library`).

    >>> from ran_edge.kernels import region_batch
    >>> regions = region_batch(frame_bgr, boxes, "ferplus6", size=224, dtype="float16")  # [N*6, 3, 224, 224]
"""

from __future__ import annotations

from ran_edge.errors import RanEdgeError
from ran_edge.kernels import library
from ran_edge.kernels.api import region_batch
from ran_edge.kernels.zero_copy import region_batch_cuda_ptr

__all__ = ["region_batch", "region_batch_cuda_ptr", "active_implementation", "describe"]


def active_implementation() -> str:
    """``"cpp"`` when ``libran_edge_kernels`` is loaded, ``"python"`` when the numpy reference is used."""
    return "cpp" if library.load() is not None else "python"


def describe() -> str:
    """Which region-batch implementation is active, from which library, and whether CUDA is usable.

    For ``ran-edge inspect --kernels``. Never raises: a broken library is reported in the text.
    """
    try:
        lib = library.load()
    except RanEdgeError as exc:
        return f"region-batch kernels: unusable native library: {exc}\n  CUDA: unavailable"
    if lib is None:
        searched = ", ".join(str(p) for p in library.candidate_paths())
        return (
            "region-batch kernels: Python reference (ran_edge.preprocess.region_batch_reference); "
            f"libran_edge_kernels not found (searched ${library.ENV_VAR}, {searched}); build it with `make kernels`\n"
            "  CUDA: unavailable (native libraries not built)"
        )
    lines = [f"region-batch kernels: C++ CPU reference, {lib.path} (C ABI {library.ABI_VERSION})"]
    if lib.cuda is None:
        lines.append(f"  CUDA: unavailable ({lib.cuda_note})")
    else:
        count = lib.cuda_device_count()
        state = "available" if count > 0 else "library built, no usable device"
        lines.append(f"  CUDA: {state}, {lib.cuda_path} ({lib.cuda_note})")
    return "\n".join(lines)
