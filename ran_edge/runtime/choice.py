"""What :func:`ran_edge.runtime.load` was asked (:class:`LoadRequest`) and what it chose (:class:`LoadChoice`).

Plain data shared by the runtime and the on-demand preparation (:mod:`ran_edge.autoload`, reached through
:mod:`ran_edge.runtime.seam`), so that neither imports the other's logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from ran_edge.artifact import Backend, InputKind, Precision

Log = Callable[[str], None]

#: the spelling of the automatic backend choice
AUTO = "auto"


@dataclass(frozen=True)
class LoadRequest:
    """A load that needs preparing: a checkpoint, another precision than the file's, or ``backend="auto"``.

    Attributes:
        source: the file given (``.pt``, ``.onnx``, ``.engine``, ``.ts``).
        backend: ``auto``, or one of :data:`ran_edge.artifact.RUNTIME_BACKENDS`.
        precision: ``fp32``/``fp16``/``int8``; None: the source's own.
        device: CUDA device index.
        cache_dir: the build cache folder (None: ``$RAN_EDGE_CACHE_DIR``, else the user's cache folder).
        calib_data: INT8 calibration faces (``synthetic`` or a folder) when the source is not a QDQ INT8 ONNX.
        input_kind: the graph input a checkpoint is exported with.
        trust_checkpoint: allow a checkpoint that needs arbitrary unpickling.
        allow_accuracy_loss: keep an INT8 model that misses the calibration path's quality gate (recorded).
        log: where progress and the choice go.
    """

    source: Path
    backend: str = AUTO
    precision: Optional[Precision] = None
    device: int = 0
    cache_dir: Optional[Path] = None
    calib_data: Optional[str] = None
    input_kind: InputKind = InputKind.FACES
    trust_checkpoint: bool = False
    allow_accuracy_loss: bool = False
    log: Log = print


@dataclass(frozen=True)
class LoadChoice:
    """What a load ran and why: ``describe()`` of a :class:`~ran_edge.runtime.Classifier`, and its one log line.

    Attributes:
        source: the file given.
        artifact: the file the runner opened (the source itself, or a cache entry).
        backend: the runner's backend; ``detail`` adds e.g. the ONNX Runtime provider.
        precision: the artifact's precision.
        why: how the backend was chosen (``from the suffix``, ``as asked``, or the auto walk with the reasons
            each faster backend was passed over).
        cache: ``built in N s`` / ``from the cache`` / empty when the source ran as it is.
    """

    source: str
    artifact: str
    backend: Backend
    precision: Precision
    why: str
    detail: str = ""
    cache: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        """The one log line: ``load model.pt: onnxruntime (CPUExecutionProvider), fp32; auto: ...; cache: ...``."""
        runner = self.backend.short + (f" ({self.detail})" if self.detail else "")
        text = f"load {self.source}: {runner}, {self.precision.value}; {self.why}"
        if self.cache:
            text += f"; {self.cache}: {self.artifact}"
        return text

    def __str__(self) -> str:
        return self.line()


@dataclass(frozen=True)
class Prepared:
    """The artifact to run, with the backend and runner options chosen for it."""

    artifact: Path
    backend: Backend
    options: Mapping[str, Any]
    choice: LoadChoice
