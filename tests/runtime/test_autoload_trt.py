"""The TensorRT branch of ``backend="auto"`` without TensorRT: it reaches TensorRT only through the engine
builder's existing entry points (so the conformance check's walk covers every TensorRT name it can touch), and
with the builder replaced by a recorder it builds one engine per device into the cache, never reusing one
built for another TensorRT or compute capability; under ``auto`` a failed build falls back to the next backend."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ran_edge.artifact import Backend, Precision, write_sidecar
from ran_edge.autoload.probe import Candidate, Probe
from ran_edge.errors import RanEdgeError
from ran_edge.runtime.choice import LoadRequest

AUTOLOAD = Path(__file__).resolve().parents[2] / "ran_edge" / "autoload"
#: the engine builder's entry points the auto branch may use (each walked by `make trt-conformance`'s scenarios)
ALLOWED = {"detect_env", "export_step", "BuildJob", "build_engine_from_source"}


def test_autoload_touches_tensorrt_only_through_the_engine_builder():
    used = set()
    for path in AUTOLOAD.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "tensorrt" for a in node.names), path
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] != "tensorrt", path
                if node.module.startswith("ran_edge.engine.") or node.module == "ran_edge.engine":
                    used |= {a.name for a in node.names}
    assert used and used <= ALLOWED, used - ALLOWED


@pytest.fixture
def fake_trt(monkeypatch):
    """TensorRT 'present' with a device of ``state['cc']``; the engine job recorded and its output faked."""
    import ran_edge.autoload.resolve as resolve
    import ran_edge.engine.job as job_mod

    state = {"cc": "8.7", "jobs": [], "fail": False}

    def probe(cand, device=0):
        if cand is Candidate.TENSORRT:
            return Probe(cand, True, facts={"tensorrt_version": "10.3.0", "gpu_name": "fake", "compute_capability": state["cc"]})
        from ran_edge.autoload.probe import probe as real

        return real(cand, device)

    def build(job, log=print, env=None):
        state["jobs"].append(job)
        if state["fail"]:
            raise RanEdgeError("TensorRT build failed: fake")
        from ran_edge.artifact import read_sidecar

        Path(job.out).write_bytes(f"engine for sm {state['cc']}".encode())
        meta = read_sidecar(job.source)
        write_sidecar(job.out, meta.with_extra(compute_capability=state["cc"]))

    monkeypatch.setattr(resolve, "probe", probe)
    monkeypatch.setattr(job_mod, "build_engine_from_source", build)
    return state


def test_auto_builds_one_engine_per_device_through_the_build_job(fake_trt, tiny_artifacts, tmp_path):
    from ran_edge.autoload import prepare_artifact

    onnx = tiny_artifacts[1]["onnx"]
    req = LoadRequest(onnx, "auto", Precision.FP16, 0, tmp_path, log=lambda s: None)
    first = prepare_artifact(req)
    assert first.backend is Backend.TRT and first.artifact.name == "model.engine"
    assert first.choice.cache.startswith("built engine") and "tensorrt is the fastest" in first.choice.why
    job = fake_trt["jobs"][0]
    assert job.source == onnx and job.request.precision is Precision.FP16 and job.device == 0
    again = prepare_artifact(req)
    assert again.artifact == first.artifact and again.choice.cache == "from the cache" and len(fake_trt["jobs"]) == 1
    fake_trt["cc"] = "8.9"  # another GPU: its own engine, the sm 8.7 one is not reused
    other = prepare_artifact(req)
    assert other.artifact != first.artifact and other.artifact.read_bytes() == b"engine for sm 8.9"
    assert first.artifact.read_bytes() == b"engine for sm 8.7" and len(fake_trt["jobs"]) == 2


def test_a_failed_engine_build_falls_back_under_auto_only(fake_trt, tiny_artifacts, tmp_path):
    from ran_edge.autoload import prepare_artifact

    fake_trt["fail"] = True
    onnx, lines = tiny_artifacts[1]["onnx"], []
    got = prepare_artifact(LoadRequest(onnx, "auto", None, 0, tmp_path, log=lines.append))
    assert got.backend is Backend.ORT and "tensorrt: engine build failed" in got.choice.why
    assert any(line.startswith("warning: TensorRT engine") for line in lines)
    with pytest.raises(RanEdgeError, match="TensorRT build failed: fake"):
        prepare_artifact(LoadRequest(onnx, "trt", None, 0, tmp_path, log=lambda s: None))
    assert not list((tmp_path / "v1").iterdir())  # failed builds leave no entry
