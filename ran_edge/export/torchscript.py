"""RAN → TorchScript (``model.ts`` + ``model.ts.json``, metadata also in ``_extra_files``).

**trace, not script.** ``torch.jit.script`` cannot compile RAN: ``forward`` reads the frozen
``RanConfig`` dataclass and compares enum members (``self.config.attention is AttentionMode.OFFICIAL``),
which TorchScript does not type. The only Python control flow in either exported signature (``faces``
or ``regions``) is that attention-mode branch, fixed at construction, so the traced graph is the model.
Shapes are not baked in: every reshape uses ``-1`` for the batch and constants from the config, and
:func:`~ran_edge.export.checks.parity_torchscript` proves it at batch sizes other than the traced one.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Callable

from ran_edge._lazy import require
from ran_edge.artifact import InputKind, meta_for_model_config, sha256_file, sidecar_path, write_json_atomic
from ran_edge.export.io import example_inputs, graph_io
from ran_edge.export.io import export_module
from ran_edge.export.onnx_export import ExportResult, StagedFiles, structure_extra

#: Name of the metadata entry inside the TorchScript archive (``torch.jit.load(..., _extra_files=...)``).
EXTRA_FILE = "ran_edge.json"
TRACE_BATCH = 2


def export_torchscript(model: Any, out: str | Path, *, input_kind: InputKind = InputKind.FACES, check: bool = True,
                       checkpoint_path: str | Path | None = None, per_region: bool = False,
                       log: Callable[[str], None] = print) -> ExportResult:
    """Trace a RAN to TorchScript (dynamic batch) and write ``out`` + ``out.json`` atomically.

    Args:
        model: a :class:`ran_edge.model.RAN`.
        out: path of the ``.ts`` file.
        input_kind: ``faces`` or ``regions`` (see :mod:`ran_edge.export.io`).
        check: compare the reloaded TorchScript with torch eager on 32 samples (max |Δ| <= 1e-4).
        checkpoint_path: the source checkpoint, whose sha256 goes into the metadata.
        per_region: trace the per-region structure (see :func:`ran_edge.export.export_onnx`).

    Raises:
        RanEdgeError: the parity check failed (nothing is written then).
    """
    torch = require("torch", "TorchScript export")
    from ran_edge.export.checks import parity_torchscript

    kind, out = InputKind(input_kind), Path(out)
    io = graph_io(model.config, kind, None)
    was_training = model.training
    model.eval()
    report: dict[str, Any] = {"input_kind": kind.value, "method": "torch.jit.trace"}
    try:
        with StagedFiles() as staged, warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.jit")  # deprecated, still correct
            example = torch.from_numpy(example_inputs(model.config, kind, TRACE_BATCH))
            log(f"tracing TorchScript (input {kind.value})")
            with torch.no_grad():
                traced = torch.jit.trace(export_module(model, kind, per_region), (example,), check_trace=True)
            extra = {**structure_extra(per_region), "checkpoint_sha256": sha256_file(checkpoint_path) if checkpoint_path else None,
                     "training_data": getattr(model, "training_data", None),
                     "exporter": f"torch {torch.__version__} torch.jit.trace", "checked": bool(check)}
            meta = meta_for_model_config(model.config, "torchscript", kind, io.inputs, io.outputs, **extra)
            tmp = staged.temp_for(out)
            torch.jit.save(traced, str(tmp), _extra_files={EXTRA_FILE: json.dumps(meta.to_dict())})
            if check:
                reloaded = torch.jit.load(str(tmp), map_location="cpu")
                result = parity_torchscript(reloaded, model, io)
                report["checks"] = result.to_dict()
                result.raise_if_failed("exported TorchScript")
                p = result.figures["parity"]
                log(f"parity vs torch: max |Δlogits| {p['max_abs_diff_logits']:.2e}, "
                    f"max |Δregion_weights| {p['max_abs_diff_region_weights']:.2e}")
                meta = meta.with_extra(parity=p)
            meta = meta.with_extra(ts_sha256=sha256_file(tmp))
            write_json_atomic(staged.temp_for(sidecar_path(out)), meta.to_dict())
            staged.commit()
    finally:
        model.train(was_training)
    log(f"wrote {out}")
    return ExportResult(out, meta, report)


def read_torchscript_meta(path: str | Path) -> dict[str, Any]:
    """The metadata embedded in a TorchScript file's ``_extra_files`` (as a dict)."""
    torch = require("torch", "TorchScript metadata")
    files = {EXTRA_FILE: ""}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.jit")
        torch.jit.load(str(path), map_location="cpu", _extra_files=files)
    return json.loads(files[EXTRA_FILE])
