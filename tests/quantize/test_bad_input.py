import json
import shutil

import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

from ran_edge.artifact import sha256_file, sidecar_path  # noqa: E402
from ran_edge.cli.main import main  # noqa: E402
from ran_edge.errors import DataError, RanEdgeError  # noqa: E402
from ran_edge.quantize import calibrate_onnx  # noqa: E402


def _calibrate(model, out_dir, data, num=8):
    return calibrate_onnx(model, out_dir / "m.int8.onnx", data=str(data), num=num, method="minmax",
                          progress=False, log=lambda s: None)


def _copy_model(trained_onnx, d):
    fp32, _ = trained_onnx
    shutil.copy(fp32, d / "model.onnx")
    shutil.copy(sidecar_path(fp32), sidecar_path(d / "model.onnx"))
    return d / "model.onnx"


def test_corrupt_onnx(trained_onnx, calib_dir, tmp_path):
    model = _copy_model(trained_onnx, tmp_path)
    model.write_bytes(b"\x08\x07garbage" * 100)
    with pytest.raises(RanEdgeError, match="corrupt or not an ONNX model"):
        _calibrate(model, tmp_path, calib_dir)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "model.onnx.json"]


def test_non_ran_onnx(trained_onnx, calib_dir, tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    other = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(other, str(tmp_path / "other.onnx"))
    with pytest.raises(RanEdgeError, match="metadata file other.onnx.json not found"):
        _calibrate(tmp_path / "other.onnx", tmp_path, calib_dir)
    shutil.copy(sidecar_path(trained_onnx[0]), sidecar_path(tmp_path / "other.onnx"))
    with pytest.raises(RanEdgeError, match="does not match onnx_sha256"):  # another model's sidecar
        _calibrate(tmp_path / "other.onnx", tmp_path, calib_dir)
    # a sidecar that does describe this file (hash matches) but a graph that is not RAN's
    side = json.loads(sidecar_path(tmp_path / "other.onnx").read_text())
    side["extra"]["onnx_sha256"] = sha256_file(tmp_path / "other.onnx")
    sidecar_path(tmp_path / "other.onnx").write_text(json.dumps(side))
    with pytest.raises(RanEdgeError, match="differ from the sidecar"):
        _calibrate(tmp_path / "other.onnx", tmp_path, calib_dir)
    assert not list(tmp_path.glob("m.int8*"))


def test_empty_missing_and_short_folders(trained_onnx, calib_dir, tmp_path):
    model = _copy_model(trained_onnx, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match="has no images"):
        _calibrate(model, tmp_path, empty)
    with pytest.raises(DataError, match="not found"):
        _calibrate(model, tmp_path, tmp_path / "nope")
    with pytest.raises(DataError, match="64 images, fewer than the 100 asked"):
        _calibrate(model, tmp_path, calib_dir, num=100)
    assert not list(tmp_path.glob("m.int8*")) and not list(tmp_path.glob(".ran-edge-calibrate-*"))


def test_unreadable_image_names_the_file_and_writes_nothing(trained_onnx, calib_dir, tmp_path):
    model = _copy_model(trained_onnx, tmp_path)
    data = tmp_path / "faces"
    shutil.copytree(calib_dir, data)
    (data / "face_003.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="face_003.png"):
        _calibrate(model, tmp_path, data)
    assert not list(tmp_path.glob("m.int8*")) and not list(tmp_path.glob(".ran-edge-calibrate-*"))


def test_cli_errors_are_one_line_and_exit_1(trained_onnx, tmp_path, capsys):
    model = _copy_model(trained_onnx, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        ["calibrate", str(model), "--data", str(empty), "--out", str(tmp_path / "q.onnx")],
        ["calibrate", str(tmp_path / "missing.onnx"), "--out", str(tmp_path / "q.onnx")],
        ["export", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "m.onnx")],
        ["export", str(model), "--format", "torchscript", "--opset", "17", "--out", str(tmp_path / "m.ts")],
    ]
    for argv in cases:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"ran-edge {argv[0]}: error: "), (argv, err)
    assert not list(tmp_path.glob("q*")) and not list(tmp_path.glob("m.*"))
