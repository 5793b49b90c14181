"""Options of a bench run, as frozen, validated values (the CLI and ``ran_edge.demo_run`` build one)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ran_edge.artifact import Backend, RegionPath  # noqa: F401  (the one enums; re-exported for bench callers)
from ran_edge.data.suites import CHALLENGE_SUITES
from ran_edge.errors import RanEdgeError


class Schedule(str, enum.Enum):
    """Order of the timed calls.

    ``interleaved``: configurations take turns, one call each per round, so drifting background load (a
    shared machine) hits all alike and the ratios stay fair; peak RSS is the process peak, no energy.
    ``sequential``: each configuration is timed alone (needed for per-configuration power and energy).
    """

    INTERLEAVED = "interleaved"
    SEQUENTIAL = "sequential"


class Measure(str, enum.Enum):
    """What to measure."""

    ALL = "all"
    SPEED = "speed"
    ACCURACY = "accuracy"

    @property
    def speed(self) -> bool:
        return self in (Measure.ALL, Measure.SPEED)

    @property
    def accuracy(self) -> bool:
        return self in (Measure.ALL, Measure.ACCURACY)


#: Suites known for synthetic data (defined in :mod:`ran_edge.data.suites`); real datasets use ``clean`` plus
#: the official challenge lists.
SUITES: tuple[str, ...] = CHALLENGE_SUITES
#: Pseudo-artifacts: random-init RANs built in memory (latency only; accuracy is meaningless).
RANDOM_ARTIFACTS: tuple[str, ...] = ("random:full", "random:tiny")


def _choices(text: str | Sequence[str], enum_type: type, what: str) -> tuple:
    items = [t.strip() for t in (text.split(",") if isinstance(text, str) else text) if str(t).strip()]
    out = []
    for item in items:
        try:
            out.append(enum_type(item))
        except ValueError:
            allowed = ", ".join(e.value for e in enum_type)
            raise RanEdgeError(f"{what}: got {item!r}, expected one of {allowed}") from None
    if not out:
        raise RanEdgeError(f"{what}: empty list")
    return tuple(dict.fromkeys(out))


def parse_backends(text: str | Sequence[str]) -> tuple[Backend, ...]:
    """``"torch,onnxruntime"`` → (Backend.TORCH, Backend.ONNXRUNTIME)."""
    return _choices(text, Backend, "--backend")


def parse_paths(text: str | Sequence[str]) -> tuple[RegionPath, ...]:
    """``"per-region,region-batch"`` → RegionPath values."""
    return _choices(text, RegionPath, "--paths")


def parse_batches(text: str | Sequence[int]) -> tuple[int, ...]:
    """``"1,2,4"`` → (1, 2, 4); every batch must be a positive integer."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for item in items:
        s = str(item).strip()
        if not s:
            continue
        if not s.isdigit() or int(s) < 1:
            raise RanEdgeError(f"--batch: got {s!r}, expected positive integers like 1,2,4,8")
        out.append(int(s))
    if not out:
        raise RanEdgeError("--batch: empty list, expected positive integers like 1,2,4,8")
    return tuple(dict.fromkeys(out))


def parse_suites(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"clean,pose30"`` → ("clean", "pose30"); unknown names are rejected."""
    items = [t.strip() for t in (text.split(",") if isinstance(text, str) else text) if str(t).strip()]
    bad = [s for s in items if s not in SUITES]
    if bad:
        raise RanEdgeError(f"--suites: got {bad[0]!r}, expected some of {', '.join(SUITES)}")
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True)
class BenchConfig:
    """One bench run.

    Attributes:
        artifacts: files (``.onnx``, ``.ts``, ``.engine``, ``.pt`` checkpoint) or ``random:full`` /
            ``random:tiny`` (random-init RAN for latency: full = ResNet-18, 224, 6 regions).
        out: report folder (bench.json, bench.md, PNGs).
        backends: runners; ``auto`` = the file's own. For a ``.pt`` checkpoint, ``torchscript`` and
            ``onnxruntime`` export it first (into ``out/artifacts``), so peers run in one bench.
        batches: batch sizes (faces per inference).
        warmup: untimed iterations before timing each configuration.
        iters: timed iterations per configuration; ``seconds`` instead times for that long (>= 3 iters).
        threads: intra-op threads for ONNX Runtime / torch (None = library default).
        data: ``--data`` spec for accuracy (``synthetic...`` or a dataset).
        suites: accuracy suites (clean, occlusion, pose30, pose45).
        lists_dir: folder holding the official challenge lists (for real datasets).
        reference: artifact to compare predictions against (default: the FP32 source named in the sidecar).
        paths: region paths to compare; None = each artifact's own path.
        measure: speed, accuracy or both.
        schedule: interleaved (fair ratios on a busy machine) or sequential (per-configuration energy).
        max_faces: cap on faces per accuracy suite (None = all).
        plots: write PNG plots.
        progress: show a tqdm bar.
        device: GPU index for TensorRT / CUDA torch.
        torch_device: ``cpu`` or ``cuda`` for ``.pt`` / random artifacts run by torch.
        trust_checkpoint: allow ``.pt`` files that need arbitrary unpickling (only for files you trust).
    """

    artifacts: tuple[str, ...]
    out: Path
    backends: tuple[Backend, ...] = (Backend.AUTO,)
    batches: tuple[int, ...] = (1, 2, 4, 8, 16)
    warmup: int = 5
    iters: int | None = 50
    seconds: float | None = None
    threads: int | None = None
    data: str = "synthetic"
    suites: tuple[str, ...] = SUITES
    lists_dir: Path | None = None
    reference: str | None = None
    paths: tuple[RegionPath, ...] | None = None
    measure: Measure = Measure.ALL
    schedule: Schedule = Schedule.INTERLEAVED
    max_faces: int | None = None
    plots: bool = True
    progress: bool = True
    device: int = 0
    torch_device: str = "cpu"
    trust_checkpoint: bool = False
    argv: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "artifacts", tuple(str(a) for a in self.artifacts))
        object.__setattr__(self, "out", Path(self.out))
        object.__setattr__(self, "backends", parse_backends(self.backends))
        object.__setattr__(self, "batches", parse_batches(self.batches))
        object.__setattr__(self, "suites", parse_suites(self.suites) if self.suites else ())
        object.__setattr__(self, "measure", Measure(self.measure))
        object.__setattr__(self, "schedule", Schedule(self.schedule))
        if self.paths is not None:
            object.__setattr__(self, "paths", parse_paths(self.paths))
        if not self.artifacts:
            raise RanEdgeError("no artifact given; expected one or more .onnx/.ts/.engine/.pt files or random:full")
        if self.warmup < 0:
            raise RanEdgeError(f"--warmup: got {self.warmup}, expected >= 0")
        if self.iters is not None and self.iters < 1:
            raise RanEdgeError(f"--iters: got {self.iters}, expected >= 1")
        if self.seconds is not None and self.seconds <= 0:
            raise RanEdgeError(f"--seconds: got {self.seconds}, expected > 0")
        if self.iters is None and self.seconds is None:
            raise RanEdgeError("give --iters N or --seconds S")
        if self.threads is not None and self.threads < 1:
            raise RanEdgeError(f"--threads: got {self.threads}, expected >= 1")
        if self.max_faces is not None and self.max_faces < 1:
            raise RanEdgeError(f"--max-faces: got {self.max_faces}, expected >= 1")
        if self.torch_device not in ("cpu", "cuda"):
            raise RanEdgeError(f"--torch-device: got {self.torch_device!r}, expected cpu or cuda")

    def to_dict(self) -> dict:
        return {"artifacts": list(self.artifacts), "out": str(self.out), "backends": [b.value for b in self.backends],
                "batches": list(self.batches), "warmup": self.warmup, "iters": self.iters, "seconds": self.seconds,
                "threads": self.threads, "data": self.data, "suites": list(self.suites),
                "lists_dir": str(self.lists_dir) if self.lists_dir else None, "reference": self.reference,
                "paths": [p.value for p in self.paths] if self.paths else None, "measure": self.measure.value, "schedule": self.schedule.value,
                "max_faces": self.max_faces, "device": self.device, "torch_device": self.torch_device}
