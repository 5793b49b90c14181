"""ran-edge inspect on good and bad files: never a traceback, one line and exit 1 for bad input."""

from __future__ import annotations

import json
import os

import pytest

from ran_edge.artifact import read_sidecar, sha256_file, write_sidecar
from ran_edge.cli.main import main


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from tests.runtime.artifacts import export_all, tiny_model

    return export_all(tiny_model(), tmp_path_factory.mktemp("inspect"))


def run(capsys, *argv):
    rc = main(["inspect", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("kind", ["onnx", "ts", "regions"])
def test_inspect_exported(artifacts, capsys, kind):
    rc, out, err = run(capsys, artifacts[kind])
    assert rc == 0 and err == ""
    meta = read_sidecar(artifacts[kind])
    assert f"precision: fp32" in out and f"classes (7): {', '.join(meta.class_names)}" in out
    assert f"input  {meta.inputs[0].name}: {list(meta.inputs[0].shape)} float32" in out
    assert "output logits: [-1, 7] float32" in out and "preset: ferplus6 (K=6" in out
    assert f"sha256: {sha256_file(artifacts[kind])}" in out
    if kind == "onnx":
        assert "graph input  faces: ['N', 3, 32, 32]" in out and "sha256 matches the sidecar" in out


def test_inspect_checkpoint(artifacts, capsys):
    rc, out, _ = run(capsys, artifacts["pt"])
    assert rc == 0 and "ran-edge checkpoint" in out and "trunk width 8" in out and "parameters:" in out


def test_inspect_json(artifacts, capsys):
    rc, out, _ = run(capsys, artifacts["onnx"], "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["meta"]["format"] == "onnx" and doc["sha256"] == sha256_file(artifacts["onnx"])


def test_inspect_engine_sidecar_and_truncation(artifacts, capsys, tmp_path):
    """An engine is checked through its sidecar and recorded sha256 (no TensorRT needed)."""
    from tests.engine.test_meta import make

    engine = tmp_path / "model.engine"
    engine.write_bytes(os.urandom(4096))
    write_sidecar(engine, make().with_extra(engine_sha256=sha256_file(engine)))
    rc, out, _ = run(capsys, engine)
    assert rc == 0 and "format: engine" in out and "tensorrt_version: 8.5.2.2" in out and "gpu_name: Orin" in out
    assert "compute_capability: 8.7" in out and "sha256 matches the sidecar" in out and "built via fp16-flag" in out
    engine.write_bytes(engine.read_bytes()[:1000])
    rc, _, err = run(capsys, engine)
    assert rc == 1 and "truncated or was replaced" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["bad.onnx", "bad.ts", "bad.pt", "bad.engine", "bad.xyz"])
def test_random_bytes_one_line_error(capsys, tmp_path, name):
    pytest.importorskip("torch")
    path = tmp_path / name
    path.write_bytes(os.urandom(2048))
    rc, out, err = run(capsys, path)
    assert rc == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("ran-edge inspect: error:") and "Traceback" not in err


@pytest.mark.parametrize("kind", ["onnx", "ts", "pt"])
def test_truncated_file_one_line_error(artifacts, capsys, tmp_path, kind):
    src = artifacts[kind]
    cut = tmp_path / src.name
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    if kind != "pt":
        write_sidecar(cut, read_sidecar(src))
    rc, _, err = run(capsys, cut)
    assert rc == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_and_no_argument(capsys, tmp_path):
    rc, _, err = run(capsys, tmp_path / "nope.onnx")
    assert rc == 1 and "artifact not found" in err
    rc, _, err = run(capsys)
    assert rc == 1 and "got no artifact" in err


def test_check_runs_export_checks(artifacts, capsys):
    rc, out, _ = run(capsys, artifacts["onnx"], "--check")
    assert rc == 0 and out.strip().splitlines()[-1].startswith("ok")
    rc, _, err = run(capsys, artifacts["ts"], "--check")
    assert rc == 1 and "--check and --fp16 apply to an .onnx file" in err


def test_fp16_analysis_writes_nothing(artifacts, capsys):
    before = (str(artifacts["onnx"]) + ".json", open(str(artifacts["onnx"]) + ".json").read())
    rc, out, _ = run(capsys, artifacts["onnx"], "--fp16")
    report = json.loads(out[out.index("{\n"):])
    assert rc == 0 and isinstance(report["keep_fp32_layers"], list) and report["samples"] == 64
    assert 0.0 <= report["fp16"]["max_abs_logit_diff"] < 0.05
    assert open(before[0]).read() == before[1]


def test_kernels(capsys):
    rc, out, _ = run(capsys, "--kernels")
    assert rc == 0 and out.startswith(("region-batch kernels:", "kernels: ran_edge.kernels is not available"))
