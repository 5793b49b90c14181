"""Activation ranges for INT8: one calibration pass, any number of range settings, in ONNX Runtime's format.

:func:`collect_stats` runs the streaming calibration (:mod:`ran_edge.quantize.histograms`) once and returns
:class:`CalibrationStats` for one :class:`RangeSetting`; :meth:`CalibrationStats.with_setting` re-derives
the ranges for another setting from the same histograms (no second pass). ``tensors_data`` is ONNX
Runtime's ``TensorsData``, saved as its JSON calibration cache and read back by ``quantize_static``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from ran_edge._lazy import require
from ran_edge.quantize.histograms import (DEFAULT_MAX_CHUNK_BYTES, CalibrationHistograms, CalibrationMethod,
                                          collect_histograms)

#: Default method and percentile. Chosen by measurement (calibration/README.md): the 99.99th percentile of |x|
#: keeps every synthetic suite within the targets more often than minmax or entropy; the search
#: (:mod:`ran_edge.quantize.search`) still measures the alternatives on held-out faces.
DEFAULT_METHOD = CalibrationMethod.PERCENTILE
DEFAULT_PERCENTILE = 99.99


@dataclass(frozen=True)
class RangeSetting:
    """How thresholds are derived from the histograms: a method and (for ``percentile``) the percentile."""

    method: CalibrationMethod = DEFAULT_METHOD
    percentile: float = DEFAULT_PERCENTILE
    #: 7-bit weights: no 16-bit saturation in ONNX Runtime's fused U8S8 kernels on x86 CPUs without VNNI
    #: (their ``VPMADDUBSW`` pair sums overflow int16 with full 8-bit weights); CPU flavour only.
    reduce_range: bool = False

    @property
    def label(self) -> str:
        base = f"percentile {self.percentile:g}" if self.method is CalibrationMethod.PERCENTILE else self.method.value
        return base + (" + 7-bit weights" if self.reduce_range else "")

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method.value, **({"percentile": self.percentile} if self.method is CalibrationMethod.PERCENTILE else {}),
                "reduce_range": self.reduce_range}


@dataclass(frozen=True)
class CalibrationStats:
    """Per-tensor activation ranges ``{tensor: (low, high)}`` of one setting, with the histograms they came from."""

    setting: RangeSetting
    ranges: Mapping[str, tuple[float, float]]
    histograms: CalibrationHistograms

    @property
    def method(self) -> CalibrationMethod:
        return self.setting.method

    @property
    def batches(self) -> int:
        return self.histograms.batches

    def amax(self, name: str) -> float:
        low, high = self.ranges[name]
        return max(abs(low), abs(high))

    def with_setting(self, setting: RangeSetting) -> "CalibrationStats":
        """The same calibration pass, ranges derived by ``setting``."""
        return replace(self, setting=setting, ranges=self.histograms.ranges(setting.method, setting.percentile))

    @property
    def tensors_data(self) -> Any:
        """ONNX Runtime's ``TensorsData`` (as a MinMax result: the ranges are final)."""
        q = require("onnxruntime.quantization", "INT8 calibration")
        data = {name: q.calibrate.TensorData(lowest=np.float32(lo), highest=np.float32(hi)) for name, (lo, hi) in self.ranges.items()}
        return q.calibrate.TensorsData(q.CalibrationMethod.MinMax, data)

    def save_ort_cache(self, path: str | Path) -> Path:
        """Write ONNX Runtime's JSON calibration cache (read by ``quantize_static(calibration_cache_path=)``)."""
        q = require("onnxruntime.quantization", "INT8 calibration")
        q.calibrate.save_tensors_data(self.tensors_data, Path(path))
        return Path(path)


def collect_stats(onnx_path: str | Path, reader: Iterable[Mapping[str, np.ndarray]],
                  setting: RangeSetting | CalibrationMethod | str = DEFAULT_METHOD, *, rows_per_face: int = 1,
                  max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES, progress: bool = True,
                  log: Callable[[str], None] = print) -> CalibrationStats:
    """Run the FP32 model over ``reader`` once (bounded memory) and derive ranges by ``setting``.

    Raises:
        RanEdgeError: the reader gave no feeds.
    """
    if not isinstance(setting, RangeSetting):
        setting = RangeSetting(CalibrationMethod(setting))
    hists = collect_histograms(onnx_path, reader, rows_per_face=rows_per_face, max_chunk_bytes=max_chunk_bytes,
                               progress=progress)
    log(f"calibrated {len(hists.tensors)} tensors on {hists.faces} faces in {hists.batches} batches "
        f"(largest chunk of activations {hists.peak_chunk_bytes / 2**20:.0f} MiB)")
    return CalibrationStats(setting, hists.ranges(setting.method, setting.percentile), hists)
