"""Triton config / DeepStream config rendering as pure functions (no torch, no Triton)."""

from __future__ import annotations

import os
import sysconfig
from dataclasses import replace

import pytest

from ran_edge.artifact import ArtifactMeta, InputKind, Precision, TensorSpec
from ran_edge.errors import RanEdgeError
from ran_edge.preprocess import PreprocessSpec
from ran_edge.presets import get_preset
from ran_edge.serve.deepstream import check_deepstream, render_nvinfer_config
from ran_edge.serve.server import ServeOptions, explain_start_failure, stub_environment
from ran_edge.serve.triton_config import (TritonOptions, plan_model, render_ensemble_config, render_model_config,
                                          render_preprocess_config)

CLASSES = ("neutral", "happy", "sad")


def meta(kind: str = "faces", fmt: str = "onnx", dtype: str = "float32", batch: int = -1, **kw) -> ArtifactMeta:
    preset = get_preset("ferplus6")
    k = preset.num_regions
    first = (batch if batch == -1 else batch * k) if kind == "regions" else batch
    x = TensorSpec("regions", (first, 3, 16, 16), dtype) if kind == "regions" else TensorSpec("faces", (batch, 3, 32, 32), dtype)
    outs = (TensorSpec("logits", (batch, len(CLASSES)), dtype), TensorSpec("region_weights", (batch, k), dtype))
    return ArtifactMeta(format=fmt, class_names=CLASSES, preset=preset, attention="official",
                        preprocess=kw.pop("preprocess", PreprocessSpec(face_size=32, region_size=16)),
                        input_kind=InputKind(kind), inputs=(x,), outputs=outs, **kw)


def test_faces_onnx_config_has_batching_dims_without_batch_axis():
    text = render_model_config(plan_model(meta(), TritonOptions(instances=2, preferred_batch=(8, 4), queue_delay_us=250)))
    assert 'platform: "onnxruntime_onnx"' in text and "max_batch_size: 32" in text
    assert "dims: [ 3, 32, 32 ]" in text and "dims: [ 3 ]" in text and "dims: [ 6 ]" in text
    assert "preferred_batch_size: [ 4, 8 ]" in text and "max_queue_delay_microseconds: 250" in text
    assert "count: 2" in text and "kind: KIND_AUTO" in text and 'label_filename: "labels.txt"' in text
    assert text.count("label_filename") == 1  # only on logits


def test_engine_fp16_config_uses_plan_gpu_and_fp16():
    m = meta(fmt="engine", dtype="float16", precision=Precision.FP16)
    text = render_model_config(plan_model(m, TritonOptions(max_batch=16, dynamic_batching=False)))
    assert 'platform: "tensorrt_plan"' in text and 'default_model_filename: "model.plan"' in text
    assert "TYPE_FP16" in text and "TYPE_FP32" not in text and "kind: KIND_GPU" in text
    assert "dynamic_batching" not in text and "max_batch_size: 16" in text


def test_engine_profile_limits_max_batch():
    m = meta(fmt="engine", extra={"profiles": [{"min": [1, 3, 32, 32], "opt": [8, 3, 32, 32], "max": [16, 3, 32, 32]}]})
    with pytest.raises(RanEdgeError, match="at most 16 faces"):
        plan_model(m, TritonOptions(max_batch=32))
    assert plan_model(m, TritonOptions(max_batch=16, preferred_batch=(8,))).max_batch == 16


def test_regions_model_is_not_batched_by_triton():
    plan = plan_model(meta("regions"), TritonOptions())
    assert plan.max_batch == 0 and not plan.dynamic_batching and plan.notes
    text = render_model_config(plan)
    assert "max_batch_size: 0" in text and "dims: [ -1, 3, 16, 16 ]" in text and "dynamic_batching" not in text
    with pytest.raises(RanEdgeError, match="N\\*K region rows"):
        plan_model(meta("regions"), TritonOptions(max_batch=8))


def test_refusals():
    with pytest.raises(RanEdgeError, match="fixed batch"):
        plan_model(meta(batch=4), TritonOptions(max_batch=8))
    assert plan_model(meta(batch=4), TritonOptions(max_batch=0)).max_batch == 0
    with pytest.raises(RanEdgeError, match="exceed --max-batch 8"):
        plan_model(meta(), TritonOptions(max_batch=8, preferred_batch=(4, 16)))
    with pytest.raises(RanEdgeError, match="torchscript"):
        plan_model(meta(fmt="torchscript"), TritonOptions())
    for bad in ({"name": "a b"}, {"instances": 0}, {"queue_delay_us": -1}, {"max_batch": -1}, {"preferred_batch": (0,)}):
        with pytest.raises(RanEdgeError):
            TritonOptions(**bad)


def test_preprocess_and_ensemble_configs_chain_tensors():
    plan = plan_model(meta(), TritonOptions(name="fer"))
    pre, ens = render_preprocess_config(plan), render_ensemble_config(plan)
    assert 'name: "fer_preprocess"' in pre and 'backend: "python"' in pre and "TYPE_UINT8" in pre
    assert "dims: [ -1, -1, 3 ]" in pre and "dims: [ 3, 32, 32 ]" in pre
    assert 'platform: "ensemble"' in ens and 'model_name: "fer_preprocess"' in ens and 'model_name: "fer"' in ens
    assert ens.count('value: "preprocessed"') == 2


@pytest.mark.parametrize("precision,mode", [(Precision.FP32, 0), (Precision.INT8, 1), (Precision.FP16, 2)])
def test_deepstream_nvinfer_config(precision, mode):
    spec = PreprocessSpec(face_size=32, region_size=16, mean=(0.5, 0.25, 0.0), std=(0.5, 0.5, 0.5))
    text = render_nvinfer_config(meta(fmt="engine", precision=precision, preprocess=spec), "/m/model.engine", "/m/labels.txt")
    lines = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    assert lines["network-mode"] == str(mode) and lines["network-type"] == "1" and lines["process-mode"] == "2"
    assert lines["infer-dims"] == "3;32;32" and lines["output-blob-names"] == "logits"
    assert lines["model-engine-file"] == "/m/model.engine" and lines["labelfile-path"] == "/m/labels.txt"
    assert lines["model-color-format"] == "0"  # RGB
    # nvinfer: y = net-scale-factor * (x - offset) must equal ran-edge: (x * scale - mean) / std
    x, nsf = 200.0, float(lines["net-scale-factor"])
    offsets = [float(v) for v in lines["offsets"].split(";")]
    for c in range(3):
        assert nsf * (x - offsets[c]) == pytest.approx((x * spec.scale - spec.mean[c]) / spec.std[c], rel=1e-6)


def test_deepstream_refusals():
    with pytest.raises(RanEdgeError, match="expected a TensorRT .engine"):
        check_deepstream(meta())
    with pytest.raises(RanEdgeError, match="regions"):
        check_deepstream(meta("regions", fmt="engine"))
    uneven = PreprocessSpec(face_size=32, region_size=16, std=(0.2, 0.3, 0.4))
    with pytest.raises(RanEdgeError, match="one scale factor"):
        check_deepstream(replace(meta(fmt="engine"), preprocess=uneven))


def test_stub_environment_puts_this_interpreters_libpython_first():
    libdir = sysconfig.get_config_var("LIBDIR")
    env = stub_environment({"LD_LIBRARY_PATH": f"/x{os.pathsep}{libdir}", "PATH": "/bin"})
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        assert env["LD_LIBRARY_PATH"].split(os.pathsep) == [libdir, "/x"]
    else:  # static interpreter: nothing to prefer, env unchanged
        assert env["LD_LIBRARY_PATH"] == f"/x{os.pathsep}{libdir}"
    assert stub_environment(env) == env  # idempotent


def test_start_failure_messages_are_one_line_with_the_fix():
    rlock = "Failed to initialize Python stub: ... AttributeError: '_thread.RLock' object has no attribute '_recursion_count'"
    assert "make serve-env" in explain_start_failure(rlock)
    assert "--port" in explain_start_failure("bind: Address already in use")
    assert explain_start_failure('x\\n  ModuleNotFoundError: No module named \'ran_edge\'\\n') == \
        "ModuleNotFoundError: No module named 'ran_edge'"
    with pytest.raises(RanEdgeError, match="max-batch"):
        ServeOptions(max_batch=0)
    with pytest.raises(RanEdgeError, match="preferred"):
        ServeOptions(max_batch=4, preferred_batch=(8,))
    assert ServeOptions(http_port=9000).ports == (9000, 9001, 9002)
