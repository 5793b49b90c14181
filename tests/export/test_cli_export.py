import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from ran_edge.artifact import Precision, read_sidecar, sha256_file  # noqa: E402
from ran_edge.cli.main import main  # noqa: E402
from ran_edge.model.checkpoint import save_checkpoint  # noqa: E402


def test_export_cli_onnx_fp16_and_torchscript(tiny_module_ran, tmp_path, capsys):
    ckpt = save_checkpoint(tmp_path / "tiny.pt", tiny_module_ran)
    assert main(["export", str(ckpt), "--out", str(tmp_path / "m.onnx"), "--check-fp16", "--fp16-num", "16"]) == 0
    meta = read_sidecar(tmp_path / "m.onnx")
    assert meta.extra["checkpoint_sha256"] == sha256_file(ckpt) and meta.extra["fp16_keep_fp32_layers"] == []
    assert read_sidecar(tmp_path / "m.fp16.onnx").precision is Precision.FP16
    assert main(["export", str(ckpt), "--format", "torchscript", "--input", "regions", "--out", str(tmp_path / "m.ts")]) == 0
    assert read_sidecar(tmp_path / "m.ts").input_kind.value == "regions"
    out = capsys.readouterr().out
    assert "parity vs torch" in out and "wrote" in out
