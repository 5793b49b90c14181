"""Typed options of an engine build (what the user asked for), no TensorRT import."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Optional

from ran_edge.artifact import Precision
from ran_edge.errors import RanEdgeError


class CalibKind(str, enum.Enum):
    """Where INT8 calibration data comes from."""

    NONE = "none"
    SYNTHETIC = "synthetic"  # generated faces (smoke tests; accuracy is not meaningful)
    DIRECTORY = "directory"  # a folder of aligned face images
    CACHE = "cache"  # an existing TensorRT calibration cache (implicit calibrator only)


@dataclass(frozen=True)
class CalibSource:
    kind: CalibKind = CalibKind.NONE
    path: Optional[str] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", CalibKind(self.kind))
        if self.kind in (CalibKind.DIRECTORY, CalibKind.CACHE) and not self.path:
            raise RanEdgeError(f"calibration source '{self.kind.value}' needs a path")

    @classmethod
    def from_cli(cls, calib_data: Optional[str], calib_cache: Optional[str]) -> "CalibSource":
        """``--calib-data synthetic|DIR`` / ``--calib-cache FILE`` (mutually exclusive)."""
        if calib_data and calib_cache:
            raise RanEdgeError("got both --calib-data and --calib-cache, expected one of them")
        if calib_cache:
            return cls(CalibKind.CACHE, calib_cache)
        if calib_data == "synthetic":
            return cls(CalibKind.SYNTHETIC)
        if calib_data:
            return cls(CalibKind.DIRECTORY, calib_data)
        return cls()

    def describe(self) -> str:
        return {CalibKind.NONE: "none", CalibKind.SYNTHETIC: "synthetic faces (smoke test only)",
                CalibKind.DIRECTORY: f"images in {self.path}", CalibKind.CACHE: f"calibration cache {self.path}"}[self.kind]


class Int8Method(str, enum.Enum):
    """How INT8 is obtained: ``auto`` (QDQ, or the calibrator for DLA before TensorRT 11), ``qdq``
    (explicit quantization from a QDQ ONNX) or ``calibrator`` (implicit IInt8EntropyCalibrator2)."""

    AUTO = "auto"
    QDQ = "qdq"
    CALIBRATOR = "calibrator"


@dataclass(frozen=True)
class BatchProfile:
    """Optimisation-profile batch sizes, in faces (a ``regions`` input gets ``x K``)."""

    min: int = 1
    opt: int = 8
    max: int = 32

    def __post_init__(self) -> None:
        if not 1 <= self.min <= self.opt <= self.max:
            raise RanEdgeError(f"--batch: got {self.min},{self.opt},{self.max}, expected 1 <= MIN <= OPT <= MAX")

    @classmethod
    def parse(cls, text: str) -> "BatchProfile":
        """``"1,8,32"`` → (1, 8, 32); ``"4"`` → (4, 4, 4)."""
        try:
            vals = [int(v) for v in str(text).split(",")]
        except ValueError:
            vals = []
        if len(vals) == 1:
            vals = vals * 3
        if len(vals) != 3:
            raise RanEdgeError(f"--batch: got '{text}', expected MIN,OPT,MAX (e.g. 1,8,32) or one size")
        return cls(*vals)

    @property
    def is_static(self) -> bool:
        return self.min == self.opt == self.max


@dataclass(frozen=True)
class BuildRequest:
    """What ``ran-edge build-engine`` was asked to build.

    Attributes:
        precision: requested precision.
        batch: optimisation profile, in faces.
        calib: INT8 calibration source (for FP16: the faces of the FP16 range analysis).
        int8_method: QDQ vs implicit calibrator (see :class:`Int8Method`).
        workspace_mib: builder workspace limit (None: TensorRT's default).
        timing_cache: path loaded if present and saved after the build.
        dla_core: build for this DLA core (Xavier/Orin); None for the GPU.
        allow_gpu_fallback: with DLA, let unsupported layers run on the GPU.
        version_compatible: build a version-compatible engine (8.6+).
        allow_fallback: build a lower precision if the GPU has no fast one (recorded).
    """

    precision: Precision = Precision.FP32
    batch: BatchProfile = field(default_factory=BatchProfile)
    calib: CalibSource = field(default_factory=CalibSource)
    int8_method: Int8Method = Int8Method.AUTO
    workspace_mib: Optional[int] = None
    timing_cache: Optional[str] = None
    dla_core: Optional[int] = None
    allow_gpu_fallback: bool = False
    version_compatible: bool = False
    allow_fallback: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "precision", Precision(self.precision))
        object.__setattr__(self, "int8_method", Int8Method(self.int8_method))
        if self.workspace_mib is not None and self.workspace_mib < 1:
            raise RanEdgeError(f"--workspace: got {self.workspace_mib} MiB, expected >= 1")
        if self.dla_core is not None and self.dla_core < 0:
            raise RanEdgeError(f"--dla-core: got {self.dla_core}, expected a core index >= 0")
        if self.allow_gpu_fallback and self.dla_core is None:
            raise RanEdgeError("--allow-gpu-fallback only applies to DLA builds; add --dla-core N")
        if self.precision is not Precision.INT8 and self.calib.kind is CalibKind.CACHE:
            raise RanEdgeError(f"--calib-cache applies to --precision int8, got --precision {self.precision.value}")
        if self.precision is Precision.FP32 and self.calib.kind is not CalibKind.NONE:
            raise RanEdgeError("--calib-data applies to --precision int8 (calibration) and fp16 (FP16 analysis), got fp32")
