"""The conformance harness can fail: planted errors in copies of our TensorRT call sites are reported
with file, line, name and version (against NVIDIA's real bindings; the wheels are fetched once with pip,
and a missing wheel fails here with the reason, it never skips)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import pytest

from ran_edge.conformance.cli import DEFAULT_CACHE, run_walk
from ran_edge.conformance.wheels import TARGETS, polygraphy_site

ROOT = Path(__file__).resolve().parents[2]
BY_VERSION = {t.version.rsplit(".", 1)[0] if t.version.count(".") > 2 else t.version: t for t in TARGETS}


def _mutant(tmp_path: Path, module: str, old: str, new: str) -> tuple:
    """Copy ``module``'s file with ``old`` replaced by ``new`` (exactly once); (replace item, path, 1-based line)."""
    src = ROOT / (module.replace(".", "/") + ".py")
    text = src.read_text()
    assert text.count(old) == 1, f"the call site to mutate is not unique in {src.name}: {old!r}"
    out = tmp_path / src.name
    out.write_text(text.replace(old, new))
    line = text[:text.index(old)].count("\n") + 1
    return f"{module}={out}", out, line


def _violations(version: str, replace: str, only: str) -> List[Dict]:
    report = run_walk(BY_VERSION[version], DEFAULT_CACHE, replace=[replace], only=only)
    assert report["scenarios"], f"no scenario matched {only!r}"
    return report["violations"]


def test_misspelled_method_is_reported(tmp_path):
    item, path, line = _mutant(tmp_path, "ran_edge.engine.build", "name = engine.get_tensor_name(i)",
                               "name = engine.get_tensor_nme(i)")
    found = _violations("10.3.0", item, "build fp32 from fp32 ONNX, int8 auto, calib none")
    assert [(v["file"], v["line"], v["name"], v["version"]) for v in found] == \
        [(str(path), line, "ICudaEngine.get_tensor_nme", "10.3.0")]


def test_enum_member_removed_in_11_is_reported_on_11_only(tmp_path):
    item, path, line = _mutant(
        tmp_path, "ran_edge.engine.build", "config = poly.CreateConfig(**kwargs)",
        "config = poly.PostprocessConfig(poly.CreateConfig(**kwargs), lambda b, n, c: c.set_flag(trt.BuilderFlag.INT8))")
    only = "build int8 from int8 ONNX, int8 auto, calib synthetic"
    found = _violations("11.4.0", item, only)
    assert {(v["file"], v["line"], v["name"], v["version"]) for v in found} == \
        {(str(path), line, "BuilderFlag.INT8", "11.4.0.106")}
    assert _violations("10.3.0", item, only) == []  # the same code is valid on 10.3


def test_wrong_arity_is_reported(tmp_path):
    item, path, line = _mutant(tmp_path, "ran_edge.runtime.trt_runner",
                               "lo, _, hi = eng.get_tensor_profile_shape(name, 0)",
                               "lo, _, hi = eng.get_tensor_profile_shape(name)")
    found = _violations("8.6.1", item, "TrtRunner load, I/O, shapes, execute")
    assert len(found) == 1
    v = found[0]
    assert (v["file"], v["line"], v["name"], v["version"]) == (str(path), line, "ICudaEngine.get_tensor_profile_shape", "8.6.1")
    assert "called with 1 positional argument" in v["problem"] and "(name, profile_index)" in v["problem"]


def test_polygraphy_below_the_pin_is_reported_on_11():
    """Defect 2 of issue #13: Polygraphy 0.49.26 reads ILayer.precision_is_set unguarded; gone in TensorRT 11."""
    site = polygraphy_site("0.49.26", DEFAULT_CACHE)
    report = run_walk(BY_VERSION["11.4.0"], DEFAULT_CACHE, only="build fp32 from fp32 ONNX, int8 auto, calib none",
                      extra_path=str(site))
    assert report["polygraphy"] == "0.49.26"
    names = {(Path(v["file"]).name, v["name"], v["version"]) for v in report["violations"]}
    assert names == {("config.py", "ILayer.precision_is_set", "11.4.0.106")}


@pytest.mark.parametrize("pin_file", ["pyproject.toml"])
def test_polygraphy_pin_matches_the_walked_floor(pin_file):
    from ran_edge.conformance.wheels import POLYGRAPHY_FLOOR

    specs = [line for line in (ROOT / pin_file).read_text().splitlines() if '"polygraphy' in line]
    assert specs, "polygraphy is not listed in pyproject.toml"
    for line in specs:
        assert f'"polygraphy>={POLYGRAPHY_FLOOR},<0.54"' in line, line


def test_missing_wheels_fail_with_the_reason(tmp_path):
    """No index reachable: exit 2 and pip's reason, never a silent skip."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PIP_NO_INDEX": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "ran_edge.conformance", "--cache", str(tmp_path / "cache")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert "cannot download tensorrt-bindings==8.6.1 with pip" in proc.stderr
