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
    with pytest.raises(AccuracyTargetError, match="misses the quality target"):
        calibrate_onnx(fp32, out, data=str(calib_dir), num=32, holdout=str(holdout_dir), targets=[QuantTarget.CPU],
                       progress=False, log=lambda s: None, **BAD)
    assert list(out.parent.iterdir()) == []


def test_cli_exit_1_one_line_or_red_warning_with_allow(trained_onnx, calib_dir, holdout_dir, tmp_path, capsys):
    fp32, _ = trained_onnx
    out = tmp_path / "model.int8.onnx"
    argv = ["calibrate", str(fp32), "--data", str(calib_dir), "--num", "32", "--holdout", str(holdout_dir),
            "--method", "percentile", "--percentile", "50", "--max-higher-precision", "0", "--target", "cpu", "--out", str(out)]
    capsys.readouterr()
    assert main(argv) == 1
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.strip() and "calibrating" not in line]  # minus tqdm
    assert len(err) == 1 and err[0].startswith("ran-edge calibrate: error: INT8 cpu flavour misses the quality target")
    assert "--allow-accuracy-loss" in err[0]
    assert not out.exists()
    assert main(argv + ["--allow-accuracy-loss"]) == 0
    printed = capsys.readouterr().out
    assert any(line.startswith("WARNING: INT8 cpu flavour misses the quality target") for line in printed.splitlines())
    quality = read_sidecar(out).extra["int8_quality"]
    assert quality["meets_target"] is False and quality["misses"]
    assert quality["cost"]["higher_precision_layers"] == 0 and quality["cost"]["ort_cpu"]["int8_ms"] > 0
    assert main(["inspect", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "INT8 quality" in shown and "MISSES" in shown


def test_search_gives_back_layers_only_when_needed(trained_onnx, calib_dir, holdout_dir, tmp_path):
    """A good setting meets the target with nothing given back; with a bad one the search stays within its cap
    and records what it chose in the sidecar and the manifest."""
    fp32, _ = trained_onnx
    good = calibrate_onnx(fp32, tmp_path / "g.onnx", data=str(calib_dir), num=32, holdout=str(holdout_dir),
                          targets=[QuantTarget.TENSORRT], progress=False, log=lambda s: None)
    s = good.searches[QuantTarget.TENSORRT]
    assert s.met and s.higher_precision == ()
    bad = calibrate_onnx(fp32, tmp_path / "b.onnx", data=str(calib_dir), num=32, holdout=str(holdout_dir),
                         targets=[QuantTarget.TENSORRT], progress=False, log=lambda s: None, on_miss="warn",
                         method="percentile", percentile=50.0, max_higher_precision=4)
    s = bad.searches[QuantTarget.TENSORRT]
    assert not s.met and len(s.higher_precision) <= 4 and len(s.sensitivity) > 0
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


def test_agreement_lower_bound_is_the_wilson_bound_and_the_search_judges_by_it():
    """The search demands the lower confidence bound, not the rate: 4 flips in 301 faces (98.7 %) is not
    evidence of >= 98 %, 2 flips in 450 is; more faces tighten the bound; confidence 0 is the rate itself."""
    from ran_edge.quantize.accuracy import QualityTarget, agreement_lower_bound
    from ran_edge.quantize.search import SearchOptions

    p, n, z = 297 / 301, 301, 1.2815515655446004  # z of a one-sided 90 % bound
    wilson = (p + z * z / (2 * n) - z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)
    assert agreement_lower_bound(p, n, 0.9) == pytest.approx(wilson, abs=1e-9)
    assert agreement_lower_bound(p, n, 0.0) == p
    assert agreement_lower_bound(p, 4 * n, 0.9) > agreement_lower_bound(p, n, 0.9)
    assert agreement_lower_bound(1.0, 400, 0.9) < 1.0  # a perfect score on few faces is still an estimate
    cmp = lambda kept, total: {"pose45": {"n": total, "top1_agreement": kept / total, "drop_points": 0.0}}
    target = SearchOptions().search_target()
    assert target.confidence == 0.9
    assert QualityTarget().misses(cmp(297, 301)) == []       # the plain target is met by the rate
    assert target.misses(cmp(297, 301)) and "lower bound" in target.misses(cmp(297, 301))[0]
    assert target.misses(cmp(448, 450)) == []


def test_a_flavour_left_with_no_int8_trunk_says_so_in_one_visible_line(trained_onnx, calib_dir, holdout_dir, tmp_path):
    """Percentile 50 clips half of every activation: the search must give back every trunk layer to keep the
    target, and calibrate says in one line that nothing INT8 is left rather than calling the file INT8 quietly."""
    fp32, _ = trained_onnx
    lines = []
    run = calibrate_onnx(fp32, tmp_path / "q.onnx", data=str(calib_dir), num=32, holdout=str(holdout_dir),
                         targets=[QuantTarget.TENSORRT], method="percentile", percentile=50.0, progress=False,
                         log=lines.append)
    s = run.searches[QuantTarget.TENSORRT]
    cost = read_sidecar(run.results[QuantTarget.TENSORRT].path).extra["int8_quality"]["cost"]
    assert s.met and len(s.higher_precision) == cost["quantizable_layers"]
    assert sum("no INT8 trunk left" in line for line in lines) == 1
    model = onnx.load(str(run.results[QuantTarget.TENSORRT].path))  # and what is left is exactly FP32: no Q/DQ at all
    assert not [n.name for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
