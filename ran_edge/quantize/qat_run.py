"""``ran-edge qat``: a checkpoint or FP32 ONNX → calibration → PTQ TensorRT flavour → QAT → both INT8 flavours.

The PTQ file is the starting point only (one calibration with the default range setting, no search);
:func:`ran_edge.quantize.qat.finetune_qdq` does the fine-tuning and writes the outputs. Intermediate files
(the FP32 export of a checkpoint, the PTQ file) live in a temporary folder.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

from ran_edge.errors import RanEdgeError
from ran_edge.quantize.qat import QatOptions, QatResult


def qat_model(model: str | Path, out: str | Path, *, data: str = "synthetic", options: QatOptions = QatOptions(),
              calib_data: str = "synthetic", calib_num: int = 512, trust_checkpoint: bool = False, threads: int | None = None,
              progress: bool = True,
              log: Callable[[str], None] = print) -> QatResult:
    """QAT of ``model`` (a ran-edge ``.pt`` checkpoint, exported first, or an FP32 ``.onnx`` with its sidecar).

    Calibrates on ``calib_num`` faces of ``calib_data`` (``synthetic`` train split or a folder), makes the PTQ
    TensorRT flavour, fine-tunes it on ``data`` (:func:`finetune_qdq`) and writes ``out`` (TensorRT flavour),
    ``<out stem>.fp32.onnx`` and ``<out stem>.cpu.onnx`` with their sidecars.

    Raises:
        RanEdgeError: missing or bad model, bad data or options, or a failed export check (nothing written).
    """
    from ran_edge.artifact import InputKind
    from ran_edge.data.feeds import DatasetReader, open_calibration_data
    from ran_edge.export.io import load_ran_onnx
    from ran_edge.quantize.qat import finetune_qdq
    from ran_edge.quantize.qdq import QuantTarget, quantize_int8
    from ran_edge.quantize.ranges import RangeSetting, collect_stats

    model = Path(model)
    if not model.is_file():
        raise RanEdgeError(f"model not found: {model}; expected a .pt checkpoint or an FP32 .onnx from 'ran-edge export'")
    if calib_num < 1:
        raise RanEdgeError(f"--calib-num must be >= 1, got {calib_num}")
    with tempfile.TemporaryDirectory(prefix="ran-edge-qat-") as tmp:
        if model.suffix == ".onnx":
            fp32 = model
        elif model.suffix == ".pt":
            from ran_edge._lazy import require

            require("torch", "QAT")
            from ran_edge.export import export_onnx
            from ran_edge.model.checkpoint import load_checkpoint

            net, _ = load_checkpoint(model, trust=trust_checkpoint)
            fp32 = Path(tmp) / "model.onnx"
            export_onnx(net, fp32, checkpoint_path=model, log=lambda s: None)
            log(f"[qat] exported {model} to ONNX")
        else:
            raise RanEdgeError(f"model {model}: expected a .pt checkpoint or an FP32 .onnx")
        _, meta = load_ran_onnx(fp32)
        spec = f"synthetic:n_train={calib_num}" if calib_data.strip() == "synthetic" else calib_data
        dataset, description = open_calibration_data(spec, calib_num, options.seed)
        reader = DatasetReader(dataset, meta, calib_num, 16, description)
        rows = meta.preset.num_regions if meta.input_kind is InputKind.REGIONS else 1
        stats = collect_stats(fp32, reader, RangeSetting(), rows_per_face=rows, progress=progress, log=log)
        ptq = quantize_int8(fp32, Path(tmp) / "ptq.int8.onnx", stats=stats, target=QuantTarget.TENSORRT, log=lambda s: None)
        log(f"[qat] PTQ TensorRT flavour ({stats.setting.label}) is the starting point")
        return finetune_qdq(ptq.path, fp32, data, out, options=options, stats=stats, threads=threads, progress=progress, log=log)
