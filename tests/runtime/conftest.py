from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_artifacts(tmp_path_factory):
    """``(model, {"onnx", "regions", "ts", "pt"})`` exported once per session."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from tests.runtime.artifacts import export_all, tiny_model

    model = tiny_model()
    return model, export_all(model, tmp_path_factory.mktemp("tiny_artifacts"))
