from __future__ import annotations

import pytest

from ran_edge.artifact import Precision
from ran_edge.engine import (BatchProfile, BuildRequest, CalibKind, CalibSource, format_command, plan_build,
                             trtexec_command)
from ran_edge.errors import RanEdgeError
from tests.engine.helpers import onnx_meta

SHAPES = ["--minShapes=faces:1x3x32x32", "--optShapes=faces:8x3x32x32", "--maxShapes=faces:32x3x32x32"]


def cmd(meta, v, **kw):
    return trtexec_command(plan_build(meta, BuildRequest(**kw), v, for_trtexec=True), "m.onnx", "m.engine")


def test_fp32_command():
    assert cmd(onnx_meta(), "10.3") == ["trtexec", "--onnx=m.onnx", "--saveEngine=m.engine", *SHAPES, "--noTF32"]


def test_fp16_pinned_layers_and_options():
    argv = cmd(onnx_meta(fp16_keep_fp32_layers=["/a/Add", "/Softmax"]), "8.6", precision="fp16", workspace_mib=1024,
               timing_cache="t.cache", version_compatible=True)
    assert argv[3:6] == SHAPES
    for flag in ("--fp16", "--precisionConstraints=obey", "--layerPrecisions=/a/Add:fp32,/Softmax:fp32",
                 "--layerOutputTypes=/a/Add:fp32,/Softmax:fp32", "--memPoolSize=workspace:1024",
                 "--timingCacheFile=t.cache", "--versionCompatible"):
        assert flag in argv


def test_nano_8_2():
    argv = cmd(onnx_meta(fp16_keep_fp32_layers=["/a/Add"]), "8.2", precision="fp16", workspace_mib=512)
    assert "--fp16" in argv and "--workspace=512" in argv
    assert not any(a.startswith("--layerPrecisions") for a in argv)  # not in 8.2's trtexec


def test_int8_paths():
    assert "--int8" in cmd(onnx_meta(Precision.INT8), "8.5", precision="int8")
    argv = cmd(onnx_meta(), "8.2", precision="int8", calib=CalibSource(CalibKind.CACHE, "calib.cache"))
    assert "--int8" in argv and "--calib=calib.cache" in argv
    with pytest.raises(RanEdgeError, match="trtexec cannot calibrate from images"):
        cmd(onnx_meta(), "8.6", precision="int8", calib=CalibSource(CalibKind.SYNTHETIC), int8_method="calibrator")
    strong = cmd(onnx_meta(Precision.INT8), "11.0", precision="int8")
    assert "--stronglyTyped" in strong and "--int8" not in strong


def test_dla_command():
    argv = cmd(onnx_meta(), "8.5", precision="fp16", dla_core=1, allow_gpu_fallback=True, batch=BatchProfile(2, 2, 2))
    assert "--useDLACore=1" in argv and "--allowGPUFallback" in argv and "--fp16" in argv


def test_format_quotes():
    assert format_command(["trtexec", "--onnx=my model.onnx"]) == "trtexec '--onnx=my model.onnx'"
