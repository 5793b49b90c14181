import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from ran_edge.data.classes import RAFDB_CLASSES  # noqa: E402
from ran_edge.export import export_onnx  # noqa: E402
from ran_edge.export.trt_lint import lint_tensorrt  # noqa: E402
from ran_edge.model.ran import build_ran  # noqa: E402


@pytest.mark.slow  # ~1-2 min on 2 cores: 32 parity samples = 192 ResNet-18 passes at 224, twice
def test_full_size_ran_exports_with_parity_and_lints_clean(tmp_path):
    torch.manual_seed(0)
    model = build_ran(RAFDB_CLASSES, "ferplus6").eval()
    res = export_onnx(model, tmp_path / "ran.onnx", log=lambda s: None)
    m = onnx.load(str(res.path))
    assert [d.dim_param or d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim] == ["N", 3, 224, 224]
    assert res.meta.extra["parity"]["max_abs_diff_logits"] <= 1e-4
    assert res.meta.extra["nodes_after_simplify"] < res.meta.extra["nodes_before_simplify"]
    assert lint_tensorrt(m) == []
