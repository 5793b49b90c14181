"""TensorRT calibration cache (text) from our calibration statistics, for TensorRT 8.x–10.x implicit INT8 and DLA.

Format, as TensorRT's ``IInt8Calibrator::writeCalibrationCache`` writes it and ``readCalibrationCache``
reads it: a header line ``TRT-<version code>-<algorithm>`` (e.g. ``TRT-8601-EntropyCalibration2`` for
TensorRT 8.6.1), then one line per tensor ``<tensor name>: <hex>``, where ``<hex>`` is the IEEE-754
float32 bit pattern of the tensor's scale (``amax / 127``) written as a big-endian hex word
(``1.0 → 3f800000``). Tensor names are the ONNX tensor names, which the ONNX parser keeps.

TensorRT matches the header's algorithm against the calibrator that reads the cache, so use the
calibrator the header names (``--calib`` in trtexec reads any). The version code is
``major*1000 + minor*100 + patch`` before TensorRT 10 and ``major*10000 + minor*100 + patch`` from 10.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Mapping

from ran_edge.artifact import atomic_output
from ran_edge.errors import RanEdgeError
from ran_edge.quantize.ranges import CalibrationMethod, CalibrationStats

#: Calibration algorithm names TensorRT writes in the header, for our methods.
ALGORITHM: Mapping[CalibrationMethod, str] = {
    CalibrationMethod.ENTROPY: "EntropyCalibration2",
    CalibrationMethod.MINMAX: "MinMaxCalibration",
    CalibrationMethod.PERCENTILE: "LegacyCalibration",  # TensorRT's percentile ("quantile") calibrator
}
DEFAULT_TRT_VERSION = "8.6.1"


def version_code(version: str) -> int:
    """``"8.6.1"`` → 8601, ``"10.3.0"`` → 100300."""
    try:
        parts = [int(p) for p in version.split(".")] + [0, 0]
    except ValueError:
        raise RanEdgeError(f"TensorRT version {version!r} is invalid; expected e.g. 8.6.1 or 10.3.0") from None
    major, minor, patch = parts[:3]
    return major * (10000 if major >= 10 else 1000) + minor * 100 + patch


def float_hex(value: float) -> str:
    """Big-endian hex of the float32 bit pattern (``1.0`` → ``3f800000``)."""
    return struct.pack(">f", value).hex()


def hex_float(text: str) -> float:
    return struct.unpack(">f", bytes.fromhex(text.strip()))[0]


def cache_text(stats: CalibrationStats, trt_version: str = DEFAULT_TRT_VERSION) -> str:
    """The cache file's text: header + one ``name: hex(scale)`` line per calibrated tensor (sorted)."""
    lines = [f"TRT-{version_code(trt_version)}-{ALGORITHM[stats.method]}"]
    for name in sorted(stats.ranges):
        scale = stats.amax(name) / 127.0
        lines.append(f"{name}: {float_hex(scale if scale > 0 else 1.0 / 127.0)}")
    return "\n".join(lines) + "\n"


def write_trt_cache(stats: CalibrationStats, path: str | Path, trt_version: str = DEFAULT_TRT_VERSION) -> Path:
    """Write the TensorRT calibration cache atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(cache_text(stats, trt_version))
    return Path(path)


def read_trt_cache(path: str | Path) -> tuple[str, dict[str, float]]:
    """Parse a cache → ``(header, {tensor: scale})``."""
    lines = Path(path).read_text().splitlines()
    if not lines or not lines[0].startswith("TRT-"):
        raise RanEdgeError(f"{path}: not a TensorRT calibration cache (first line should be TRT-<version>-<algorithm>)")
    scales = {}
    for line in lines[1:]:
        name, _, value = line.rpartition(":")
        scales[name] = hex_float(value)
    return lines[0], scales
