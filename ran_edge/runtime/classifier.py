"""``load(path) -> Classifier``: one interface over engines, ONNX and TorchScript artifacts.

Preprocessing comes from the artifact's sidecar and goes through the one implementation in
:mod:`ran_edge.preprocess` (``prepare_faces`` for a ``faces`` input; for a ``regions`` input the
aligned face is treated as a frame whose box is the whole image, through the fused region-batch
kernel of :mod:`ran_edge.kernels`, or its numpy reference when the library is not built).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ran_edge.artifact import (KIND_BY_SUFFIX, RUNTIME_BACKENDS, ArtifactKind, ArtifactMeta, Backend, InputKind,
                               artifact_kind)
from ran_edge.artifact_check import validate_artifact
from ran_edge.errors import RanEdgeError
from ran_edge.model_input import model_input
from ran_edge.runtime.base import InputError, Runner


#: sidecar ``format`` each backend accepts
_FORMATS = {Backend.TRT: ("engine",), Backend.ORT: ("onnx",), Backend.TORCHSCRIPT: ("torchscript",)}


@dataclass(frozen=True)
class Prediction:
    """One face: top class ``label`` (index ``index``), ``probs [C]`` (softmax), ``region_weights [K]``
    (the model's fused attention weights; which region drove the decision) and raw ``logits [C]``."""

    label: str
    index: int
    probs: np.ndarray
    region_weights: np.ndarray
    logits: np.ndarray


def backend_for(path: Union[str, Path], backend: Union[str, Backend, None] = None) -> Backend:
    """The backend for ``path``: ``backend`` if given, else from the suffix."""
    if backend is not None:
        try:
            chosen = Backend(backend)
        except ValueError:
            chosen = None
        if chosen not in RUNTIME_BACKENDS:
            raise RanEdgeError(f"backend: got '{backend}', expected one of {[b.short for b in RUNTIME_BACKENDS]}")
        return chosen
    kind = artifact_kind(path)
    if kind is ArtifactKind.CHECKPOINT:
        raise RanEdgeError(f"{path}: a checkpoint is not a runtime artifact; make one with 'ran-edge export' "
                           "(.onnx/.ts) or 'ran-edge build-engine' (.engine)")
    if kind is None:
        suffixes = sorted(s for s, k in KIND_BY_SUFFIX.items() if k is not ArtifactKind.CHECKPOINT)
        raise RanEdgeError(f"{path}: unknown artifact type '{Path(path).suffix.lower()}', expected one of {suffixes} "
                           "(or pass backend=)")
    return kind.backend


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, returned as float32."""
    z = logits.astype(np.float64)
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


class Classifier:
    """Expression classifier over an active :class:`Runner` and the artifact's metadata.

    Thread safety: ``predict`` keeps no state of its own; it is as thread-safe as the runner
    (ONNX Runtime and TorchScript: concurrent calls allowed; TensorRT: calls are serialised).
    """

    def __init__(self, runner: Runner, meta: ArtifactMeta):
        self.runner = runner
        self.meta = meta
        runner.activate()
        specs = runner.input_specs()
        if len(specs) != 1:
            raise RanEdgeError(f"expected a model with one input, got {[s.name for s in specs]}")
        self._input = specs[0]
        names = runner.output_names()
        if "logits" not in names or "region_weights" not in names:
            runner.deactivate()
            raise RanEdgeError(f"model outputs {list(names)}; expected logits and region_weights (a RAN exported by "
                               f"'ran-edge export'), not an unrelated model")
        self._logits, self._weights = "logits", "region_weights"

    @property
    def class_names(self) -> Tuple[str, ...]:
        return tuple(self.meta.class_names)

    @property
    def input_kind(self) -> InputKind:
        return InputKind(self.meta.input_kind)

    @property
    def last_inference_time(self) -> Optional[float]:
        """Seconds of the last runner call (model only, no preprocessing)."""
        return self.runner.last_inference_time

    def close(self) -> None:
        """Release the runner (GPU memory, sessions)."""
        self.runner.deactivate()

    def __enter__(self) -> "Classifier":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # inference -------------------------------------------------------------------------------------
    def preprocess(self, faces: Union[Sequence[np.ndarray], np.ndarray]) -> np.ndarray:
        """Aligned faces (uint8 BGR) → the model input, by the artifact's preprocessing."""
        return model_input(faces, self.meta)

    def infer(self, feed: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """Low level: the runner's ``{input: array}`` → ``{output: array}`` (checked)."""
        return self.runner.infer(feed)

    def predict(self, faces: Union[Sequence[np.ndarray], np.ndarray]) -> List[Prediction]:
        """Aligned face crops (list of ``HxWx3`` uint8 BGR, or an ``NxHxWx3`` array) → one prediction each."""
        if not isinstance(faces, (np.ndarray, list, tuple)):
            raise InputError(f"faces: got {type(faces).__name__}, expected a list of HxWx3 uint8 images or an NxHxWx3 array")
        return self._run(self.preprocess(faces))

    def predict_regions(self, region_batch: np.ndarray) -> List[Prediction]:
        """A region batch ``[N*K,3,R,R]`` float32 (from the fused kernel) → N predictions."""
        if self.input_kind is not InputKind.REGIONS:
            raise InputError("this artifact takes aligned faces (input kind 'faces'); use predict(), "
                             "or export with --input regions for the fused-kernel path")
        k = self.meta.preset.num_regions
        if not isinstance(region_batch, np.ndarray) or region_batch.ndim != 4 or region_batch.shape[0] % k:
            got = list(region_batch.shape) if isinstance(region_batch, np.ndarray) else type(region_batch).__name__
            raise InputError(f"region batch: got {got}, expected [N*{k},3,R,R] (K={k} regions per face)")
        return self._run(region_batch)

    def _run(self, x: np.ndarray) -> List[Prediction]:
        dtype = np.dtype(self._input.dtype)
        if x.dtype != dtype:
            if x.dtype != np.float32:
                raise InputError(f"input: got dtype {x.dtype}, expected float32")
            x = x.astype(dtype)
        out = self.runner.infer({self._input.name: np.ascontiguousarray(x)})
        logits = out[self._logits].astype(np.float32)
        weights = out[self._weights].astype(np.float32)
        names = self.class_names
        n = x.shape[0] // (self.meta.preset.num_regions if self.input_kind is InputKind.REGIONS else 1)
        if logits.ndim != 2 or logits.shape != (n, len(names)) or weights.shape[0] != n:
            raise RanEdgeError(f"model output logits {list(logits.shape)}, region_weights {list(weights.shape)}; expected "
                               f"[{n}, {len(names)}] for {len(names)} classes {list(names)} (does the sidecar belong to this model?)")
        probs = softmax(logits)
        top = probs.argmax(axis=1)
        return [Prediction(names[int(i)], int(i), probs[n], weights[n], logits[n]) for n, i in enumerate(top)]


def make_runner(path: Union[str, Path], meta: ArtifactMeta, backend: Backend, device: int = 0,
                **options: Any) -> Runner:
    """The runner for ``backend`` (not yet active). ``options``: ``providers``/``threads`` (ort),
    ``cuda_graph``/``cuda`` (trt), ``torch_device`` (torchscript)."""
    if meta.format not in _FORMATS[backend]:
        raise RanEdgeError(f"{path}: the sidecar says format '{meta.format}', backend '{backend.short}' "
                           f"expects {list(_FORMATS[backend])}")
    allowed = {Backend.ORT: {"providers", "threads"}, Backend.TRT: {"cuda_graph", "cuda"},
               Backend.TORCHSCRIPT: {"torch_device"}}[backend]
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise RanEdgeError(f"options {unknown} do not apply to backend '{backend.short}', expected some of {sorted(allowed)}")
    if backend is Backend.ORT:
        from ran_edge.runtime.ort_runner import OrtRunner, exact_qdq_for

        return OrtRunner(path, options.get("providers"), options.get("threads"), device, exact_qdq=exact_qdq_for(meta))
    if backend is Backend.TRT:
        from ran_edge.runtime.trt_runner import TrtRunner

        return TrtRunner(path, meta, device, bool(options.get("cuda_graph", False)), options.get("cuda"))
    from ran_edge.runtime.torchscript_runner import TorchScriptRunner

    return TorchScriptRunner(path, meta.inputs, [o.name for o in meta.outputs], options.get("torch_device", "cpu"))


def load(path: Union[str, Path], backend: Union[str, Backend, None] = None, device: int = 0, **options: Any) -> Classifier:
    """Load an artifact (``.engine``, ``.onnx``, ``.ts``) and its sidecar into an active :class:`Classifier`.

    Args:
        path: the artifact; ``<path>.json`` must sit next to it.
        backend: ``"trt"``, ``"ort"`` or ``"torchscript"``; default from the suffix.
        device: CUDA device index (TensorRT, ONNX Runtime CUDA/TensorRT providers).
        **options: backend options, see :func:`make_runner`.

    Raises:
        RanEdgeError: missing file or sidecar, wrong type, missing optional package (names the extra),
            EngineMismatchError for an engine built for another TensorRT/GPU.
    """
    path = Path(path)
    kind = backend_for(path, backend)
    meta = validate_artifact(path)  # the one artifact validation (ran_edge/artifact_check.py)
    return Classifier(make_runner(path, meta, kind, device, **options), meta)

