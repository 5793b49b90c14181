"""``ran-edge bench`` from the command line: compare/regression exit codes, bad input, the demo command."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ran_edge.bench.compare import EXIT_REGRESSION, compare_reports, parse_fraction
from ran_edge.bench.stats import repeat_medians, summarize
from ran_edge.cli.main import main
from ran_edge.errors import RanEdgeError


def _write(path, doc):
    path.write_text(json.dumps(doc))
    return str(path)


def _with_samples(doc, factor, seed, jitter=0.02):
    """``doc`` with every ok speed record's samples replaced by 40 synthetic ones (10 ms/face x factor, x(1 +- jitter))."""
    new = copy.deepcopy(doc)
    rng = np.random.default_rng(seed)
    for r in new["speed"]:
        if r["status"] == "ok":
            face = 10.0 * factor * (1.0 + jitter * rng.standard_normal(40))
            r["samples_ms"] = (face * r["batch"]).tolist()
            r["repeat_medians_face_ms"] = repeat_medians(face).tolist()
            r["latency_face_ms"], r["latency_batch_ms"] = summarize(face).to_dict(), summarize(face * r["batch"]).to_dict()
    return new


def test_parse_fraction():
    assert parse_fraction("5%") == pytest.approx(0.05) and parse_fraction("0.1") == pytest.approx(0.1)
    with pytest.raises(RanEdgeError, match="threshold"):
        parse_fraction("five")


def test_compare_exit_codes(tiny_bench, tmp_path, capsys):
    doc = _with_samples(tiny_bench.doc, 1.0, seed=1)
    old = _write(tmp_path / "old.json", doc)
    assert main(["bench", "--compare", old, _write(tmp_path / "same.json", _with_samples(doc, 1.0, seed=2))]) == 0
    out = capsys.readouterr().out
    assert "no regression" in out and "| speed |" in out and "within noise" in out and "95% CI" in out
    assert main(["bench", "--compare", old, _write(tmp_path / "slow.json", _with_samples(doc, 1.20, seed=3))]) == EXIT_REGRESSION
    assert "REGRESSION" in capsys.readouterr().out
    assert main(["bench", "--compare", old, str(tmp_path / "slow.json"), "--max-regression", "25%"]) == 0
    worse = copy.deepcopy(doc)
    for r in worse["accuracy"]:
        r["accuracy"] = r["accuracy"] - 0.05
    assert main(["bench", "--compare", old, _write(tmp_path / "worse.json", worse)]) == EXIT_REGRESSION
    c = compare_reports(doc, _with_samples(doc, 0.5, seed=4))
    speed = [r for r in c.rows if r.kind == "speed"]
    assert not c.regressed and speed and all(r.verdict == "improvement" for r in speed)
    assert all(r.change == pytest.approx(-0.5, abs=0.02) for r in speed)


def test_compare_bad_files(tiny_bench, tmp_path, capsys):
    old = _write(tmp_path / "old.json", tiny_bench.doc)
    assert main(["bench", "--compare", old, str(tmp_path / "missing.json")]) == 1
    assert main(["bench", "--compare", old, _write(tmp_path / "other.json", {"hello": 1})]) == 1
    newer = dict(tiny_bench.doc, schema_version=99)
    assert main(["bench", "--compare", old, _write(tmp_path / "newer.json", newer)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("ran-edge bench: error: ") for line in err)
    assert "not found" in err[0] and "not a ran-edge bench report" in err[1] and "upgrade ran-edge" in err[2]


def test_bad_input_is_one_line_exit_1(tiny_artifacts, tmp_path, capsys):
    shutil.copy(tiny_artifacts["onnx"], tmp_path / "nosidecar.onnx")
    (tmp_path / "model.xyz").write_text("x")
    cases = [
        ([str(tmp_path / "missing.onnx")], "artifact not found"),
        ([str(tmp_path / "nosidecar.onnx")], "metadata file nosidecar.onnx.json not found"),
        ([str(tmp_path / "model.xyz")], "unknown artifact type"),
        (["random:huge"], "unknown pseudo-artifact"),
        ([str(tiny_artifacts["onnx"]), "--backend", "trt"], "tensorrt"),
        ([str(tiny_artifacts["onnx"]), "--batch", "0"], "--batch"),
        ([str(tiny_artifacts["onnx"]), "--paths", "per-region"], "implements the region-batch path"),
    ]
    for argv, needle in cases:
        try:
            code = main(["bench", *argv, "--out", str(tmp_path / "o"), "--no-progress"])
        except SystemExit as exc:  # bounds are checked when the command line is parsed (docs/bounds.md)
            code = exc.code
        assert code == 1, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], (argv, err)
    assert not (tmp_path / "o" / "bench.json").exists()


def test_a_pair_its_sidecar_does_not_describe_is_refused_before_any_configuration(tiny_artifacts, tmp_path, capsys):
    """The one artifact validation (issue 24): bench refuses the pair up front, as runtime.load would (issue #15)."""
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx graph")
    shutil.copy(str(tiny_artifacts["onnx"]) + ".json", str(broken) + ".json")
    out = tmp_path / "o"
    code = main(["bench", str(broken), str(tiny_artifacts["onnx"]), "--batch", "1", "--iters", "2", "--warmup", "0",
                 "--suites", "none", "--out", str(out), "--no-progress", "--no-plots"])
    assert code == 1 and not out.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not match onnx_sha256" in err[0], err


def test_a_failing_configuration_is_reported_and_the_rest_run(tiny_artifacts, tmp_path, capsys, monkeypatch):
    import ran_edge.bench.loaders as loaders
    from ran_edge.errors import RanEdgeError

    broken = tmp_path / "broken.onnx"
    shutil.copy(tiny_artifacts["onnx"], broken)
    shutil.copy(str(tiny_artifacts["onnx"]) + ".json", str(broken) + ".json")
    real = loaders.load_runtime_subject

    def fails_for_broken(spec, cfg, artifact=None, spinning=True):  # a configuration that fails only when it runs
        if Path(spec.artifact).name == "broken.onnx":
            raise RanEdgeError("the runner could not start")
        return real(spec, cfg, artifact, spinning)

    monkeypatch.setattr(loaders, "load_runtime_subject", fails_for_broken)
    out = tmp_path / "o"
    code = main(["bench", str(broken), str(tiny_artifacts["onnx"]), "--batch", "1", "--iters", "2", "--warmup", "0",
                 "--suites", "none", "--out", str(out), "--no-progress", "--no-plots"])
    assert code == 0
    doc = json.loads((out / "bench.json").read_text())
    status = {m["artifact"].split("/")[-1]: (m["status"], m["error"]) for m in doc["models"]}
    assert status["broken.onnx"][0] == "error" and "could not start" in status["broken.onnx"][1]
    assert status["tiny.onnx"] == ("ok", None)
    assert [r["status"] for r in doc["speed"]] == ["error", "ok"]
    assert "error: RanEdgeError" in (out / "bench.md").read_text()
    assert "1 configuration(s) failed" in capsys.readouterr().out


def test_demo_command_fp32_and_int8_batches_1_and_8(tiny_artifacts, tiny_int8, tmp_path):
    """`ran-edge bench demo.onnx demo.int8.onnx --batch 1,8 --out DIR`: bench.json, bench.md, >= 2 PNGs;
    the INT8 file's reference is found from its sidecar (sha256 of the FP32 source) without --reference."""
    out = tmp_path / "demo"
    code = main(["bench", str(tiny_artifacts["onnx"]), str(tiny_int8), "--batch", "1,8", "--iters", "3", "--warmup", "1",
                 "--threads", "1", "--data", "synthetic:n_test=16,size=32", "--suites", "clean,occlusion",
                 "--out", str(out), "--no-progress"])
    assert code == 0
    assert (out / "bench.json").is_file() and (out / "bench.md").is_file()
    assert len(list(out.glob("*.png"))) >= 2
    doc = json.loads((out / "bench.json").read_text())
    assert [m["precision"] for m in doc["models"]] == ["fp32", "int8"]
    assert [r["batch"] for r in doc["speed"]] == [1, 8, 1, 8] and all(r["status"] == "ok" for r in doc["speed"])
    assert all(r["status"] == "ok" and r["n"] == 16 for r in doc["accuracy"])
    int8 = [r for r in doc["accuracy"] if r["model"] == "m1"]
    assert all(r["reference"]["artifact"].endswith("tiny.onnx") for r in int8)
    assert all(0.5 <= r["reference"]["top1_agreement"] <= 1.0 and r["reference"]["max_abs_logit_diff"] > 0 for r in int8)
    ratios = [c for c in doc["comparisons"] if c["name"].startswith("int8 / fp32")]
    assert [c["batch"] for c in ratios] == [1, 8] and all(c["ratio"] > 0 for c in ratios)
    assert "int8 / fp32 [tiny.int8.onnx vs tiny.onnx, onnxruntime]" in (out / "bench.md").read_text()


def test_sequential_schedule_and_speed_only(tiny_artifacts, tmp_path):
    out = tmp_path / "seq"
    code = main(["bench", str(tiny_artifacts["onnx"]), str(tiny_artifacts["regions_onnx"]), "--batch", "2", "--iters", "4",
                 "--warmup", "0", "--measure", "speed", "--schedule", "sequential", "--out", str(out), "--no-progress",
                 "--no-plots"])
    assert code == 0
    doc = json.loads((out / "bench.json").read_text())
    assert doc["config"]["schedule"] == "sequential" and doc["accuracy"] == []
    assert [r["iters"] for r in doc["speed"]] == [4, 4]
    assert all(r["wall_s"] >= sum(r["samples_ms"]) / 1e3 for r in doc["speed"])
    assert "Schedule: sequential" in (out / "bench.md").read_text()


def test_a_report_folder_with_files_is_refused_without_force(tiny_artifacts, tmp_path, capsys):
    """Issue 26: a second bench into the same --out no longer replaces the first report silently."""
    out = tmp_path / "o"
    out.mkdir()
    (out / "bench.json").write_text("{\"earlier\": true}")
    argv = ["bench", str(tiny_artifacts["onnx"]), "--batch", "1", "--iters", "1", "--warmup", "0", "--measure", "speed",
            "--out", str(out), "--no-progress", "--no-plots"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"ran-edge bench: error: {out} already exists and is not empty; pass --force to replace it"]
    assert (out / "bench.json").read_text() == "{\"earlier\": true}"
    assert main(argv + ["--force"]) == 0
    assert json.loads((out / "bench.json").read_text())["schema"] == "ran-edge-bench"


def test_ort_sessions_taking_turns_do_not_spin(tiny_artifacts, tmp_path):
    """Two ONNX Runtime configurations timed in turns run without thread spinning (each one's spinning threads slow
    the other at random on few cores); one configuration alone keeps ONNX Runtime's default."""
    from ran_edge.bench import BenchConfig, run_bench

    onnx = str(tiny_artifacts["onnx"])
    two = run_bench(BenchConfig(artifacts=(onnx, onnx), out=tmp_path / "two", batches=(1,), iters=2, warmup=0,
                                suites=(), threads=2, progress=False, plots=False), log=lambda s: None)
    one = run_bench(BenchConfig(artifacts=(onnx,), out=tmp_path / "one", batches=(1,), iters=2, warmup=0,
                                suites=(), threads=2, progress=False, plots=False), log=lambda s: None)
    spins = [[m["details"]["ort_spinning"] for m in json.loads(Path(r.json_path).read_text())["models"]] for r in (two, one)]
    assert spins == [[False, False], [True]]
