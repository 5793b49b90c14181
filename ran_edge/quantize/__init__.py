"""INT8 quantization of exported RAN ONNX models (needs the 'quantize' extra: onnx, onnxruntime).

Flow: ``open_calibration_data`` → ``DatasetReader`` (feeds by the one preprocessing) → ``collect_stats``
(one streaming calibration pass, bounded memory) → ``search_int8`` (all-INT8 first, judged by the gate of
``quantize.gate`` on held-out faces; layers go back to FP32 only when it fails) → ``quantize_int8(..., target=tensorrt|cpu, stats=...)`` for each flavour →
``write_trt_cache`` (TensorRT implicit-INT8 cache) → ``write_manifest`` (``calibration/*.json``).
``calibrate_onnx`` does all of it (what ``ran-edge calibrate`` runs).
"""

from ran_edge.quantize.gate import DEFAULT_TARGET, QualityTarget
from ran_edge.quantize.calibrate import CalibrationRun, FinetuneResult, Int8ShareError, OnMiss, calibrate_onnx
from ran_edge.quantize.qdq import DEFAULT_FP32_SCOPE, Fp32Scope, QuantResult, QuantTarget, quantize_int8
from ran_edge.data.feeds import ArrayReader, CalibrationReader, DatasetReader, open_calibration_data
from ran_edge.quantize.ranges import CalibrationMethod, CalibrationStats, RangeSetting, collect_stats
from ran_edge.quantize.trt_cache import read_trt_cache, write_trt_cache

__all__ = ["DEFAULT_TARGET", "FinetuneResult", "Int8ShareError", "OnMiss", "QualityTarget", "RangeSetting", "ArrayReader", "CalibrationMethod", "CalibrationReader", "CalibrationRun", "CalibrationStats", "DEFAULT_FP32_SCOPE",
           "DatasetReader", "Fp32Scope", "QuantResult", "QuantTarget", "calibrate_onnx", "collect_stats",
           "open_calibration_data", "quantize_int8", "read_trt_cache", "write_trt_cache"]
