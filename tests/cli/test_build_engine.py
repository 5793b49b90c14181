"""ran-edge build-engine without TensorRT: dry-run plans, trtexec lines, refusals, the missing-TRT error."""

from __future__ import annotations

import importlib.util

import pytest

from ran_edge.cli.main import main


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from tests.runtime.artifacts import export_all, tiny_model

    return export_all(tiny_model(), tmp_path_factory.mktemp("build_engine"), torchscript=False)


def run(capsys, *argv):
    rc = main(["build-engine", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_dry_run_every_version(artifacts, capsys, tmp_path):
    rc, out, _ = run(capsys, artifacts["onnx"], "--precision", "fp16", "--dry-run", "--out", tmp_path / "m.engine")
    assert rc == 0
    for line in ("TensorRT 8.5: fp16 via fp16-flag [JetPack 5.1]", "TensorRT 8.6: fp16 via fp16-flag [JetPack 6.0]",
                 "TensorRT 10.3: fp16 via fp16-flag", "TensorRT 11.0: fp16 via strongly-typed",
                 "before the build: convert-fp16", "profile faces: min [1, 3, 32, 32] opt [8, 3, 32, 32] max [32, 3, 32, 32]",
                 "trtexec: not yet: TensorRT 8.2's ONNX parser reads opsets up to 13", "TensorRT lint (8.5, 8.6, 10.3, 11.0):"):
        assert line in out, line
    assert not (tmp_path / "m.engine").exists()


def test_dry_run_int8_shows_refusal(artifacts, capsys, tmp_path):
    rc, out, _ = run(capsys, artifacts["onnx"], "--precision", "int8", "--calib-cache", tmp_path / "c.cache", "--dry-run",
                     "--out", tmp_path / "m.engine")
    assert rc == 0
    assert "TensorRT 8.6: int8 via int8-calibrator" in out and "calibration: calibration cache" in out
    assert "TensorRT 11.0" in out and "refused: TensorRT 11.0 has no implicit INT8 calibrator" in out
    rc, _, err = run(capsys, artifacts["onnx"], "--precision", "int8", "--calib-cache", "c.cache", "--dry-run",
                     "--trt-version", "11.0", "--out", tmp_path / "m.engine")
    assert rc == 1


def test_dry_run_from_checkpoint_regions(artifacts, capsys, tmp_path):
    rc, out, _ = run(capsys, artifacts["pt"], "--input", "regions", "--batch", "1,2,4", "--dry-run", "--trt-version", "10.3",
                     "--out", tmp_path / "m.engine")
    assert rc == 0
    assert "checkpoint, exported first" in out and "before the build: export-onnx" in out
    assert "profile regions: min [6, 3, 16, 16] opt [12, 3, 16, 16] max [24, 3, 16, 16]" in out


def test_emit_trtexec_for_nano(artifacts, capsys, tmp_path):
    rc, out, err = run(capsys, artifacts["onnx"], "--precision", "fp16", "--emit-trtexec", "--trt-version", "8.2",
                       "--workspace", "256", "--calib-num", "16", "--out", tmp_path / "m.engine")
    assert rc == 1 and out == "" and "has opset 17" in err and "--opset 13" in err  # issue 26: no unusable command
    rc, out, _ = run(capsys, artifacts["onnx"], "--precision", "fp32", "--emit-trtexec", "--trt-version", "10.3",
                     "--workspace", "256", "--out", tmp_path / "m.engine")
    lines = out.strip().splitlines()
    assert rc == 0 and lines[-1].startswith(f"trtexec --onnx={artifacts['onnx']} --saveEngine={tmp_path / 'm.engine'}")
    assert "--noTF32" in lines[-1] and "--memPoolSize=workspace:256" in lines[-1]


def test_user_errors_are_one_line(artifacts, capsys, tmp_path):
    rc, _, err = run(capsys, tmp_path / "model.bin", "--out", tmp_path / "m.engine")
    assert rc == 1 and "expected model.onnx or a .pt checkpoint" in err and len(err.strip().splitlines()) == 1
    rc, out, _ = run(capsys, artifacts["onnx"], "--precision", "fp32", "--dla-core", "0", "--dry-run", "--trt-version", "8.6",
                     "--out", tmp_path / "m.engine")
    assert rc == 1 and "refused: DLA runs FP16 or INT8 only" in out
    rc, _, err = run(capsys, artifacts["onnx"], "--batch", "8,2,4", "--dry-run", "--out", tmp_path / "m.engine")
    assert rc == 1 and "1 <= MIN <= OPT <= MAX" in err and "Traceback" not in err


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_real_build_without_tensorrt(artifacts, capsys, tmp_path):
    rc, out, err = run(capsys, artifacts["onnx"], "--precision", "fp16", "--out", tmp_path / "m.engine")
    assert rc == 1 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "TensorRT is not available" in err and "pip install 'ran-edge[trt]'" in err and "JetPack" in err
    assert not (tmp_path / "m.engine").exists()


def test_fp16_analysis_pre_step(artifacts, capsys, tmp_path):
    import shutil

    from dataclasses import replace

    from ran_edge.artifact import read_sidecar, write_sidecar

    src = tmp_path / "model.onnx"
    shutil.copy(artifacts["onnx"], src)
    meta = read_sidecar(artifacts["onnx"])  # an earlier fp16 emit may have analysed the shared file already
    write_sidecar(src, replace(meta, extra={k: v for k, v in meta.extra.items() if not k.startswith("fp16")}))
    rc, out, _ = run(capsys, src, "--precision", "fp16", "--calib-num", "16", "--prepare-only", "--trt-version", "8.6",
                     "--out", tmp_path / "e" / "m.engine")
    assert rc == 0 and "FP16 analysis on 16 faces" in out
    assert isinstance(read_sidecar(src).extra["fp16_keep_fp32_layers"], list)  # recorded by the analysis
    rc, out, _ = run(capsys, src, "--precision", "fp16", "--calib-num", "16", "--emit-trtexec", "--trt-version", "8.6",
                     "--out", tmp_path / "e" / "m.engine")
    assert rc == 0 and out.strip().splitlines()[-1].startswith(f"trtexec --onnx={src} ") and "--fp16" in out
    for mode in ("--prepare-only", "--emit-trtexec"):
        rc, out, _ = run(capsys, src, "--precision", "fp16", "--calib-num", "16", mode, "--trt-version", "11.0",
                         "--out", tmp_path / "e" / "m.engine")
        assert rc == 0
    last = out.strip().splitlines()[-1]
    assert rc == 0 and f"--onnx={tmp_path / 'e' / 'm.fp16.onnx'}" in last and "--stronglyTyped" in last
    assert read_sidecar(tmp_path / "e" / "m.fp16.onnx").precision.value == "fp16"


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed: one command, its version")
def test_emit_trtexec_without_tensorrt_prints_every_target(artifacts, capsys, tmp_path):
    rc, out, _ = run(capsys, artifacts["onnx"], "--precision", "fp32", "--emit-trtexec", "--out", tmp_path / "m.engine")
    assert rc == 0
    for header in ("# TensorRT 8.2: not yet: TensorRT 8.2's ONNX parser reads opsets up to 13", "# TensorRT 8.6 [JetPack 6.0]",
                   "# TensorRT 11.0 ["):
        assert header in out, header
    commands = [line for line in out.splitlines() if line.startswith("trtexec ")]
    assert len(commands) == 4
    assert "--stronglyTyped" in commands[-1] and all("--noTF32" in c for c in commands)
    assert not (tmp_path / "m.engine").exists()
