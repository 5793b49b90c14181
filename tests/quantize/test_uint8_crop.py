"""INT8 files of an ``official-uint8`` model keep its integer crop FP32, whatever ``keep_fp32`` says."""

from __future__ import annotations

import pytest

from tests.quantize.conftest import stripe_dataset

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def test_quantizing_the_head_only_still_keeps_the_uint8_crop_fp32(tmp_path):
    from ran_edge.artifact import read_sidecar
    from ran_edge.data.classes import RAFDB_CLASSES
    from ran_edge.data.feeds import DatasetReader
    from ran_edge.export import export_onnx
    from ran_edge.model.ran import build_ran
    from ran_edge.preprocess import PreprocessSpec
    from ran_edge.quantize import collect_stats, quantize_int8
    from ran_edge.quantize.graph_parts import node_groups

    torch.manual_seed(0)
    spec = PreprocessSpec(face_size=32, region_size=16, crop="official-uint8")
    model = build_ran(RAFDB_CLASSES, "ferplus6", "official", spec, trunk_width=8).eval()
    fp32 = export_onnx(model, tmp_path / "model.onnx", log=lambda s: None).path
    stats = collect_stats(fp32, DatasetReader(stripe_dataset(16, 5), read_sidecar(fp32), 16), progress=False,
                          log=lambda s: None)
    q = quantize_int8(fp32, tmp_path / "q.onnx", stats=stats, keep_fp32="head", log=lambda s: None)
    crop = node_groups(onnx.load(str(fp32)))["crop"]
    assert any(n.startswith("/pillow_crop/") for n in crop)
    assert set(crop) <= set(q.report["fp32_nodes"])
    quantized = onnx.load(str(q.path))
    dq_fed = {n.output[0] for n in quantized.graph.node if n.op_type == "DequantizeLinear"}
    matmuls = [n for n in quantized.graph.node if n.op_type == "MatMul" and n.name in set(crop)]
    assert len(matmuls) == 4 and not any(i in dq_fed for n in matmuls for i in n.input)  # no Q/DQ on the crop
