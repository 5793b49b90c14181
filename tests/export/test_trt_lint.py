import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from ran_edge.export.trt_lint import lint_tensorrt  # noqa: E402


def _graph(nodes, opset=17, inits=(), inputs=None):
    inputs = inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    g = helper.make_graph(nodes, "g", inputs, [out], initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _by_version(findings):
    return {f.trt_version: f for f in findings}


def test_exported_ran_is_clean_for_8_6_and_10(exported_faces):
    result, _ = exported_faces
    assert lint_tensorrt(onnx.load(str(result.path))) == []


def test_gridsample_20_linear_is_flagged_for_every_version():
    grid = helper.make_tensor_value_info("grid", TensorProto.FLOAT, [1, 8, 8, 2])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    node = helper.make_node("GridSample", ["x", "grid"], ["y"], name="warp", mode="linear")
    found = lint_tensorrt(_graph([node], opset=20, inputs=[x, grid]), versions=("10.0",))
    assert len(found) == 1 and found[0].node == "warp" and found[0].needs is None
    assert "nearest" in found[0].message and "opset <= 19" in found[0].message


def test_gridsample_5d_input_is_flagged():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 8, 8])
    grid = helper.make_tensor_value_info("grid", TensorProto.FLOAT, [1, 4, 8, 8, 3])
    node = helper.make_node("GridSample", ["x", "grid"], ["y"], name="vol", mode="bilinear")
    found = lint_tensorrt(_graph([node], opset=17, inputs=[x, grid]), versions=("8.6",))
    assert [f.node for f in found] == ["vol"] and "4-D" in found[0].message


def test_op_added_after_8_6_names_the_version_needed():
    node = helper.make_node("Hardmax", ["x"], ["y"], name="hm")
    found = _by_version(lint_tensorrt(_graph([node])))
    assert set(found) == {"8.6"}  # 10.0 parses it
    assert found["8.6"].needs == "9.2" and "hm" in str(found["8.6"]) and "TensorRT >= 9.2" in str(found["8.6"])


def test_opset_above_17_fails_8_6_only():
    node = helper.make_node("Relu", ["x"], ["y"], name="r")
    found = lint_tensorrt(_graph([node], opset=18))
    assert [(f.trt_version, f.node, f.needs) for f in found] == [("8.6", "", "10.0")]


def test_resize_cubic_and_never_supported_ops():
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2])
    resize = helper.make_node("Resize", ["x", "", "scales"], ["r"], name="up", mode="cubic")
    uniq = helper.make_node("Unique", ["r"], ["y"], name="u")
    found = lint_tensorrt(_graph([resize, uniq], inits=[scales]), versions=("8.6",))
    assert {(f.node, f.needs) for f in found} == {("up", None), ("u", None)}
    assert "Resize mode 'cubic'" in next(f.message for f in found if f.node == "up")


def test_uint8_qdq_and_nonconstant_axes_are_flagged():
    s = helper.make_tensor("s", TensorProto.FLOAT, [], [0.1])
    zp = helper.make_tensor("zp", TensorProto.UINT8, [], [128])
    q = helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"], name="q")
    dq = helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["d"], name="dq")
    shape = helper.make_node("Shape", ["d"], ["axes"], name="shape")
    sq = helper.make_node("Squeeze", ["d", "axes"], ["y"], name="sq")
    found = lint_tensorrt(_graph([q, dq, shape, sq], inits=[s, zp]), versions=("10.0",))
    msgs = {(f.node, f.message) for f in found}
    assert ("q", "zero point must be a constant 0 (symmetric quantization)") in msgs
    assert any(n == "dq" and "UINT8" in m for n, m in msgs)
    assert any(n == "sq" and "axes must be a build-time constant" in m for n, m in msgs)
