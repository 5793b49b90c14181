"""FLOPs per face: the analytic count from the RAN config equals the count from the ONNX graph."""

from __future__ import annotations

import pytest

from ran_edge.bench.flops import ran_macs, resnet18_trunk_macs


def test_resnet18_at_224_is_the_published_1_82_gmacs():
    # torchvision ResNet-18 without the fc: 1,813,561,344 MACs (the usual "1.8 GFLOPs" counts MACs)
    assert resnet18_trunk_macs(64, 224) == 1_813_561_344


def test_full_size_ran_macs_per_face():
    cfg = {"trunk_width": 64, "preprocess": {"face_size": 224, "region_size": 224},
           "preset": {"boxes": [0] * 6}, "class_names": list("abcdefg")}
    m = ran_macs(cfg, "faces")
    assert m["trunk"] == 6 * 1_813_561_344
    assert m["crops"] == 6 * 3 * 224 * 224 * (224 + 224)
    assert m["head"] == 6 * 512 + 6 * 1024 + 1024 * 7
    assert ran_macs(cfg, "regions")["crops"] == 0


@pytest.mark.parametrize("kind", ["onnx", "regions_onnx"])
def test_onnx_count_matches_analytic(tiny_artifacts, kind):
    from ran_edge.bench.flops import onnx_macs

    model = tiny_artifacts["model"]
    counted = onnx_macs(tiny_artifacts[kind], faces=1, regions_per_face=6)
    assert counted["uncounted"] == []
    expected = ran_macs(model.config, "regions" if kind == "regions_onnx" else "faces")["total"]
    assert counted["total"] == expected
    assert set(counted["by_op"]) <= {"Conv", "MatMul", "Gemm"}
    # at 3 faces the count scales linearly
    assert onnx_macs(tiny_artifacts[kind], faces=3, regions_per_face=6)["total"] == 3 * expected
