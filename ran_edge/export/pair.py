"""An FP32 ONNX and its FP16 twin written as one result set (``ran-edge export --check-fp16``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence, Union

from ran_edge.artifact import InputKind


def export_onnx_with_fp16(model: Any, out: Union[str, Path], outputs: Sequence[Union[str, Path]], *,
                          checkpoint: Union[str, Path], input_kind: InputKind, opset: int, batch: Optional[int],
                          simplify: bool, fp16_data: str, fp16_num: int) -> Path:
    """Export ``model`` to ``out`` and run the FP16 range analysis + conversion on it; ``outputs`` (``out``,
    its sidecar, the ``.fp16.onnx`` and its sidecar) appear together, or none of them. Returns the FP16 path."""
    from ran_edge.export import export_onnx
    from ran_edge.export.fp16 import analyse_and_convert, fp16_path
    from ran_edge.outputs import ResultSet

    with ResultSet(list(outputs), inputs=[checkpoint]) as rs:
        staged = [rs.path(p) for p in outputs][0]
        export_onnx(model, staged, input_kind=input_kind, opset=opset, batch=batch, simplify=simplify,
                    checkpoint_path=checkpoint)
        analyse_and_convert(staged, data=fp16_data, num=fp16_num)
        rs.commit()
    return fp16_path(Path(out))
