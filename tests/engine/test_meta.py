"""Engine sidecar round trip and the load-time mismatch check (pure: sidecar + detected versions)."""

from __future__ import annotations

import pytest

from ran_edge.artifact import Precision, TensorSpec, read_sidecar, write_sidecar
from ran_edge.engine import BuildRequest, DeviceEnv, check_engine, engine_meta, engine_problems, plan_build
from ran_edge.engine_contract.meta import BuildRecord, parse_cc, rebuild_hint
from ran_edge.errors import EngineMismatchError, RanEdgeError
from tests.engine.helpers import onnx_meta

ORIN = DeviceEnv("8.5.2.2", "Orin", (8, 7), "11.4", "5.1.1 (L4T 35.3.1)")


def make(version_compatible=False, env=ORIN):
    plan = plan_build(onnx_meta(fp16_keep_fp32_layers=["/Softmax"]), BuildRequest(precision="fp16", version_compatible=version_compatible),
                      "8.6" if version_compatible else env.trt_version)
    record = BuildRecord(Precision.FP16, "", (TensorSpec("faces", (-1, 3, 32, 32)),),
                         (TensorSpec("logits", (-1, 7)), TensorSpec("region_weights", (-1, 6))), "ab" * 32, "m.onnx",
                         None, 12.5, ("/Softmax",))
    return engine_meta(onnx_meta(), plan, env, record)


def test_sidecar_round_trip(tmp_path):
    meta = make()
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"plan")
    write_sidecar(engine, meta)
    back = read_sidecar(engine)
    assert back == meta and back.format == "engine" and back.precision is Precision.FP16
    x = back.extra
    assert (x["tensorrt_version"], x["gpu_name"], x["compute_capability"], x["jetpack"]) == ("8.5.2.2", "Orin", "8.7", "5.1.1 (L4T 35.3.1)")
    assert x["precision_requested"] == "fp16" and x["fp32_layers_pinned"] == ["/Softmax"]
    assert x["profiles"][0]["max"] == [32, 3, 32, 32] and x["build_plan"]["path"] == "fp16-flag"
    assert x["onnx_sha256"] == "ab" * 32 and x["build_time_s"] == 12.5 and x["built_at"].endswith("Z")


def test_same_machine_ok():
    assert engine_problems(make(), ORIN) == ([], [])
    assert check_engine(make(), DeviceEnv("8.5.2", "Orin", (8, 7)), "m.engine") == []


def test_other_trt_version():
    errors, _ = engine_problems(make(), DeviceEnv("8.6.1", "Orin", (8, 7)))
    assert errors == ["the engine was built with TensorRT 8.5.2, but TensorRT 8.6.1 is installed"]


def test_other_gpu():
    errors, _ = engine_problems(make(), DeviceEnv("8.5.2", "RTX 4090", (8, 9)))
    assert errors == ["the engine was built for compute capability 8.7 (Orin), this GPU is 8.9 (RTX 4090)"]
    _, warnings = engine_problems(make(), DeviceEnv("8.5.2", "Orin NX", (8, 7)))
    assert warnings and "same compute capability" in warnings[0]


def test_version_compatible_rules():
    meta = make(version_compatible=True, env=DeviceEnv("8.6.1", "Orin", (8, 7)))
    assert engine_problems(meta, DeviceEnv("8.6.3", "Orin", (8, 7)))[0] == []
    assert engine_problems(meta, DeviceEnv("8.5.2", "Orin", (8, 7)))[0]
    assert engine_problems(meta, DeviceEnv("10.3.0", "Orin", (8, 7)))[0]


def test_mismatch_error_says_how_to_rebuild():
    with pytest.raises(EngineMismatchError) as info:
        check_engine(make(), DeviceEnv("10.3.0", "Orin", (8, 7)), "out/model.engine")
    text = str(info.value)
    assert "\n" not in text and "TensorRT 10.3 is installed" in text
    assert "ran-edge build-engine m.onnx --precision fp16 --batch 1,8,32 --out out/model.engine" in text
    assert rebuild_hint(make(), "x.engine").startswith("rebuild it here with:")


def test_not_an_engine_sidecar():
    assert engine_problems(onnx_meta(), ORIN)[0] == ["the metadata describes a 'onnx' artifact, not an engine"]
    bare = onnx_meta().__class__(**{**onnx_meta().__dict__, "format": "engine"})
    assert "lacks tensorrt_version" in engine_problems(bare, ORIN)[0][0]


def test_parse_cc():
    assert parse_cc("8.7") == (8, 7) and parse_cc([7, 2]) == (7, 2)
    with pytest.raises(RanEdgeError, match="compute capability"):
        parse_cc("x.y")
