"""Fixtures for export tests: one exported tiny RAN per module, single-threaded torch (2 shared cores)."""

from __future__ import annotations

import pytest

from tests.helpers import make_tiny_ran
from tests.helpers import one_torch_thread as _one_torch_thread  # noqa: F401 (autouse fixture: torch on one thread)


@pytest.fixture(scope="module")
def tiny_module_ran():
    pytest.importorskip("torch")
    return make_tiny_ran()


@pytest.fixture(scope="module")
def exported_faces(tiny_module_ran, tmp_path_factory):
    """The tiny RAN exported to ONNX (faces input, dynamic batch) with a fake checkpoint for the sha."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from ran_edge.export import export_onnx

    d = tmp_path_factory.mktemp("export")
    ckpt = d / "ckpt.pt"
    ckpt.write_bytes(b"checkpoint bytes")
    logs: list[str] = []
    result = export_onnx(tiny_module_ran, d / "model.onnx", checkpoint_path=ckpt, log=logs.append)
    return result, logs
