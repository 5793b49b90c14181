"""``export_triton`` on real (tiny) ONNX artifacts; the repository is checked against Triton's own
``ModelConfig`` schema and load rules by ``ran_edge.serve.validate`` in the serving environment."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ran_edge.artifact import read_sidecar
from ran_edge.cli.main import main as cli
from ran_edge.errors import RanEdgeError
from ran_edge.serve.python_model import load_meta, preprocess_batch
from ran_edge.serve.repository import export_triton
from ran_edge.serve.triton_config import TritonOptions
from tests.runtime.artifacts import faces

ROOT = Path(__file__).resolve().parents[2]


def validate(serve_python: str, repo: Path) -> subprocess.CompletedProcess:
    return subprocess.run([serve_python, "-m", "ran_edge.serve.validate", str(repo)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


@pytest.fixture(scope="module")
def repo(onnx_artifacts, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("triton_repo")
    export_triton(onnx_artifacts["faces"], out, TritonOptions(instances=2), with_preprocess=True)
    export_triton(onnx_artifacts["regions"], out, TritonOptions(name="ran_regions"), with_preprocess=True)
    return out


def test_repository_layout(repo, onnx_artifacts):
    meta = read_sidecar(onnx_artifacts["faces"])
    ran = repo / "ran"
    assert (ran / "1" / "model.onnx").read_bytes() == onnx_artifacts["faces"].read_bytes()
    assert (ran / "labels.txt").read_text().splitlines() == list(meta.class_names)
    assert json.loads((ran / "ran_edge_meta.json").read_text()) == meta.to_dict()
    assert (repo / "ran_preprocess" / "1" / "model.py").is_file() and (repo / "ran_ensemble" / "1").is_dir()
    assert sorted(p.name for p in repo.iterdir()) == ["ran", "ran_ensemble", "ran_preprocess", "ran_regions",
                                                      "ran_regions_ensemble", "ran_regions_preprocess"]
    with pytest.raises(RanEdgeError, match="--force"):
        export_triton(onnx_artifacts["faces"], repo)


def test_preprocess_model_core_equals_the_classifier(repo, onnx_artifacts):
    """The Python-backend model's core is ran-edge's one preprocessing: same array as the Classifier's."""
    from ran_edge.runtime import load

    batch = np.stack(faces(3, size=(40, 36)))
    for name, art in (("ran_preprocess", "faces"), ("ran_regions_preprocess", "regions")):
        with load(onnx_artifacts[art]) as clf:
            got = preprocess_batch(batch, load_meta(str(repo / name)))
            np.testing.assert_array_equal(got, clf.preprocess(list(batch)))


def test_repository_is_valid_for_triton(repo, serve_python):
    run = validate(serve_python, repo)
    assert run.returncode == 0, run.stderr
    verdict, details = run.stdout.split("\n", 1)  # issue 26: a one-line verdict first, then the JSON
    assert verdict.startswith(f"OK: {repo} is a valid Triton model repository: 6 model(s): ran (onnxruntime_onnx")
    summary = json.loads(details)
    ran = summary["ran"]
    assert ran["kind"] == "onnxruntime_onnx" and ran["max_batch_size"] == 32 and ran["graph_checked"]
    assert ran["inputs"] == {"faces": {"data_type": "TYPE_FP32", "dims": [3, 32, 32], "label_filename": ""}}
    assert ran["outputs"]["logits"] == {"data_type": "TYPE_FP32", "dims": [7], "label_filename": "labels.txt"}
    assert ran["dynamic_batching"] and ran["preferred_batch_size"] == [4, 8, 16]
    assert ran["instance_group"][0]["count"] == 2
    assert summary["ran_regions"]["max_batch_size"] == 0 and summary["ran_regions"]["graph_checked"]
    assert summary["ran_regions"]["inputs"]["regions"]["dims"] == [-1, 3, 16, 16]
    assert summary["ran_ensemble"]["kind"] == "ensemble" and summary["ran_preprocess"]["kind"] == "python"


@pytest.mark.parametrize("edit,problem", [
    (("dims: [ 3, 32, 32 ]", "dims: [ 3, 32, 31 ]"), "metadata says"),
    (("TYPE_FP32", "TYPE_FLOAT32"), "not a valid Triton model config"),
    (("max_batch_size: 32", "max_batch_sizes: 32"), "not a valid Triton model config"),
    (('name: "faces"', 'name: "image"'), "not in the config"),
    (("preferred_batch_size: [ 4, 8, 16 ]", "preferred_batch_size: [ 4, 8, 64 ]"), "preferred_batch_size [64]"),
])
def test_validator_rejects_broken_configs(repo, serve_python, tmp_path, edit, problem):
    broken = tmp_path / "repo"
    shutil.copytree(repo / "ran", broken / "ran")
    cfg = broken / "ran" / "config.pbtxt"
    text = cfg.read_text()
    assert edit[0] in text
    cfg.write_text(text.replace(edit[0], edit[1], 1))
    run = validate(serve_python, broken)
    assert run.returncode == 1 and problem in run.stderr, run.stderr


def test_cli_export_triton(onnx_artifacts, tmp_path, capsys):
    assert cli(["export-triton", str(onnx_artifacts["faces"]), "--repo", str(tmp_path), "--name", "fer",
                "--max-batch", "8", "--preferred-batch", "2,4", "--queue-delay-us", "100"]) == 0
    text = (tmp_path / "fer" / "config.pbtxt").read_text()
    assert "max_batch_size: 8" in text and "preferred_batch_size: [ 2, 4 ]" in text and "max_queue_delay_microseconds: 100" in text
    assert cli(["export-triton", str(onnx_artifacts["regions"]), "--repo", str(tmp_path), "--max-batch", "8"]) == 1
    assert "N*K region rows" in capsys.readouterr().err
    assert cli(["export-triton", str(onnx_artifacts["faces"]), "--repo", str(tmp_path / "ds"), "--deepstream"]) == 1
    assert not (tmp_path / "ds").exists()  # refused before writing


@pytest.mark.slow
def test_generated_preprocess_model_runs_in_real_triton(repo, onnx_artifacts, serve_python, tmp_path):
    """The generated Python-backend model loads in PyTriton's tritonserver and returns exactly the
    Classifier's preprocessed input (faces and regions). The ensemble and the main ONNX/TensorRT
    models need the onnxruntime/tensorrt backends, which PyTriton's server does not ship."""
    from ran_edge.runtime import load
    from tests.serve.test_server import free_port_triple

    single = tmp_path / "repo"
    for name in ("ran_preprocess", "ran_regions_preprocess"):
        shutil.copytree(repo / name, single / name)
    batch = np.stack(faces(3, size=(40, 36)))
    np.savez(tmp_path / "faces.npz", faces=batch)
    out = tmp_path / "out.npz"
    run = subprocess.run([serve_python, str(ROOT / "tests" / "serve" / "client_check.py"), "preprocess", "--repo",
                          str(single), "--model", "ran_preprocess", "--model", "ran_regions_preprocess",
                          "--port", str(free_port_triple()), "--faces", str(tmp_path / "faces.npz"), "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    got = np.load(out)
    for name, art in (("ran_preprocess", "faces"), ("ran_regions_preprocess", "regions")):
        with load(onnx_artifacts[art]) as clf:
            np.testing.assert_array_equal(got[name], clf.preprocess(list(batch)))


def test_validate_prints_a_one_line_verdict_first(repo, capsys):
    """Issue 26: the validator says OK (or the error) in its first line, then the JSON details."""
    pytest.importorskip("tritonclient.grpc.model_config_pb2")
    from ran_edge.serve.validate import main as validate_main

    assert validate_main([str(repo)]) == 0
    first, details = capsys.readouterr().out.split("\n", 1)
    assert first.startswith(f"OK: {repo} is a valid Triton model repository: 6 model(s): ran (onnxruntime_onnx")
    assert set(json.loads(details)) == {p.name for p in repo.iterdir()}
    assert validate_main([str(repo / "ran" / "1")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
