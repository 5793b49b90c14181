"""Aligned faces → the input tensor of a model, by its sidecar: the one preprocessing of every caller.

The runtime (:class:`ran_edge.runtime.Classifier`), INT8 calibration feeds (:mod:`ran_edge.data.feeds`),
the Triton server and the video pipeline all make model inputs here, so calibration sees exactly what
inference sees. Imports numpy only; the region-batch kernel loads on first use of a ``regions`` model.
"""

from __future__ import annotations

from typing import Any, Sequence, Union

import numpy as np

from ran_edge.artifact import ArtifactMeta, InputKind
from ran_edge.errors import InputError
from ran_edge.preprocess import prepare_faces


def model_input(faces: Union[Sequence[np.ndarray], np.ndarray], meta: ArtifactMeta) -> np.ndarray:
    """Aligned faces (list of ``HxWx3`` uint8 BGR or ``NxHxWx3``) → the input of ``meta``'s model (float32)."""
    return prepare_model_input(faces, InputKind(meta.input_kind), meta.preset, meta.preprocess)


def prepare_model_input(faces: Union[Sequence[np.ndarray], np.ndarray], input_kind: InputKind, preset: Any,
                        spec: Any) -> np.ndarray:
    """The one preprocessing of aligned faces for a model of ``input_kind``.

    ``faces`` input: :func:`prepare_faces`. ``regions`` input: each face is a frame whose box is the
    whole image, cropped by the fused region-batch kernel (:func:`ran_edge.kernels.region_batch`: the
    C++ library when built, else its numpy reference), the same convention as the in-graph crops.
    """
    if InputKind(input_kind) is InputKind.FACES:
        return prepare_faces(faces, spec)
    items = [faces] if isinstance(faces, np.ndarray) and faces.ndim == 3 else list(faces)
    if not items:
        raise InputError("got an empty batch of faces, expected at least one HxWx3 uint8 face")
    parts = []
    for face in items:
        h, w = face.shape[:2] if isinstance(face, np.ndarray) and face.ndim == 3 else (1, 1)  # else: checked below
        parts.append(frame_model_input(face, np.array([[0.0, 0.0, float(w), float(h)]]), InputKind.REGIONS, preset, spec))
    return np.concatenate(parts)


def frame_model_input(frame: np.ndarray, boxes: np.ndarray, input_kind: InputKind, preset: Any, spec: Any) -> np.ndarray:
    """The model input for face ``boxes`` (``[N,4]`` x0,y0,x1,y1 pixels) of a uint8 BGR ``frame``.

    ``regions`` input: the fused region-batch kernel makes ``[N*K,3,R,R]`` straight from the frame (the C++
    library when built, else its numpy reference); ``faces`` input: each box is cut at whole pixels and
    resized by :func:`prepare_faces`.
    """
    if InputKind(input_kind) is InputKind.REGIONS:
        from ran_edge.kernels import region_batch

        return region_batch(frame, boxes, preset, spec=spec)
    crops = [frame[int(y0):int(y1), int(x0):int(x1)] for x0, y0, x1, y1 in np.asarray(boxes)]
    return prepare_faces(crops, spec)
