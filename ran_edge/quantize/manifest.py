"""Calibration manifests (``calibration/*.json``): what data an INT8 model was calibrated on.

A manifest records the data source (folder files with sha256, or the synthetic generator's seed and
count), the preprocessing, the method, the model it calibrated and the ran-edge version; its sha256 goes
into the INT8 model's sidecar (``extra.calibration_manifest_sha256``), so an INT8 artifact can be traced
back to its calibration set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ran_edge import __version__
from ran_edge.artifact import ArtifactMeta, sha256_file, write_json_atomic

MANIFEST_FORMAT = "ran-edge-calibration-manifest"


def build_manifest(data: Mapping[str, Any], meta: ArtifactMeta, *, method: str, num: int, batches: int,
                   model_sha256: str, per_channel: bool) -> dict[str, Any]:
    """The manifest dict for one calibration run."""
    return {
        "format": MANIFEST_FORMAT,
        "schema_version": 1,
        "ran_edge_version": __version__,
        "data": dict(data),
        "count": num,
        "batches": batches,
        "preprocessing": {**meta.preprocess.to_dict(), "input_kind": meta.input_kind.value,
                          "function": "ran_edge.runtime.classifier.model_input"},
        "method": method,
        "per_channel_weights": per_channel,
        "model_sha256": model_sha256,
        "class_names": list(meta.class_names),
    }


def write_manifest(path: str | Path, manifest: Mapping[str, Any]) -> tuple[Path, str]:
    """Write the manifest atomically → ``(path, sha256 of the file)``."""
    p = write_json_atomic(path, dict(manifest))
    return p, sha256_file(p)


def default_manifest_path(int8_out: str | Path) -> Path:
    """``model.int8.onnx`` → ``model.int8.calibration.json`` next to it."""
    out = Path(int8_out)
    stem = out.name[:-5] if out.name.endswith(".onnx") else out.name
    return out.with_name(stem + ".calibration.json")
