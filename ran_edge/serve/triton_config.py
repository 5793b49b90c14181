"""Triton ``config.pbtxt`` text for a ran-edge artifact, as pure functions (no Triton needed).

Field names follow Triton's ``model_config.proto`` (``name``, ``platform``/``backend``,
``max_batch_size``, ``input``/``output`` with ``data_type``/``dims``/``label_filename``,
``dynamic_batching`` with ``preferred_batch_size``/``max_queue_delay_microseconds``,
``instance_group`` with ``count``/``kind``, ``ensemble_scheduling`` with ``step``s of
``model_name``/``model_version``/``input_map``/``output_map``). :mod:`ran_edge.serve.validate`
parses the text with Triton's own protobuf schema (from ``tritonclient``) in the tests.

Batch semantics: with ``max_batch_size > 0`` Triton owns the first axis and ``dims`` leave it
out. A ``faces`` model's first axis is N faces, so it batches. A ``regions`` model's input has
N*K rows while its outputs have N rows: Triton's batcher would split the outputs by the input
row counts, which is wrong, so a ``regions`` model is written with ``max_batch_size: 0`` (full
shapes, ``-1`` batch axis, no dynamic batching) and asking for batching is refused.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from ran_edge.artifact import ArtifactMeta, InputKind, TensorSpec
from ran_edge.errors import RanEdgeError

#: numpy dtype name → Triton data type
TRITON_DTYPES: Dict[str, str] = {
    "bool": "TYPE_BOOL", "uint8": "TYPE_UINT8", "uint16": "TYPE_UINT16", "uint32": "TYPE_UINT32",
    "uint64": "TYPE_UINT64", "int8": "TYPE_INT8", "int16": "TYPE_INT16", "int32": "TYPE_INT32",
    "int64": "TYPE_INT64", "float16": "TYPE_FP16", "float32": "TYPE_FP32", "float64": "TYPE_FP64",
    "object": "TYPE_STRING", "bytes": "TYPE_STRING",
}

LABELS_FILE = "labels.txt"
META_FILE = "ran_edge_meta.json"


class ModelPlatform(str, enum.Enum):
    """Triton platform of the main model, chosen from the artifact format."""

    TENSORRT = "tensorrt_plan"
    ONNXRUNTIME = "onnxruntime_onnx"

    @property
    def model_filename(self) -> str:
        """Triton's default file name in the version folder."""
        return "model.plan" if self is ModelPlatform.TENSORRT else "model.onnx"

    @property
    def instance_kind(self) -> str:
        """A TensorRT plan runs on a GPU; ONNX Runtime takes what the server has (KIND_AUTO)."""
        return "KIND_GPU" if self is ModelPlatform.TENSORRT else "KIND_AUTO"


PLATFORM_BY_FORMAT = {"engine": ModelPlatform.TENSORRT, "onnx": ModelPlatform.ONNXRUNTIME}


@dataclass(frozen=True)
class TritonOptions:
    """What ``export-triton`` puts in the configs.

    Attributes:
        name: model name (the folder name in the repository).
        max_batch: ``max_batch_size`` in faces; ``None`` = 32 for a ``faces`` model and 0 for a
            ``regions`` model (see the module docstring); 0 disables Triton batching.
        instances: ``instance_group`` count.
        preferred_batch: ``dynamic_batching.preferred_batch_size`` (each <= max_batch).
        queue_delay_us: ``dynamic_batching.max_queue_delay_microseconds``.
        dynamic_batching: write a ``dynamic_batching`` block (only when batching).
    """

    name: str = "ran"
    max_batch: Optional[int] = None
    instances: int = 1
    preferred_batch: Tuple[int, ...] = (4, 8, 16)
    queue_delay_us: int = 500
    dynamic_batching: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "preferred_batch", tuple(int(b) for b in self.preferred_batch))
        if not self.name or not all(c.isalnum() or c in "_-." for c in self.name):
            raise RanEdgeError(f"--name: got '{self.name}', expected letters, digits, '_', '-' or '.'")
        if self.max_batch is not None and self.max_batch < 0:
            raise RanEdgeError(f"--max-batch: got {self.max_batch}, expected >= 0")
        if self.instances < 1:
            raise RanEdgeError(f"--instances: got {self.instances}, expected >= 1")
        if self.queue_delay_us < 0:
            raise RanEdgeError(f"--queue-delay-us: got {self.queue_delay_us}, expected >= 0")
        if any(b < 1 for b in self.preferred_batch):
            raise RanEdgeError(f"--preferred-batch: got {list(self.preferred_batch)}, expected positive sizes")


@dataclass(frozen=True)
class ModelPlan:
    """The resolved facts for one main-model config (what the text is rendered from)."""

    name: str
    platform: ModelPlatform
    max_batch: int
    inputs: Tuple[TensorSpec, ...]
    outputs: Tuple[TensorSpec, ...]
    instances: int
    preferred_batch: Tuple[int, ...] = ()
    queue_delay_us: int = 0
    dynamic_batching: bool = False
    labels_output: str = "logits"
    notes: Tuple[str, ...] = field(default_factory=tuple)


def triton_dtype(dtype: str) -> str:
    """numpy dtype name → ``TYPE_*``."""
    try:
        return TRITON_DTYPES[str(dtype)]
    except KeyError:
        raise RanEdgeError(f"dtype '{dtype}' has no Triton data type, expected one of {sorted(TRITON_DTYPES)}") from None


def _profile_max_faces(meta: ArtifactMeta) -> Optional[int]:
    profiles = meta.extra.get("profiles") or []
    if not profiles:
        return None
    return int(profiles[0]["max"][0])


def plan_model(meta: ArtifactMeta, options: TritonOptions) -> ModelPlan:
    """Resolve batching, dims and platform for ``meta``; refuse what Triton would get wrong."""
    if meta.format not in PLATFORM_BY_FORMAT:
        raise RanEdgeError(f"a '{meta.format}' artifact cannot be served by Triton here, expected an .engine "
                           "(tensorrt_plan) or an .onnx (onnxruntime_onnx); export one with 'ran-edge export'")
    platform = PLATFORM_BY_FORMAT[meta.format]
    kind = InputKind(meta.input_kind)
    dynamic = all(t.shape and t.shape[0] == -1 for t in (*meta.inputs, *meta.outputs))
    if kind is InputKind.REGIONS:
        if options.max_batch:
            raise RanEdgeError(f"--max-batch {options.max_batch}: a 'regions' model takes N*K region rows and returns N "
                               "faces, which Triton's batcher cannot split; use --max-batch 0 (no Triton batching) or "
                               "export the 'faces' input kind")
        max_batch = 0
    else:
        max_batch = 32 if options.max_batch is None else options.max_batch
        if max_batch and not dynamic:
            raise RanEdgeError(f"--max-batch {max_batch}: the artifact has a fixed batch "
                               f"{[t.shape for t in meta.inputs]}; re-export with a dynamic batch or use --max-batch 0")
        limit = _profile_max_faces(meta)
        if max_batch and limit is not None and max_batch > limit:
            raise RanEdgeError(f"--max-batch {max_batch}: the engine's profile allows at most {limit} faces; "
                               f"use --max-batch {limit} or rebuild with a larger --batch")
    bad = [b for b in options.preferred_batch if max_batch and b > max_batch]
    if bad:
        raise RanEdgeError(f"--preferred-batch {list(options.preferred_batch)}: sizes {bad} exceed --max-batch {max_batch}")
    names = [o.name for o in meta.outputs]
    notes = ("regions input: max_batch_size 0, the batch axis is N*K region rows",) if kind is InputKind.REGIONS else ()
    return ModelPlan(
        name=options.name, platform=platform, max_batch=max_batch, inputs=tuple(meta.inputs),
        outputs=tuple(meta.outputs), instances=options.instances,
        preferred_batch=tuple(sorted(set(options.preferred_batch))) if max_batch else (),
        queue_delay_us=options.queue_delay_us, dynamic_batching=bool(max_batch) and options.dynamic_batching,
        labels_output="logits" if "logits" in names else names[0], notes=notes)


def config_dims(spec: TensorSpec, max_batch: int) -> List[int]:
    """The ``dims`` of a tensor: without the batch axis when Triton batches."""
    return list(spec.shape[1:]) if max_batch else list(spec.shape)


def _tensor_block(spec: TensorSpec, max_batch: int, label_file: str = "") -> str:
    lines = [f'    name: "{spec.name}"', f"    data_type: {triton_dtype(spec.dtype)}",
             f"    dims: [ {', '.join(str(d) for d in config_dims(spec, max_batch))} ]"]
    if label_file:
        lines.append(f'    label_filename: "{label_file}"')
    return "  {\n" + "\n".join(lines) + "\n  }"


def _tensor_list(key: str, blocks: Sequence[str]) -> str:
    return f"{key} [\n" + ",\n".join(blocks) + "\n]"


def render_model_config(plan: ModelPlan) -> str:
    """``config.pbtxt`` of the main model."""
    parts = [f'name: "{plan.name}"', f'platform: "{plan.platform.value}"', f"max_batch_size: {plan.max_batch}",
             _tensor_list("input", [_tensor_block(t, plan.max_batch) for t in plan.inputs]),
             _tensor_list("output", [_tensor_block(t, plan.max_batch, LABELS_FILE if t.name == plan.labels_output else "")
                                     for t in plan.outputs]),
             f'default_model_filename: "{plan.platform.model_filename}"']
    if plan.dynamic_batching:
        parts.append("dynamic_batching {\n"
                     f"  preferred_batch_size: [ {', '.join(str(b) for b in plan.preferred_batch)} ]\n"
                     f"  max_queue_delay_microseconds: {plan.queue_delay_us}\n}}")
    parts.append(f"instance_group [\n  {{\n    count: {plan.instances}\n    kind: {plan.platform.instance_kind}\n  }}\n]")
    return "\n".join(parts) + "\n"


#: the uint8 face input of the preprocessing model and of the ensemble
RAW_INPUT = TensorSpec("faces_uint8", (-1, -1, -1, 3), "uint8")


def preprocess_names(plan: ModelPlan) -> Tuple[str, str]:
    """(preprocessing model name, ensemble name) for ``plan``."""
    return f"{plan.name}_preprocess", f"{plan.name}_ensemble"


def render_preprocess_config(plan: ModelPlan) -> str:
    """Python-backend model: ``faces_uint8 [N,H,W,3]`` → the main model's input (ran-edge preprocessing)."""
    pre, _ = preprocess_names(plan)
    model_in = plan.inputs[0]
    out = TensorSpec(model_in.name, model_in.shape, model_in.dtype)
    parts = [f'name: "{pre}"', 'backend: "python"', f"max_batch_size: {plan.max_batch}",
             _tensor_list("input", [_tensor_block(RAW_INPUT, plan.max_batch)]),
             _tensor_list("output", [_tensor_block(out, plan.max_batch)]),
             f"instance_group [\n  {{\n    count: {plan.instances}\n    kind: KIND_CPU\n  }}\n]"]
    return "\n".join(parts) + "\n"


def render_ensemble_config(plan: ModelPlan) -> str:
    """Ensemble: preprocessing step, then the main model; clients send uint8 face crops."""
    pre, ens = preprocess_names(plan)
    model_in = plan.inputs[0].name
    step_pre = ("  step [\n    {\n"
                f'      model_name: "{pre}"\n      model_version: -1\n'
                f'      input_map {{ key: "{RAW_INPUT.name}" value: "{RAW_INPUT.name}" }}\n'
                f'      output_map {{ key: "{model_in}" value: "preprocessed" }}\n    }},\n')
    outputs = "".join(f'      output_map {{ key: "{o.name}" value: "{o.name}" }}\n' for o in plan.outputs)
    step_main = ("    {\n"
                 f'      model_name: "{plan.name}"\n      model_version: -1\n'
                 f'      input_map {{ key: "{model_in}" value: "preprocessed" }}\n'
                 f"{outputs}    }}\n  ]\n")
    parts = [f'name: "{ens}"', 'platform: "ensemble"', f"max_batch_size: {plan.max_batch}",
             _tensor_list("input", [_tensor_block(RAW_INPUT, plan.max_batch)]),
             _tensor_list("output", [_tensor_block(o, plan.max_batch, LABELS_FILE if o.name == plan.labels_output else "")
                                     for o in plan.outputs]),
             "ensemble_scheduling {\n" + step_pre + step_main + "}"]
    return "\n".join(parts) + "\n"
