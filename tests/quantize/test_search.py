"""INT8 fidelity machinery: streaming histograms, bounded memory, the measured search, and the loud failure."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from ran_edge.artifact import read_sidecar, sidecar_path  # noqa: E402
from ran_edge.cli.main import main  # noqa: E402
from ran_edge.errors import AccuracyTargetError  # noqa: E402
from ran_edge.quantize import QuantTarget, calibrate_onnx  # noqa: E402
from ran_edge.quantize.histograms import ActivationHistogram  # noqa: E402

BAD = dict(method="percentile", percentile=50.0, max_higher_precision=0)  # clips half of every activation


def test_histogram_widening_is_exact_and_percentiles_match_numpy():
    rng = np.random.default_rng(0)
    parts = [rng.normal(0, s, 5000).astype(np.float32) for s in (0.1, 1.0, 7.0)]  # the range grows twice
    h = ActivationHistogram(bins=256)
    for p in parts:
        h.update(p)
    allv = np.abs(np.concatenate(parts))
    direct, _ = np.histogram(allv, bins=256, range=(0.0, h.top))
    # pairwise merging loses nothing: same total, and bins differ only where a value sits on a bin edge
    # (float rounding of the edge at two scales moves it to the neighbouring bin)
    assert h.counts.sum() == direct.sum() == allv.size
    assert np.abs(h.counts - direct).sum() <= 4
    assert h.low == pytest.approx(float(np.concatenate(parts).min())) and h.amax == pytest.approx(float(allv.max()))
    width = h.top / 256
    for pct in (50.0, 99.0, 99.99):
        assert abs(h.percentile(pct) - np.percentile(allv, pct)) <= width + 1e-6


def test_histogram_ignores_nan_and_counts_inf_at_the_top():
    h = ActivationHistogram(bins=16)
    h.update(np.array([np.nan, 1.0, -2.0, np.inf], np.float32))
    assert h.counts.sum() == 3 and h.counts[-1] >= 1 and h.low == -2.0


def test_calibration_memory_does_not_grow_with_the_number_of_faces(tmp_path):
    """Peak RSS of a calibration pass over 8 and over 96 faces of a model with ~7 MB of activations per face.
    Keeping every batch's activations (ONNX Runtime's calibrators) would add ~600 MB for the extra 88 faces."""
    script = textwrap.dedent("""
        import resource, sys, numpy as np, torch
        from ran_edge.data.classes import RAFDB_CLASSES
        from ran_edge.export import export_onnx
        from ran_edge.model.ran import build_ran
        from ran_edge.preprocess import PreprocessSpec
        from ran_edge.quantize.histograms import collect_histograms
        torch.manual_seed(0)
        path = sys.argv[1] + "/m.onnx"
        model = build_ran(RAFDB_CLASSES, "ferplus6", "official", PreprocessSpec(face_size=128, region_size=96), trunk_width=16).eval()
        export_onnx(model, path, log=lambda s: None)
        n = int(sys.argv[2])
        rng = np.random.default_rng(0)
        feeds = ({"faces": rng.random((8, 3, 128, 128), np.float32)} for _ in range(n // 8))
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        h = collect_histograms(path, feeds, progress=False)
        print(h.faces, base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, h.peak_chunk_bytes)
    """)
    peaks = {}
    for n in (8, 96):
        out = subprocess.run([sys.executable, "-c", script, str(tmp_path), str(n)], capture_output=True, text=True, check=True)
        faces, base, peak, chunk = (int(v) for v in out.stdout.split()[-4:])
        assert faces == n
        peaks[n] = peak - base  # KiB grown during calibration
    per_face = chunk / 8
    assert per_face > 4e6  # the model really makes several MB of activations per face
    assert peaks[96] - peaks[8] < 0.25 * per_face * 88 / 1024, peaks  # far below what keeping them would take


def test_deliberately_bad_setting_fails_loudly_and_writes_nothing(trained_onnx, calib_dir, holdout_dir, tmp_path):
    fp32, _ = trained_onnx
    out = tmp_path / "q" / "model.int8.onnx"
    with pytest.raises(AccuracyTargetError, match="misses the quality gate"):
        calibrate_onnx(fp32, out, data=str(calib_dir), num=32, holdout=str(holdout_dir), targets=[QuantTarget.CPU],
                       progress=False, log=lambda s: None, **BAD)
    assert not out.parent.exists()  # nothing written, not even the folder (issue 24)


def test_cli_exit_1_one_line_or_red_warning_with_allow(trained_onnx, calib_dir, holdout_dir, tmp_path, capsys):
    fp32, _ = trained_onnx
    out = tmp_path / "model.int8.onnx"
    argv = ["calibrate", str(fp32), "--data", str(calib_dir), "--num", "32", "--holdout", str(holdout_dir),
            "--method", "percentile", "--percentile", "50", "--max-higher-precision", "0", "--target", "cpu", "--out", str(out)]
    capsys.readouterr()
    assert main(argv) == 1
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.strip() and "calibrating" not in line]  # minus tqdm
    assert len(err) == 1 and err[0].startswith("ran-edge calibrate: error: INT8 cpu flavour misses the quality gate")
    assert "--allow-accuracy-loss" in err[0]
    assert not out.exists()
    assert main(argv + ["--allow-accuracy-loss"]) == 0
    printed = capsys.readouterr().out
    assert any(line.startswith("WARNING: INT8 cpu flavour misses the quality gate") for line in printed.splitlines())
    quality = read_sidecar(out).extra["int8_quality"]
    assert quality["meets_target"] is False and quality["misses"]
    assert quality["higher_precision_layers"] == 0 and quality["speed"]["int8_ms"] > 0
    assert quality["int8_share"]["int8_share"] > 0.95  # nothing given back: the file is INT8, and says how much
    assert main(["inspect", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "INT8 quality" in shown and "MISSES" in shown


def test_search_gives_back_layers_only_when_needed(trained_onnx, calib_dir, holdout_dir, tmp_path):
    """A good setting passes all-INT8 with nothing given back; with a bad one the fallback ranks layers by the proxy,
    stays within its cap and records what it chose in the sidecar and the manifest."""
    fp32, _ = trained_onnx
    good = calibrate_onnx(fp32, tmp_path / "g.onnx", data=str(calib_dir), num=32, holdout=str(holdout_dir),
                          targets=[QuantTarget.TENSORRT], progress=False, log=lambda s: None)
    s = good.searches[QuantTarget.TENSORRT]
    assert s.met and s.higher_precision == () and len(s.trials) == 1  # the first all-INT8 setting passed: one trial
    bad = calibrate_onnx(fp32, tmp_path / "b.onnx", data=str(calib_dir), num=32, holdout=str(holdout_dir),
                         targets=[QuantTarget.TENSORRT], progress=False, log=lambda s: None, on_miss="warn",
                         method="percentile", percentile=50.0, max_higher_precision=4)
    s = bad.searches[QuantTarget.TENSORRT]
    assert not s.met and len(s.higher_precision) <= 4 and len(s.ranking) > 0
    meta = read_sidecar(bad.results[QuantTarget.TENSORRT].path)
    assert meta.extra["int8"]["higher_precision_nodes"] == list(s.higher_precision)
    assert json.loads(bad.manifest.read_text())["search"]["tensorrt"]["higher_precision_nodes"] == list(s.higher_precision)


def test_a_layer_in_higher_precision_reads_the_float_tensor(trained_onnx, calib_dir, tmp_path):
    """Excluding a node from quantize_static leaves the Q/DQ pair on its input; ours must read the float tensor."""
    from ran_edge.quantize.qdq import quantize_int8
    from ran_edge.data.feeds import DatasetReader, open_calibration_data
    from ran_edge.quantize.search import candidate_layers
    from ran_edge.quantize.ranges import collect_stats

    fp32, _ = trained_onnx
    meta = read_sidecar(fp32)
    ds, desc = open_calibration_data(str(calib_dir), 16)
    stats = collect_stats(fp32, DatasetReader(ds, meta, 16, 8), progress=False, log=lambda s: None)
    layer = [n for n in candidate_layers(onnx.load(str(fp32))) if "Conv" in n][3]
    for target in (QuantTarget.TENSORRT, QuantTarget.CPU):
        res = quantize_int8(fp32, tmp_path / f"{target.value}.onnx", target=target, higher_precision=[layer], stats=stats,
                            log=lambda s: None)
        model = onnx.load(str(res.path))
        producer = {o: n for n in model.graph.node for o in n.output}
        node = next(n for n in model.graph.node if n.name == layer)
        assert all(producer.get(i) is None or producer[i].op_type != "DequantizeLinear" for i in node.input), target
        others = [n for n in model.graph.node if n.op_type == "Conv" and n.name != layer]
        assert all(producer[n.input[0]].op_type == "DequantizeLinear" for n in others)  # the rest stays INT8


def test_runtime_runs_the_tensorrt_flavour_with_exact_qdq(trained_onnx, calib_dir, holdout_dir, tmp_path):
    from ran_edge.runtime import load

    fp32, _ = trained_onnx
    run = calibrate_onnx(fp32, tmp_path / "m.int8.onnx", data=str(calib_dir), num=32, method="minmax",
                         holdout=str(holdout_dir), progress=False, log=lambda s: None)
    with load(run.results[QuantTarget.TENSORRT].path) as trt, load(run.results[QuantTarget.CPU].path) as cpu:
        assert trt.runner.exact_qdq is True and cpu.runner.exact_qdq is False
    assert sidecar_path(run.results[QuantTarget.CPU].path).is_file()


def test_agreement_lower_bound_is_the_wilson_bound():
    """4 flips in 301 faces (98.7 %) is not evidence of >= 98 %, 2 flips in 450 is; more faces tighten the bound;
    confidence 0 is the rate itself."""
    from ran_edge.metrics import agreement_lower_bound

    p, n, z = 297 / 301, 301, 1.2815515655446004  # z of a one-sided 90 % bound
    wilson = (p + z * z / (2 * n) - z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)
    assert agreement_lower_bound(p, n, 0.9) == pytest.approx(wilson, abs=1e-9)
    assert agreement_lower_bound(p, n, 0.0) == p
    assert agreement_lower_bound(p, 4 * n, 0.9) > agreement_lower_bound(p, n, 0.9)
    assert agreement_lower_bound(1.0, 400, 0.9) < 1.0  # a perfect score on few faces is still an estimate


def test_fallback_stops_at_half_int8_unless_allowed(trained_onnx, calib_dir, holdout_dir, tmp_path):
    """Percentile 50 clips half of every activation. Without --allow-fp32-fallback the fallback may not take the file
    below 50 % INT8 share, so it misses loudly and names the option; with it, layers go back until the gate passes and
    one visible line says how little INT8 is left."""
    from ran_edge.quantize import Int8ShareError  # noqa: F401 (public)

    fp32, _ = trained_onnx
    out = tmp_path / "q" / "q.onnx"
    with pytest.raises(AccuracyTargetError, match="allow-fp32-fallback"):
        calibrate_onnx(fp32, out, data=str(calib_dir), num=32, holdout=str(holdout_dir), targets=[QuantTarget.TENSORRT],
                       method="percentile", percentile=50.0, progress=False, log=lambda s: None)
    assert not out.parent.exists()
    lines = []
    run = calibrate_onnx(fp32, out, data=str(calib_dir), num=32, holdout=str(holdout_dir), targets=[QuantTarget.TENSORRT],
                         method="percentile", percentile=50.0, allow_fp32_fallback=True, progress=False, log=lines.append)
    s = run.searches[QuantTarget.TENSORRT]
    share = read_sidecar(out).extra["int8_quality"]["int8_share"]
    assert s.met and share["int8_share"] < 0.5 and len(s.higher_precision) > 0
    assert sum("multiply-adds in INT8" in line and "--allow-fp32-fallback" in line for line in lines) == 1
    assert len(s.trials) <= 1 + 1 + 6  # all-INT8, the cap, then bisection: log2(layers) trials, not one per layer


def test_a_file_below_half_int8_is_refused_without_allow(trained_onnx, calib_dir, holdout_dir, tmp_path):
    """Whatever made it (here a fine-tuning hook that hands back an FP32 graph), a file with < 50 % INT8 share is not
    written as INT8 unless the user allows FP32 fallback."""
    from ran_edge.quantize import FinetuneResult, Int8ShareError
    from ran_edge.quantize.qdq import quantize_int8
    from ran_edge.quantize.search import candidate_layers

    fp32, _ = trained_onnx
    layers = candidate_layers(onnx.load(str(fp32)))
    calls = []

    def fp32_hook(src, ptq, stats, workdir):
        calls.append(sorted(t.value for t in ptq))
        path = workdir / "all-fp32.onnx"
        quantize_int8(src, path, target="tensorrt", higher_precision=layers, stats=stats, log=lambda s: None)
        return FinetuneResult(src, {QuantTarget.TENSORRT: path}, {"what": "test hook"})

    out = tmp_path / "r" / "q.onnx"
    with pytest.raises(Int8ShareError, match="allow-fp32-fallback"):
        calibrate_onnx(fp32, out, data=str(calib_dir), num=32, holdout=str(holdout_dir), targets=[QuantTarget.TENSORRT],
                       method="percentile", percentile=50.0, finetune=fp32_hook, progress=False, log=lambda s: None)
    assert calls == [["tensorrt"]] and not out.parent.exists()  # fine-tuning ran before any fallback


def test_heldout_eval_runs_fp32_once_and_stops_a_clear_miss_early(trained_onnx, calib_dir, holdout_dir, tmp_path):
    from ran_edge.data.feeds import DatasetReader, open_calibration_data
    from ran_edge.quantize.calibrate import open_holdout
    from ran_edge.quantize.heldout import HeldOutEval
    from ran_edge.quantize.qdq import quantize_int8
    from ran_edge.quantize.ranges import RangeSetting, collect_stats

    fp32, _ = trained_onnx
    meta = read_sidecar(fp32)
    held = HeldOutEval(fp32, meta, open_holdout(str(holdout_dir), 300, str(calib_dir), 32, 0), chunk=50, min_faces=100)
    ds, desc = open_calibration_data(str(calib_dir), 32)
    stats = collect_stats(fp32, DatasetReader(ds, meta, 32, 16), progress=False, log=lambda s: None)
    bad = quantize_int8(fp32, tmp_path / "bad.onnx", setting=RangeSetting(percentile=50.0), stats=stats, log=lambda s: None)
    good = quantize_int8(fp32, tmp_path / "good.onnx", setting=RangeSetting(), stats=stats, log=lambda s: None)
    v_bad = held.evaluate(bad.path)
    assert not v_bad.met and v_bad.clearly_out and 100 <= v_bad.faces_seen < 300  # stopped early, after min_faces
    assert held.ref_done.sum() == v_bad.faces_seen  # FP32 ran only over the faces the trial needed
    v_good = held.evaluate(good.path)
    assert v_good.met and v_good.faces_seen == 300 and held.size == 300  # a pass is judged on every face
    assert held.evaluate(fp32).met and held.evaluate(fp32).pooled["top1_agreement"] == 1.0  # FP32 against itself
