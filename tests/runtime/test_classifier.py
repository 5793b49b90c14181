"""The runtime through ONNX Runtime and TorchScript: same predictions as torch eager, metadata, backends."""

from __future__ import annotations

import numpy as np
import pytest

from ran_edge.artifact import InputKind, read_sidecar
from ran_edge.errors import RanEdgeError
from ran_edge.preprocess import prepare_faces, region_batch_reference
from ran_edge.runtime import Backend, Classifier, OrtRunner, backend_for, load, softmax
from tests.runtime.artifacts import faces, torch_reference


@pytest.mark.parametrize("kind", ["onnx", "ts"])
def test_predict_matches_torch_eager(tiny_artifacts, kind):
    model, paths = tiny_artifacts
    batch = faces(9)
    ref = torch_reference(model, prepare_faces(batch, model.config.preprocess))
    with load(paths[kind]) as clf:
        preds = clf.predict(batch)
        assert clf.last_inference_time is not None and clf.last_inference_time > 0
    logits = np.stack([p.logits for p in preds])
    np.testing.assert_allclose(logits, ref["logits"], atol=1e-4)
    np.testing.assert_allclose(np.stack([p.region_weights for p in preds]), ref["region_weights"], atol=1e-5)
    assert [p.index for p in preds] == list(ref["logits"].argmax(1))
    assert [p.label for p in preds] == [model.config.class_names[i] for i in ref["logits"].argmax(1)]
    for p in preds:
        assert p.probs.shape == (7,) and abs(float(p.probs.sum()) - 1.0) < 1e-5
        assert p.region_weights.shape == (6,) and abs(float(p.region_weights.sum()) - 1.0) < 1e-4


def test_batch_array_equals_list(tiny_artifacts):
    _, paths = tiny_artifacts
    batch = faces(4, size=(32, 32))
    with load(paths["onnx"]) as clf:
        a = clf.predict(batch)
        b = clf.predict(np.stack(batch))
        c = clf.predict(batch[0])  # one face HxWx3
    np.testing.assert_array_equal(np.stack([p.logits for p in a]), np.stack([p.logits for p in b]))
    np.testing.assert_allclose(a[0].logits, c[0].logits, atol=1e-5)  # batch 1 vs 4 may pick other kernels


def test_regions_artifact_predict_and_predict_regions(tiny_artifacts):
    model, paths = tiny_artifacts
    batch = faces(3)
    spec, preset = model.config.preprocess, model.config.preset
    regions = np.concatenate([region_batch_reference(f, np.array([[0, 0, f.shape[1], f.shape[0]]]), preset, spec) for f in batch])
    ref = torch_reference(model, regions, regions=True)
    with load(paths["regions"]) as clf:
        assert clf.input_kind is InputKind.REGIONS
        by_regions = clf.predict_regions(regions)
        by_faces = clf.predict(batch)
        with pytest.raises(RanEdgeError, match=r"expected \[N\*6,3,R,R\]"):
            clf.predict_regions(regions[:5])
    np.testing.assert_allclose(np.stack([p.logits for p in by_regions]), ref["logits"], atol=1e-4)
    np.testing.assert_allclose(np.stack([p.logits for p in by_faces]), ref["logits"], atol=1e-4)


def test_meta_round_trip_and_class_names(tiny_artifacts):
    model, paths = tiny_artifacts
    with load(paths["onnx"]) as clf:
        assert clf.meta == read_sidecar(paths["onnx"])
        assert clf.meta.to_dict() == type(clf.meta).from_dict(clf.meta.to_dict()).to_dict()
        assert clf.class_names == tuple(model.config.class_names)
        assert clf.meta.preprocess == model.config.preprocess
        out = clf.infer({"faces": prepare_faces(faces(2), clf.meta.preprocess)})
        assert set(out) == {"logits", "region_weights"} and out["logits"].shape == (2, 7)


def test_predict_regions_refused_on_faces_artifact(tiny_artifacts):
    _, paths = tiny_artifacts
    with load(paths["onnx"]) as clf, pytest.raises(RanEdgeError, match="takes aligned faces"):
        clf.predict_regions(np.zeros((6, 3, 16, 16), np.float32))


def test_backend_choice_and_errors(tiny_artifacts, tmp_path):
    _, paths = tiny_artifacts
    assert backend_for("a.engine") is Backend.TRT and backend_for("a.onnx") is Backend.ORT
    assert backend_for("a.ts") is Backend.TORCHSCRIPT and backend_for("a.bin", "ort") is Backend.ORT
    with pytest.raises(RanEdgeError, match="a checkpoint runs through load"):
        backend_for(paths["pt"])
    with pytest.raises(RanEdgeError, match="unknown artifact type"):
        backend_for("model.xyz")
    with pytest.raises(RanEdgeError, match="backend: got 'tflite'"):
        backend_for("a.onnx", "tflite")
    with pytest.raises(RanEdgeError, match="format 'onnx'"):
        load(paths["onnx"], backend="torchscript")
    with pytest.raises(RanEdgeError, match="do not apply to backend 'ort'"):
        load(paths["onnx"], cuda_graph=True)
    lone = tmp_path / "lone.onnx"
    lone.write_bytes(paths["onnx"].read_bytes())
    with pytest.raises(RanEdgeError, match="metadata file lone.onnx.json not found"):
        load(lone)
    with pytest.raises(RanEdgeError, match="artifact not found"):
        load(tmp_path / "missing.onnx")


def test_ort_runner_options(tiny_artifacts):
    _, paths = tiny_artifacts
    runner = OrtRunner(paths["onnx"], providers="cpu", threads=1)
    with runner:
        assert runner.active_providers == ["CPUExecutionProvider"]
        specs = runner.input_specs()
        assert specs[0].name == "faces" and specs[0].shape == (-1, 3, 32, 32) and specs[0].dtype == "float32"
    assert not runner.is_active
    with pytest.raises(RanEdgeError, match="provider: got 'cuda'"):
        OrtRunner(paths["onnx"], providers="cuda").activate()
    with pytest.raises(RanEdgeError, match="threads: got 0"):
        OrtRunner(paths["onnx"], threads=0)


def test_softmax_stable():
    p = softmax(np.array([[1000.0, 0.0], [0.0, 0.0]], np.float32))
    np.testing.assert_allclose(p, [[1.0, 0.0], [0.5, 0.5]], atol=1e-6)


def test_classifier_rejects_multi_input_runner(tiny_artifacts):
    _, paths = tiny_artifacts
    meta = read_sidecar(paths["onnx"])
    clf = Classifier(OrtRunner(paths["onnx"]), meta)
    assert clf.runner.is_active
    clf.close()
    assert not clf.runner.is_active
