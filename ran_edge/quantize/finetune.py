"""The quantization-aware fine-tuning step of ``calibrate_onnx``: QAT (:mod:`ran_edge.quantize.qat`) as its hook.

``calibrate_onnx(..., finetune=qat_finetune(data))`` fine-tunes on labelled faces only when no all-INT8 setting
passes the gate or the best one passes without margin, and before any layer goes back to FP32. The TensorRT flavour comes out of QAT with its Q/DQ
placement unchanged; the CPU flavour is quantized by ``calibrate_onnx`` from the fine-tuned FP32 weights with
its own best range setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from ran_edge.quantize.calibrate import Finetune, FinetuneResult
from ran_edge.quantize.qdq import QuantTarget, quantize_int8
from ran_edge.quantize.ranges import CalibrationStats


def qat_finetune(data: Any, options: Any = None, *, holdout: Any = None, threads: int | None = 1, progress: bool = True,
                 log: Callable[[str], None] = print) -> Finetune:
    """A :data:`~ran_edge.quantize.calibrate.Finetune` hook that runs QAT on the labelled faces of ``data`` (a
    ``--data`` spec whose train split has labels, e.g. ``synthetic:size=64,seed=1``, or a ``FaceDataset``) with
    ``options`` (:class:`~ran_edge.quantize.qat.QatOptions`, default its defaults); ``holdout`` as
    :func:`~ran_edge.quantize.qat.finetune_qdq` (its export check); one torch thread by default (measured faster
    than two on a loaded 2-core machine, docs/qat.md)."""

    def hook(fp32: Path, ptq: Mapping[QuantTarget, Path], stats: CalibrationStats, workdir: Path) -> FinetuneResult:
        from ran_edge.quantize.qat import QatOptions, finetune_qdq

        trt = ptq.get(QuantTarget.TENSORRT)
        if trt is None:  # only the CPU flavour missed: QAT still trains on the TensorRT-flavour placement
            trt = workdir / "qat-start.onnx"
            quantize_int8(fp32, trt, target=QuantTarget.TENSORRT, stats=stats, log=lambda s: None)
        result = finetune_qdq(trt, fp32, data, workdir / "qat.onnx", options=options or QatOptions(), holdout=holdout,
                              write_cpu=False, threads=threads, progress=progress, log=log)
        return FinetuneResult(Path(result.fp32_path), {QuantTarget.TENSORRT: Path(result.trt_path)}, dict(result.report))

    return hook


def default_finetune(mode: str, data: str, seed: int = 0, *, progress: bool = True,
                     log: Callable[[str], None] = print) -> Finetune | None:
    """The hook ``calibrate`` uses for ``--qat MODE``: ``off`` → None; ``auto`` → QAT on synthetic labelled faces at the
    model's face size when the calibration data is synthetic (a folder of images has no labels), else None;
    any other value is a labelled ``--data`` spec to fine-tune on."""
    from ran_edge.artifact import read_sidecar

    if mode == "off":
        return None
    if mode == "auto":
        if not data.strip().startswith("synthetic"):
            return None

        def auto(fp32: Path, ptq: Mapping[QuantTarget, Path], stats: CalibrationStats, workdir: Path) -> FinetuneResult:
            size = read_sidecar(fp32).preprocess.face_size  # read when needed: the model is checked first
            return qat_finetune(f"synthetic:size={size},seed={seed + 2}", progress=progress, log=log)(fp32, ptq, stats, workdir)

        return auto
    return qat_finetune(mode, progress=progress, log=log)
