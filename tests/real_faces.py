"""Real face photos for parity tests, from the images scikit-image ships (no download).

``astronaut()`` (Eileen Collins, 512x512 RGB; her face is cut out) and the first faces of ``lfw_subset()``
(Labeled Faces in the Wild, 25x25 grey). Each becomes a 224x224 RGB uint8 aligned face with Pillow's
BICUBIC resize, i.e. the kind of face file the official loaders read.
"""

from __future__ import annotations

import numpy as np
import pytest


def real_faces(count: int = 13, size: int = 224) -> list[np.ndarray]:
    """``count`` real faces as ``size x size x 3`` RGB uint8 (skips the test when scikit-image is missing)."""
    data = pytest.importorskip("skimage.data", reason="scikit-image (the test extra) ships the real face photos")
    from PIL import Image

    faces = [data.astronaut()[30:210, 160:340]]
    lfw = data.lfw_subset()[:100]  # the first 100 of lfw_subset are faces, the rest are not
    for grey in lfw[: count - 1]:
        faces.append(np.repeat((np.clip(grey, 0, 1) * 255).round().astype(np.uint8)[..., None], 3, axis=2))
    return [np.asarray(Image.fromarray(f).resize((size, size), Image.BICUBIC)) for f in faces]
