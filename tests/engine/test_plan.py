"""plan_build(meta, request, trt_version) for 8.2/8.5/8.6/10.3/11.0, including refusals."""

from __future__ import annotations

import json

import pytest

from ran_edge.artifact import InputKind, Precision
from ran_edge.engine import (BatchProfile, BuildRequest, CalibKind, CalibSource, Int8Method, PrecisionPath, PreStep,
                             TrtVersion, plan_build, plan_table)
from ran_edge.errors import RanEdgeError
from tests.engine.helpers import onnx_meta

KEEP = ["/trunk/layer4/layer4.1/Add", "/Softmax"]
SYNTH = CalibSource(CalibKind.SYNTHETIC)


def req(**kw):
    return BuildRequest(**kw)


@pytest.mark.parametrize("v", ["8.5", "8.6", "10.3"])
def test_fp32_weakly_typed_before_11(v):
    plan = plan_build(onnx_meta(), req(), v)
    assert plan.path is PrecisionPath.FP32 and plan.builder_flags == () and not plan.strongly_typed
    assert plan.profiles[0].input == "faces"
    assert (plan.profiles[0].min, plan.profiles[0].opt, plan.profiles[0].max) == ((1, 3, 32, 32), (8, 3, 32, 32), (32, 3, 32, 32))


def test_fp32_on_11_is_strongly_typed():
    plan = plan_build(onnx_meta(), req(), "11.0")
    assert plan.path is PrecisionPath.STRONGLY_TYPED and plan.strongly_typed and plan.builder_flags == ()


@pytest.mark.parametrize("v", ["8.5", "8.6", "10.3"])
def test_fp16_flag_with_pinned_layers(v):
    plan = plan_build(onnx_meta(fp16_keep_fp32_layers=KEEP), req(precision="fp16"), v)
    assert plan.path is PrecisionPath.FP16_FLAG
    assert plan.builder_flags == ("FP16", "OBEY_PRECISION_CONSTRAINTS")
    assert plan.fp32_layers == tuple(KEEP) and plan.pre_steps == ()
    assert any("pinned to FP32 (2)" in line for line in plan.describe())


def test_weak_typing_deprecation_note():
    assert not any("deprecates weak typing" in n for n in plan_build(onnx_meta(), req(precision="fp16"), "10.3").notes)
    assert any("deprecates weak typing" in n for n in plan_build(onnx_meta(), req(precision="fp16"), "10.13").notes)


def test_fp16_without_analysis_runs_it_first():
    plan = plan_build(onnx_meta(), req(precision="fp16"), "8.6")
    assert plan.pre_steps == (PreStep.ANALYSE_FP16,) and plan.builder_flags == ("FP16",) and plan.fp32_layers == ()
    assert plan.onnx_precision is Precision.FP32 and any("no FP16 analysis yet" in n for n in plan.notes)
    assert "  FP16 analysis data: synthetic faces" in plan.describe()
    analysed = plan_build(onnx_meta(fp16_keep_fp32_layers=[]), req(precision="fp16"), "8.6")
    assert analysed.pre_steps == () and analysed.builder_flags == ("FP16",)  # analysed, nothing to pin


def test_fp16_on_11_needs_fp16_onnx():
    plan = plan_build(onnx_meta(fp16_keep_fp32_layers=KEEP), req(precision="fp16"), "11.0")
    assert plan.path is PrecisionPath.STRONGLY_TYPED and plan.pre_steps == (PreStep.CONVERT_FP16,)
    assert plan.onnx_precision is Precision.FP16 and plan.builder_flags == () and plan.fp32_layers == ()
    direct = plan_build(onnx_meta(Precision.FP16), req(precision="fp16"), "11.0")
    assert direct.pre_steps == () and direct.strongly_typed


def test_fp16_onnx_strongly_typed_on_10_flag_on_8():
    assert plan_build(onnx_meta(Precision.FP16), req(precision="fp16"), "10.3").strongly_typed
    assert plan_build(onnx_meta(Precision.FP16), req(precision="fp16"), "8.6").builder_flags == ("FP16",)


@pytest.mark.parametrize("v", ["8.5", "8.6", "10.3"])
def test_int8_from_qdq_onnx(v):
    plan = plan_build(onnx_meta(Precision.INT8), req(precision="int8"), v)
    assert plan.path is PrecisionPath.INT8_QDQ and plan.builder_flags == ("INT8",) and plan.pre_steps == ()


def test_int8_from_fp32_onnx_quantizes_first():
    plan = plan_build(onnx_meta(), req(precision="int8", calib=SYNTH), "10.3")
    assert plan.path is PrecisionPath.INT8_QDQ and plan.pre_steps == (PreStep.QUANTIZE_QDQ,)
    assert plan.onnx_precision is Precision.INT8
    from_pt = plan_build(onnx_meta(), req(precision="int8", calib=SYNTH), "10.3", from_checkpoint=True)
    assert from_pt.pre_steps == (PreStep.EXPORT_ONNX, PreStep.QUANTIZE_QDQ)


def test_int8_needs_data():
    with pytest.raises(RanEdgeError, match="needs calibration data"):
        plan_build(onnx_meta(), req(precision="int8"), "8.6")


@pytest.mark.parametrize("v", ["8.5", "8.6", "10.0", "10.1", "10.3"])
def test_implicit_calibrator_when_asked(v):
    by_method = plan_build(onnx_meta(), req(precision="int8", calib=SYNTH, int8_method="calibrator"), v)
    by_cache = plan_build(onnx_meta(), req(precision="int8", calib=CalibSource(CalibKind.CACHE, "c.cache")), v)
    for plan in (by_method, by_cache):
        assert plan.path is PrecisionPath.INT8_CALIBRATOR and plan.builder_flags == ("INT8",) and plan.pre_steps == ()
    # NVIDIA's 10.x bindings mark IInt8Calibrator "Deprecated in TensorRT 10.1"; 10.0.1's do not.
    assert any("deprecated from TensorRT 10.1" in n for n in by_method.notes) == (v in ("10.1", "10.3"))


def test_implicit_calibrator_refused_on_11():
    for r in (req(precision="int8", calib=CalibSource(CalibKind.CACHE, "c.cache")),
              req(precision="int8", calib=SYNTH, int8_method="calibrator")):
        with pytest.raises(RanEdgeError, match="TensorRT 11.0 has no implicit INT8 calibrator"):
            plan_build(onnx_meta(), r, "11.0")
    plan = plan_build(onnx_meta(), req(precision="int8", calib=SYNTH), "11.0")
    assert plan.path is PrecisionPath.STRONGLY_TYPED and plan.pre_steps == (PreStep.QUANTIZE_QDQ,)


def test_calibrator_refuses_qdq_onnx():
    with pytest.raises(RanEdgeError, match="needs the FP32 ONNX, got a QDQ"):
        plan_build(onnx_meta(Precision.INT8), req(precision="int8", calib=SYNTH, int8_method="calibrator"), "8.6")


def test_dla_paths():
    dla = dict(dla_core=1, batch=BatchProfile(4, 4, 4), allow_gpu_fallback=True)
    plan = plan_build(onnx_meta(), req(precision="int8", calib=SYNTH, **dla), "8.5")
    assert plan.path is PrecisionPath.INT8_CALIBRATOR  # DLA uses the implicit calibrator before 11
    assert plan.builder_flags == ("INT8", "FP16", "GPU_FALLBACK") and plan.dla_core == 1
    with pytest.raises(RanEdgeError, match="TensorRT 11.0 does not support DLA"):
        plan_build(onnx_meta(Precision.INT8), req(precision="int8", **dla), "11.0")
    fp16 = plan_build(onnx_meta(), req(precision="fp16", **dla), "8.6")
    assert fp16.builder_flags == ("FP16", "GPU_FALLBACK")
    with pytest.raises(RanEdgeError, match="DLA runs FP16 or INT8 only"):
        plan_build(onnx_meta(), req(dla_core=0, batch=BatchProfile(2, 2, 2)), "8.6")
    with pytest.raises(RanEdgeError, match="DLA engines need a static batch"):
        plan_build(onnx_meta(), req(precision="fp16", dla_core=0), "8.6")
    with pytest.raises(RanEdgeError, match="--allow-gpu-fallback only applies to DLA"):
        req(allow_gpu_fallback=True)


def test_version_compatible():
    with pytest.raises(RanEdgeError, match="needs TensorRT 8.6 or newer, found 8.5"):
        plan_build(onnx_meta(), req(version_compatible=True), "8.5")
    assert "VERSION_COMPATIBLE" in plan_build(onnx_meta(), req(version_compatible=True), "8.6").builder_flags


def test_below_8_5_only_for_trtexec():
    with pytest.raises(RanEdgeError, match="use --emit-trtexec"):
        plan_build(onnx_meta(), req(precision="fp16"), "8.2")
    plan = plan_build(onnx_meta(fp16_keep_fp32_layers=KEEP), req(precision="fp16"), "8.2", for_trtexec=True)
    assert plan.builder_flags[0] == "FP16"
    assert any("opset 17" in n for n in plan.notes) and any("no --layerPrecisions" in n for n in plan.notes)


def test_regions_profile_scaled_by_k_and_fixed_batch():
    plan = plan_build(onnx_meta(input_kind=InputKind.REGIONS), req(batch=BatchProfile(1, 2, 4)), "10.3")
    assert plan.profiles[0].input == "regions"
    assert [plan.profiles[0].min[0], plan.profiles[0].opt[0], plan.profiles[0].max[0]] == [6, 12, 24]
    fixed = onnx_meta(batch=4)
    assert plan_build(fixed, req(batch=BatchProfile(4, 4, 4)), "8.6").profiles[0].max == (4, 3, 32, 32)
    with pytest.raises(RanEdgeError, match="fixed batch of 4"):
        plan_build(fixed, req(), "8.6")


def test_mismatched_onnx_precision_refused():
    with pytest.raises(RanEdgeError, match="--precision fp32 needs the FP32 ONNX, got a int8 ONNX"):
        plan_build(onnx_meta(Precision.INT8), req(), "10.3")
    with pytest.raises(RanEdgeError, match="FP16 needs the FP32 \\(or FP16\\) ONNX"):
        plan_build(onnx_meta(Precision.INT8), req(precision="fp16"), "10.3")
    with pytest.raises(RanEdgeError, match="INT8 needs the FP32 ONNX"):
        plan_build(onnx_meta(Precision.FP16), req(precision="int8", calib=SYNTH), "10.3")


def test_plan_table_and_serialisation():
    versions = [TrtVersion.parse(v) for v in ("8.2", "8.5", "8.6", "10.3", "11.0")]
    rows = plan_table(onnx_meta(), req(precision="int8", calib=CalibSource(CalibKind.CACHE, "c.cache")), versions)
    refused = {str(v): reason for v, plan, reason in rows if plan is None}
    assert list(refused) == ["11.0"] and "no implicit INT8 calibrator" in refused["11.0"]
    for _, plan, _ in rows:
        if plan is not None:
            json.dumps(plan.to_dict())
            assert plan.describe()[0].startswith(f"TensorRT {plan.trt_version}: int8")


def test_request_validation():
    with pytest.raises(RanEdgeError, match="1 <= MIN <= OPT <= MAX"):
        BatchProfile(4, 2, 8)
    assert BatchProfile.parse("4") == BatchProfile(4, 4, 4) and BatchProfile.parse("1,8,32") == BatchProfile(1, 8, 32)
    with pytest.raises(RanEdgeError, match="expected MIN,OPT,MAX"):
        BatchProfile.parse("1,2")
    with pytest.raises(RanEdgeError, match="--calib-cache applies to --precision int8"):
        req(precision="fp16", calib=CalibSource(CalibKind.CACHE, "c.cache"))
    with pytest.raises(RanEdgeError, match="--calib-data applies to --precision int8 .* and fp16"):
        req(precision="fp32", calib=SYNTH)
    assert req(precision="fp16", calib=SYNTH).calib.kind is CalibKind.SYNTHETIC
    with pytest.raises(RanEdgeError, match="got both --calib-data and --calib-cache"):
        CalibSource.from_cli("synthetic", "c.cache")
    assert CalibSource.from_cli("imgs/", None) == CalibSource(CalibKind.DIRECTORY, "imgs/")
    with pytest.raises(RanEdgeError, match="--workspace: got 0"):
        req(workspace_mib=0)
    assert req(int8_method="qdq").int8_method is Int8Method.QDQ
