"""The demo pipeline end to end on a tiny configuration (the real demo is `make demo`)."""

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from ran_edge.demo_run import DemoConfig, run_demo  # noqa: E402


@pytest.mark.slow
def test_tiny_demo_writes_every_artifact(tmp_path):
    cfg = DemoConfig(out=tmp_path / "demo", n_train=70, n_val=35, n_test=35, image_size=32, face_size=32,
                     region_size=16, trunk_width=4, epochs=1, calibration_faces=16, bench_iters=3, progress=False,
                     allow_accuracy_loss=True, int8_max_higher_precision=2, int8_holdout_num=60)  # an untrained model: quality is not tested here
    report = run_demo(cfg, log=lambda s: None)
    ev = json.loads((cfg.out / "eval.json").read_text())
    assert {"accuracy", "per_class_accuracy", "confusion", "n", "suites"} <= set(ev)
    assert set(ev["suites"]) == {"clean", "occlusion", "pose30", "pose45"}
    assert ev["n"] == 35 and ev["accuracy"] == ev["per_region_path_accuracy"]
    for key in ("checkpoint", "onnx", "onnx_regions", "torchscript", "onnx_fp16", "onnx_int8_tensorrt", "onnx_int8_cpu",
                "trt_calibration_cache", "calibration_manifest", "bench_md", "bench_json"):
        assert Path(report.artifacts[key]).is_file(), key
    precision = json.loads((cfg.out / "precision.json").read_text())
    assert set(precision["clean"]) == {"fp16", "int8-trt", "int8-cpu"}
    assert 0.0 <= precision["clean"]["int8-cpu"]["top1_agreement"] <= 1.0
    assert json.loads((cfg.out / "demo.json").read_text())["seconds"]["total"] > 0
