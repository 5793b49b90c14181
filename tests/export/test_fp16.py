import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto  # noqa: E402

from ran_edge.artifact import Precision, read_sidecar  # noqa: E402
from ran_edge.export import export_onnx  # noqa: E402
from ran_edge.export.fp16 import analyse_and_convert  # noqa: E402

from tests.helpers import make_tiny_ran  # noqa: E402


def _float_types(model):
    return {t.data_type for t in model.graph.initializer if t.data_type in (TensorProto.FLOAT, TensorProto.FLOAT16)}


def test_clean_model_converts_fully_to_fp16(exported_faces, tmp_path):
    result, _ = exported_faces
    report, path = analyse_and_convert(result.path, num=32, out=tmp_path / "m.fp16.onnx", log=lambda s: None)
    assert report.keep_fp32 == () and report.figures["fp16"]["finite"]
    assert report.figures["fp16"]["top1_agreement"] >= 0.95 and report.figures["fp16"]["max_abs_logit_diff"] < 0.05
    model = onnx.load(str(path))
    assert _float_types(model) == {TensorProto.FLOAT16}
    assert [i.type.tensor_type.elem_type for i in model.graph.input] == [TensorProto.FLOAT]
    assert [o.type.tensor_type.elem_type for o in model.graph.output] == [TensorProto.FLOAT, TensorProto.FLOAT]
    meta = read_sidecar(path)
    assert meta.precision is Precision.FP16 and meta.extra["fp16_keep_fp32_layers"] == []
    assert read_sidecar(result.path).extra["fp16_keep_fp32_layers"] == []
    x = np.random.default_rng(0).random((3, 3, 32, 32), dtype=np.float32)  # the runtime feeds float32
    logits, weights = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"faces": x})
    assert logits.dtype == np.float32 and logits.shape == (3, 7) and np.allclose(weights.sum(1), 1, atol=1e-2)


def test_overflowing_layer_is_flagged_kept_fp32_and_recorded(tmp_path):
    model = make_tiny_ran()
    with torch.no_grad():  # logits ~1e5: fine in FP32, far beyond FP16's 65504
        model.fc.weight *= 1e6
        model.fc.bias *= 1e6
    res = export_onnx(model, tmp_path / "big.onnx", check=False, log=lambda s: None)
    report, path = analyse_and_convert(res.path, num=32, log=lambda s: None)
    assert report.keep_fp32 == ("/fc/Gemm",)
    flagged = report.to_dict()["flagged"]
    assert flagged[0]["node"] == "/fc/Gemm" and "exceeds the FP16 limit" in flagged[0]["reason"]
    # measured by real FP16 execution: without the flag the logits overflow, with it they stay finite and agree
    assert report.figures["fp16_nothing_kept"]["finite"] is False
    assert report.figures["fp16"]["finite"] and report.figures["fp16"]["top1_agreement"] >= 0.95
    assert read_sidecar(res.path).extra["fp16_keep_fp32_layers"] == ["/fc/Gemm"]
    fp16 = onnx.load(str(path))
    producer = {o: n for n in fp16.graph.node for o in n.output}
    gemm = next(n for n in fp16.graph.node if n.name == "/fc/Gemm")
    inits = {t.name: t for t in fp16.graph.initializer}
    assert producer[gemm.input[0]].op_type == "Cast"  # fp16 features cast up to fp32
    assert inits[gemm.input[1]].data_type == TensorProto.FLOAT  # weights kept fp32
    assert read_sidecar(path).extra["fp16_keep_fp32_layers"] == ["/fc/Gemm"]
