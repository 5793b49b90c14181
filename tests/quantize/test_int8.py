import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from ran_edge.artifact import Precision, read_sidecar, sha256_file  # noqa: E402
from ran_edge.quantize import QuantTarget, calibrate_onnx, read_trt_cache  # noqa: E402
from ran_edge.quantize.accuracy import compare_logits, run_onnx  # noqa: E402
from ran_edge.quantize.graph_parts import node_groups  # noqa: E402
from ran_edge.quantize.trt_cache import float_hex, hex_float, version_code  # noqa: E402

from .conftest import stripe_dataset  # noqa: E402


@pytest.fixture(scope="module")
def both(trained_onnx, calib_dir, holdout_dir, tmp_path_factory):
    fp32, _ = trained_onnx
    out = tmp_path_factory.mktemp("int8") / "model.int8.onnx"
    run = calibrate_onnx(fp32, out, data=str(calib_dir), num=64, method="percentile", holdout=str(holdout_dir),
                         progress=False, log=lambda s: None)
    return fp32, run


def _zero_point_types(model):
    inits = {t.name: t for t in model.graph.initializer}
    return {inits[n.input[2]].data_type for n in model.graph.node if n.op_type == "QuantizeLinear"}


def test_both_flavours_agree_with_fp32(both):
    fp32, run = both
    test = stripe_dataset(160, 11)
    meta = read_sidecar(fp32)
    labels = np.array([s.label for s in test.samples])
    ref = run_onnx(fp32, test, meta)
    assert (ref.argmax(1) == labels).mean() > 0.95  # the model is really trained
    for target in (QuantTarget.TENSORRT, QuantTarget.CPU):
        cmp = compare_logits(ref, run_onnx(run.results[target].path, test, meta), labels, meta.class_names)
        assert cmp["top1_agreement"] >= 0.98 and cmp["drop_points"] <= 1.0, (target, cmp)
        assert_really_quantized(onnx.load(str(run.results[target].path)), run.searches[target].higher_precision)


def assert_really_quantized(model, higher_precision):
    """Structure, not a logit window: every trunk Conv not left in higher precision reads a DequantizeLinear on
    its input and on its weight, and the weight comes from an integer tensor (int8 initializer, or Q of a float one)."""
    inits = {t.name: t for t in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}
    convs = [n for n in model.graph.node if n.op_type == "Conv" and n.name not in set(higher_precision)]
    assert convs
    for conv in convs:
        x_dq, w_dq = producer.get(conv.input[0]), producer.get(conv.input[1])
        assert x_dq is not None and x_dq.op_type == "DequantizeLinear", conv.name
        assert w_dq is not None and w_dq.op_type == "DequantizeLinear", conv.name
        src = w_dq.input[0]
        if src in inits:
            assert inits[src].data_type == onnx.TensorProto.INT8, conv.name
        else:
            q = producer[src]
            assert q.op_type == "QuantizeLinear" and inits[q.input[2]].data_type == onnx.TensorProto.INT8, conv.name


def test_flavours_are_what_the_sidecar_says(both):
    fp32, run = both
    trt = onnx.load(str(run.results[QuantTarget.TENSORRT].path))
    cpu = onnx.load(str(run.results[QuantTarget.CPU].path))
    assert _zero_point_types(trt) == {onnx.TensorProto.INT8} and _zero_point_types(cpu) == {onnx.TensorProto.UINT8}
    inits = {t.name: t for t in trt.graph.initializer}
    zps = [onnx.numpy_helper.to_array(inits[n.input[2]]) for n in trt.graph.node if n.op_type == "QuantizeLinear"]
    assert all(not np.any(z) for z in zps)  # symmetric: zero points 0
    for target, model in ((QuantTarget.TENSORRT, trt), (QuantTarget.CPU, cpu)):
        meta = read_sidecar(run.results[target].path)
        assert meta.precision is Precision.INT8 and meta.extra["int8_flavour"] == target.value
        assert meta.extra["source_onnx_sha256"] == sha256_file(fp32)
        assert meta.extra["calibration_manifest_sha256"] == sha256_file(run.manifest) == run.manifest_sha256
    assert read_sidecar(run.results[QuantTarget.TENSORRT].path).extra["trt_lint"] == []
    assert any("UINT8" in line for line in read_sidecar(run.results[QuantTarget.CPU].path).extra["trt_lint"])


def test_crop_and_head_stay_fp32(both):
    fp32, run = both
    groups = node_groups(onnx.load(str(fp32)))
    assert [n for n in groups["crop"] if "MatMul" in n] == ["/MatMul", "/MatMul_1"]
    trt = onnx.load(str(run.results[QuantTarget.TENSORRT].path))
    producer = {o: n for n in trt.graph.node for o in n.output}
    fp32_parts = set(groups["crop"]) | set(groups["head"])
    for node in trt.graph.node:
        if node.name in fp32_parts:
            for i in node.input:
                if i in producer and producer[i].op_type == "DequantizeLinear":
                    # the only INT8 edge into an FP32 part is the trunk's output (Q -> DQ of a trunk tensor)
                    q = producer[producer[i].input[0]]
                    assert q.op_type == "QuantizeLinear" and producer[q.input[0]].name in groups["trunk"], node.name
        if node.op_type in ("MatMul", "Gemm", "Softmax", "Sigmoid") and node.name in fp32_parts:
            assert all(producer.get(i) is None or producer[i].op_type != "DequantizeLinear" for i in node.input), node.name
        if node.op_type == "Conv":
            assert producer[node.input[0]].op_type == "DequantizeLinear"


def test_trt_cache_format_matches_the_statistics(both):
    _, run = both
    header, scales = read_trt_cache(run.trt_cache)
    assert header == "TRT-8601-LegacyCalibration"
    assert set(scales) == set(run.stats.ranges)
    lines = run.trt_cache.read_text().splitlines()[1:]
    assert all(len(line.rpartition(": ")[2]) == 8 for line in lines)
    for name, scale in scales.items():
        assert scale == pytest.approx(max(run.stats.amax(name), 1.0) / 127 if run.stats.amax(name) == 0 else run.stats.amax(name) / 127,
                                      rel=1e-6)
    assert float_hex(1.0) == "3f800000" and hex_float("3f800000") == 1.0
    assert version_code("8.6.1") == 8601 and version_code("10.3.0") == 100300


def test_manifest_records_files_and_preprocessing(both, calib_dir):
    _, run = both
    doc = json.loads(run.manifest.read_text())
    assert doc["format"] == "ran-edge-calibration-manifest" and doc["count"] == 64 and doc["method"] == "percentile"
    assert doc["quality_target"]["max_pooled_drop_points"] == 0.3 and set(doc["search"]) == {"tensorrt", "cpu"}
    for flavour in ("tensorrt", "cpu"):  # all-INT8 passed: nothing given back, every trunk convolution Q/DQ-fed
        assert doc["search"][flavour]["higher_precision_nodes"] == [] and doc["search"][flavour]["int8_share"]["int8_share"] > 0.95
    files = doc["data"]["files"]
    assert len(files) == 64 and files[0]["path"] == "face_000.png"
    assert files[0]["sha256"] == sha256_file(calib_dir / "face_000.png")
    assert doc["preprocessing"]["face_size"] == 32 and doc["preprocessing"]["function"] == "ran_edge.runtime.classifier.model_input"
    assert doc["ran_edge_version"] and doc["model_sha256"]


def test_regions_model_is_fed_the_region_batch(trained_onnx, calib_dir, holdout_dir, tmp_path):
    """A regions-input export calibrates on the fused-kernel crops (the runtime's preprocessing) and agrees with its FP32 source."""
    from ran_edge.artifact import InputKind
    from ran_edge.export import export_onnx
    from ran_edge.data.feeds import DatasetReader, feed_for_images, open_calibration_data

    _, model = trained_onnx
    fp32 = export_onnx(model, tmp_path / "regions.onnx", input_kind=InputKind.REGIONS, log=lambda s: None).path
    meta = read_sidecar(fp32)
    ds, desc = open_calibration_data(str(calib_dir), 8)
    feed = next(iter(DatasetReader(ds, meta, 8, 4, desc)))
    assert list(feed) == ["regions"] and feed["regions"].shape == (4 * 6, 3, 16, 16)
    run = calibrate_onnx(fp32, tmp_path / "r.int8.onnx", data=str(calib_dir), num=32, method="minmax",
                         holdout=str(holdout_dir), targets=[QuantTarget.CPU], progress=False, log=lambda s: None)
    test = stripe_dataset(64, 12)
    ref, got = run_onnx(fp32, test, meta), run_onnx(run.results[QuantTarget.CPU].path, test, meta)
    assert np.mean(ref.argmax(1) == got.argmax(1)) >= 0.98
    assert feed_for_images([test[0].image], meta)["regions"].shape == (6, 3, 16, 16)
