import json

import pytest

pytest.importorskip("onnxruntime")

from ran_edge.artifact import read_sidecar, sha256_file  # noqa: E402
from ran_edge.cli.main import main  # noqa: E402


def test_calibrate_cli_writes_model_manifest_cache_and_report(trained_onnx, calib_dir, holdout_dir, tmp_path):
    fp32, _ = trained_onnx
    out = tmp_path / "q" / "model.int8.onnx"
    argv = ["calibrate", str(fp32), "--data", str(calib_dir), "--num", "16", "--method", "minmax", "--target", "cpu",
            "--holdout", str(holdout_dir), "--out", str(out), "--report", str(tmp_path / "report.json")]
    assert main(argv) == 0
    manifest = out.with_name("model.int8.calibration.json")
    assert read_sidecar(out).extra["calibration_manifest_sha256"] == sha256_file(manifest)
    assert read_sidecar(out).extra["int8_flavour"] == "cpu"
    assert out.with_name("model.int8.calibration.cache").read_text().startswith("TRT-8601-MinMaxCalibration\n")
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["outputs"]["cpu"]["activations"] == "uint8 asymmetric" and len(json.loads(manifest.read_text())["data"]["files"]) == 16
