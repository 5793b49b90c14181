"""INT8 that is INT8, judged by the gate: several freshly trained demo models and the full-size RAN, side by side.

    python benchmarks/int8_fidelity.py --seeds 1 2 3 --test-num 3100 --full-size

Per seed a demo RAN is trained exactly as ``ran-edge demo`` trains it (its folder under ``--work`` is reused when
present) and exported; then, from that one FP32 ONNX:

* ``ours-ptq``: ``calibrate_onnx`` all-INT8 only (no fine-tuning, no fallback), both flavours;
* ``ours``: ``calibrate_onnx`` as ``demo`` runs it (all-INT8 → quantization-aware fine-tuning → fallback);
* ``ort-quantize_static``: ONNX Runtime's ``quantize_static`` as a user would first run it (QDQ S8S8, per-channel,
  MinMax, 256 faces, nothing excluded), in ONNX Runtime's default session;
* ``modelopt-onnx-ptq``: NVIDIA Model Optimizer's ONNX PTQ (``python -m modelopt.onnx.quantization``, INT8, its
  default entropy calibration, 256 faces);
* ``modelopt-torch-ptq``: Model Optimizer's PyTorch PTQ (``mtq.quantize``, ``INT8_DEFAULT_CFG``, max calibration,
  256 faces) of the seed's checkpoint, exported to QDQ ONNX.

ModelOpt is not a dependency of ran-edge (its ``[onnx]`` extra breaks ran-edge's onnxruntime: docs/qat.md), so both
ModelOpt variants run ``benchmarks/modelopt_peer.py`` in a venv of their own (``make modelopt-env`` makes
``.venv-modelopt``; ``--modelopt-python`` points elsewhere) and are skipped, saying so, when it is missing. The files
they write are judged here like every other. Files with TensorRT's layout (ours, ModelOpt's) are evaluated with exact
Q/DQ arithmetic, ONNX Runtime's own ``quantize_static`` file in ONNX Runtime's default session.

Every file is judged by the gate (``ran_edge.quantize.gate``) on synthetic *test* suites of ``--test-num`` faces
(clean, occlusion; the pose suite has three times as many, and its subsets beyond 30° and 45° are reported on their
own, pose > 45° with about ``--test-num`` faces; pooled = clean + occlusion + pose),
never seen by calibration or the held-out search, and carries its INT8 share and its ONNX Runtime speed against FP32
(batch 8, 2 threads, measured side by side). ``--full-size`` adds the full-size RAN (ResNet-18 width 64, 224 px, random
weights: its gate verdict is not meaningful, its time, share and speed are): ``calibrate`` wall time with 512 faces
and the default held-out set, and the CPU flavour's speed. Writes ``int8_fidelity.json`` and ``int8_fidelity.md``
(min / median / max over the seeds) with ``cpu_info()``; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SUITES = ("clean", "occlusion", "pose", "pose30", "pose45")
POOLED = ("clean", "occlusion", "pose")
TARGET_SHARE = 0.95
TARGET_FULL_CALIBRATE_S = 15 * 60


def train_demo_model(seed: int, work: Path) -> tuple[Path, Path]:
    """The demo's checkpoint for ``seed`` (trained as ``ran-edge demo`` does) and its FP32 ONNX; reused if present."""
    from ran_edge.demo_run import DemoConfig, DemoReport, step_train
    from ran_edge.export import export_onnx
    from ran_edge.model.checkpoint import load_checkpoint

    onnx_path, ckpt = work / "model.onnx", work / "train" / "best.pt"
    if onnx_path.is_file() and (work / "model.onnx.json").is_file() and ckpt.is_file():
        return ckpt, onnx_path
    cfg = DemoConfig(out=work, seed=seed, progress=False)
    work.mkdir(parents=True, exist_ok=True)
    ckpt = step_train(cfg, DemoReport(out=work), log=lambda s: None)
    model, _ = load_checkpoint(ckpt)
    export_onnx(model.eval(), onnx_path, checkpoint_path=ckpt, log=lambda s: None)
    return ckpt, onnx_path


def calibration_faces(fp32: Path, seed: int, image_size: int, num: int = 256) -> list[dict[str, np.ndarray]]:
    """The peers' calibration feeds: ``num`` synthetic training faces (seed + 1), preprocessed as the model's input."""
    from ran_edge.artifact import read_sidecar
    from ran_edge.data.feeds import DatasetReader, open_calibration_data

    meta = read_sidecar(fp32)
    ds, _ = open_calibration_data(f"synthetic:n_train={num},size={image_size},seed={seed + 1}", num, seed + 1)
    return list(DatasetReader(ds, meta, num, 16))


def ort_peer(fp32: Path, out: Path, feeds: list[dict[str, np.ndarray]]) -> Path:
    """ONNX Runtime's quantize_static with its defaults for QDQ (S8S8), per-channel, MinMax."""
    import onnxruntime.quantization as q

    remaining = iter(feeds)

    class Reader(q.CalibrationDataReader):
        def get_next(self):
            return next(remaining, None)

    logging.getLogger().setLevel(logging.ERROR)
    q.quantize_static(str(fp32), str(out), Reader(), quant_format=q.QuantFormat.QDQ, per_channel=True,
                      activation_type=q.QuantType.QInt8, weight_type=q.QuantType.QInt8, calibrate_method=q.CalibrationMethod.MinMax)
    return out


def modelopt_peer(mode: str, python: Path, ckpt: Path, fp32: Path, calib: Path, out: Path) -> Path | str:
    """Model Optimizer's INT8 PTQ (``mode``: onnx-ptq or torch-ptq) run in its own venv on the faces of ``calib``
    (``float32 [N,3,S,S]`` .npy); the reason when it cannot run."""
    if not python.is_file():
        return f"no ModelOpt venv at {python} (make modelopt-env)"
    cmd = [str(python), str(ROOT / "benchmarks" / "modelopt_peer.py"), mode, "--fp32", str(fp32), "--calib", str(calib),
           "--out", str(out), "--checkpoint", str(ckpt)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 or not out.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"ModelOpt {mode} failed (exit {done.returncode}): {tail[0]}")
    return out


def fp32_outputs(fp32: Path, suites: dict, meta: Any) -> tuple[list[np.ndarray], dict[str, tuple[np.ndarray, ...]]]:
    """The distinct test faces and, per suite, its rows among them, its FP32 logits and its labels: computed once per
    seed and shared by every variant (a subset suite such as pose > 45° reuses the pose suite's faces)."""
    from ran_edge.quantize.accuracy import distinct_faces, onnx_logits

    images, rows = distinct_faces({name: [ds[i].image for i in range(len(ds))] for name, ds in suites.items()})
    ref = onnx_logits(fp32, images, meta, exact_qdq=False)
    return images, {name: (rows[name], ref[rows[name]], np.asarray([ds[i].label for i in range(len(ds))]))
                    for name, ds in suites.items()}


def judge_file(fp32: Path, path: Path, reference: tuple, meta: Any, exact_qdq: bool) -> dict[str, Any]:
    """The gate's verdict on the test suites (``reference`` from :func:`fp32_outputs`; each face run once), the INT8
    share and the ONNX Runtime speed of one file (on the first 8 faces: the clean suite's)."""
    import onnx

    from ran_edge.quantize.accuracy import onnx_logits
    from ran_edge.quantize.cost import ort_speedup
    from ran_edge.quantize.gate import SuiteOutputs, judge
    from ran_edge.quantize.share import int8_share

    images, per_suite = reference
    got = onnx_logits(path, images, meta, exact_qdq=exact_qdq)
    outs = {name: SuiteOutputs(ref, got[rows], labels) for name, (rows, ref, labels) in per_suite.items()}
    verdict = judge(outs, pooled=POOLED, class_names=meta.class_names)
    speed = ort_speedup(fp32, path, images[:8], meta, batch=8, iters=15, threads=2, exact_qdq=exact_qdq)
    share = int8_share(onnx.load(str(path)))
    return {"gate": verdict.to_dict(), "int8_share": {k: v for k, v in share.items() if k != "fp32_layers"}, "speed": speed}


def run_seed(seed: int, work: Path, test_num: int, qat: bool, modelopt_python: Path) -> dict[str, Any]:
    from ran_edge.artifact import read_sidecar
    from ran_edge.data.suites import POSE_FACTOR, synthetic_suites
    from ran_edge.demo_run import DemoConfig, demo_finetune_hook
    from ran_edge.quantize import OnMiss, QuantTarget, calibrate_onnx

    cfg = DemoConfig(out=work, seed=seed)
    ckpt, fp32 = train_demo_model(seed, work / f"seed{seed}")
    meta = read_sidecar(fp32)
    suites = synthetic_suites(f"synthetic:n_test={test_num},size={cfg.image_size},seed={seed}", SUITES, seed,
                              pose_factor=POSE_FACTOR)  # pose > 45° about test_num faces, like the other suites
    reference = fp32_outputs(fp32, suites, meta)
    data = f"synthetic:size={cfg.image_size},seed={seed + 1}"
    result: dict[str, Any] = {"suite_sizes": {k: len(v) for k, v in suites.items()}, "variants": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        variants: dict[str, tuple[Any, dict]] = {
            "ours-ptq": (None, dict(max_higher_precision=0)),
            "ours": (demo_finetune_hook(cfg, log=lambda s: None) if qat else None, {}),
        }
        for name, (hook, extra) in variants.items():
            t0 = time.perf_counter()
            run = calibrate_onnx(fp32, tmp_path / name / "model.int8.onnx", data=data, num=cfg.calibration_faces,
                                 targets=(QuantTarget.TENSORRT, QuantTarget.CPU), on_miss=OnMiss.WARN, finetune=hook,
                                 allow_fp32_fallback=False, progress=False, log=lambda s: None, **extra)
            seconds = time.perf_counter() - t0
            for t, r in run.results.items():
                rec = judge_file(fp32, r.path, reference, meta, exact_qdq=t is QuantTarget.TENSORRT)
                rec["calibrate_s"] = round(seconds, 1)
                rec["fine_tuned"] = bool(r.meta.extra.get("int8_quality", {}).get("fine_tuned"))
                rec["higher_precision_layers"] = r.meta.extra.get("int8_quality", {}).get("higher_precision_layers")
                result["variants"][f"{name} {t.value}"] = rec
        feeds = calibration_faces(fp32, seed, cfg.image_size)
        peer = ort_peer(fp32, tmp_path / "ort.onnx", feeds)
        result["variants"]["ort-quantize_static"] = judge_file(fp32, peer, reference, meta, exact_qdq=False)
        calib = tmp_path / "calib.npy"  # the same 256 faces as ORT's, for both ModelOpt variants
        np.save(calib, np.concatenate([next(iter(f.values())) for f in feeds]).astype(np.float32))
        for mode in ("onnx-ptq", "torch-ptq"):
            mo = modelopt_peer(mode, modelopt_python, ckpt, fp32, calib, tmp_path / f"modelopt-{mode}.onnx")
            result["variants"][f"modelopt-{mode}"] = (judge_file(fp32, mo, reference, meta, exact_qdq=True)
                                                      if isinstance(mo, Path) else {"skipped": mo})
    return result


def run_full_size(work: Path) -> dict[str, Any]:
    """The full-size RAN (random weights): calibrate time (512 faces, default held-out), INT8 share and CPU speed."""
    import torch

    from ran_edge.artifact import read_sidecar
    from ran_edge.data.classes import RAFDB_CLASSES
    from ran_edge.export import export_onnx
    from ran_edge.model.ran import build_ran
    from ran_edge.preprocess import PreprocessSpec
    from ran_edge.quantize import OnMiss, calibrate_onnx

    work.mkdir(parents=True, exist_ok=True)
    fp32 = work / "full.onnx"
    if not fp32.is_file():
        torch.manual_seed(0)
        model = build_ran(RAFDB_CLASSES, "ferplus6", "official", PreprocessSpec()).eval()
        export_onnx(model, fp32, log=lambda s: None)
    lines: list[str] = []
    t0 = time.perf_counter()
    run = calibrate_onnx(fp32, work / "full.int8.onnx", data="synthetic", num=512, on_miss=OnMiss.WARN,
                         max_higher_precision=0, progress=False, log=lambda s: lines.append(f"{time.perf_counter() - t0:7.1f}s {s}"))
    seconds = time.perf_counter() - t0
    out: dict[str, Any] = {"calibrate_s": round(seconds, 1), "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                           "log": lines, "note": "random weights: the gate's verdict is not meaningful, time/share/speed are"}
    for t, r in run.results.items():
        q = read_sidecar(r.path).extra["int8_quality"]
        out[t.value] = {"int8_share": {k: v for k, v in q["int8_share"].items() if k != "fp32_layers"}, "speed": q["speed"]}
    return out


def summarise(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def render(doc: dict[str, Any]) -> str:
    lines = ["# INT8 fidelity: the gate, all-INT8, side by side", "",
             f"Machine: {doc['machine']['cpu'].get('model')} ({doc['machine']['cpu'].get('int8_dot_product') or 'no int8 dot-product instruction'}), "
             f"{doc['machine']['cores']} cores. Test suites (synthetic test split, faces): "
             + ", ".join(f"{k} {v}" for k, v in next(iter(doc["per_seed"].values()))["suite_sizes"].items())
             + f" (seed {next(iter(doc['per_seed']))}; the pose suite has 3x {doc['test_num']} faces, so pose > 45° has about as many as the others). "
             f"Gate: {doc['gate']}.", "",
             "| variant | seeds passing the gate | pooled drop pt (min/med/max) | upper bound pt (max) | worst suite drop pt (max) | confident agreement (min) | agreement clean / occl / pose45 (min) | INT8 share (min) | ORT speed vs FP32 (min/med/max) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, s in doc["summary"].items():
        if "skipped" in s:
            lines.append(f"| {name} | {s['skipped']} | | | | | | | |")
            continue
        lines.append(f"| {name} | {s['passed']}/{s['seeds']} | {s['drop']['min']:+.2f} / {s['drop']['median']:+.2f} / {s['drop']['max']:+.2f} | "
                     f"{s['upper']['max']:+.2f} | {s['worst_suite']['max']:+.2f} | {100 * s['confident']['min']:.2f}% | "
                     f"{100 * s['agree_clean']['min']:.1f} / {100 * s['agree_occlusion']['min']:.1f} / {100 * s['agree_pose45']['min']:.1f}% | "
                     f"{100 * s['share']['min']:.1f}% | {s['speed']['min']:.2f} / {s['speed']['median']:.2f} / {s['speed']['max']:.2f}x |")
    if doc.get("full_size"):
        f = doc["full_size"]
        lines += ["", "## Full-size RAN (ResNet-18, 224 px, random weights)", ""]
        if f.get("reused_from"):
            lines += [f"(Full-size figures taken from an earlier run ({f['reused_from']}) with --reuse-full-size; the seeds above "
                      "were run again.)", ""]
        lines.append(f"`calibrate` (512 faces, default held-out set, all-INT8 trials only): **{f['calibrate_s'] / 60:.1f} min** "
                     f"(target <= {TARGET_FULL_CALIBRATE_S / 60:.0f} min), peak RSS {f['peak_rss_mib']:.0f} MiB.")
        for t in ("tensorrt", "cpu"):
            if t in f:
                sp = f[t]["speed"]
                lines.append(f"- {t} flavour: INT8 share {100 * f[t]['int8_share']['int8_share']:.1f} %; ONNX Runtime "
                             f"{sp['speedup']:.2f}x FP32 at batch {sp['batch']}, 2 threads ({sp['execution']})")
    lines += ["", "## Targets", ""] + [f"- {'met' if ok else '**MISSED**'}: {what}" for what, ok in doc["targets"]]
    return "\n".join(lines) + "\n"


def main() -> int:
    from ran_edge.bench.machine import cpu_info
    from ran_edge.quantize.gate import DEFAULT_TARGET

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--test-num", type=int, default=3100,
                    help="test faces per suite (default 3100: the pose suite has 3x, and a third of it, binomially, is "
                         "beyond 45 degrees, so pose > 45 has at least 3,000 faces too)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "int8_fidelity"))
    ap.add_argument("--work", default=str(ROOT / "runs" / "int8_fidelity"), help="trained models (reused if present)")
    ap.add_argument("--full-size", action="store_true", help="also time calibrate on the full-size RAN")
    ap.add_argument("--no-qat", action="store_true", help="leave quantization-aware fine-tuning out of 'ours'")
    ap.add_argument("--modelopt-python", default=str(ROOT / ".venv-modelopt" / "bin" / "python"),
                    help="python of the ModelOpt venv (default .venv-modelopt, made by make modelopt-env)")
    ap.add_argument("--reuse-full-size", action="store_true",
                    help="take the full-size record from an earlier int8_fidelity.json in --out (marked as such)")
    ap.add_argument("--reuse-seeds", action="store_true",
                    help="take the per-seed results from an earlier int8_fidelity.json in --out (e.g. to add --full-size)")
    args = ap.parse_args()
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    if args.reuse_seeds:
        earlier = json.loads((out / "int8_fidelity.json").read_text())
        per_seed = {int(k): v for k, v in earlier["per_seed"].items()}
    else:
        per_seed = {seed: run_seed(seed, work, args.test_num, not args.no_qat, Path(args.modelopt_python))
                    for seed in args.seeds}
    names = sorted({n for r in per_seed.values() for n in r["variants"]})
    summary: dict[str, Any] = {}
    for name in names:
        recs = [r["variants"][name] for r in per_seed.values() if name in r["variants"]]
        if any("skipped" in r for r in recs):
            summary[name] = {"skipped": recs[0]["skipped"]}
            continue
        g = [r["gate"] for r in recs]
        summary[name] = {"seeds": len(recs), "passed": sum(x["meets_target"] for x in g),
                         "drop": summarise([x["pooled"]["drop_points"] for x in g]),
                         "upper": summarise([x["pooled"]["drop_upper_points"] for x in g]),
                         "worst_suite": summarise([max(s["drop_points"] for s in x["suites"].values()) for x in g]),
                         "confident": summarise([x["pooled"]["confident_agreement"] for x in g]),
                         **{f"agree_{s}": summarise([x["suites"][s]["top1_agreement"] for x in g]) for s in ("clean", "occlusion", "pose45")},
                         "share": summarise([r["int8_share"]["int8_share"] for r in recs]),
                         "speed": summarise([r["speed"]["speedup"] for r in recs])}
    full = run_full_size(work / "full") if args.full_size else None
    if args.reuse_full_size and full is None:
        earlier = json.loads((out / "int8_fidelity.json").read_text())
        full = earlier.get("full_size") and {"reused_from": earlier.get("run_at", "an earlier run"), **earlier["full_size"]}
    targets = []
    for flavour in ("tensorrt", "cpu"):
        s = summary.get(f"ours {flavour}")
        if s:
            targets.append((f"ours {flavour}: gate passed on every seed ({s['passed']}/{s['seeds']})", s["passed"] == s["seeds"]))
            targets.append((f"ours {flavour}: INT8 share >= {100 * TARGET_SHARE:g} % on every seed (min {100 * s['share']['min']:.1f} %)",
                            s["share"]["min"] >= TARGET_SHARE))
    if full:
        targets.append((f"full-size calibrate <= {TARGET_FULL_CALIBRATE_S / 60:.0f} min ({full['calibrate_s'] / 60:.1f} min)",
                        full["calibrate_s"] <= TARGET_FULL_CALIBRATE_S))
        cpu = cpu_info()
        want = 2.5 if cpu.get("int8_dot_product") else 1.75
        sp = full.get("cpu", {}).get("speed", {}).get("speedup", 0.0)
        targets.append((f"full-size CPU flavour >= {want}x FP32 on this CPU class ({sp:.2f}x)", sp >= want))
    doc = {"run_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": {"cpu": cpu_info(), "cores": __import__("os").cpu_count()}, "test_num": args.test_num,
           "gate": DEFAULT_TARGET.describe(), "seeds": args.seeds, "per_seed": per_seed, "summary": summary,
           "full_size": full, "targets": targets}
    (out / "int8_fidelity.json").write_text(json.dumps(doc, indent=1, default=str))
    (out / "int8_fidelity.md").write_text(render(doc))
    print(render(doc))
    missed = [what for what, ok in targets if not ok]
    for what in missed:
        print(f"MISSED: {what}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
