import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from ran_edge.artifact import InputKind, TensorSpec  # noqa: E402
from ran_edge.errors import RanEdgeError  # noqa: E402
from ran_edge.export.checks import check_structure  # noqa: E402
from ran_edge.export.io import GraphIO  # noqa: E402

IO = GraphIO(InputKind.FACES, (TensorSpec("faces", (-1, 3, 8, 8)),),
             (TensorSpec("logits", (-1, 7)), TensorSpec("region_weights", (-1, 6))))


def _model(nodes, in_name="faces", opset=17, batch="N"):
    x = helper.make_tensor_value_info(in_name, TensorProto.FLOAT, [batch, 3, 8, 8])
    outs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 7]),
            helper.make_tensor_value_info("region_weights", TensorProto.FLOAT, ["N", 6])]
    g = helper.make_graph(nodes, "g", [x], outs)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _ok_nodes(src="faces"):
    return [helper.make_node("Flatten", [src], ["f"], name="flat"),
            helper.make_node("Identity", ["f"], ["logits"], name="l"),
            helper.make_node("Identity", ["f"], ["region_weights"], name="w")]


def test_clean_graph_passes():
    assert check_structure(_model(_ok_nodes()), IO).ok


def test_dropout_is_rejected_with_the_node_name():
    nodes = [helper.make_node("Dropout", ["faces"], ["d"], name="drop")] + _ok_nodes("d")
    res = check_structure(_model(nodes), IO)
    assert not res.ok and res.errors[0].node == "drop" and "training-only" in res.errors[0].message
    with pytest.raises(RanEdgeError, match="drop"):
        res.raise_if_failed("graph")


def test_wrong_input_name_and_static_batch_are_rejected():
    assert "graph inputs are ['image']" in check_structure(_model(_ok_nodes("image"), in_name="image"), IO).summary()
    res = check_structure(_model(_ok_nodes(), batch=4), IO)
    assert not res.ok and "input 'faces' has shape [4, 3, 8, 8]" in res.summary()


def test_op_outside_the_opset_is_rejected():
    # Gelu exists only from opset 20; declared opset 17.
    nodes = [helper.make_node("Gelu", ["faces"], ["g"], name="gelu")] + _ok_nodes("g")
    res = check_structure(_model(nodes, opset=17), IO)
    assert any(f.node == "gelu" and "not defined in opset 17" in f.message for f in res.errors)
