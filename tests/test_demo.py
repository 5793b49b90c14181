"""The demo pipeline end to end on a tiny configuration (the real demo is `make demo`), and the README's
walkthrough run literally on its outputs."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from ran_edge.demo_run import DemoConfig, run_demo  # noqa: E402


@pytest.mark.slow
def test_tiny_demo_writes_every_artifact_and_the_readme_walkthrough_runs_on_them(tmp_path):
    cfg = DemoConfig(out=tmp_path / "demo_out", video=True, n_train=70, n_val=35, n_test=35, image_size=32, face_size=32,
                     region_size=16, trunk_width=4, epochs=1, calibration_faces=16, bench_iters=3, progress=False,
                     allow_accuracy_loss=True, int8_max_higher_precision=2, int8_holdout_num=60)  # an untrained model: quality is not tested here
    report = run_demo(cfg, log=lambda s: None)
    ev = json.loads((cfg.out / "eval.json").read_text())
    assert {"accuracy", "per_class_accuracy", "confusion", "n", "suites"} <= set(ev)
    assert set(ev["suites"]) == {"clean", "occlusion", "pose30", "pose45"}
    assert ev["n"] == 35 and ev["accuracy"] == ev["per_region_path_accuracy"]
    for key in ("checkpoint", "onnx", "onnx_regions", "torchscript", "onnx_fp16", "onnx_int8_tensorrt", "onnx_int8_cpu",
                "trt_calibration_cache", "calibration_manifest", "bench_md", "bench_json"):
        assert Path(report.artifacts[key]).is_file(), key
    precision = json.loads((cfg.out / "precision.json").read_text())
    assert set(precision["clean"]) == {"fp16", "int8-trt", "int8-cpu"}
    assert 0.0 <= precision["clean"]["int8-cpu"]["top1_agreement"] <= 1.0
    assert json.loads((cfg.out / "demo.json").read_text())["seconds"]["total"] > 0
    record = json.loads((cfg.out / "demo.json").read_text())
    assert record["machine"]["cores"] >= 1 and record["run_at"] and record["peak_rss_mib"] > 0
    from ran_edge.demo_summary import timing_paragraph

    paragraph = timing_paragraph(record)
    assert "train " in paragraph and "int8-cpu" in paragraph and record["run_at"] in paragraph
    run_walkthrough(tmp_path)
    assert (tmp_path / "walk" / "bench" / "bench.json").is_file()
    assert (tmp_path / "walk" / "events.jsonl").stat().st_size > 0
    assert (tmp_path / "walk" / "triton").is_dir()


def walkthrough_lines() -> list[str]:
    """The commands of README's ```bash walkthrough block (the one a newcomer follows after ``make demo``)."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = re.search(r"^```bash walkthrough\n(.*?)^```", readme, re.M | re.S)
    assert block, "README has no ```bash walkthrough block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def run_walkthrough(root: Path) -> None:
    """Run every walkthrough line as written in ``root`` (which holds ``demo_out``), with ``ran-edge`` and the venv
    activation pointing at this interpreter; each must exit 0."""
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "activate").write_text(f'export PATH="{bin_dir}:$PATH"\n')
    shim = bin_dir / "ran-edge"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m ran_edge "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    script = "set -e\n" + "\n".join(walkthrough_lines()) + "\n"
    done = subprocess.run(["bash", "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"README walkthrough failed (exit {done.returncode}):\n{done.stderr[-3000:]}"


def test_demo_fails_loudly_when_an_int8_file_misses_the_gate_on_the_test_suites(tmp_path, monkeypatch):
    """`make demo` runs without --allow-accuracy-loss: a miss on the test suites raises one line that names the file
    and the suite, after the report is written; with the flag it is one red warning line and the run returns."""
    import ran_edge.demo_run as demo
    from ran_edge.errors import AccuracyTargetError

    miss = {"meets_target": False, "misses": ["pose45: accuracy drop +1.46 pt > 1 pt"], "pooled": {}, "suites": {}}
    ok = {"meets_target": True, "misses": [], "pooled": {}, "suites": {}}

    def precision(cfg, report, paths, log, suites=None):
        report.figures["int8_gate"] = {"int8-trt": ok, "int8-cpu": miss}

    monkeypatch.setattr(demo, "step_train", lambda cfg, report, log: tmp_path / "best.pt")
    monkeypatch.setattr(demo, "load_suites", lambda cfg: {})
    monkeypatch.setattr(demo, "step_evaluate", lambda *a, **k: {})
    monkeypatch.setattr(demo, "step_export", lambda *a, **k: {})
    monkeypatch.setattr(demo, "step_quantize", lambda *a, **k: {})
    monkeypatch.setattr(demo, "step_precision_accuracy", precision)
    monkeypatch.setattr(demo, "step_bench", lambda *a, **k: None)
    cfg = DemoConfig(out=tmp_path / "strict", progress=False)
    with pytest.raises(AccuracyTargetError) as err:
        run_demo(cfg, log=lambda s: None)
    line = str(err.value)
    assert "\n" not in line and "int8-cpu: pose45: accuracy drop +1.46 pt" in line and "int8-trt" not in line
    assert (cfg.out / "report.md").is_file() and (cfg.out / "demo.json").is_file()
    lines: list[str] = []
    run_demo(DemoConfig(out=tmp_path / "allowed", progress=False, allow_accuracy_loss=True), log=lines.append)
    warnings = [s for s in lines if "WARNING: INT8 misses its quality target" in s]
    assert len(warnings) == 1 and "int8-cpu" in warnings[0]
