"""What the ``official-uint8`` crop mode costs: ONNX Runtime CPU latency of the full-size RAN (ResNet-18 width 64,
224 px) exported with each crop convention, and of the in-graph crops alone.

For each preset (FERPlus-6, AffectNet-8) the full-size RAN (random init: latency does not depend on the weights;
official preprocessing) is exported three times, with ``exact`` (ran-edge's training crops), ``official`` (Pillow's
weights in float) and ``official-uint8`` (Pillow's integer arithmetic, bit-exact; the default of
``import-checkpoint``). The crops alone (``RAN.crop_regions``, the graph up to the trunk) are exported the same way,
so the extra cost is also shown without the trunk's run-to-run noise. All sessions of one preset and batch are
timed round-robin (one run of each in turn), so the load of a shared machine hits all alike; the report gives the
fastest run (robust to other jobs) and the median.

    python benchmarks/pillow_crop_latency.py --out benchmarks/results/pillow_crop_latency [--quick]

Writes ``pillow_crop_latency.json`` / ``.md`` with the machine's CPU, core count, library versions and load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODES = ("exact", "official", "official-uint8")


def export_variants(work: Path, preset: str) -> dict[str, dict[str, Path]]:
    """``{"model"|"crop": {mode: onnx path}}`` of the full-size RAN and of its crops alone, per crop convention."""
    import torch

    from ran_edge.data.classes import AFFECTNET8_CLASSES, FERPLUS_CLASSES
    from ran_edge.export import export_onnx
    from ran_edge.model.checkpoint import official_preprocess
    from ran_edge.model.ran import build_ran

    classes = FERPLUS_CLASSES if preset == "ferplus6" else AFFECTNET8_CLASSES
    out: dict[str, dict[str, Path]] = {"model": {}, "crop": {}}
    for mode in MODES:
        torch.manual_seed(0)
        model = build_ran(classes, preset, preprocess=official_preprocess(224, mode)).eval()
        path = work / f"{preset}-{mode}.onnx"
        export_onnx(model, path, check=False, log=lambda _m: None)
        out["model"][mode] = path

        class Crops(torch.nn.Module):
            def __init__(self, ran: torch.nn.Module):
                super().__init__()
                self.ran = ran

            def forward(self, faces: torch.Tensor) -> torch.Tensor:
                return self.ran.crop_regions(faces)

        crop_path = work / f"{preset}-{mode}.crop.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(Crops(model), (torch.zeros(1, 3, 224, 224),), str(crop_path), dynamo=False,
                              opset_version=17, input_names=["faces"], output_names=["regions"],
                              dynamic_axes={"faces": {0: "N"}, "regions": {0: "NK"}})
        out["crop"][mode] = crop_path
    return out


def time_round_robin(paths: dict[str, Path], batch: int, repeat: int, threads: int) -> dict[str, dict[str, float]]:
    """Min / median / p90 ms per session, one run of each in turn, ``repeat`` rounds after one warm-up."""
    import onnxruntime as ort

    from ran_edge.runtime.ort_runner import SPINNING_CONFIG

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry(SPINNING_CONFIG, "0")  # sessions take turns: see ran_edge.quantize.cost
    sessions = {m: ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"]) for m, p in paths.items()}
    x = (np.random.default_rng(0).integers(0, 256, (batch, 3, 224, 224)) / 255.0).astype(np.float32)
    for sess in sessions.values():
        sess.run(None, {"faces": x})
    times: dict[str, list[float]] = {m: [] for m in sessions}
    for _ in range(repeat):
        for m, sess in sessions.items():
            t0 = time.perf_counter()
            sess.run(None, {"faces": x})
            times[m].append(1000.0 * (time.perf_counter() - t0))
    return {m: {"min_ms": round(min(t), 2), "median_ms": round(statistics.median(t), 2),
                "p90_ms": round(float(np.percentile(t, 90)), 2), "runs": len(t)} for m, t in times.items()}


def render(doc: dict) -> str:
    lines = ["# What the official-uint8 crop mode costs (ONNX Runtime CPU)", "",
             f"Full-size RAN (ResNet-18 width 64, 224 px, random init, official preprocessing), {doc['threads']} "
             f"threads, round-robin timing ({doc['rounds']} rounds per batch after one warm-up); {doc['cpu']} "
             f"({doc['usable_cores']} usable cores, {doc['machine']}); onnxruntime {doc['onnxruntime']}, torch "
             f"{doc['torch']}; {doc['date']}; load average before/after {doc['loadavg_before']} / "
             f"{doc['loadavg_after']} (2 usable cores shared with other jobs: medians are loaded, minimums are the "
             "steadier figure). The crop rows time the graph up to the trunk alone.", ""]
    for preset, per_batch in doc["results"].items():
        lines += [f"## {preset}", "", "| batch (faces) | graph | exact ms (min / median) | official ms | "
                  "official-uint8 ms |", "|---:|---|---:|---:|---:|"]
        for batch, parts in per_batch.items():
            for part in ("model", "crop"):
                r = parts[part]
                lines.append(f"| {batch} | {'full model' if part == 'model' else 'crops only'} | "
                             + " | ".join(f"{r[m]['min_ms']:.1f} / {r[m]['median_ms']:.1f}" for m in MODES) + " |")
        lines += ["", "| batch (faces) | uint8 crops vs float crops (min) | extra ms per batch (crops only, min) | "
                  "extra / full model (min) | full model uint8 vs float, direct (min) |", "|---:|---:|---:|---:|---:|"]
        for batch, parts in per_batch.items():
            c, m = parts["crop"], parts["model"]
            extra = c["official-uint8"]["min_ms"] - c["official"]["min_ms"]
            full = min(m[mode]["min_ms"] for mode in MODES)
            direct = m["official-uint8"]["min_ms"] / m["official"]["min_ms"] - 1.0
            lines.append(f"| {batch} | {c['official-uint8']['min_ms'] / c['official']['min_ms']:.2f}x | {extra:+.1f} | "
                         f"{100.0 * extra / full:+.1f} % | {100.0 * direct:+.1f} % |")
        lines.append("")
    lines += ["The extra cost is read from the crops alone (same ops as in the model, timed with 3x the rounds) and "
              "divided by the fastest full-model run; the direct full-model difference is shown beside it, and its "
              "spread on this shared machine is larger than the effect.", ""]
    lines += ["Regenerate: `python benchmarks/pillow_crop_latency.py "
              "--out benchmarks/results/pillow_crop_latency`.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "pillow_crop_latency"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--presets", nargs="+", default=["ferplus6", "affectnet8"])
    p.add_argument("--quick", action="store_true", help="3 rounds, batch 1, FERPlus-6 only (smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.batches, args.presets = 3, [1], ["ferplus6"]
    import onnxruntime as ort
    import torch

    from ran_edge.bench.machine import cpu_info

    torch.set_num_threads(args.threads)
    before = os.getloadavg()
    results: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets:
            print(f"{preset}: exporting {len(MODES)} crop modes ...", file=sys.stderr, flush=True)
            variants = export_variants(Path(tmp), preset)
            results[preset] = {}
            for batch in args.batches:  # the crops alone are cheap: 3x the rounds, for a steadier minimum
                results[preset][str(batch)] = {
                    part: time_round_robin(paths, batch, args.rounds * (3 if part == "crop" else 1), args.threads)
                    for part, paths in variants.items()}
                print(f"{preset} batch {batch}: {json.dumps(results[preset][str(batch)])}", file=sys.stderr, flush=True)
    cpu = cpu_info()
    doc = {"benchmark": "pillow_crop_latency", "cpu": cpu.get("model") or "unknown", "cpu_info": cpu,
           "usable_cores": cpu.get("usable_cores"), "machine": platform.machine(), "threads": args.threads,
           "rounds": args.rounds, "onnxruntime": ort.__version__, "torch": torch.__version__,
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "loadavg_before": [round(v, 2) for v in before], "loadavg_after": [round(v, 2) for v in os.getloadavg()],
           "command_line": ["benchmarks/pillow_crop_latency.py", *(sys.argv[1:] if argv is None else argv)],
           "results": results}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (("pillow_crop_latency.json", json.dumps(doc, indent=2) + "\n"),
                       ("pillow_crop_latency.md", render(doc))):
        tmp_file = out / f".{name}.tmp"
        tmp_file.write_text(text)
        tmp_file.replace(out / name)
    print(render(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
