"""Export a checkpoint's three region paths for ONNX Runtime / TorchScript peers in one bench run.

``faces`` (region batch in graph) and ``regions`` (fused-kernel input) go through
:func:`ran_edge.export.export_onnx` / :func:`ran_edge.export.export_torchscript`. The per-region structure
(one trunk call per region, ``ran_edge.model.ran.PerRegionInput``) is not a shipping artifact, so it is
exported here with the same I/O contract and a sidecar whose ``extra.structure`` is ``"per-region"``.
Needs the ``export`` extra (torch, onnx).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ran_edge._lazy import require
from ran_edge.artifact import InputKind, meta_for_model_config, write_sidecar
from ran_edge.bench.config import Backend, RegionPath

_SUFFIX = {Backend.ONNXRUNTIME: ".onnx", Backend.TORCHSCRIPT: ".ts"}


def _quiet(_: str) -> None:
    pass


def export_variant(model: Any, backend: Backend, path: RegionPath, out_dir: Path, stem: str) -> Path:
    """Write ``out_dir/<stem>.<path><suffix>`` (+ sidecar) for ``backend`` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{stem}.{path.value}{_SUFFIX[backend]}"
    if path is RegionPath.PER_REGION:
        return _export_per_region(model, backend, target)
    kind = InputKind.REGIONS if path is RegionPath.FUSED else InputKind.FACES
    if backend is Backend.ONNXRUNTIME:
        from ran_edge.export import export_onnx

        return export_onnx(model, target, input_kind=kind, check=False, log=_quiet).path
    from ran_edge.export import export_torchscript

    return export_torchscript(model, target, input_kind=kind, check=False, log=_quiet).path


def _export_per_region(model: Any, backend: Backend, target: Path) -> Path:
    torch = require("torch", "per-region export")
    import warnings

    from ran_edge.export.io import OUTPUT_NAMES, example_inputs, graph_io
    from ran_edge.model.ran import PerRegionInput

    io = graph_io(model.config, InputKind.FACES, None)
    was_training = model.training
    model.eval()
    example = torch.from_numpy(example_inputs(model.config, InputKind.FACES, 2))
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            wrapper = PerRegionInput(model).eval()
            if backend is Backend.ONNXRUNTIME:
                torch.onnx.export(wrapper, (example,), str(target), dynamo=False, opset_version=17,
                                  input_names=[io.input_name], output_names=list(OUTPUT_NAMES),
                                  dynamic_axes=io.dynamic_axes(), do_constant_folding=True)
                fmt = "onnx"
            else:
                torch.jit.trace(wrapper, (example,)).save(str(target))
                fmt = "torchscript"
    finally:
        model.train(was_training)
    meta = meta_for_model_config(model.config, fmt, InputKind.FACES, io.inputs, io.outputs,
                                 structure=RegionPath.PER_REGION.value, note="bench variant, not a shipping artifact")
    write_sidecar(target, meta)
    return target
