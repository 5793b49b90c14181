"""Metadata that travels next to every exported artifact (docs/architecture.md §3), torch-free.

``model.onnx`` → ``model.onnx.json``; ``model.ts`` → ``model.ts.json``; ``model.engine`` →
``model.engine.json``. The artifact file itself stays a plain ONNX / TorchScript / TensorRT plan.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ran_edge import __version__
from ran_edge.errors import RanEdgeError
from ran_edge.jsonio import read_json
from ran_edge.preprocess import PreprocessSpec
from ran_edge.presets import RegionPreset

SCHEMA_VERSION = 1


class InputKind(str, enum.Enum):
    """``faces``: aligned faces ``[N,3,S,S]``, regions cropped in graph; ``regions``: the region batch
    ``[N*K,3,R,R]`` made by the fused kernel."""

    FACES = "faces"
    REGIONS = "regions"


class RegionPath(str, enum.Enum):
    """How the K regions reach the trunk (docs/architecture.md §2); the one enum for bench, evaluation and runners.

    ``per-region``: one trunk call per region (the official structure); ``region-batch``: the aligned face
    is cropped into all regions in the graph, one trunk pass; ``fused``: the fused kernel makes the region
    batch from the frame and the ``regions`` graph runs it.
    """

    PER_REGION = "per-region"
    REGION_BATCH = "region-batch"
    FUSED = "fused"

    @property
    def input_kind(self) -> InputKind:
        """The model input this path takes: the region batch for ``fused``, aligned faces otherwise."""
        return InputKind.REGIONS if self is RegionPath.FUSED else InputKind.FACES

    @classmethod
    def of_meta(cls, meta: Any) -> "RegionPath":
        """The region path an exported artifact implements, from its sidecar (``extra.structure``, input kind)."""
        if str(getattr(meta, "extra", {}).get("structure", "")) == cls.PER_REGION.value:
            return cls.PER_REGION
        return cls.FUSED if getattr(meta.input_kind, "value", meta.input_kind) == "regions" else cls.REGION_BATCH


class Backend(str, enum.Enum):
    """Who runs a model. ``auto`` / ``all`` are the bench's selections (the file's own runner / every installed
    runner that can run it); ``trt``, ``onnxruntime`` (also spelled ``ort``), ``torchscript`` run artifact files
    (:data:`RUNTIME_BACKENDS`); ``torch`` runs an in-memory model (a checkpoint) eagerly."""

    AUTO = "auto"
    ALL = "all"
    TRT = "trt"
    ORT = "onnxruntime"
    ONNXRUNTIME = "onnxruntime"  # alias of ORT
    TORCHSCRIPT = "torchscript"
    TORCH = "torch"

    @classmethod
    def _missing_(cls, value: object) -> "Backend | None":
        return cls.ORT if value == "ort" else None

    @property
    def package(self) -> str:
        """The Python package that must import for this backend (``auto``/``all``: none of their own)."""
        return {"trt": "tensorrt", "onnxruntime": "onnxruntime", "torchscript": "torch", "torch": "torch"}.get(self.value, "")

    @property
    def short(self) -> str:
        """The runtime's spelling: ``ort`` for ONNX Runtime, else the value."""
        return "ort" if self is Backend.ORT else self.value


#: backends that run artifact files through :func:`ran_edge.runtime.load`.
RUNTIME_BACKENDS = (Backend.TRT, Backend.ORT, Backend.TORCHSCRIPT)


class ArtifactKind(str, enum.Enum):
    """What a model file is, from its suffix (:func:`artifact_kind`)."""

    ONNX = "onnx"
    TORCHSCRIPT = "torchscript"
    ENGINE = "engine"
    CHECKPOINT = "checkpoint"

    @property
    def backend(self) -> Backend:
        """The runner a file of this kind runs on natively."""
        return {ArtifactKind.ONNX: Backend.ORT, ArtifactKind.TORCHSCRIPT: Backend.TORCHSCRIPT,
                ArtifactKind.ENGINE: Backend.TRT, ArtifactKind.CHECKPOINT: Backend.TORCH}[self]


#: file suffix (lower case) → artifact kind: the one table of model-file suffixes.
KIND_BY_SUFFIX = {".onnx": ArtifactKind.ONNX, ".ts": ArtifactKind.TORCHSCRIPT, ".torchscript": ArtifactKind.TORCHSCRIPT,
                  ".engine": ArtifactKind.ENGINE, ".plan": ArtifactKind.ENGINE, ".trt": ArtifactKind.ENGINE,
                  ".pt": ArtifactKind.CHECKPOINT, ".pth": ArtifactKind.CHECKPOINT, ".tar": ArtifactKind.CHECKPOINT}


def artifact_kind(path: str | Path) -> ArtifactKind | None:
    """The kind of a model file from its suffix (None: not a suffix ran-edge knows)."""
    return KIND_BY_SUFFIX.get(Path(path).suffix.lower())


class Precision(str, enum.Enum):
    FP32 = "fp32"
    FP16 = "fp16"
    INT8 = "int8"


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape (``-1`` for a dynamic axis) and numpy dtype name of one graph input or output."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TensorSpec":
        return cls(str(d["name"]), tuple(int(v) for v in d["shape"]), str(d.get("dtype", "float32")))


@dataclass(frozen=True)
class ArtifactMeta:
    """What a runtime needs to use an artifact correctly.

    ``extra`` holds format-specific facts (opset, node counts, sha256 of sources, FP16-flagged
    layers, INT8 flavour, calibration manifest hash, TensorRT/GPU info, build time, ...).
    """

    format: str  # "onnx" | "torchscript" | "engine"
    class_names: tuple[str, ...]
    preset: RegionPreset
    attention: str
    preprocess: PreprocessSpec
    input_kind: InputKind
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    precision: Precision = Precision.FP32
    extra: Mapping[str, Any] = field(default_factory=dict)
    ran_edge_version: str = __version__
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "ran_edge_version": self.ran_edge_version,
            "format": self.format,
            "precision": Precision(self.precision).value,
            "input_kind": InputKind(self.input_kind).value,
            "class_names": list(self.class_names),
            "preset": self.preset.to_dict(),
            "attention": self.attention,
            "preprocess": self.preprocess.to_dict(),
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "metadata") -> "ArtifactMeta":
        try:
            version = int(d["schema_version"])
            if version > SCHEMA_VERSION:
                raise RanEdgeError(f"{source}: metadata schema {version} is newer than this ran-edge ({SCHEMA_VERSION}); upgrade ran-edge")
            return cls(
                format=str(d["format"]),
                class_names=tuple(d["class_names"]),
                preset=RegionPreset.from_dict(d["preset"], source),
                attention=str(d["attention"]),
                preprocess=PreprocessSpec.from_dict(d["preprocess"]),
                input_kind=InputKind(d["input_kind"]),
                inputs=tuple(TensorSpec.from_dict(t) for t in d["inputs"]),
                outputs=tuple(TensorSpec.from_dict(t) for t in d["outputs"]),
                precision=Precision(d.get("precision", "fp32")),
                extra=dict(d.get("extra", {})),
                ran_edge_version=str(d.get("ran_edge_version", "?")),
                schema_version=version,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RanEdgeError(f"{source}: invalid ran-edge metadata ({type(exc).__name__}: {exc})") from exc

    def with_extra(self, **updates: Any) -> "ArtifactMeta":
        """A copy with ``extra`` updated."""
        from dataclasses import replace

        return replace(self, extra={**self.extra, **updates})


def sidecar_path(artifact: str | Path) -> Path:
    """``model.onnx`` → ``model.onnx.json``."""
    p = Path(artifact)
    return p.with_name(p.name + ".json")


def write_sidecar(artifact: str | Path, meta: ArtifactMeta) -> Path:
    """Write the sidecar JSON atomically next to ``artifact``."""
    return write_json_atomic(sidecar_path(artifact), meta.to_dict())


def read_sidecar(artifact: str | Path) -> ArtifactMeta:
    """Read ``<artifact>.json``; a missing or malformed sidecar is a one-line :class:`RanEdgeError`."""
    path = sidecar_path(artifact)
    if not path.is_file():
        how = ("rebuild it with 'ran-edge build-engine' (which writes both)" if Path(artifact).suffix.lower() in (".engine", ".plan")
               else "re-export it with 'ran-edge export' (which writes both)")
        raise RanEdgeError(f"{artifact}: metadata file {path.name} not found next to it; {how}")
    return ArtifactMeta.from_dict(read_json(path, "unreadable metadata JSON"), str(path))


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


#: the sidecar key holding the sha256 of the artifact file, by suffix
HASH_KEY_BY_SUFFIX = {".onnx": "onnx_sha256", ".ts": "ts_sha256", ".engine": "engine_sha256", ".plan": "engine_sha256",
                      ".trt": "engine_sha256"}


def verify_hash(artifact: str | Path, meta: ArtifactMeta) -> None:
    """Check the artifact file against the sha256 its sidecar records (sidecars without one pass).

    Raises:
        RanEdgeError: the file is not the one the sidecar describes (changed, replaced, or another model's sidecar).
    """
    path = Path(artifact)
    key = HASH_KEY_BY_SUFFIX.get(path.suffix.lower())
    want = meta.extra.get(key) if key else None
    if not want:
        return
    got = sha256_file(path)
    if got != want:
        raise RanEdgeError(f"{path}: sha256 {got[:16]}... does not match {key} {str(want)[:16]}... in its sidecar "
                           f"{sidecar_path(path).name}; the file was changed or the sidecar belongs to another file; "
                           f"expected the pair as written by ran-edge (re-export or rebuild it)")


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """Write JSON atomically (staged beside it, fsynced, the user's umask): see :mod:`ran_edge.outputs`."""
    from ran_edge.outputs import write_json_result

    return write_json_result(path, data)


def atomic_output(path: str | Path) -> "AtomicOutput":
    """Context manager giving a staged path for ``path``; moved into place only on success."""
    return AtomicOutput(Path(path))


class AtomicOutput:
    """``with atomic_output(p) as tmp: write(tmp)`` — no half-written ``p`` on error (a one-file result set)."""

    def __init__(self, path: Path):
        from ran_edge.outputs import ResultSet

        self.path = path
        self._rs = ResultSet([path])

    def __enter__(self) -> Path:
        return self._rs.path(self.path)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                self._rs.commit()
        finally:
            self._rs.__exit__(exc_type, exc, tb)


#: the key, in checkpoint ``meta`` and in sidecar ``extra``, of what a model was trained on
TRAINING_DATA_KEY = "training_data"


def training_data_record(spec: Any) -> dict[str, Any] | None:
    """``{"spec": the --data spec, "synthetic_only": bool}`` for a training run on ``spec`` (None: unknown)."""
    if not spec:
        return None
    text = str(spec).strip()
    return {"spec": text, "synthetic_only": text.split(":", 1)[0].strip().lower() == "synthetic"}


def training_data_of(source: ArtifactMeta | Mapping[str, Any]) -> dict[str, Any] | None:
    """What the model of a sidecar (an engine: of its source ONNX) or of a checkpoint's ``meta`` was trained on."""
    if isinstance(source, ArtifactMeta):
        extra = source.extra
        return extra.get(TRAINING_DATA_KEY) or (extra.get("source_onnx_extra") or {}).get(TRAINING_DATA_KEY)
    return source.get(TRAINING_DATA_KEY) or training_data_record(source.get("data"))


def synthetic_training_note(name: str, record: Mapping[str, Any] | None) -> str | None:
    """One line when ``record`` says the model saw synthetic faces only (else None)."""
    if not record or not record.get("synthetic_only"):
        return None
    return (f"{name} was trained on synthetic faces only (--data {record.get('spec')}): a demo model for the pipeline, "
            "not for real faces, which it will mislabel")


def meta_for_model_config(config: Any, fmt: str, input_kind: InputKind, inputs: Sequence[TensorSpec],
                          outputs: Sequence[TensorSpec], precision: Precision = Precision.FP32,
                          **extra: Any) -> ArtifactMeta:
    """Build metadata from a ``RanConfig`` (duck-typed, so this module stays torch-free)."""
    return ArtifactMeta(format=fmt, class_names=tuple(config.class_names), preset=config.preset,
                        attention=str(getattr(config.attention, "value", config.attention)),
                        preprocess=config.preprocess, input_kind=InputKind(input_kind), inputs=tuple(inputs),
                        outputs=tuple(outputs), precision=Precision(precision), extra=extra)
