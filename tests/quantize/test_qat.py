"""QAT on the PTQ TensorRT-flavour QDQ graph: placement kept, export agrees with the fake-quantized model,
fine-tuning lowers the distillation KL where PTQ is off, consistent files and sidecars, CLI, bad input."""

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from onnx import numpy_helper  # noqa: E402

from ran_edge.artifact import Precision, read_sidecar, sha256_file  # noqa: E402
from ran_edge.cli.main import main  # noqa: E402
from ran_edge.errors import RanEdgeError  # noqa: E402
from ran_edge.quantize.onnx_torch import weight_scale  # noqa: E402
from ran_edge.quantize.qat import QatOptions, finetune_qdq, kl_to_teacher, trainable_initializers  # noqa: E402

from .conftest import stripe_dataset  # noqa: E402

#: a deliberately coarse range setting (the 96th percentile of |x| clips activations hard): PTQ is noticeably off (about
#: half the faces change their class on the tiny model), and QAT can still recover it
COARSE_PERCENTILE = 96.0


@pytest.fixture(scope="module")
def coarse(trained_onnx, tmp_path_factory):
    from ran_edge.data.feeds import DatasetReader
    from ran_edge.quantize import CalibrationMethod, RangeSetting, collect_stats, quantize_int8

    fp32, _ = trained_onnx
    d = tmp_path_factory.mktemp("qat")
    setting = RangeSetting(CalibrationMethod.PERCENTILE, COARSE_PERCENTILE)
    stats = collect_stats(fp32, DatasetReader(stripe_dataset(64, 5), read_sidecar(fp32), 64), setting, progress=False, log=lambda s: None)
    ptq = quantize_int8(fp32, d / "ptq.onnx", stats=stats, log=lambda s: None).path
    options = QatOptions(epochs=2, lr=1e-4, num=256, holdout_num=200, batch_size=32)
    torch.set_num_threads(2)
    result = finetune_qdq(ptq, fp32, stripe_dataset(256, 3), d / "qat.onnx", options=options, holdout=stripe_dataset(200, 9),
                          stats=stats, threads=1, progress=False, log=lambda s: None)
    assert torch.get_num_threads() == 2  # restored
    torch.set_num_threads(1)
    return fp32, ptq, result


def _qdq_fed_convs(model):
    producer = {o: n for n in model.graph.node for o in n.output}
    return sum(1 for n in model.graph.node if n.op_type == "Conv"
               and all(producer.get(i) is not None and producer[i].op_type == "DequantizeLinear" for i in n.input[:2]))


def test_placement_is_the_ptq_files(coarse):
    _, ptq, result = coarse
    a, b = onnx.load(str(ptq)), onnx.load(str(result.trt_path))
    assert _qdq_fed_convs(a) == _qdq_fed_convs(b) > 0
    assert [n.SerializeToString() for n in a.graph.node] == [n.SerializeToString() for n in b.graph.node]
    assert sorted(t.name for t in a.graph.initializer) == sorted(t.name for t in b.graph.initializer)


def test_export_agrees_with_the_fake_quantized_model(coarse):
    _, _, result = coarse
    assert result.report["export_agreement"] >= 0.999
    assert read_sidecar(result.trt_path).extra["qat"]["export_agreement"] == result.report["export_agreement"]


def test_fine_tuning_lowers_the_distillation_kl(coarse):
    _, _, result = coarse
    before, after = result.report["before"], result.report["after"]
    assert before["kl"] > 0.01  # the coarse PTQ really is off
    assert after["kl"] < before["kl"] and after["agreement_fp32"] >= before["agreement_fp32"]
    losses = [h["loss"] for h in result.report["history"]]
    assert len(losses) == 2 and losses[-1] < losses[0]


def test_weight_scales_follow_the_trained_weights(coarse):
    _, ptq, result = coarse
    model = onnx.load(str(result.trt_path))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    old = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(ptq)).graph.initializer}
    weight_q = [n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] in inits]
    assert len(weight_q) == 20
    changed = 0
    for n in weight_q:
        axis = next((a.i for a in n.attribute if a.name == "axis"), 1)
        np.testing.assert_array_equal(inits[n.input[1]], weight_scale(inits[n.input[0]], axis))
        changed += not np.array_equal(inits[n.input[0]], old[n.input[0]])
    assert changed == 20  # the weights did train
    for n in model.graph.node:  # activation scales stay the calibration's
        if n.op_type == "QuantizeLinear" and n.input[0] not in inits:
            np.testing.assert_array_equal(inits[n.input[1]], old[n.input[1]])


def test_crop_matrices_are_frozen(coarse):
    fp32, _, result = coarse
    a = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(fp32)).graph.initializer}
    b = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(result.fp32_path)).graph.initializer}
    names = trainable_initializers(onnx.load(str(fp32)))
    crop = [n for n in a if a[n].ndim >= 2 and n not in names and a[n].dtype == np.float32]
    assert crop and all(np.array_equal(a[n], b[n]) for n in crop)
    assert any(not np.array_equal(a[n], b[n]) for n in names)


def test_fine_tuned_fp32_and_cpu_flavour_are_consistent(coarse):
    from ran_edge.runtime import load

    fp32, ptq, result = coarse
    src, ft = onnx.load(str(fp32)), onnx.load(str(result.fp32_path))
    assert [n.SerializeToString() for n in src.graph.node] == [n.SerializeToString() for n in ft.graph.node]
    trt = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(result.trt_path)).graph.initializer}
    for t in ft.graph.initializer:  # the same trained weights in both files
        if t.name in trt:
            np.testing.assert_array_equal(numpy_helper.to_array(t), trt[t.name])
    cpu_meta = read_sidecar(result.cpu_path)
    assert cpu_meta.extra["int8_flavour"] == "cpu" and cpu_meta.extra["source_onnx_sha256"] == sha256_file(result.fp32_path)
    ptq_int8 = read_sidecar(ptq).extra["int8"]
    for key in ("method", "percentile", "fp32_scope", "higher_precision_nodes", "per_channel"):  # the PTQ file's choices
        assert cpu_meta.extra["int8"][key] == ptq_int8[key], key
    trt_meta = read_sidecar(result.trt_path)
    assert trt_meta.precision is Precision.INT8 and trt_meta.extra["int8_flavour"] == "tensorrt"
    assert trt_meta.extra["onnx_sha256"] == sha256_file(result.trt_path)
    assert trt_meta.extra["qat"]["ptq_onnx_sha256"] == sha256_file(ptq)
    images = [s.image for s in stripe_dataset(32, 21).samples]
    for path in (result.trt_path, result.cpu_path, result.fp32_path):
        with load(path) as clf:
            assert len(clf.predict(images)) == 32
    json.dumps(trt_meta.extra["qat"])  # the report is plain JSON


def test_nothing_written_when_the_export_check_fails(trained_onnx, coarse, tmp_path):
    fp32, ptq, _ = coarse
    # an agreement demand above 100 % of a finite set cannot be met; min_export_agreement must be <= 1
    with pytest.raises(RanEdgeError, match="min_export_agreement"):
        QatOptions(min_export_agreement=1.5)
    options = QatOptions(epochs=1, num=32, holdout_num=16, min_export_agreement=1.0)
    from ran_edge.quantize import qat as qat_module

    real = qat_module._ort_logits
    calls = []

    def shifted(runner, data, batch=64):  # the export check's run of the exported file answers wrong
        out = real(runner, data, batch)
        calls.append(1)
        return out if len(calls) < 3 else np.roll(out, 1, axis=1)

    qat_module._ort_logits = shifted
    try:
        with pytest.raises(RanEdgeError, match="export check failed"):
            finetune_qdq(ptq, fp32, stripe_dataset(32, 3), tmp_path / "q.onnx", options=options, holdout=stripe_dataset(16, 9),
                         write_cpu=False, progress=False, log=lambda s: None)
    finally:
        qat_module._ort_logits = real
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs_are_clear_errors(coarse, tmp_path):
    fp32, ptq, _ = coarse
    data, held = stripe_dataset(32, 3), stripe_dataset(16, 9)
    with pytest.raises(RanEdgeError, match="TensorRT-flavour"):
        finetune_qdq(fp32, fp32, data, tmp_path / "q.onnx", holdout=held, write_cpu=False, progress=False, log=lambda s: None)
    with pytest.raises(RanEdgeError, match="held-out"):
        finetune_qdq(ptq, fp32, data, tmp_path / "q.onnx", options=QatOptions(num=32), write_cpu=False, progress=False, log=lambda s: None)
    with pytest.raises(RanEdgeError, match="fewer than the 64"):
        finetune_qdq(ptq, fp32, data, tmp_path / "q.onnx", options=QatOptions(num=64), holdout=held, write_cpu=False, progress=False,
                     log=lambda s: None)
    with pytest.raises(RanEdgeError, match="epochs"):
        QatOptions(epochs=0)
    with pytest.raises(ValueError):
        QatOptions(loss="mse")
    assert list(tmp_path.iterdir()) == []


def test_kl_is_zero_for_equal_logits():
    x = np.random.default_rng(0).standard_normal((5, 7))
    assert kl_to_teacher(x, x) == pytest.approx(0.0, abs=1e-12) and kl_to_teacher(x, x + 1.0) == pytest.approx(0.0, abs=1e-12)
    assert kl_to_teacher(x, 3 * x) > 0


def test_cli_end_to_end_from_a_checkpoint(trained_onnx, tmp_path, capsys):
    from ran_edge.model.checkpoint import save_checkpoint

    _, model = trained_onnx
    ckpt = save_checkpoint(tmp_path / "m.pt", model)
    out = tmp_path / "m.int8.onnx"
    code = main(["qat", str(ckpt), "--data", "synthetic:n_train=64,n_val=48,size=32", "--out", str(out), "--epochs", "1",
                 "--num", "64", "--holdout-num", "48", "--calib-num", "32", "--batch-size", "16", "--threads", "1"])
    assert code == 0
    for p in (out, tmp_path / "m.int8.fp32.onnx", tmp_path / "m.int8.cpu.onnx"):
        assert p.is_file() and read_sidecar(p).extra["qat"]["epochs_run"] == 1
    assert main(["inspect", str(out)]) == 0


@pytest.mark.parametrize("argv, message", [
    (["qat", "missing.pt", "--out", "x.onnx"], "missing.pt"),
    (["qat", "{model}", "--out", "x.onnx", "--epochs", "0"], "--epochs"),
    (["qat", "{txt}", "--out", "x.onnx"], "expected a .pt checkpoint or an FP32 .onnx"),
])
def test_cli_bad_input_is_one_line_exit_1(argv, message, trained_onnx, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    argv = [a.format(model=trained_onnx[0], txt=tmp_path / "notes.txt") for a in argv]
    try:
        code = main(argv)
    except SystemExit as exc:  # bounds are checked when the command line is parsed (docs/bounds.md)
        code = exc.code
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err and "Traceback" not in err
    assert not (tmp_path / "x.onnx").exists()


def test_regions_model(trained_onnx, tmp_path):
    """A ``regions`` export (K rows per face) trains and exports the same way."""
    from ran_edge.artifact import InputKind
    from ran_edge.data.feeds import DatasetReader
    from ran_edge.export import export_onnx
    from ran_edge.quantize import collect_stats, quantize_int8

    _, model = trained_onnx
    fp32 = export_onnx(model, tmp_path / "regions.onnx", input_kind=InputKind.REGIONS, log=lambda s: None).path
    meta = read_sidecar(fp32)
    stats = collect_stats(fp32, DatasetReader(stripe_dataset(32, 5), meta, 32), rows_per_face=meta.preset.num_regions,
                          progress=False, log=lambda s: None)
    ptq = quantize_int8(fp32, tmp_path / "ptq.onnx", stats=stats, log=lambda s: None).path
    result = finetune_qdq(ptq, fp32, stripe_dataset(64, 3), tmp_path / "qat.onnx", options=QatOptions(epochs=1, num=64, holdout_num=32),
                          holdout=stripe_dataset(32, 9), stats=stats, progress=False, log=lambda s: None)
    assert result.report["export_agreement"] >= 0.999 and result.report["train_faces"] == 64
    assert read_sidecar(result.cpu_path).input_kind is InputKind.REGIONS


def test_divergence_is_an_error_and_writes_nothing(coarse, tmp_path, monkeypatch):
    from ran_edge.quantize import qat as qat_module

    fp32, ptq, _ = coarse
    real = qat_module._train

    def diverging(student, *args, **kwargs):  # training that ends with a non-finite weight
        history = real(student, *args, **kwargs)
        with torch.no_grad():
            next(iter(student.parameters())).fill_(float("nan"))
        return history

    monkeypatch.setattr(qat_module, "_train", diverging)
    with pytest.raises(RanEdgeError, match="diverged"):
        finetune_qdq(ptq, fp32, stripe_dataset(32, 3), tmp_path / "q.onnx", options=QatOptions(epochs=1, num=32, holdout_num=16),
                     holdout=stripe_dataset(16, 9), write_cpu=False, progress=False, log=lambda s: None)
    assert list(tmp_path.iterdir()) == []


def test_calibrate_fine_tunes_when_all_int8_misses_the_gate_and_keeps_the_file(trained_onnx, calib_dir, holdout_dir, tmp_path):
    """End to end through calibrate_onnx: a coarse range setting makes all-INT8 PTQ miss the gate on the held-out faces;
    no layer may go back to FP32 (max_higher_precision=0), so only quantization-aware fine-tuning can pass it — it does,
    and the written TensorRT flavour is the fine-tuned file, 100 % of its network multiply-adds INT8 as before."""
    from ran_edge.quantize import QuantTarget, calibrate_onnx
    from ran_edge.quantize.finetune import qat_finetune

    fp32, _ = trained_onnx
    lines = []
    hook = qat_finetune(stripe_dataset(512, 3), QatOptions(epochs=4, lr=1e-4, num=512, holdout_num=200, batch_size=32),
                        holdout=stripe_dataset(200, 9), progress=False, log=lambda s: None)
    run = calibrate_onnx(fp32, tmp_path / "m.int8.onnx", data=str(calib_dir), num=64, holdout=str(holdout_dir),
                         targets=[QuantTarget.TENSORRT], method="percentile", percentile=COARSE_PERCENTILE,
                         max_higher_precision=0, finetune=hook, progress=False, log=lines.append)
    s = run.searches[QuantTarget.TENSORRT]
    assert not s.chosen.gate.met  # all-INT8 PTQ missed ...
    meta = read_sidecar(run.results[QuantTarget.TENSORRT].path)
    quality = meta.extra["int8_quality"]
    assert quality["meets_target"] and quality["fine_tuned"] and meta.extra["qat"]["export_agreement"] >= 0.999  # ... QAT passed
    assert quality["int8_share"]["int8_share"] > 0.99 and quality["higher_precision_layers"] == 0
    assert sum("quantization-aware fine-tuning" in line for line in lines) == 1
