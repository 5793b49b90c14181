"""``load()`` of what the user has: a checkpoint through the build cache, ``backend="auto"``, ``precision=``,
and the cache's promises seen through ``load`` (served again, corrupt entries rebuilt, read-only folders, two
real processes at once). Runs on the CPU: the auto walk ends at ONNX Runtime CPU here (or says why not)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from ran_edge.artifact import Backend, Precision
from ran_edge.cache import ENV_VAR, BuildCache
from ran_edge.errors import RanEdgeError
from ran_edge.runtime import load
from tests.cache.readonly import read_only
from tests.runtime.artifacts import faces

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def pt(tiny_artifacts):
    return tiny_artifacts[1]["pt"]


def _logits(clf, n=6):
    return np.stack([p.logits for p in clf.predict(faces(n))])


def test_checkpoint_loads_through_the_cache_and_matches_the_export(tiny_artifacts, tmp_path):
    _, files = tiny_artifacts
    lines = []
    with load(files["pt"], cache_dir=tmp_path, log=lines.append) as clf:
        choice = clf.describe()
        got = _logits(clf)
    assert choice.backend is Backend.ORT and choice.precision is Precision.FP32
    assert choice.cache.startswith("built onnx") and Path(choice.artifact).is_relative_to(tmp_path)
    assert str(choice) in lines and "auto:" in choice.why and "onnxruntime-cpu" in choice.why
    with load(files["onnx"]) as ref:
        assert ref.describe().why == "from the suffix" and ref.describe().cache == ""
        np.testing.assert_allclose(got, _logits(ref), atol=1e-5)
    with load(files["pt"], cache_dir=tmp_path, log=quiet) as again:
        assert again.describe().cache == "from the cache" and again.describe().artifact == choice.artifact
        np.testing.assert_array_equal(_logits(again), got)
    sidecar = Path(choice.artifact + ".json").read_text()
    assert "checkpoint_sha256" in sidecar and "parity" in sidecar  # the fidelity record travels with the entry


def test_precision_fp16_and_torchscript_entries(pt, tmp_path):
    with load(pt, cache_dir=tmp_path, precision="fp16", log=quiet) as clf:
        assert clf.meta.precision is Precision.FP16 and clf.describe().cache.startswith("built onnx+fp16")
        fp16 = _logits(clf)
    with load(pt, cache_dir=tmp_path, log=quiet) as ref:
        assert ref.describe().cache == "from the cache"  # the FP32 export made on the way is reused
        fp32 = _logits(ref)
        np.testing.assert_allclose(fp16, fp32, atol=2e-2)
    with load(pt, backend="torchscript", cache_dir=tmp_path, log=quiet) as ts:
        assert ts.describe().backend is Backend.TORCHSCRIPT and ts.describe().artifact.endswith("model.ts")
        np.testing.assert_allclose(_logits(ts), fp32, atol=1e-5)
    kinds = sorted(s.entry.kind for s in BuildCache(tmp_path).entries())
    assert kinds == ["fp16", "onnx", "torchscript"]


def test_int8_without_calibration_data_is_one_line(pt, tmp_path):
    with pytest.raises(RanEdgeError, match="precision int8 needs a QDQ INT8 ONNX or calibration data.*calib_data='synthetic'"):
        load(pt, cache_dir=tmp_path, precision="int8", log=quiet)
    assert not (tmp_path / "v1").exists()


def test_onnx_auto_and_what_cannot_fit(tiny_artifacts, tmp_path):
    files = tiny_artifacts[1]
    with pytest.raises(RanEdgeError, match=r"precision: got 'fp8', expected one of \['fp32', 'fp16', 'int8'\]"):
        load(files["pt"], precision="fp8", cache_dir=tmp_path)
    with pytest.raises(RanEdgeError, match="backend: got 'tflite'"):
        load(files["pt"], backend="tflite", cache_dir=tmp_path)
    with load(files["onnx"], backend="auto", cache_dir=tmp_path, log=quiet) as clf:
        assert clf.describe().artifact == str(files["onnx"]) and clf.describe().cache == ""
    with pytest.raises(RanEdgeError, match="torchscript: an ONNX model does not convert to TorchScript"):
        load(files["onnx"], backend="torchscript", precision="fp16", cache_dir=tmp_path, log=quiet)
    with pytest.raises(RanEdgeError, match="tensorrt"):
        load(files["onnx"], backend="trt", precision="fp16", cache_dir=tmp_path, log=quiet)


def test_a_corrupt_entry_is_rebuilt_never_used(tiny_artifacts, tmp_path):
    files = tiny_artifacts[1]
    with load(files["pt"], cache_dir=tmp_path, log=quiet) as clf:
        entry, want = Path(clf.describe().artifact), _logits(clf)
    # another model's ONNX put in its place: a valid model, but not this entry's
    entry.write_bytes(files["regions"].read_bytes())
    lines = []
    with load(files["pt"], cache_dir=tmp_path, log=lines.append) as clf:
        assert clf.describe().cache.startswith("built onnx")
        np.testing.assert_array_equal(_logits(clf), want)
    assert any("model.onnx has" in s and "rebuilding" in s for s in lines), lines  # caught by size, then sha256
    entry.write_bytes(entry.read_bytes()[:1000])  # truncated
    with load(files["pt"], cache_dir=tmp_path, log=quiet) as clf:
        np.testing.assert_array_equal(_logits(clf), want)


def test_read_only_cache(pt, tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    with load(pt, cache_dir=folder, log=quiet) as clf:
        want = _logits(clf)
    with read_only(folder):
        with load(pt, cache_dir=folder, log=quiet) as clf:  # served from a read-only folder
            np.testing.assert_array_equal(_logits(clf), want)
        monkeypatch.setenv(ENV_VAR, str(folder))
        with pytest.raises(RanEdgeError) as err:
            load(pt, precision="fp16", log=quiet)  # needs a new entry
    msg = str(err.value)
    assert "\n" not in msg and f"${ENV_VAR}" in msg and f"set {ENV_VAR}" in msg


RACE = textwrap.dedent("""
    import sys, time
    import numpy as np
    from ran_edge.runtime import load
    pt, cache, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
    while time.time() < start:
        time.sleep(0.005)
    with load(pt, cache_dir=cache, log=lambda s: None) as clf:
        print(clf.describe().cache.split(" in ")[0], clf.describe().artifact, len(clf.predict([np.zeros((32, 32, 3), np.uint8)])))
""")


def test_two_processes_loading_one_checkpoint_build_once(pt, tmp_path):
    start = str(time.time() + 8.0)  # both are past their imports by then
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", RACE, str(pt), str(tmp_path), start], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    results = sorted(o[0].split() for o in outs)
    assert [r[0] for r in results] == ["built", "from"], results
    assert results[0][-2] == results[1][-2] and results[0][-1] == results[1][-1] == "1"
    assert len(BuildCache(tmp_path).entries()) == 1


@pytest.mark.slow
def test_precision_int8_goes_through_the_calibration_gate(pt, tmp_path):
    lines = []
    with load(pt, cache_dir=tmp_path, precision="int8", calib_data="synthetic", log=lines.append) as clf:
        assert clf.meta.precision is Precision.INT8 and clf.meta.extra["int8_flavour"] == "cpu"
        assert clf.meta.extra["int8_quality"]  # the gate's record travels in the sidecar
        assert clf.describe().cache.startswith("built onnx+int8")
        got = _logits(clf)
    assert any(line.startswith("gate:") for line in lines), lines  # the calibration path's quality gate ran
    with load(pt, cache_dir=tmp_path, precision="int8", calib_data="synthetic", log=quiet) as again:
        assert again.describe().cache == "from the cache"
        np.testing.assert_array_equal(_logits(again), got)
