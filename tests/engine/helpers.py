"""Pure-test helpers: an ONNX sidecar (ArtifactMeta) built without torch or an export."""

from __future__ import annotations

from typing import Any

from ran_edge.artifact import ArtifactMeta, InputKind, Precision, TensorSpec
from ran_edge.data.classes import RAFDB_CLASSES
from ran_edge.preprocess import PreprocessSpec
from ran_edge.presets import FERPLUS6


def onnx_meta(precision: Precision = Precision.FP32, input_kind: InputKind = InputKind.FACES, batch: int = -1,
              **extra: Any) -> ArtifactMeta:
    spec = PreprocessSpec(face_size=32, region_size=16)
    if input_kind is InputKind.FACES:
        inputs = (TensorSpec("faces", (batch, 3, 32, 32)),)
    else:
        inputs = (TensorSpec("regions", (batch * 6 if batch > 0 else -1, 3, 16, 16)),)
    outputs = (TensorSpec("logits", (batch, 7)), TensorSpec("region_weights", (batch, 6)))
    return ArtifactMeta(format="onnx", class_names=RAFDB_CLASSES, preset=FERPLUS6, attention="official", preprocess=spec,
                        input_kind=input_kind, inputs=inputs, outputs=outputs, precision=precision,
                        extra={"opset": 17, **extra})
