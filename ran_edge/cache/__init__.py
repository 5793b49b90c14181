"""The build cache: derived artifacts (ONNX exported from a checkpoint, FP16/INT8 ONNX, TorchScript,
TensorRT engines) keyed by the sha256 of their source, the ran-edge version and the build options.

Torch-free and TensorRT-free; ``ran-edge cache list|clear`` and :func:`ran_edge.runtime.load` use it.
"""

from __future__ import annotations

from ran_edge.cache.location import ENV_VAR, CacheLocation, CacheOrigin, default_cache_dir, locate
from ran_edge.cache.store import BuildCache, CacheEntry, CacheKey, EntryStatus, read_entry

__all__ = ["BuildCache", "CacheEntry", "CacheKey", "CacheLocation", "CacheOrigin", "ENV_VAR", "EntryStatus",
           "default_cache_dir", "locate", "read_entry"]
