"""Calibration data for the implicit INT8 calibrator, through ``ran_edge.quantize`` (the readers and
manifests of ``ran-edge calibrate``): feeds are made by the one preprocessing, the manifest lists
the data (files + sha256, or the synthetic seed) and its sha256 goes into the engine sidecar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Tuple

from ran_edge.artifact import ArtifactMeta, sha256_file
from ran_edge.engine_contract.options import CalibKind, CalibSource
from ran_edge.errors import RanEdgeError

DEFAULT_NUM = 512


def calibration_data_spec(source: CalibSource, num: int) -> str:
    """The ``data`` string of :func:`ran_edge.quantize.open_calibration_data`."""
    if source.kind is CalibKind.SYNTHETIC:
        return f"synthetic:n_train={num}"  # generate only what is used
    if source.kind is CalibKind.DIRECTORY:
        return str(source.path)
    raise RanEdgeError(f"calibration data: got source '{source.kind.value}', expected synthetic or a folder of faces")


def calibrator_reader(onnx_path: Path, meta: ArtifactMeta, source: CalibSource, batch: int, num: int,
                      manifest_path: Path) -> Tuple[Any, str]:
    """Feeds for the TensorRT calibrator (``num`` rounded down to whole ``batch``-es, the profile's
    opt batch) and the sha256 of the manifest written to ``manifest_path``."""
    from ran_edge.quantize import DatasetReader, open_calibration_data
    from ran_edge.quantize.manifest import build_manifest, write_manifest

    if num < batch:
        raise RanEdgeError(f"--calib-num {num} is below the calibration batch {batch} (the profile's opt batch)")
    num -= num % batch
    dataset, description = open_calibration_data(calibration_data_spec(source, num), num)
    reader = DatasetReader(dataset, meta, num, batch, description)
    doc = build_manifest(reader.describe(), meta, method="tensorrt-entropy2", num=num, batches=len(reader),
                         model_sha256=sha256_file(onnx_path), per_channel=False)
    _, sha = write_manifest(manifest_path, doc)
    return reader, sha
