"""Real TensorRT builds and the TrtRunner (marker ``trt``; skipped with the reason where TensorRT or a GPU is absent).

A tiny RAN is trained for a few epochs on synthetic faces (so its decisions are not coin flips), exported,
then built through ``ran-edge build-engine`` and compared with ONNX Runtime on the same faces.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytestmark = pytest.mark.trt

BATCH = ["--batch", "2,4,8"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from ran_edge.data.synthetic.faces import make_split
    from ran_edge.export import export_onnx
    from ran_edge.train.loop import TrainConfig, train
    from tests.runtime.artifacts import tiny_model

    folder = tmp_path_factory.mktemp("trt")
    model = tiny_model()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = TrainConfig(epochs=12, lr=0.05, batch_size=64, device=device, milestones=(0.6, 0.85))
    train(model, make_split("train", 1400, size=32), make_split("val", 210, size=32), cfg, folder / "train", progress=False,
          log=lambda s: None)
    model = model.cpu().eval()
    quiet = lambda s: None  # noqa: E731
    onnx = export_onnx(model, folder / "model.onnx", log=quiet).path
    regions = export_onnx(model, folder / "regions.onnx", input_kind="regions", log=quiet).path
    faces = [s.image for s in make_split("test", 280, size=32).samples]
    return {"folder": folder, "onnx": onnx, "regions": regions, "faces": faces}


def build(src, out, *extra):
    from ran_edge.cli.main import main

    rc = main(["build-engine", str(src), "--out", str(out), *BATCH, *map(str, extra)])
    assert rc == 0, f"build-engine {extra} failed"
    return out


def predict(path, faces, **options):
    from ran_edge.runtime import load

    with load(path, **options) as clf:
        preds = clf.predict(faces)
    return np.stack([p.logits for p in preds]), np.stack([p.region_weights for p in preds])


def test_fp32_engine_matches_ort_and_sidecar(trained):
    engine = build(trained["onnx"], trained["folder"] / "fp32.engine", "--precision", "fp32",
                   "--timing-cache", trained["folder"] / "timing.cache")
    meta = json.loads((trained["folder"] / "fp32.engine.json").read_text())
    assert meta["format"] == "engine" and meta["precision"] == "fp32"
    for key in ("tensorrt_version", "cuda_version", "gpu_name", "compute_capability", "onnx_sha256", "engine_sha256", "build_time_s"):
        assert meta["extra"][key], key
    assert meta["extra"]["profiles"][0]["max"][0] == 8 and (trained["folder"] / "timing.cache").stat().st_size > 0
    ref, ref_w = predict(trained["onnx"], trained["faces"])
    got, got_w = predict(engine, trained["faces"])
    assert np.abs(got - ref).max() < 1e-3 and np.abs(got_w - ref_w).max() < 1e-4


def test_fp16_engine_parity(trained):
    engine = build(trained["onnx"], trained["folder"] / "fp16.engine", "--precision", "fp16")
    ref, _ = predict(trained["onnx"], trained["faces"])
    got, _ = predict(engine, trained["faces"])
    delta = float(np.abs(got - ref).max())
    print(f"fp16 max |dlogit| = {delta:.4f} (logit range {np.abs(ref).max():.2f})")
    assert delta < 0.05 + 0.01 * float(np.abs(ref).max())
    assert (got.argmax(1) == ref.argmax(1)).mean() >= 0.99


def test_int8_qdq_top1_agreement(trained):
    engine = build(trained["onnx"], trained["folder"] / "int8.engine", "--precision", "int8", "--calib-data", "synthetic",
                   "--calib-num", "256")
    meta = json.loads((trained["folder"] / "int8.engine.json").read_text())
    assert meta["precision"] == "int8" and meta["extra"]["build_plan"]["onnx_precision"] == "int8"
    assert meta["extra"]["calibration_manifest_sha256"]
    ref, _ = predict(trained["onnx"], trained["faces"])
    got, _ = predict(engine, trained["faces"])
    agreement = float((got.argmax(1) == ref.argmax(1)).mean())
    print(f"int8 (QDQ) top-1 agreement with fp32 = {agreement:.4f}")
    assert agreement >= 0.98


def test_int8_implicit_calibrator(trained):
    from ran_edge.engine.build import installed_trt_version

    if installed_trt_version().strongly_typed_only:
        pytest.skip("TensorRT 11 has no implicit INT8 calibrator (the plan refuses it, tested in test_plan.py)")
    engine = build(trained["onnx"], trained["folder"] / "calib.engine", "--precision", "int8", "--int8-method", "calibrator",
                   "--calib-data", "synthetic", "--calib-num", "256")
    assert (trained["folder"] / "calib.calibration.cache").stat().st_size > 0
    ref, _ = predict(trained["onnx"], trained["faces"])
    got, _ = predict(engine, trained["faces"])
    agreement = float((got.argmax(1) == ref.argmax(1)).mean())
    print(f"int8 (implicit calibrator) top-1 agreement with fp32 = {agreement:.4f}")
    assert agreement >= 0.95
    again = build(trained["onnx"], trained["folder"] / "calib2.engine", "--precision", "int8",
                  "--calib-cache", trained["folder"] / "calib.calibration.cache")
    assert np.array_equal(predict(again, trained["faces"][:16])[0].argmax(1), got[:16].argmax(1))


def test_cuda_graph_and_batch_splitting(trained):
    from ran_edge.preprocess import prepare_faces
    from ran_edge.runtime import OrtRunner, TrtRunner
    from ran_edge.artifact import read_sidecar

    engine = trained["folder"] / "fp32.engine"
    if not engine.exists():
        build(trained["onnx"], engine, "--precision", "fp32")
    meta = read_sidecar(engine)
    x = prepare_faces(trained["faces"][:19], meta.preprocess)
    with OrtRunner(trained["onnx"]) as ort:
        ref = ort.infer({"faces": x})["logits"]
    with TrtRunner(engine, meta, cuda_graph=True) as trt:
        assert trt.profile_batch() == (2, 8)
        out = trt.infer({"faces": x})["logits"]  # 19 = 8 + 8 + 3 chunks
        np.testing.assert_allclose(out, ref, atol=1e-3)
        one = trt.infer({"faces": x[:1]})["logits"]  # below the profile min: padded to 2
        np.testing.assert_allclose(one, ref[:1], atol=1e-3)
        graphs = trt.graph_count
        assert graphs == 3  # shapes 8, 3 and 2
        trt.infer({"faces": x[:8]})
        assert trt.graph_count == graphs and trt.last_gpu_time_ms > 0
    with TrtRunner(engine, meta) as plain:
        np.testing.assert_allclose(plain.infer({"faces": x})["logits"], out, atol=1e-5)


def test_regions_engine(trained):
    engine = build(trained["regions"], trained["folder"] / "regions.engine", "--precision", "fp32")
    ref, _ = predict(trained["regions"], trained["faces"][:20])
    got, _ = predict(engine, trained["faces"][:20])
    assert np.abs(got - ref).max() < 1e-3


def test_engine_mismatch_detected(trained):
    from ran_edge.artifact import read_sidecar, write_sidecar
    from ran_edge.errors import EngineMismatchError
    from ran_edge.runtime import load

    src = trained["folder"] / "fp32.engine"
    if not src.exists():
        build(trained["onnx"], src, "--precision", "fp32")
    other = trained["folder"] / "other.engine"
    shutil.copy(src, other)
    write_sidecar(other, read_sidecar(src).with_extra(tensorrt_version="7.1.3"))
    with pytest.raises(EngineMismatchError, match="rebuild it here with: ran-edge build-engine"):
        load(other)


def test_version_compatible_engine(trained):
    from ran_edge.engine.build import installed_trt_version

    if not installed_trt_version().has_version_compatible:
        pytest.skip("version-compatible engines need TensorRT 8.6+")
    engine = build(trained["onnx"], trained["folder"] / "vc.engine", "--precision", "fp32", "--version-compatible")
    ref, _ = predict(trained["onnx"], trained["faces"][:16])
    got, _ = predict(engine, trained["faces"][:16])
    assert np.abs(got - ref).max() < 1e-3
