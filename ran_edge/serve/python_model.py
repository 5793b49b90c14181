"""Triton Python-backend model that runs ran-edge's preprocessing (copied as ``model.py``).

Inside Triton it turns ``faces_uint8 [N,H,W,3]`` (aligned face crops, uint8 BGR) into the main
model's input with :func:`ran_edge.model_input.model_input`, the one preprocessing
implementation, reading the :class:`~ran_edge.artifact.ArtifactMeta` that ``export-triton`` put
next to ``config.pbtxt``. The Python environment of the Triton server needs ``ran-edge`` (numpy
only: ``pip install ran-edge``). ``preprocess_batch`` is the testable core; ``TritonPythonModel``
is the thin Triton adapter (``triton_python_backend_utils`` exists only inside the server).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

META_FILE = "ran_edge_meta.json"
RAW_INPUT = "faces_uint8"


def load_meta(model_dir: str) -> Any:
    """The ran-edge metadata stored next to this model's ``config.pbtxt``."""
    from ran_edge.artifact import ArtifactMeta

    path = Path(model_dir) / META_FILE
    return ArtifactMeta.from_dict(json.loads(path.read_text()), str(path))


def preprocess_batch(faces: np.ndarray, meta: Any) -> np.ndarray:
    """``[N,H,W,3]`` uint8 BGR → the main model's input, in its dtype."""
    from ran_edge.model_input import model_input

    x = model_input(faces, meta)
    return np.ascontiguousarray(x.astype(np.dtype(meta.inputs[0].dtype), copy=False))


class TritonPythonModel:
    """Triton Python-backend entry points."""

    def initialize(self, args: Dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.meta = load_meta(str(Path(args["model_repository"])))
        self.output_name = config["output"][0]["name"]

    def execute(self, requests: List[Any]) -> List[Any]:
        import triton_python_backend_utils as pb_utils  # only inside the Triton server

        responses = []
        for request in requests:  # one error response per bad request; the others still succeed
            try:
                faces = pb_utils.get_input_tensor_by_name(request, RAW_INPUT).as_numpy()
                x = preprocess_batch(faces, self.meta)
                responses.append(pb_utils.InferenceResponse([pb_utils.Tensor(self.output_name, x)]))
            except Exception as exc:  # a user error goes back to that client only
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(str(exc))))
        return responses
