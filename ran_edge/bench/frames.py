"""Model inputs for the bench: a synthetic frame with N faces, and the preprocessing of each path.

``faces`` input: each box is cut from the frame and resized by :func:`ran_edge.preprocess.prepare_faces`.
``regions`` input: the fused region-batch kernel (``ran_edge.kernels``; its C++ CPU build, or its numpy
fallback) makes ``[N*K,3,R,R]`` straight from the frame; without the kernels package the numpy
reference :func:`ran_edge.preprocess.region_batch_reference` is used. :func:`region_batch_impl` says which.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ran_edge.preprocess import prepare_faces, region_batch_reference


def synthetic_frame(batch: int, face_size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A uint8 BGR frame holding ``batch`` smooth random faces side by side, and their ``[N,4]`` boxes."""
    rng = np.random.default_rng(seed)
    s = int(face_size)
    blocks = rng.integers(0, 256, (8, 8 * batch, 3)).astype(np.float32)
    frame = np.repeat(np.repeat(blocks, -(-s // 8), axis=0), -(-s // 8), axis=1)[:s, : s * batch]
    frame = np.clip(frame + rng.normal(0, 12, frame.shape), 0, 255).astype(np.uint8)
    boxes = np.array([[i * s, 0, (i + 1) * s, s] for i in range(batch)], dtype=np.float64)
    return np.ascontiguousarray(frame), boxes


def _kernel() -> tuple[Callable[..., np.ndarray] | None, str]:
    try:
        from ran_edge.kernels import api, library
    except ImportError:
        return None, "numpy reference (ran_edge.preprocess.region_batch_reference)"
    built = library.load() is not None
    return api.region_batch, ("fused kernel, C++ CPU build" if built else "fused-kernel API, numpy fallback (kernels not built)")


def region_batch_impl() -> str:
    """Which implementation makes the region batch on this machine (for the report)."""
    return _kernel()[1]


def region_batch(frame: np.ndarray, boxes: np.ndarray, preset: Any, spec: Any) -> np.ndarray:
    """``[N*K,3,R,R]`` float32 from a frame and boxes, by the fused kernel when present."""
    fn, _ = _kernel()
    if fn is None:
        return region_batch_reference(frame, boxes, preset, spec)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the one-time "not built" note is in the report
        return fn(frame, boxes, preset, spec.region_size, "float32", device="cpu", spec=spec)


def prepare_input(input_kind: str, frame: np.ndarray, boxes: np.ndarray, preset: Any, spec: Any) -> np.ndarray:
    """The model input for ``input_kind`` (``faces`` or ``regions``) from a frame and face boxes."""
    if input_kind == "regions":
        return region_batch(frame, boxes, preset, spec)
    crops = [frame[int(y0):int(y1), int(x0):int(x1)] for x0, y0, x1, y1 in np.asarray(boxes)]
    return prepare_faces(crops, spec)


def faces_input(input_kind: str, faces: Sequence[np.ndarray], preset: Any, spec: Any) -> np.ndarray:
    """Model input for aligned faces (each its own frame; box = the whole face), by the runtime's one
    preprocessing (:func:`ran_edge.model_input.prepare_model_input`)."""
    import warnings

    from ran_edge.model_input import prepare_model_input

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the one-time "not built" note is in the report
        return prepare_model_input(list(faces), input_kind, preset, spec)
