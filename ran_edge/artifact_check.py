"""The one validation of an artifact and its sidecar, used by every command that reads one (issue 24 class 4).

``runtime.load``, ``inspect --check``, ``export-triton``, ``serve``, ``bench`` and ``calibrate`` call
:func:`validate_artifact` before any work, so that a pair one command refuses is refused by all of them, with
the same one line. What it checks (``docs/architecture.md`` §3):

* the file exists and is a regular file, its sidecar ``X.json`` exists and parses (:func:`read_sidecar`);
* the file is the one the sidecar describes (sha256, :func:`verify_hash`);
* the sidecar agrees with itself: one input of the sidecar's ``input_kind``, outputs ``logits [N, C]`` with C the
  number of ``class_names`` (at least 2) and ``region_weights [N, K]`` with K the preset's regions;
* for an ONNX file, when the ``onnx`` package is installed: the graph's inputs and outputs agree with the sidecar
  (names, fixed class and region counts), so that a sidecar edited by hand or copied from another model is caught
  even when the file's hash was not recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from ran_edge.artifact import ArtifactMeta, InputKind, TensorSpec, read_sidecar, verify_hash
from ran_edge.errors import RanEdgeError


def _fail(path: Path, what: str) -> RanEdgeError:
    return RanEdgeError(f"{path}: {what}; expected the artifact and the sidecar written together by ran-edge "
                        f"(re-export or rebuild it)")


def check_meta(path: Path, meta: ArtifactMeta) -> None:
    """The sidecar agrees with itself (I/O names and the class and region counts); raises one line otherwise."""
    n, k = len(meta.class_names), meta.preset.num_regions
    if n < 2:
        raise _fail(path, f"the sidecar lists {n} class name(s)")
    if len(set(meta.class_names)) != n:
        raise _fail(path, f"the sidecar lists duplicate class names {list(meta.class_names)}")
    names = [t.name for t in meta.inputs]
    if names != [InputKind(meta.input_kind).value]:
        kind = InputKind(meta.input_kind).value
        raise _fail(path, f"the sidecar's inputs {names} do not match its input_kind '{kind}'")
    outs = {t.name: t for t in meta.outputs}
    if set(outs) != {"logits", "region_weights"}:
        raise _fail(path, f"the sidecar's outputs are {sorted(outs)}, not logits and region_weights")
    for name, want in (("logits", n), ("region_weights", k)):
        shape = outs[name].shape
        if len(shape) != 2 or shape[1] not in (-1, want):
            what = "class_names lists" if name == "logits" else f"preset {meta.preset.name} has"
            raise _fail(path, f"sidecar: {name} {list(shape)} but {what} {want}")


def _dims(value_info: Any) -> list[Any]:
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in value_info.type.tensor_type.shape.dim]


def check_onnx_graph(path: Path, meta: ArtifactMeta, model: Any = None) -> None:
    """The ONNX graph's I/O (of ``model``, or read from ``path``) agrees with the sidecar (skipped when the ``onnx``
    package is not installed)."""
    if model is None:
        try:
            import onnx
        except ImportError:
            return
        try:
            model = onnx.load(str(path), load_external_data=False)
        except Exception as exc:  # protobuf's DecodeError and friends: not an ONNX file
            raise _fail(path, f"not an ONNX model ({type(exc).__name__})") from exc
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    ins = {i.name: _dims(i) for i in graph.input if i.name not in initializers}
    outs = {o.name: _dims(o) for o in graph.output}
    _agree(path, "inputs", ins, meta.inputs)
    _agree(path, "outputs", outs, meta.outputs)


def _agree(path: Path, what: str, graph: Mapping[str, Sequence[Any]], specs: Sequence[TensorSpec]) -> None:
    if sorted(graph) != sorted(t.name for t in specs):
        names = sorted(t.name for t in specs)
        raise _fail(path, f"the graph's {what} {sorted(graph)} differ from the sidecar's {names}")
    for spec in specs:
        dims = graph[spec.name]
        fixed = [(i, d) for i, d in enumerate(dims) if isinstance(d, int) and d > 0]
        if len(dims) != len(spec.shape) or any(spec.shape[i] not in (-1, d) for i, d in fixed):
            raise _fail(path, f"the graph's {spec.name} {list(dims)} does not match the sidecar's {list(spec.shape)}")


def validate_artifact(path: Any, *, graph: bool = True) -> ArtifactMeta:
    """Check an artifact file and its sidecar (see the module doc) and return the sidecar's metadata.

    Args:
        path: the artifact (``.onnx``, ``.ts``, ``.engine`` ...); ``<path>.json`` must sit next to it.
        graph: also compare an ONNX graph's I/O with the sidecar (reads the file once more).

    Raises:
        RanEdgeError: one line naming the file, what is wrong and what is expected.
    """
    p = Path(path)
    if not p.exists():
        raise RanEdgeError(f"artifact not found: {p}")
    if not p.is_file():
        raise RanEdgeError(f"{p}: is a folder; expected an artifact file (.onnx, .ts, .engine) with its .json sidecar")
    meta = read_sidecar(p)
    verify_hash(p, meta)
    check_meta(p, meta)
    if graph and p.suffix.lower() == ".onnx":
        check_onnx_graph(p, meta)
    return meta
