"""Pieces of the build that run without TensorRT: layer matching, calibration data, the missing-TRT error."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ran_edge.engine.build import INSTALL_HINT, match_layers, require_tensorrt
from ran_edge.artifact import sha256_file
from ran_edge.engine.calib import calibration_data_spec, calibrator_reader
from ran_edge.engine_contract.options import CalibKind, CalibSource
from ran_edge.errors import DataError, RanEdgeError
from tests.engine.helpers import onnx_meta


def test_match_layers():
    layers = ["/a/Conv", "/a/Conv_1", "/b/Add + /b/Relu", "/c/MatMul_3", "(Unnamed Layer* 9) [Shuffle]"]
    nodes = ["/a/Conv", "/a/Conv_1", "/b/Add", "/c/MatMul", "/missing"]
    matched, unmatched = match_layers(layers, nodes)
    assert matched == {"/a/Conv": ["/a/Conv"], "/a/Conv_1": ["/a/Conv_1"], "/b/Add": ["/b/Add + /b/Relu"],
                       "/c/MatMul": ["/c/MatMul_3"]}
    assert unmatched == ["/missing"]


def test_require_tensorrt_message():
    try:
        import tensorrt  # noqa: F401
    except Exception:
        with pytest.raises(RanEdgeError) as info:
            require_tensorrt()
        assert "pip install 'ran-edge[trt]'" in str(info.value) and "\n" not in str(info.value)
        assert INSTALL_HINT in str(info.value)
    else:
        pytest.skip("TensorRT is installed here; the missing-TensorRT message cannot be shown")


def test_calibrator_reader_from_directory(tmp_path):
    cv2 = pytest.importorskip("cv2")
    pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(0)
    (tmp_path / "faces").mkdir()
    for i in range(7):
        cv2.imwrite(str(tmp_path / "faces" / f"f{i}.png"), rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"stand-in model bytes")  # only hashed into the manifest
    manifest = tmp_path / "m.calibration.json"
    reader, sha = calibrator_reader(onnx, onnx_meta(), CalibSource(CalibKind.DIRECTORY, str(tmp_path / "faces")), 3, 7, manifest)
    feeds = list(reader)
    assert [f["faces"].shape for f in feeds] == [(3, 3, 32, 32), (3, 3, 32, 32)]  # 7 rounded down to whole batches
    assert feeds[0]["faces"].dtype == np.float32
    assert list(reader)[0]["faces"].tobytes() == feeds[0]["faces"].tobytes()  # re-iterable (the calibrator resets)
    doc = json.loads(manifest.read_text())
    assert doc["count"] == 6 and doc["method"] == "tensorrt-entropy2" and sha == sha256_file(manifest)
    assert doc["preprocessing"]["face_size"] == 32
    with pytest.raises(RanEdgeError, match="below the calibration batch"):
        calibrator_reader(onnx, onnx_meta(), CalibSource(CalibKind.SYNTHETIC), 8, 4, manifest)
    with pytest.raises(DataError, match="not found"):
        calibrator_reader(onnx, onnx_meta(), CalibSource(CalibKind.DIRECTORY, str(tmp_path / "missing")), 2, 4, manifest)


def test_calibration_data_spec():
    assert calibration_data_spec(CalibSource(CalibKind.SYNTHETIC), 64) == "synthetic:n_train=64"
    assert calibration_data_spec(CalibSource(CalibKind.DIRECTORY, "faces/"), 64) == "faces/"
    with pytest.raises(RanEdgeError, match="expected synthetic or a folder"):
        calibration_data_spec(CalibSource(CalibKind.CACHE, "c.cache"), 64)


def test_polygraphy_api_mismatch_is_one_line_error(monkeypatch, tmp_path):
    """Polygraphy 0.49.x on TensorRT 11 raised AttributeError (EXPLICIT_BATCH); it must leave as a RanEdgeError."""
    import types

    from ran_edge.engine import build
    from ran_edge.engine_contract.meta import DeviceEnv
    from ran_edge.engine_contract.options import BuildRequest
    from ran_edge.engine_contract.plan import plan_build

    def engine_bytes(*args, **kwargs):
        def load():
            raise AttributeError("type object 'tensorrt.NetworkDefinitionCreationFlag' has no attribute 'EXPLICIT_BATCH'")
        return load

    fake_poly = types.SimpleNamespace(NetworkFromOnnxPath=lambda *a, **k: object(), EngineBytesFromNetwork=engine_bytes,
                                      Profile=lambda: types.SimpleNamespace(add=lambda *a, **k: None),
                                      CreateConfig=lambda **k: object())
    monkeypatch.setattr(build, "require_tensorrt", lambda: types.SimpleNamespace(MemoryPoolType=None))
    monkeypatch.setattr(build, "require", lambda *a, **k: fake_poly)
    plan = plan_build(onnx_meta(), BuildRequest(), "11.4")
    env = DeviceEnv("11.4.0", "gpu", (8, 9))
    with pytest.raises(RanEdgeError) as info:
        build.build_engine(tmp_path / "m.onnx", onnx_meta(), plan, tmp_path / "m.engine", env, built=plan.requested,
                           log=lambda s: None)
    text = str(info.value)
    assert "\n" not in text and "TensorRT 11.4.0" in text and "AttributeError" in text and "EXPLICIT_BATCH" in text
