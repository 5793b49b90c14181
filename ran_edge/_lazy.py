"""The one helper for optional heavy imports (torch, onnx, onnxruntime, tensorrt, cv2, ...).

Modules that run on a bare Jetson (runtime, video, bench, kernels, the CLI's --help) never import
heavy packages at module level; they call :func:`require` inside the function that needs one.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from ran_edge.errors import MissingDependencyError

#: Which pip extra provides each optional top-level module.
EXTRA_FOR_MODULE: dict[str, str] = {
    "torch": "export",
    "torchvision": "export",
    "onnx": "export",
    "onnxsim": "export",
    "onnxruntime": "quantize",
    "tensorrt": "trt",
    "cuda": "trt",
    "pycuda": "trt",
    "polygraphy": "trt",
    "cv2": "video",
    "tqdm": "video",
    "matplotlib": "bench",
    "psutil": "bench",
}


def require(module: str, feature: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra to install.

    Args:
        module: dotted module name, e.g. ``"onnxruntime"`` or ``"torch.nn"``.
        feature: what needed it, for the message (e.g. ``"ONNX export"``).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # includes sys.modules[name] = None
        top = module.split(".")[0]
        raise MissingDependencyError(top, EXTRA_FOR_MODULE.get(top, "all"), feature, exc) from exc


def is_available(module: str) -> bool:
    """True if ``module`` can be imported (without importing it when avoidable)."""
    import sys

    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
