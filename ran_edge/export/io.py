"""Graph I/O contract of exported RAN artifacts (docs/architecture.md §2), shared by ONNX and TorchScript export.

Input ``faces [N,3,S,S]`` (region batch made in graph) or ``regions [N*K,3,R,R]`` (fused-kernel path);
outputs ``logits [N,C]`` and ``region_weights [N,K]``. A dynamic axis is ``-1`` in the sidecar's
:class:`~ran_edge.artifact.TensorSpec` and a named ``dim_param`` in the ONNX graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ran_edge._lazy import require
from ran_edge.artifact import ArtifactMeta, InputKind, Precision, TensorSpec
from ran_edge.artifact_check import check_onnx_graph, validate_artifact
from ran_edge.errors import RanEdgeError

OUTPUT_NAMES: tuple[str, str] = ("logits", "region_weights")
#: dim_param names of the dynamic batch axis, per tensor.
BATCH_DIM = "N"
REGION_BATCH_DIM = "NK"


@dataclass(frozen=True)
class GraphIO:
    """Names and shapes of one exported graph's inputs and outputs (``-1`` = dynamic)."""

    input_kind: InputKind
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @property
    def input_name(self) -> str:
        return self.inputs[0].name

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        """``torch.onnx.export``'s ``dynamic_axes`` for this I/O (empty for a fixed batch)."""
        axes: dict[str, dict[int, str]] = {}
        for t in self.inputs + self.outputs:
            if t.shape[0] == -1:
                axes[t.name] = {0: REGION_BATCH_DIM if t.name == InputKind.REGIONS.value else BATCH_DIM}
        return axes


def graph_io(config: Any, input_kind: InputKind | str, batch: int | None) -> GraphIO:
    """The I/O of a RAN with ``config`` (a ``RanConfig``) for ``input_kind``; ``batch=None`` is dynamic."""
    kind = InputKind(input_kind)
    if batch is not None and (not isinstance(batch, int) or batch < 1):
        raise RanEdgeError(f"batch: got {batch!r}, expected a positive integer or None (dynamic)")
    n = -1 if batch is None else batch
    k = config.preset.num_regions
    pp = config.preprocess
    if kind is InputKind.FACES:
        inp = TensorSpec("faces", (n, 3, pp.face_size, pp.face_size))
    else:
        inp = TensorSpec("regions", (-1 if batch is None else batch * k, 3, pp.region_size, pp.region_size))
    outs = (TensorSpec("logits", (n, config.num_classes)), TensorSpec("region_weights", (n, k)))
    return GraphIO(kind, (inp,), outs)


def example_inputs(config: Any, input_kind: InputKind | str, n: int, seed: int = 0) -> np.ndarray:
    """``n`` deterministic model inputs made by the one preprocessing (:func:`prepare_faces`).

    Random uint8 BGR faces at the model's face size go through ``prepare_faces``; for the
    ``regions`` kind they are then cut into the region batch with :func:`region_batch_reference`
    (the numpy reference of the fused kernel), so the feed matches what a runtime would give.
    """
    from ran_edge.preprocess import prepare_faces, region_batch_reference

    rng = np.random.default_rng(seed)
    s = config.preprocess.face_size
    # Smooth random faces (low-frequency blobs + noise) exercise the network more like images do.
    base = rng.integers(0, 256, (n, 4, 4, 3)).astype(np.float32)
    up = np.repeat(np.repeat(base, -(-s // 4), axis=1), -(-s // 4), axis=2)[:, :s, :s]
    faces = np.clip(up + rng.normal(0, 20, up.shape), 0, 255).astype(np.uint8)
    if InputKind(input_kind) is InputKind.FACES:
        return prepare_faces(faces, config.preprocess)
    box = np.array([[0.0, 0.0, float(s), float(s)]])
    return np.concatenate([region_batch_reference(f, box, config.preset, config.preprocess) for f in faces])


def export_module(model: Any, input_kind: InputKind, per_region: bool = False) -> Any:
    """The ``nn.Module`` whose ``forward`` is the exported signature for ``input_kind`` (``per_region``: the
    official one-trunk-call-per-region structure, a ``faces`` input)."""
    from ran_edge.model.ran import PerRegionInput, RegionsInput

    if per_region:
        if InputKind(input_kind) is not InputKind.FACES:
            raise RanEdgeError("the per-region structure takes aligned faces: input kind faces, not regions")
        return PerRegionInput(model)
    return model if InputKind(input_kind) is InputKind.FACES else RegionsInput(model)


def load_ran_onnx(onnx_path: str | Path) -> tuple[Any, ArtifactMeta]:
    """Load an exported RAN ONNX and its sidecar; a corrupt or non-RAN file is a one-line error."""
    onnx = require("onnx", "INT8 quantization")
    path = Path(onnx_path)
    if not path.is_file():
        raise RanEdgeError(f"ONNX model not found: {path}")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:  # DecodeError, ValidationError, ...
        raise RanEdgeError(f"{path}: corrupt or not an ONNX model ({type(exc).__name__}); expected a file from 'ran-edge export'") from exc
    meta = validate_artifact(path, graph=False)  # the graph was just parsed: compared here
    check_onnx_graph(path, meta, model)
    names_in = [i.name for i in model.graph.input]
    names_out = [o.name for o in model.graph.output]
    if meta.format != "onnx" or names_in != [t.name for t in meta.inputs] or names_out != [t.name for t in meta.outputs]:
        raise RanEdgeError(f"{path}: not a RAN ONNX from 'ran-edge export' (I/O {names_in} -> {names_out} does not match its sidecar)")
    if meta.precision is not Precision.FP32:
        raise RanEdgeError(f"{path}: is already {meta.precision.value}; calibrate the FP32 export")
    return model, meta
