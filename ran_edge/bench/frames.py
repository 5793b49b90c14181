"""The bench's synthetic frame with N faces, and which region-batch implementation this machine has.

Model inputs are made by the one preprocessing, :mod:`ran_edge.model_input` (the fused kernel for a
``regions`` input); :func:`region_batch_impl` says for the report whether that is the C++ build or its
numpy fallback.
"""

from __future__ import annotations

import numpy as np


def synthetic_frame(batch: int, face_size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A uint8 BGR frame holding ``batch`` smooth random faces side by side, and their ``[N,4]`` boxes."""
    rng = np.random.default_rng(seed)
    s = int(face_size)
    blocks = rng.integers(0, 256, (8, 8 * batch, 3)).astype(np.float32)
    frame = np.repeat(np.repeat(blocks, -(-s // 8), axis=0), -(-s // 8), axis=1)[:s, : s * batch]
    frame = np.clip(frame + rng.normal(0, 12, frame.shape), 0, 255).astype(np.uint8)
    boxes = np.array([[i * s, 0, (i + 1) * s, s] for i in range(batch)], dtype=np.float64)
    return np.ascontiguousarray(frame), boxes


def region_batch_impl() -> str:
    """Which implementation makes the region batch on this machine (for the report)."""
    from ran_edge.kernels import library

    return "fused kernel, C++ CPU build" if library.load() is not None else "fused-kernel API, numpy fallback (kernels not built)"
