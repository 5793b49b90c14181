"""The main job on the built-in default: synthetic faces → train → evaluate → (export → quantize → bench).

Each step is a small function over files in the output folder, so steps can be re-run alone.
On 2 CPU cores the demo trains a *narrow* RAN (ResNet-18 layout at 1/4 width, 64×64 faces,
32×32 regions) so that it finishes in minutes; speed benchmarks always also measure the full-size
RAN (ResNet-18, 224, 6 regions).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from ran_edge.data.dataset import FaceDataset
from ran_edge.errors import AccuracyTargetError

Log = Callable[[str], None]


@dataclass(frozen=True)
class DemoConfig:
    """Options of ``ran-edge demo`` (defaults sized for 2 CPU cores, ≤ 10 minutes)."""

    out: Path
    n_train: int = 10000
    n_val: int = 700
    n_test: int = 3000  # test faces per suite; the pose suite has 3x (its >45° subset about n_test): see load_suites
    image_size: int = 64
    face_size: int = 64
    region_size: int = 32
    trunk_width: int = 16
    epochs: int = 12
    lr: float = 3e-3
    weight_decay: float = 0.05
    batch_size: int = 64
    seed: int = 0
    preset: str = "ferplus6"
    attention: str = "official"
    calibration_faces: int = 512
    bench_iters: int = 30
    video: bool = False
    progress: bool = True
    allow_accuracy_loss: bool = False  # INT8 missing its quality gate: red warning instead of exit 1
    int8_max_higher_precision: int | None = None  # most trunk layers the INT8 fallback may leave FP32
    int8_holdout_num: int = 1000  # held-out faces per suite for the INT8 gate (pose x3)
    int8_qat: bool = True  # quantization-aware fine-tuning when all-INT8 PTQ misses the gate
    allow_fp32_fallback: bool = False  # let INT8 fall below 50 % INT8 share

    @property
    def data_spec(self) -> str:
        return (f"synthetic:n_train={self.n_train},n_val={self.n_val},n_test={self.n_test},"
                f"size={self.image_size},seed={self.seed}")


@dataclass
class DemoReport:
    """What the demo produced (paths) and measured (figures)."""

    out: Path
    checkpoint: Path | None = None
    eval_json: Path | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


#: Faces per suite of the demo's ``bench`` step (a speed report; the accuracy that gates INT8 is the precision step's).
BENCH_ACCURACY_FACES = 1400


def load_suites(cfg: DemoConfig) -> dict[str, FaceDataset]:
    """The evaluation suites: clean test, occlusion, pose>30, pose>45 (synthetic, held-out seeds).

    The pose suite has :data:`~ran_edge.data.suites.POSE_FACTOR` times ``n_test`` faces, so pose>45 has about
    ``n_test`` (3,000 by default) like the others: the gate's per-suite bar of 1 point on a few hundred faces would be
    decided by a handful of faces (at 480 faces, one standard deviation of the drop is about 0.7 point).
    """
    from ran_edge.data.suites import CHALLENGE_SUITES, POSE_FACTOR, synthetic_suites

    return synthetic_suites(cfg.data_spec, CHALLENGE_SUITES, cfg.seed, pose_factor=POSE_FACTOR)


def step_train(cfg: DemoConfig, report: DemoReport, log: Log) -> Path:
    """Train the small demo RAN; returns the best checkpoint."""
    from ran_edge.data.spec import open_dataset
    from ran_edge.model.ran import build_ran
    from ran_edge.preprocess import PreprocessSpec
    from ran_edge.train.loop import TrainConfig, train

    t0 = time.perf_counter()
    train_ds = open_dataset(cfg.data_spec, "train", seed=cfg.seed)
    val_ds = open_dataset(cfg.data_spec, "val", seed=cfg.seed)
    report.seconds["data"] = time.perf_counter() - t0
    model = build_ran(train_ds.class_names, cfg.preset, cfg.attention,
                      PreprocessSpec(face_size=cfg.face_size, region_size=cfg.region_size), cfg.trunk_width)
    log(f"[train] narrow RAN for the CPU demo: ResNet-18 layout at width {cfg.trunk_width} (standard: 64), "
        f"{cfg.face_size}x{cfg.face_size} faces, {cfg.region_size}x{cfg.region_size} regions, preset {cfg.preset}; "
        f"{len(train_ds)} train / {len(val_ds)} val synthetic faces, {cfg.epochs} epochs")
    # A short schedule for the CPU demo (AdamW + cosine + flips); `ran-edge train` defaults to the official SGD recipe.
    tcfg = TrainConfig(epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size, seed=cfg.seed, optimizer="adamw",
                       schedule="cosine", weight_decay=cfg.weight_decay, hflip=True)
    result = train(model, train_ds, val_ds, tcfg, cfg.out / "train",
                   meta={"data": cfg.data_spec, "demo": True}, progress=cfg.progress, log=log)
    report.seconds["train"] = result.seconds
    report.figures["best_val_accuracy"] = result.best_val_accuracy
    report.checkpoint = result.best_path
    report.artifacts["checkpoint"] = str(result.best_path)
    return result.best_path


def step_evaluate(cfg: DemoConfig, report: DemoReport, checkpoint: Path, log: Log,
                  suites: dict[str, FaceDataset] | None = None) -> dict[str, Any]:
    """Evaluate clean (both execution paths), occlusion and pose suites (``suites``, default :func:`load_suites`);
    writes eval.json."""
    from ran_edge.artifact import write_json_atomic
    from ran_edge.model.checkpoint import load_checkpoint
    from ran_edge.artifact import RegionPath
    from ran_edge.train.model_eval import evaluate

    t0 = time.perf_counter()
    model, _ = load_checkpoint(checkpoint)
    suites = load_suites(cfg) if suites is None else suites
    result = evaluate(model, suites["clean"], RegionPath.REGION_BATCH)
    per_region = evaluate(model, suites["clean"], RegionPath.PER_REGION)
    result["per_region_path_accuracy"] = per_region["accuracy"]
    result["suites"] = {}
    for name, ds in suites.items():
        rep = result if name == "clean" else evaluate(model, ds, RegionPath.REGION_BATCH)
        result["suites"][name] = {"accuracy": rep["accuracy"], "n": rep["n"],
                                  "per_class_accuracy": rep["per_class_accuracy"]}
        log(f"[eval] {name:>9s}: accuracy {rep['accuracy']:.4f} on {rep['n']} faces")
    log(f"[eval] region-batch vs per-region path on clean test: {result['accuracy']:.4f} vs {per_region['accuracy']:.4f}")
    result.update({"checkpoint": str(checkpoint), "data": cfg.data_spec, "split": "test", "suite": "clean"})
    report.eval_json = write_json_atomic(cfg.out / "eval.json", result)
    report.artifacts["eval_json"] = str(report.eval_json)
    report.figures["clean_accuracy"] = result["accuracy"]
    report.figures["suites"] = {k: v["accuracy"] for k, v in result["suites"].items()}
    report.seconds["eval"] = time.perf_counter() - t0
    return result


def step_export(cfg: DemoConfig, report: DemoReport, checkpoint: Path, log: Log) -> dict[str, Path]:
    """ONNX (faces and regions inputs, simplified and checked), TorchScript, and the FP16 analysis + FP16 ONNX."""
    from ran_edge.export import export_onnx, export_torchscript
    from ran_edge.export.fp16 import analyse_and_convert
    from ran_edge.model.checkpoint import load_checkpoint

    t0 = time.perf_counter()
    model, _ = load_checkpoint(checkpoint)
    folder = cfg.out / "artifacts"
    faces = export_onnx(model, folder / "model.onnx", checkpoint_path=checkpoint, log=log)
    regions = export_onnx(model, folder / "model.regions.onnx", input_kind="regions", checkpoint_path=checkpoint, log=log)
    ts = export_torchscript(model, folder / "model.ts", checkpoint_path=checkpoint, log=log)
    fp16_report, fp16_path = analyse_and_convert(faces.path, data=f"synthetic:size={cfg.image_size}", num=64, log=log)
    paths = {"onnx": Path(faces.path), "onnx_regions": Path(regions.path), "torchscript": Path(ts.path),
             "onnx_fp16": Path(fp16_path)}
    report.artifacts.update({k: str(v) for k, v in paths.items()})
    report.figures["export"] = {"onnx": dict(faces.report), "fp16": fp16_report.to_dict()}
    report.seconds["export"] = time.perf_counter() - t0
    return paths


def demo_finetune_hook(cfg: DemoConfig, log: Log) -> Any:
    """QAT on the demo's labelled synthetic training faces (a seed of their own), for ``calibrate_onnx(finetune=)``."""
    from ran_edge.quantize.finetune import qat_finetune

    return qat_finetune(f"synthetic:size={cfg.image_size},seed={cfg.seed + 2}", progress=cfg.progress, log=log)


def step_quantize(cfg: DemoConfig, report: DemoReport, paths: dict[str, Path], log: Log) -> dict[str, Path]:
    """INT8 QDQ in both flavours (TensorRT S8S8, CPU U8S8) from one calibration, plus cache and manifest."""
    from ran_edge.quantize import OnMiss, QuantTarget, calibrate_onnx

    t0 = time.perf_counter()
    out = paths["onnx"].with_name("model.int8.onnx")
    run = calibrate_onnx(paths["onnx"], out, data=f"synthetic:size={cfg.image_size},seed={cfg.seed + 1}",
                         num=cfg.calibration_faces, targets=(QuantTarget.TENSORRT, QuantTarget.CPU),
                         on_miss=OnMiss.WARN if cfg.allow_accuracy_loss else OnMiss.FAIL, holdout_num=cfg.int8_holdout_num,
                         max_higher_precision=cfg.int8_max_higher_precision, allow_fp32_fallback=cfg.allow_fp32_fallback,
                         finetune=demo_finetune_hook(cfg, log) if cfg.int8_qat else None, progress=cfg.progress, log=log)
    q = {"onnx_int8_tensorrt": Path(run.results[QuantTarget.TENSORRT].path),
         "onnx_int8_cpu": Path(run.results[QuantTarget.CPU].path),
         "trt_calibration_cache": Path(run.trt_cache), "calibration_manifest": Path(run.manifest)}
    report.artifacts.update({k: str(v) for k, v in q.items()})
    report.seconds["quantize"] = time.perf_counter() - t0
    return q


def step_precision_accuracy(cfg: DemoConfig, report: DemoReport, paths: dict[str, Path], log: Log,
                            suites: dict[str, FaceDataset] | None = None) -> dict[str, Any]:
    """FP32 vs FP16 vs INT8 (both flavours) accuracy and top-1 agreement on clean / occlusion / pose (ONNX Runtime;
    ``suites`` default :func:`load_suites`)."""
    from ran_edge.artifact import read_sidecar, write_json_atomic
    from ran_edge.quantize.accuracy import compare_on_suites

    t0 = time.perf_counter()
    suites = load_suites(cfg) if suites is None else suites
    others = {"fp16": paths["onnx_fp16"], "int8-trt": paths["onnx_int8_tensorrt"], "int8-cpu": paths["onnx_int8_cpu"]}
    gates: dict[str, Any] = {}
    result = compare_on_suites(paths["onnx"], others, suites, read_sidecar(paths["onnx"]), log, gates=gates)
    write_json_atomic(cfg.out / "precision.json", result)
    report.figures["int8_gate"] = {name: g.to_dict() for name, g in gates.items() if name.startswith("int8")}
    report.figures["int8_files"] = {}
    for name, key in (("int8-trt", "onnx_int8_tensorrt"), ("int8-cpu", "onnx_int8_cpu")):
        quality = read_sidecar(paths[key]).extra.get("int8_quality", {})
        report.figures["int8_files"][name] = {"int8_share": quality.get("int8_share", {}).get("int8_share"),
                                              "speed": quality.get("speed"), "fine_tuned": quality.get("fine_tuned", False)}
        log(f"[int8] {name}: pooled test-suite {gates[name].summary_line()}; "
            + ("passes the gate" if gates[name].met else "MISSES the gate: " + "; ".join(gates[name].misses)))
    report.figures["precision"] = {suite: {name: {k: cmp[k] for k in ("top1_agreement", "accuracy_ref", "accuracy", "drop_points", "meets_target")}
                                           for name, cmp in by_name.items()} for suite, by_name in result.items()}
    report.artifacts["precision_json"] = str(cfg.out / "precision.json")
    report.seconds["precision"] = time.perf_counter() - t0
    return result


def step_bench(cfg: DemoConfig, report: DemoReport, paths: dict[str, Path], log: Log) -> Path:
    """Latency, throughput and per-suite accuracy of the FP32 and INT8 (CPU flavour) ONNX, side by side."""
    from ran_edge.bench import BenchConfig, run_bench

    t0 = time.perf_counter()
    res = run_bench(BenchConfig(artifacts=(str(paths["onnx"]), str(paths["onnx_int8_cpu"])), out=cfg.out / "bench",
                                batches=(1, 8), iters=cfg.bench_iters, threads=1, data=cfg.data_spec,
                                max_faces=min(cfg.n_test, BENCH_ACCURACY_FACES), progress=cfg.progress), log=log)
    report.artifacts["bench_md"] = str(res.md_path)
    report.artifacts["bench_json"] = str(res.json_path)
    report.seconds["bench"] = time.perf_counter() - t0
    return Path(res.md_path)


def step_video(cfg: DemoConfig, report: DemoReport, paths: dict[str, Path], log: Log) -> dict[str, Any]:
    """Generate a labelled test video, run the video pipeline on it, and score it against the truth."""
    from ran_edge.video.demo_clip import run_video_demo

    t0 = time.perf_counter()
    res = run_video_demo(paths["onnx"], cfg.out / "video", seed=cfg.seed)
    figures = {"smoothed": res.score.to_dict(), "raw": res.raw_score.to_dict(),
               "true_label_switches_per_min": res.true_switches_per_min, "profile": res.profile}
    log(f"[video] {res.score.frames} frames: faces found on {100 * res.score.coverage:.1f}% of frames with a visible face, "
        f"smoothed label accuracy {100 * res.score.accuracy:.1f}% (raw {100 * res.raw_score.accuracy:.1f}%)")
    report.figures["video"] = figures
    report.artifacts.update({"video": str(res.video), "video_annotated": str(res.annotated), "video_events": str(res.events)})
    report.seconds["video"] = time.perf_counter() - t0
    return figures


def render_markdown(cfg: DemoConfig, report: DemoReport) -> str:
    """``report.md``: what a person reads first after the demo."""
    f = report.figures
    lines = ["# ran-edge demo report", "",
             f"Synthetic faces `{cfg.data_spec}`; narrow RAN (ResNet-18 layout at width {cfg.trunk_width}, "
             f"{cfg.face_size}px faces, {cfg.region_size}px regions, preset {cfg.preset}, attention {cfg.attention}), "
             f"{cfg.epochs} epochs. Best validation accuracy {100 * f.get('best_val_accuracy', 0):.2f}%.", "",
             "## Accuracy of the checkpoint (torch, region-batch path)", "", "| suite | accuracy |", "|---|---:|"]
    lines += [f"| {k} | {100 * v:.2f}% |" for k, v in f.get("suites", {}).items()]
    if "precision" in f:
        lines += ["", "## FP32 vs FP16 vs INT8 (ONNX Runtime)", "",
                  "| suite | FP32 | " + " | ".join(f"{n} acc / agreement" for n in next(iter(f["precision"].values()))) + " |",
                  "|---|---:|" + "---:|" * len(next(iter(f["precision"].values())))]
        for suite, by_name in f["precision"].items():
            fp32 = next(iter(by_name.values()))["accuracy_ref"]
            cells = [f"{100 * c['accuracy']:.2f}% / {100 * c['top1_agreement']:.2f}%{'' if c.get('meets_target', True) else ' ✗'}"
                     for c in by_name.values()]
            lines.append(f"| {suite} | {100 * fp32:.2f}% | " + " | ".join(cells) + " |")
    if "video" in f:
        v = f["video"]["smoothed"]
        lines += ["", "## Video pipeline", "", f"{v['frames']} frames; faces found on {100 * v['coverage']:.1f}% of frames "
                  f"with a visible face; smoothed label accuracy {100 * v['accuracy']:.1f}%."]
    missed = int8_misses(report)
    if "precision" in f:
        from ran_edge.quantize.gate import DEFAULT_TARGET

        lines += ["", f"INT8 gate ({DEFAULT_TARGET.describe()}), pooled over the test suites: "
                  + ("**passed by both INT8 files**." if not missed else "**MISSED**: " + "; ".join(missed) + ".")]
        for name, info in f.get("int8_files", {}).items():
            sp = info.get("speed") or {}
            share = info.get("int8_share")
            lines.append(f"- {name}: INT8 share {100 * share:.1f} % of the multiply-adds"
                         + (", fine-tuned (QAT)" if info.get("fine_tuned") else "")
                         + (f"; ONNX Runtime on this CPU {sp['speedup']:.2f}x FP32 at batch {sp['batch']} ({sp['execution']})"
                            if sp else "") if share is not None else f"- {name}: no INT8 share recorded")
        lines += ["", "On this narrow demo model (8 faces take a few ms in FP32) INT8's gain or loss in ONNX Runtime is what "
                  "the line above says; the speed that matters is the full-size RAN's (see calibration/README.md)."]
    lines += ["", "## Time (s)", "", "| step | seconds |", "|---|---:|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in report.seconds.items()]
    lines += ["", "## Files", ""] + [f"- {k}: `{v}`" for k, v in report.artifacts.items()]
    return "\n".join(lines) + "\n"


def int8_misses(report: DemoReport) -> list[str]:
    """``"<int8 file>: <why>"`` for each INT8 file that misses the gate on the test suites (pooled)."""
    return [f"{name}: {'; '.join(g['misses'])}" for name, g in report.figures.get("int8_gate", {}).items()
            if not g["meets_target"]]


def run_demo(cfg: DemoConfig, log: Log = print) -> DemoReport:
    """Run every demo step into ``cfg.out``; returns the report (also written as demo.json).

    Raises:
        AccuracyTargetError: an INT8 file misses its quality target (on the held-out faces while calibrating,
            or on the test suites afterwards; the report is written first) and ``cfg.allow_accuracy_loss`` is off.
    """
    from ran_edge.artifact import write_json_atomic

    from ran_edge.demo_summary import peak_rss_mib, run_record

    cfg.out.mkdir(parents=True, exist_ok=True)
    report = DemoReport(out=cfg.out)
    record = run_record()
    t0 = time.perf_counter()
    checkpoint = step_train(cfg, report, log)
    t_suites = time.perf_counter()
    suites = load_suites(cfg)  # generated once, for the checkpoint's evaluation and the precision comparison
    report.seconds["test_suites"] = time.perf_counter() - t_suites
    log("[eval] test suites: " + ", ".join(f"{k} {len(v)}" for k, v in suites.items()) + " faces")
    step_evaluate(cfg, report, checkpoint, log, suites)
    paths = step_export(cfg, report, checkpoint, log)
    paths.update(step_quantize(cfg, report, paths, log))
    step_precision_accuracy(cfg, report, paths, log, suites)
    step_bench(cfg, report, paths, log)
    if cfg.video:
        step_video(cfg, report, paths, log)
    report.seconds["total"] = time.perf_counter() - t0
    report.artifacts["report_md"] = str(cfg.out / "report.md")
    from ran_edge.outputs import write_text_result

    write_text_result(cfg.out / "report.md", render_markdown(cfg, report))
    write_json_atomic(cfg.out / "demo.json", {
        **record, "peak_rss_mib": peak_rss_mib(), "load_avg_end": round(os.getloadavg()[0], 2),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
        "figures": report.figures, "artifacts": report.artifacts, "seconds": report.seconds,
    })
    missed = int8_misses(report)
    if missed and not cfg.allow_accuracy_loss:
        raise AccuracyTargetError(f"INT8 misses its quality target on the test suites ({'; '.join(missed)}); "
                                  f"see {cfg.out / 'report.md'}")
    if missed:
        from ran_edge.quantize.calibrate import red

        log(red(f"WARNING: INT8 misses its quality target on the test suites ({'; '.join(missed)}) (--allow-accuracy-loss)"))
    return report
