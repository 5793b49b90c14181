"""The torch executor of ONNX graphs (QAT's student) against ONNX Runtime: FP32 exactly, QDQ with exact Q/DQ."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from ran_edge.artifact import InputKind, read_sidecar  # noqa: E402
from ran_edge.errors import RanEdgeError  # noqa: E402
from ran_edge.quantize.onnx_torch import QDQ_OPS, SUPPORTED_OPS, _ops, build_onnx_torch, weight_scale  # noqa: E402
from ran_edge.quantize.qat_data import feeds_of  # noqa: E402
from ran_edge.runtime.ort_runner import cpu_runner  # noqa: E402

from .conftest import stripe_dataset  # noqa: E402


@pytest.fixture(scope="module")
def ptq(trained_onnx, tmp_path_factory):
    """(fp32 path, TensorRT-flavour PTQ path, regions fp32 path) of the tiny trained model."""
    from ran_edge.data.feeds import DatasetReader
    from ran_edge.export import export_onnx
    from ran_edge.quantize import collect_stats, quantize_int8

    fp32, model = trained_onnx
    d = tmp_path_factory.mktemp("ot")
    stats = collect_stats(fp32, DatasetReader(stripe_dataset(64, 5), read_sidecar(fp32), 64), progress=False, log=lambda s: None)
    q = quantize_int8(fp32, d / "ptq.onnx", stats=stats, log=lambda s: None)
    regions = export_onnx(model, d / "regions.onnx", input_kind=InputKind.REGIONS, log=lambda s: None)
    return fp32, q.path, regions.path


def _both(path, n=400, exact_qdq=False):
    meta = read_sidecar(path)
    data = feeds_of(stripe_dataset(n, 9), meta, n, {})
    with torch.no_grad():
        got = build_onnx_torch(onnx.load(str(path)))({data.input_name: torch.from_numpy(data.x)})
    with cpu_runner(path, 1, exact_qdq=exact_qdq) as runner:
        ref = runner.infer({data.input_name: data.x}, check=False)
    return {k: v.numpy() for k, v in got.items()}, ref


@pytest.mark.parametrize("which", ["faces", "regions"])
def test_fp32_graph_reproduces_onnx_runtime(ptq, which):
    got, ref = _both(ptq[0] if which == "faces" else ptq[2])
    for name in ("logits", "region_weights"):
        np.testing.assert_allclose(got[name], ref[name], atol=1e-4, rtol=1e-4)
    assert (got["logits"].argmax(1) == ref["logits"].argmax(1)).all()


def test_qdq_graph_reproduces_exact_qdq_onnx_runtime(ptq):
    got, ref = _both(ptq[1], exact_qdq=True)
    assert (got["logits"].argmax(1) == ref["logits"].argmax(1)).mean() >= 0.999
    diff = np.abs(got["logits"] - ref["logits"])
    # the same arithmetic: nearly every logit agrees to float rounding; a rare rounding tie of one Q node moves
    # a face by at most a few quantization steps
    assert np.quantile(diff, 0.99) < 1e-4 and diff.max() < 0.05 * np.abs(ref["logits"]).max()


def test_weight_scales_are_onnx_runtimes(ptq):
    model = onnx.load(str(ptq[1]))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    ex = build_onnx_torch(model)
    assert len(ex.weight_q) == 20  # every trunk Conv weight
    for name, scale in ex.weight_scales().items():
        np.testing.assert_array_equal(scale, inits[name])


def _qdq_graph(values, scale, zp_type):
    zp = np.zeros((), np.int8 if zp_type == TensorProto.INT8 else np.uint8)
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]), helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [len(values)])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [len(values)])],
                              [numpy_helper.from_array(np.float32(scale), "s"), numpy_helper.from_array(zp, "z")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("zp_type", [TensorProto.INT8, TensorProto.UINT8])
def test_rounding_and_saturation_are_onnxs(zp_type):
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, 127.5, 300.0, -300.0, -128.5, 0.49999997, 3.7], np.float32) * 0.25
    model = _qdq_graph(x, 0.25, zp_type)
    with torch.no_grad():
        got = build_onnx_torch(model)({"x": torch.from_numpy(x)})["y"].numpy()
    with cpu_runner(model, 1, exact_qdq=True) as runner:
        ref = runner.infer({"x": x}, check=False)["y"]
    np.testing.assert_array_equal(got, ref)


def test_straight_through_gradient():
    x = torch.tensor([0.3, 1.2, 40.0, -40.0], requires_grad=True)
    model = _qdq_graph(np.zeros(4, np.float32), 0.25, TensorProto.INT8)
    build_onnx_torch(model)({"x": x})["y"].sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 0.0, 0.0]  # passes inside the int8 range, zero where it saturates


def test_weight_scale_rule():
    w = np.array([[1.0, -2.54], [0.0, 0.0]], np.float32)
    np.testing.assert_array_equal(weight_scale(w, 0), np.array([np.float32(2.54 / 127), 1.0], np.float32))


def test_unknown_op_is_a_clear_error():
    node = helper.make_node("Einsum", ["x", "x"], ["y"], name="my_einsum", equation="i,i->")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
    with pytest.raises(RanEdgeError, match="Einsum.*my_einsum"):
        build_onnx_torch(helper.make_model(graph))


def test_supported_list_is_the_implemented_list():
    assert set(SUPPORTED_OPS) == set(_ops()) and not set(QDQ_OPS) & set(SUPPORTED_OPS)


def test_trainable_names_must_be_float_initializers(ptq):
    with pytest.raises(RanEdgeError, match="not initializers"):
        build_onnx_torch(onnx.load(str(ptq[0])), ["no-such-tensor"])


def test_changed_weights_run_as_the_file_written_from_them(ptq):
    """Both halves of a weight Q/DQ pair use the scale recomputed from the current weight: the executor with changed
    weights is bit-identical to a fresh executor of the file written from them."""
    from ran_edge.quantize.qat import _with_initializers, trainable_initializers

    model = onnx.load(str(ptq[1]))
    ex = build_onnx_torch(model, trainable_initializers(model))
    with torch.no_grad():
        for i, p in enumerate(ex.parameters()):
            p.mul_(1.0 + 0.3 * (i % 3))  # the per-channel maxima move
    fresh = build_onnx_torch(_with_initializers(model, {**ex.trained_initializers(), **ex.weight_scales()}))
    x = torch.from_numpy(feeds_of(stripe_dataset(16, 9), read_sidecar(ptq[0]), 16, {}).x)
    with torch.no_grad():
        assert torch.equal(ex({"faces": x})["logits"], fresh({"faces": x})["logits"])


def test_training_mode_fuses_activation_pairs_nearly_exactly(ptq):
    model = onnx.load(str(ptq[1]))
    ex = build_onnx_torch(model)
    assert len(ex.fused) == sum(1 for n in model.graph.node if n.op_type == "QuantizeLinear") - len(ex.weight_q)
    x = torch.from_numpy(feeds_of(stripe_dataset(64, 9), read_sidecar(ptq[0]), 64, {}).x)
    with torch.no_grad():
        exact = ex.eval()({"faces": x})["logits"]
        fused = ex.train()({"faces": x})["logits"]
    assert (exact.argmax(1) == fused.argmax(1)).float().mean() >= 0.98
    assert torch.quantile((exact - fused).abs().flatten(), 0.9) < 1e-3
