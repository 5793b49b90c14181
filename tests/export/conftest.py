"""Fixtures for export tests: one exported tiny RAN per module, single-threaded torch (2 shared cores)."""

from __future__ import annotations

import pytest

from tests.helpers import make_tiny_ran


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Intra-op threads thrash when other jobs share the 2 cores; one thread is faster and deterministic."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
