"""Check a Triton model repository against Triton's own schema and rules, without a server.

``config.pbtxt`` is parsed with the ``ModelConfig`` protobuf shipped in ``tritonclient``
(``tritonclient.grpc.model_config_pb2``): an unknown field, a misspelt ``TYPE_*``/``KIND_*`` or a
malformed value fails the parse, as it would in Triton. Then the rules Triton applies at load time
are checked: name = folder, a version folder with the model file, ``dims`` without the batch axis
when ``max_batch_size > 0``, preferred batch sizes <= ``max_batch_size``, labels file present with
one line per class, ensemble steps that name existing models and tensors; and, where ran-edge wrote
``ran_edge_meta.json`` and ONNX Runtime is installed, that names, dtypes and dims match the
metadata and the ONNX graph itself. ``python -m ran_edge.serve.validate REPO`` prints a one-line verdict
(``OK: ...``; on a problem ``error: ...`` on stderr and exit 1), then the JSON summary per model.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from ran_edge._lazy import is_available
from ran_edge.errors import MissingDependencyError, RanEdgeError
from ran_edge.serve.triton_config import META_FILE, TRITON_DTYPES, config_dims

_KNOWN = {"tensorrt_plan": "model.plan", "onnxruntime_onnx": "model.onnx", "python": "model.py", "ensemble": None}
_ORT_TYPES = {"tensor(float)": "TYPE_FP32", "tensor(float16)": "TYPE_FP16", "tensor(uint8)": "TYPE_UINT8",
              "tensor(int64)": "TYPE_INT64", "tensor(int32)": "TYPE_INT32", "tensor(double)": "TYPE_FP64"}


def parse_config(text: str, source: str = "config.pbtxt") -> Any:
    """Parse ``config.pbtxt`` text into Triton's ``ModelConfig`` message (strict)."""
    try:
        from google.protobuf import text_format
        from tritonclient.grpc import model_config_pb2
    except ImportError as exc:
        raise MissingDependencyError("tritonclient", "serve", "Triton config validation", exc) from exc
    try:
        return text_format.Parse(text, model_config_pb2.ModelConfig())
    except text_format.ParseError as exc:
        raise RanEdgeError(f"{source}: not a valid Triton model config ({exc})") from exc


def _tensors(msgs: Any) -> Dict[str, Dict[str, Any]]:
    from tritonclient.grpc import model_config_pb2

    return {t.name: {"data_type": model_config_pb2.DataType.Name(t.data_type), "dims": list(t.dims),
                     "label_filename": getattr(t, "label_filename", "")} for t in msgs}


def _kind(cfg: Any) -> str:
    return cfg.platform or cfg.backend


def _check_model(folder: Path, cfg: Any, problems: List[str]) -> Dict[str, Any]:
    name = folder.name
    kind = _kind(cfg)
    if cfg.name and cfg.name != name:
        problems.append(f"{name}: config name '{cfg.name}' differs from the folder name")
    if kind not in _KNOWN:
        problems.append(f"{name}: platform/backend '{kind}' is not one ran-edge writes, expected {sorted(_KNOWN)}")
    filename = cfg.default_model_filename or _KNOWN.get(kind)
    if not (folder / "1").is_dir():
        problems.append(f"{name}: no version folder '1'")
    elif filename and not (folder / "1" / filename).is_file():
        problems.append(f"{name}: model file 1/{filename} is missing")
    inputs, outputs = _tensors(cfg.input), _tensors(cfg.output)
    if not inputs or not outputs:
        problems.append(f"{name}: needs at least one input and one output")
    for tname, t in {**inputs, **outputs}.items():
        if t["data_type"] == "TYPE_INVALID":
            problems.append(f"{name}/{tname}: data_type missing")
        if not t["dims"] or any(d == 0 or d < -1 for d in t["dims"]):
            problems.append(f"{name}/{tname}: dims {t['dims']}: expected a non-empty list of -1 or positive sizes")
        if t["label_filename"] and not (folder / t["label_filename"]).is_file():
            problems.append(f"{name}/{tname}: label file {t['label_filename']} is missing")
    mb = cfg.max_batch_size
    if mb < 0:
        problems.append(f"{name}: max_batch_size {mb} < 0")
    if cfg.HasField("dynamic_batching"):
        if mb == 0:
            problems.append(f"{name}: dynamic_batching needs max_batch_size > 0")
        big = [b for b in cfg.dynamic_batching.preferred_batch_size if b > mb]
        if big:
            problems.append(f"{name}: preferred_batch_size {big} > max_batch_size {mb}")
    return {"kind": kind, "max_batch_size": mb, "inputs": inputs, "outputs": outputs,
            "dynamic_batching": cfg.HasField("dynamic_batching"),
            "preferred_batch_size": list(cfg.dynamic_batching.preferred_batch_size),
            "max_queue_delay_microseconds": cfg.dynamic_batching.max_queue_delay_microseconds,
            "instance_group": [{"count": g.count, "kind": int(g.kind)} for g in cfg.instance_group]}


def _check_meta(folder: Path, summary: Mapping[str, Any], problems: List[str]) -> None:
    """Names, dtypes and dims of the main model vs ran-edge metadata, labels vs classes."""
    from ran_edge.artifact import ArtifactMeta

    meta = ArtifactMeta.from_dict(json.loads((folder / META_FILE).read_text()), str(folder / META_FILE))
    if summary["kind"] not in ("tensorrt_plan", "onnxruntime_onnx"):
        return
    mb = summary["max_batch_size"]
    for specs, got in ((meta.inputs, summary["inputs"]), (meta.outputs, summary["outputs"])):
        for spec in specs:
            t = got.get(spec.name)
            want = (TRITON_DTYPES.get(spec.dtype), config_dims(spec, mb))
            if t is None:
                problems.append(f"{folder.name}: tensor '{spec.name}' of the artifact is not in the config")
            elif (t["data_type"], t["dims"]) != want:
                problems.append(f"{folder.name}/{spec.name}: config {t['data_type']} {t['dims']}, metadata says {want[0]} {want[1]}")
            if t is not None and t["label_filename"]:
                n = len((folder / t["label_filename"]).read_text().splitlines())
                if n != len(meta.class_names) or spec.shape[-1] != n:
                    problems.append(f"{folder.name}/{spec.name}: {n} labels for {spec.shape[-1]} scores")


def _check_onnx_graph(folder: Path, summary: Mapping[str, Any], problems: List[str]) -> None:
    """What Triton's onnxruntime backend checks at load: names, types, ranks of the graph."""
    from ran_edge.runtime.ort_runner import OrtRunner

    sess = OrtRunner(folder / "1" / "model.onnx", "cpu").activate().session
    mb = summary["max_batch_size"]
    for nodes, got in ((sess.get_inputs(), summary["inputs"]), (sess.get_outputs(), summary["outputs"])):
        for node in nodes:
            t = got.get(node.name)
            if t is None:
                problems.append(f"{folder.name}: graph tensor '{node.name}' is not in the config")
                continue
            dims = [d if isinstance(d, int) else -1 for d in node.shape]
            want = dims[1:] if mb else dims
            if _ORT_TYPES.get(node.type) != t["data_type"] or len(want) != len(t["dims"]) or any(
                    w != -1 and c != -1 and w != c for w, c in zip(want, t["dims"])):
                problems.append(f"{folder.name}/{node.name}: config {t['data_type']} {t['dims']}, graph {node.type} {want}")
            if mb and dims and dims[0] != -1:
                problems.append(f"{folder.name}/{node.name}: max_batch_size {mb} but the graph's batch axis is fixed ({dims[0]})")
    extra = set(summary["inputs"]) - {n.name for n in sess.get_inputs()}
    if extra:
        problems.append(f"{folder.name}: config inputs {sorted(extra)} are not graph inputs")


def _check_ensemble(name: str, cfg: Any, models: Mapping[str, Mapping[str, Any]], problems: List[str]) -> None:
    available = set(_tensors(cfg.input))
    for step in cfg.ensemble_scheduling.step:
        target = models.get(step.model_name)
        if target is None:
            problems.append(f"{name}: step model '{step.model_name}' is not in the repository")
            continue
        for key, value in step.input_map.items():
            if key not in target["inputs"]:
                problems.append(f"{name}: step '{step.model_name}' has no input '{key}'")
            if value not in available:
                problems.append(f"{name}: tensor '{value}' is used before any step makes it")
        for key, value in step.output_map.items():
            if key not in target["outputs"]:
                problems.append(f"{name}: step '{step.model_name}' has no output '{key}'")
            available.add(value)
        if target["max_batch_size"] < cfg.max_batch_size:
            problems.append(f"{name}: max_batch_size {cfg.max_batch_size} > step '{step.model_name}' ({target['max_batch_size']})")
    missing = set(_tensors(cfg.output)) - available
    if missing:
        problems.append(f"{name}: outputs {sorted(missing)} are made by no step")


def validate_repository(repo: Path) -> Dict[str, Dict[str, Any]]:
    """Validate every model folder in ``repo``; returns a summary per model.

    Raises:
        RanEdgeError: listing every problem found (one line each, joined by '; ').
        MissingDependencyError: ``tritonclient`` (extra ``serve``) is not installed.
    """
    repo = Path(repo)
    folders = sorted(p for p in repo.iterdir() if p.is_dir()) if repo.is_dir() else []
    if not folders:
        raise RanEdgeError(f"{repo}: no model folders, expected a Triton model repository")
    problems: List[str] = []
    configs: Dict[str, Any] = {}
    summary: Dict[str, Dict[str, Any]] = {}
    for folder in folders:
        path = folder / "config.pbtxt"
        if not path.is_file():
            problems.append(f"{folder.name}: config.pbtxt is missing")
            continue
        configs[folder.name] = cfg = parse_config(path.read_text(), str(path))
        summary[folder.name] = _check_model(folder, cfg, problems)
        if (folder / META_FILE).is_file():
            _check_meta(folder, summary[folder.name], problems)
        if summary[folder.name]["kind"] == "onnxruntime_onnx" and is_available("onnxruntime"):
            _check_onnx_graph(folder, summary[folder.name], problems)
            summary[folder.name]["graph_checked"] = True
    for name, cfg in configs.items():
        if _kind(cfg) == "ensemble":
            _check_ensemble(name, cfg, summary, problems)
    if problems:
        raise RanEdgeError("invalid Triton repository: " + "; ".join(problems))
    return summary


def verdict(repo: Path, summary: Mapping[str, Mapping[str, Any]]) -> str:
    """One line: the repository is valid, with each model's kind (and which ONNX graphs were checked)."""
    models = ", ".join(f"{name} ({info.get('kind')}{', graph checked' if info.get('graph_checked') else ''})"
                       for name, info in summary.items())
    return f"OK: {repo} is a valid Triton model repository: {len(summary)} model(s): {models}"


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m ran_edge.serve.validate REPO`` → a one-line verdict, then the JSON summary on stdout; or the
    problems and exit 1."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ran_edge.serve.validate REPO", file=sys.stderr)
        return 2
    try:
        summary = validate_repository(Path(args[0]))
        print(verdict(Path(args[0]), summary))
        print(json.dumps(summary, indent=1))
    except RanEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
