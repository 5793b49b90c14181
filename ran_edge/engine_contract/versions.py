"""TensorRT version facts, Jetson detection and fast-precision tables (pure, no TensorRT import).

What changes between the TensorRT versions ran-edge targets:

=========  ==================  =========================================================
TensorRT   Where               What ran-edge does
=========  ==================  =========================================================
8.0 / 8.2  JetPack 4.6 (Nano)  no Python build/runtime (needs the 8.5 name-based API):
                               ``--emit-trtexec`` prints the trtexec command instead
8.5        JetPack 5.1         FP16/INT8 builder flags, implicit calibrator, QDQ
8.6        JetPack 6.0         + version-compatible engines
10.x       JetPack 6.1/6.2,    + strongly typed networks (used for FP16/QDQ ONNX inputs)
           desktop
11.x       desktop             strongly typed only: no FP16/INT8 flags, no implicit
                               calibrator; FP16 from an FP16 ONNX, INT8 from a QDQ ONNX
=========  ==================  =========================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import FrozenSet, Optional, Tuple

from ran_edge.artifact import Precision
from ran_edge.errors import RanEdgeError


@dataclass(frozen=True, order=True)
class TrtVersion:
    """A TensorRT version ``major.minor.patch`` (the build number is ignored)."""

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> "TrtVersion":
        """``"10.3.0.30"`` → ``TrtVersion(10, 3, 0)``; ``"11"`` → ``TrtVersion(11, 0, 0)``."""
        m = re.match(r"^\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?", str(text))
        if not m:
            raise RanEdgeError(f"TensorRT version: got '{text}', expected MAJOR.MINOR[.PATCH] such as 10.3")
        return cls(int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}" if self.patch else f"{self.major}.{self.minor}"

    @property
    def has_python_runtime(self) -> bool:
        """The name-based tensor API (``num_io_tensors``, ``set_input_shape``, ``execute_async_v3``): 8.5+."""
        return (self.major, self.minor) >= (8, 5)

    @property
    def strongly_typed_only(self) -> bool:
        """11.x builds strongly typed networks only."""
        return self.major >= 11

    @property
    def has_strongly_typed(self) -> bool:
        """``NetworkDefinitionCreationFlag.STRONGLY_TYPED`` (used by ran-edge from 10.0)."""
        return self.major >= 10

    @property
    def has_precision_flags(self) -> bool:
        """``BuilderFlag.FP16`` / ``BuilderFlag.INT8`` exist (before 11)."""
        return self.major < 11

    @property
    def has_implicit_calibrator(self) -> bool:
        """``IInt8EntropyCalibrator2`` and friends (deprecated from 10.1, removed in 11)."""
        return self.major < 11

    @property
    def has_version_compatible(self) -> bool:
        """``BuilderFlag.VERSION_COMPATIBLE``: 8.6+."""
        return (self.major, self.minor) >= (8, 6)


#: The versions the dry-run plan table covers, with where they ship.
TARGET_VERSIONS: Tuple[Tuple[TrtVersion, str], ...] = (
    (TrtVersion(8, 2), "JetPack 4.6 (Jetson Nano): trtexec only"),
    (TrtVersion(8, 5), "JetPack 5.1"),
    (TrtVersion(8, 6), "JetPack 6.0"),
    (TrtVersion(10, 3), "JetPack 6.1/6.2, desktop 10.x"),
    (TrtVersion(11, 0), "desktop 11.x (strongly typed only)"),
)

# L4T release (major, minor) → JetPack version (NVIDIA's JetPack archive).
_JETPACK_BY_L4T = {
    (32, 6): "4.6", (32, 7): "4.6.x",
    (35, 1): "5.0.2", (35, 2): "5.1", (35, 3): "5.1.1", (35, 4): "5.1.2", (35, 5): "5.1.3", (35, 6): "5.1.4",
    (36, 2): "6.0 DP", (36, 3): "6.0", (36, 4): "6.1/6.2",
}


def jetpack_from_l4t(l4t: str) -> Optional[str]:
    """Map an L4T release such as ``"35.3.1"`` to its JetPack version (``"5.1.1"``); None if unknown."""
    m = re.match(r"^\s*R?(\d+)\.(\d+)", l4t)
    if not m:
        return None
    return _JETPACK_BY_L4T.get((int(m.group(1)), int(m.group(2))))


def parse_nv_tegra_release(text: str) -> Optional[str]:
    """``"# R35 (release), REVISION: 3.1, GCID: ..."`` → ``"35.3.1"``; None if not that format."""
    m = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", text)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def detect_jetpack(path: str = "/etc/nv_tegra_release") -> Optional[str]:
    """JetPack version on a Jetson (from ``/etc/nv_tegra_release``), None elsewhere."""
    try:
        l4t = parse_nv_tegra_release(Path(path).read_text())
    except OSError:
        return None
    if l4t is None:
        return None
    jp = jetpack_from_l4t(l4t)
    return f"{jp} (L4T {l4t})" if jp else f"unknown (L4T {l4t})"


def fast_precisions(compute_capability: Tuple[int, int]) -> FrozenSet[Precision]:
    """Precisions with fast hardware support on a GPU of this compute capability.

    FP16: 5.3 (Nano/TX1), 6.0 (P100), 6.2 (TX2) and 7.0+; consumer Pascal 6.1 runs FP16 slowly.
    INT8 (DP4A/tensor cores): 6.1 and 7.0+ (Xavier 7.2, Orin 8.7 included).
    """
    cc = tuple(compute_capability)
    fast = {Precision.FP32}
    if cc in ((5, 3), (6, 0), (6, 2)) or cc >= (7, 0):
        fast.add(Precision.FP16)
    if cc == (6, 1) or cc >= (7, 0):
        fast.add(Precision.INT8)
    return frozenset(fast)


def resolve_built_precision(target: Precision, fast: FrozenSet[Precision], allow_fallback: bool,
                            strongly_typed: bool, gpu: str = "this GPU") -> Tuple[Precision, str]:
    """Decide what will actually be built when the GPU lacks fast ``target`` precision.

    Never downgrades silently: without ``allow_fallback`` it raises; with it, it returns the best
    fast precision below ``target`` and a note, which the caller records in the sidecar.

    Returns:
        ``(precision to build, note)``; the note is empty when nothing changed.
    """
    target = Precision(target)
    if target in fast:
        return target, ""
    if strongly_typed:
        raise RanEdgeError(
            f"{gpu} has no fast {target.value.upper()}, and a strongly typed network takes its precision from the ONNX; "
            "build from the FP32 ONNX with --precision fp32 instead")
    order = [Precision.INT8, Precision.FP16, Precision.FP32]
    below = [p for p in order[order.index(target) + 1:] if p in fast]
    if not allow_fallback:
        raise RanEdgeError(
            f"{gpu} has no fast {target.value.upper()} support; pass --allow-fallback to build "
            f"{below[0].value} instead (recorded in the sidecar), or build on a GPU that has it")
    return below[0], f"{target.value} requested, {gpu} has no fast {target.value}; built {below[0].value} (--allow-fallback)"
