"""Fixtures for the region-batch kernel tests: the native library (or a skip with the reason) and small data."""

from __future__ import annotations

import numpy as np
import pytest

from ran_edge.kernels import library
from ran_edge.preprocess import ColorOrder, PreprocessSpec

#: region specs the kernels are checked with: ImageNet normalisation in BGR, and the ``official`` crop convention
#: (Pillow BICUBIC weights; NEAREST with ImageNet normalisation)
IMAGENET = PreprocessSpec(region_size=24, color_order=ColorOrder.BGR, mean=(0.485, 0.456, 0.406),
                          std=(0.229, 0.224, 0.225))
OFFICIAL = PreprocessSpec(region_size=24, crop="official")
OFFICIAL_NEAREST_IMAGENET = PreprocessSpec(region_size=24, crop="official", pil_filter="nearest",
                                           color_order=ColorOrder.BGR, mean=(0.485, 0.456, 0.406),
                                           std=(0.229, 0.224, 0.225))


@pytest.fixture(scope="session")
def native():
    """The loaded native libraries; skips with the reason when they are not built."""
    lib = library.load()
    if lib is None:
        pytest.skip("libran_edge_kernels is not built (run `make kernels`)")
    return lib


def random_boxes(rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
    """n boxes of random size and position, some partly outside the frame, a few tiny."""
    size = rng.uniform(0.3, 60.0, n) * np.where(rng.random(n) < 0.15, 0.02, 1.0)
    aspect = rng.uniform(0.7, 1.4, n)
    x0 = rng.uniform(-0.3 * w, w, n)
    y0 = rng.uniform(-0.3 * h, h, n)
    return np.stack([x0, y0, x0 + size * aspect, y0 + size], axis=1)
