"""INT8 quantization of exported RAN ONNX models (needs the 'quantize' extra: onnx, onnxruntime).

Flow: ``open_calibration_data`` → ``DatasetReader`` (feeds by the one preprocessing) → ``collect_stats``
(one streaming calibration pass, bounded memory) → ``search_int8`` (range setting and mixed precision chosen
on held-out faces) → ``quantize_int8(..., target=tensorrt|cpu, stats=...)`` for each flavour →
``write_trt_cache`` (TensorRT implicit-INT8 cache) → ``write_manifest`` (``calibration/*.json``).
``calibrate_onnx`` does all of it (what ``ran-edge calibrate`` runs).
"""

from ran_edge.quantize.accuracy import DEFAULT_TARGET, QualityTarget
from ran_edge.quantize.calibrate import CalibrationRun, OnMiss, calibrate_onnx
from ran_edge.quantize.qdq import DEFAULT_FP32_SCOPE, Fp32Scope, QuantResult, QuantTarget, quantize_int8
from ran_edge.data.feeds import ArrayReader, CalibrationReader, DatasetReader, open_calibration_data
from ran_edge.quantize.ranges import CalibrationMethod, CalibrationStats, RangeSetting, collect_stats
from ran_edge.quantize.trt_cache import read_trt_cache, write_trt_cache

__all__ = ["DEFAULT_TARGET", "OnMiss", "QualityTarget", "RangeSetting", "ArrayReader", "CalibrationMethod", "CalibrationReader", "CalibrationRun", "CalibrationStats", "DEFAULT_FP32_SCOPE",
           "DatasetReader", "Fp32Scope", "QuantResult", "QuantTarget", "calibrate_onnx", "collect_stats",
           "open_calibration_data", "quantize_int8", "read_trt_cache", "write_trt_cache"]
