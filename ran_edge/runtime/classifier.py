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
                               Precision, artifact_kind, read_sidecar)
from ran_edge.artifact_check import validate_artifact
from ran_edge.errors import RanEdgeError
from ran_edge.face_boxes import FaceFraming, aligned_crops, check_boxes, frame_region_batch, landmark_angle
from ran_edge.model_input import model_input
from ran_edge.runtime.base import InputError, Runner
from ran_edge.runtime.choice import AUTO, LoadChoice, LoadRequest, Log


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
        raise RanEdgeError(f"{path}: a checkpoint runs through load(path) with backend 'auto', 'ort', 'trt' or "
                           "'torchscript' (exported into the build cache on first use)")
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
        self.choice: Optional[LoadChoice] = None

    def describe(self) -> LoadChoice:
        """What runs and why: source, artifact, backend, precision, how the backend was chosen, and whether the
        artifact came from the build cache (``str()`` of it is the one log line :func:`load` printed)."""
        if self.choice is None:
            backend = next((b for b in RUNTIME_BACKENDS if self.meta.format in _FORMATS[b]), Backend.ORT)
            path = str(getattr(self.runner, "path", "in memory"))
            self.choice = LoadChoice(path, path, backend, Precision(self.meta.precision), "runner given directly")
        return self.choice

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

    def predict_on_boxes(self, frame: np.ndarray, boxes: Any, landmarks: Any = None, *,
                         framing: Optional[FaceFraming] = None, kernel_device: str = "cpu") -> List[Prediction]:
        """Faces of a whole frame, found by your own detector, → one prediction per box, in input order.

        Args:
            frame: ``HxWx3`` uint8 BGR.
            boxes: ``(N, 4)`` x0, y0, x1, y1 in frame pixels (``N == 0`` gives ``[]``).
            landmarks: optional ``(N, 5, 2)`` points (right eye, left eye, nose, right and left mouth corner);
                the eye line is levelled before the face is cut, as in the video pipeline.
            framing: how a box becomes the square face box (default: squared on its centre,
                ``FaceFraming(1.0, 0.0)``, the pipeline's ``box_framing`` default).
            kernel_device: ``cpu`` or ``cuda[:N]`` for the fused region-batch kernel (``regions`` artifacts).

        The faces go through the same framing, alignment and cutting as :class:`ran_edge.video.Pipeline`
        (:mod:`ran_edge.face_boxes`): aligned crops for a ``faces`` artifact, the fused region-batch kernel
        straight from the frame for a ``regions`` artifact; all faces in one model call.
        """
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            got = f"{type(frame).__name__} {getattr(frame, 'dtype', '')} {tuple(getattr(frame, 'shape', ()))}"
            raise InputError(f"frame: got {got.strip()}, expected a numpy uint8 array HxWx3 (BGR)")
        raw, marks = check_boxes(boxes, landmarks)
        if not raw:
            return []
        framing = framing if framing is not None else FaceFraming()
        faces = [framing.apply(b) for b in raw]
        angles = [landmark_angle(lm) if lm else 0.0 for lm in marks]
        if self.input_kind is InputKind.REGIONS:
            return self.predict_regions(frame_region_batch(frame, faces, angles, self.meta, kernel_device))
        return self.predict(aligned_crops(frame, faces, angles, int(self.meta.preprocess.face_size)))

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
    """The runner for ``backend`` (not yet active). ``options``: ``providers``/``threads``/``spinning`` (ort),
    ``cuda_graph``/``cuda`` (trt), ``torch_device`` (torchscript)."""
    if meta.format not in _FORMATS[backend]:
        raise RanEdgeError(f"{path}: the sidecar says format '{meta.format}', backend '{backend.short}' "
                           f"expects {list(_FORMATS[backend])}")
    allowed = {Backend.ORT: {"providers", "threads", "spinning"}, Backend.TRT: {"cuda_graph", "cuda"},
               Backend.TORCHSCRIPT: {"torch_device"}}[backend]
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise RanEdgeError(f"options {unknown} do not apply to backend '{backend.short}', expected some of {sorted(allowed)}")
    if backend is Backend.ORT:
        from ran_edge.runtime.ort_runner import OrtRunner, exact_qdq_for

        return OrtRunner(path, options.get("providers"), options.get("threads"), device, exact_qdq=exact_qdq_for(meta),
                         spinning=bool(options.get("spinning", True)))
    if backend is Backend.TRT:
        from ran_edge.runtime.trt_runner import TrtRunner

        return TrtRunner(path, meta, device, bool(options.get("cuda_graph", False)), options.get("cuda"))
    from ran_edge.runtime.torchscript_runner import TorchScriptRunner

    return TorchScriptRunner(path, meta.inputs, [o.name for o in meta.outputs], options.get("torch_device", "cpu"))


def load(path: Union[str, Path], backend: Union[str, Backend, None] = None, device: int = 0, *,
         precision: Union[str, Precision, None] = None, cache_dir: Union[str, Path, None] = None,
         calib_data: Optional[str] = None, input_kind: Union[str, InputKind] = InputKind.FACES,
         trust_checkpoint: bool = False, allow_accuracy_loss: bool = False, log: Optional[Log] = None,
         **options: Any) -> Classifier:
    """Load a model into an active :class:`Classifier`: a ``.pt`` checkpoint, an ``.onnx`` (FP32, FP16 or INT8
    QDQ), an ``.engine`` or a ``.ts``, each ONNX/engine/TorchScript file with its sidecar.

    A checkpoint, ``backend="auto"``, or a ``precision`` other than the file's goes through the on-demand
    preparation (``docs/architecture.md`` §4): the backend is the fastest that is installed and works here
    (TensorRT → ONNX Runtime CUDA → ONNX Runtime CPU → TorchScript), and what it needs (ONNX export, FP16/INT8
    ONNX, TensorRT engine) is made once into the build cache and reused; the choice is one log line and
    :meth:`Classifier.describe`.

    Args:
        path: the model file.
        backend: ``"auto"``, ``"trt"``, ``"ort"`` or ``"torchscript"``; default: from the suffix (``.engine``,
            ``.onnx``, ``.ts``), ``auto`` for a checkpoint.
        device: CUDA device index (TensorRT, ONNX Runtime CUDA/TensorRT providers).
        precision: ``"fp32"``, ``"fp16"`` or ``"int8"``; default: the file's own (a checkpoint: fp32).
        cache_dir: build cache folder (default ``$RAN_EDGE_CACHE_DIR``, else the user's cache folder).
        calib_data: INT8 calibration faces (``"synthetic"`` or a folder), when the source is not INT8 already.
        input_kind: ``faces`` or ``regions``: the graph input a checkpoint is exported with.
        trust_checkpoint: allow a checkpoint that needs arbitrary unpickling.
        allow_accuracy_loss: keep an INT8 model that misses the calibration quality gate (recorded).
        log: where the choice and build progress go (default ``print``).
        **options: backend options, see :func:`make_runner`.

    Raises:
        RanEdgeError: missing file or sidecar, wrong type, missing optional package (names the extra),
            EngineMismatchError for an engine built for another TensorRT/GPU, no backend that fits, an
            unwritable cache (names ``$RAN_EDGE_CACHE_DIR``).
    """
    path = Path(path)
    kind = artifact_kind(path)
    chosen = _backend_arg(backend)
    wanted = _enum_arg("precision", Precision, precision) if precision is not None else None
    kind_in = _enum_arg("input_kind", InputKind, input_kind)
    if kind is None and chosen in (None, AUTO):
        backend_for(path, None)  # the one-line error for an unknown suffix
    if not path.is_file():
        raise RanEdgeError(f"artifact not found: {path}")
    if chosen != AUTO and kind is not ArtifactKind.CHECKPOINT:
        target = backend_for(path, chosen)
        meta = read_sidecar(path)
        if wanted is None or wanted is Precision(meta.precision):
            meta = validate_artifact(path)  # the one artifact validation (ran_edge/artifact_check.py)
            clf = Classifier(make_runner(path, meta, target, device, **options), meta)
            clf.choice = LoadChoice(str(path), str(path), target, Precision(meta.precision),
                                    "as asked" if chosen else "from the suffix")
            return clf
        chosen = target.value
    from ran_edge.runtime.seam import prepare

    request = LoadRequest(path, chosen or AUTO, wanted, device, Path(cache_dir) if cache_dir else None, calib_data,
                          kind_in, trust_checkpoint, allow_accuracy_loss, log or print)
    prepared = prepare(request)
    meta = validate_artifact(prepared.artifact)
    clf = Classifier(make_runner(prepared.artifact, meta, prepared.backend, device, **{**prepared.options, **options}), meta)
    clf.choice = prepared.choice
    return clf


def _enum_arg(name: str, enum_type: Any, value: Any) -> Any:
    """``enum_type(value)``, or a one-line error listing the accepted values."""
    try:
        return enum_type(value)
    except ValueError:
        raise RanEdgeError(f"{name}: got {value!r}, expected one of {[m.value for m in enum_type]}") from None


def _backend_arg(backend: Union[str, Backend, None]) -> Optional[str]:
    """``None``, ``"auto"`` or a runtime backend's value; anything else is a one-line error."""
    if backend is None:
        return None
    if str(getattr(backend, "value", backend)) == AUTO:
        return AUTO
    return backend_for("x", backend).value

