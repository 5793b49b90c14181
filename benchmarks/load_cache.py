"""First load vs cached load of a ``.pt`` checkpoint through ``ran_edge.runtime.load`` (→ ONNX Runtime), and the
build cache's disk use, on the demo RAN and the full-size RAN (ResNet-18, 224 px).

    python benchmarks/load_cache.py [--first 3] [--cached 5] [--demo-checkpoint demo_out/train/best.pt]
        [--out benchmarks/results/load_cache]

Every load runs in a fresh process (as a user's second start would): ``first`` with an empty cache folder (the
checkpoint is exported, simplified and parity-checked into the cache), ``cached`` against the filled one (the
checkpoint and the entry are hashed, the ONNX Runtime session is made). For reference, ``onnx direct`` loads the
cached ``model.onnx`` by its path (no cache lookup). Times are the ``load()`` call alone (imports excluded) and the
whole process. The demo RAN is the demo's architecture (64 px faces, 32 px regions, width 16); without a trained
checkpoint its weights are random, which changes no time here. Writes ``load_cache.json`` and ``load_cache.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = textwrap.dedent("""
    import json, sys, time
    t_start = time.perf_counter()
    import numpy as np
    from ran_edge.runtime import load
    model, cache, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    t0 = time.perf_counter()
    kwargs = {} if mode == "direct" else {"cache_dir": cache, "log": lambda s: None}
    clf = load(model, **kwargs)
    t1 = time.perf_counter()
    size = int(clf.meta.preprocess.face_size)
    clf.predict([np.zeros((size, size, 3), np.uint8)])
    t2 = time.perf_counter()
    print(json.dumps({"load_s": t1 - t0, "first_predict_s": t2 - t1, "imports_s": t0 - t_start,
                      "cache": clf.describe().cache, "artifact": clf.describe().artifact}))
    clf.close()
""")


def _models(folder: Path, demo_checkpoint: Optional[Path]) -> Dict[str, Path]:
    """The two checkpoints: the demo RAN (given, or random weights of its architecture) and the full-size RAN."""
    import torch

    from ran_edge.data.classes import RAFDB_CLASSES
    from ran_edge.model.checkpoint import save_checkpoint
    from ran_edge.model.ran import build_ran
    from ran_edge.preprocess import PreprocessSpec

    out = {}
    if demo_checkpoint is not None:
        out["demo"] = demo_checkpoint
    else:
        torch.manual_seed(0)
        demo = build_ran(RAFDB_CLASSES, "ferplus6", "official", PreprocessSpec(face_size=64, region_size=32), trunk_width=16)
        out["demo"] = save_checkpoint(folder / "demo.pt", demo.eval())
    torch.manual_seed(0)
    full = build_ran(RAFDB_CLASSES, "ferplus6", "official", PreprocessSpec(face_size=224, region_size=224))
    out["full"] = save_checkpoint(folder / "full.pt", full.eval())
    return out


def _child(model: Path, cache: Path, mode: str) -> dict:
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", CHILD, str(model), str(cache), mode], capture_output=True, text=True,
                         env=env)
    if res.returncode:
        raise SystemExit(f"load of {model} ({mode}) failed: {res.stderr.strip().splitlines()[-1:]}")
    row = json.loads(res.stdout.strip().splitlines()[-1])
    row["process_s"] = time.perf_counter() - t0
    return row


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def measure(name: str, pt: Path, work: Path, first: int, cached: int) -> dict:
    """``first`` loads into empty caches, then ``cached`` loads from the last one, then direct ONNX loads."""
    from ran_edge.cache import BuildCache

    firsts: List[dict] = []
    cache = work / f"{name}-cache-0"
    for i in range(first):
        cache = work / f"{name}-cache-{i}"
        firsts.append(_child(pt, cache, "cache"))
        assert firsts[-1]["cache"].startswith("built onnx"), firsts[-1]
        print(f"{name} first load {i + 1}/{first}: {firsts[-1]['load_s']:.2f} s", file=sys.stderr, flush=True)
    hits = [_child(pt, cache, "cache") for _ in range(cached)]
    assert all(h["cache"] == "from the cache" for h in hits), hits
    direct = [_child(Path(hits[0]["artifact"]), cache, "direct") for _ in range(cached)]
    entries = BuildCache(cache).entries()
    med = lambda rows, k: round(statistics.median(r[k] for r in rows), 3)  # noqa: E731
    return {"model": name, "checkpoint_bytes": pt.stat().st_size,
            "first_load_s": med(firsts, "load_s"), "first_load_runs_s": [round(r["load_s"], 2) for r in firsts],
            "cached_load_s": med(hits, "load_s"), "cached_load_runs_s": [round(r["load_s"], 3) for r in hits],
            "onnx_direct_load_s": med(direct, "load_s"),
            "speedup_cached_vs_first": round(med(firsts, "load_s") / max(med(hits, "load_s"), 1e-9), 1),
            "first_process_s": med(firsts, "process_s"), "cached_process_s": med(hits, "process_s"),
            "imports_s": med(hits, "imports_s"), "first_predict_cached_s": med(hits, "first_predict_s"),
            "cache_entries": len(entries), "cache_bytes": _folder_bytes(cache),
            "entry_bytes": [s.size_bytes for s in entries]}


def render(doc: dict) -> str:
    """Markdown of the benchmark document."""
    mib = lambda n: f"{n / 2**20:.1f}"  # noqa: E731
    md = ["# First load vs cached load: `.pt` → ONNX Runtime through the build cache", "",
          f"{doc['cpu']}, {doc['cores']} usable cores (load average {doc['load_average']} at the start: the machine is "
          f"shared); onnxruntime {doc['onnxruntime']}, torch {doc['torch']}; {doc['date']}. Each load is a fresh process; "
          "times are the `load()` call alone (medians; the imports are separate). First: an empty cache, so the "
          "checkpoint is exported, simplified and parity-checked (32 samples) into it. Cached: the checkpoint and the "
          "entry are hashed (sha256) and the ONNX Runtime session made. ONNX direct: `load()` of the cached `model.onnx` "
          "by its path, for reference.", "",
          "| model | checkpoint MiB | first load s | cached load s | ONNX direct s | cached vs first | cache on disk MiB | "
          "entries |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in doc["rows"]:
        md.append(f"| {r['label']} | {mib(r['checkpoint_bytes'])} | {r['first_load_s']:.2f} | {r['cached_load_s']:.3f} | "
                  f"{r['onnx_direct_load_s']:.3f} | {r['speedup_cached_vs_first']}x | {mib(r['cache_bytes'])} | "
                  f"{r['cache_entries']} |")
    md += ["", "Runs (s): " + "; ".join(f"{r['model']} first {r['first_load_runs_s']}, cached {r['cached_load_runs_s']}"
                                        for r in doc["rows"]),
           "", "The cache holds, per checkpoint, one entry: the FP32 ONNX, its sidecar (provenance, parity record) and "
           "`entry.json` (key, sha256 and size of each file). Imports of a process (numpy, ran_edge.runtime, "
           f"onnxruntime) took {doc['rows'][0]['imports_s']:.2f} s on top; a first load also imports torch for the "
           "export. A cached load and a direct ONNX load do the same work (hash the ONNX against its sidecar, make the "
           "session) plus, for the cache, the checkpoint's sha256 and the entry check; their difference here is "
           "below this shared machine's run-to-run noise."]
    return "\n".join(md) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--first", type=int, default=3, help="first loads (each into an empty cache)")
    ap.add_argument("--cached", type=int, default=5, help="cached loads and direct ONNX loads")
    ap.add_argument("--demo-checkpoint", type=Path, default=None, help="a trained demo checkpoint (default: random weights)")
    ap.add_argument("--no-full", action="store_true", help="skip the full-size RAN")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "load_cache")
    args = ap.parse_args(argv)
    import onnxruntime
    import torch

    from ran_edge.bench.machine import cpu_info

    load_avg = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="ran-edge-load-cache-") as tmp:
        work = Path(tmp)
        models = _models(work, args.demo_checkpoint)
        labels = {"demo": "demo RAN (ResNet-18 layout width 16, 64 px faces)" + ("" if args.demo_checkpoint else ", random weights"),
                  "full": "full-size RAN (ResNet-18 width 64, 224 px), random weights"}
        rows = []
        for name in ["demo"] + ([] if args.no_full else ["full"]):
            rows.append({**measure(name, models[name], work, args.first, args.cached), "label": labels[name]})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    cpu = cpu_info()
    doc = {"benchmark": "load_cache", "cpu": cpu["model"], "cores": cpu["usable_cores"], "load_average": load_avg,
           "onnxruntime": onnxruntime.__version__, "torch": torch.__version__,
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in (("load_cache.json", json.dumps(doc, indent=2) + "\n"), ("load_cache.md", render(doc))):
        tmp = args.out / (name + ".tmp")
        tmp.write_text(text)
        tmp.replace(args.out / name)
    print(render(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
