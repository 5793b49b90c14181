"""Peak memory of INT8 calibration on the full-size RAN (ResNet-18, 224 px, 6 regions) vs number of faces.

    python benchmarks/calib_memory.py --faces 32 128 512 --out benchmarks/results/calib_memory

Each count runs in its own process: export a random-weight full-size RAN once, then one streaming
calibration pass (``ran_edge.quantize.histograms.collect_histograms``) over that many synthetic faces;
the process's peak RSS (``ru_maxrss``) and the wall time are recorded. Writes JSON + Markdown.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import resource, sys, time
    from ran_edge.artifact import read_sidecar
    from ran_edge.quantize.histograms import collect_histograms
    from ran_edge.data.feeds import DatasetReader, open_calibration_data
    onnx_path, n = sys.argv[1], int(sys.argv[2])
    meta = read_sidecar(onnx_path)
    ds, _ = open_calibration_data(f"synthetic:n_train={n},size=224", n)
    t0 = time.perf_counter()
    h = collect_histograms(onnx_path, DatasetReader(ds, meta, n, 16), progress=False)
    print(h.faces, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, h.peak_chunk_bytes, time.perf_counter() - t0)
""")


def export_full(path: Path) -> None:
    import torch

    from ran_edge.data.classes import RAFDB_CLASSES
    from ran_edge.export import export_onnx
    from ran_edge.model.ran import build_ran
    from ran_edge.preprocess import PreprocessSpec

    torch.manual_seed(0)
    model = build_ran(RAFDB_CLASSES, "ferplus6", "official", PreprocessSpec(face_size=224, region_size=224)).eval()
    export_onnx(model, path, log=lambda s: None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, nargs="+", default=[32, 128, 512])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "calib_memory"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = ROOT / "runs" / "calib_memory" / "full.onnx"
    model.parent.mkdir(parents=True, exist_ok=True)
    if not model.is_file():
        export_full(model)
    rows = []
    for n in args.faces:
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-c", CHILD, str(model), str(n)], capture_output=True, text=True, check=True)
        faces, peak_kib, chunk, secs = res.stdout.split()[-4:]
        rows.append({"faces": int(faces), "peak_rss_mib": round(int(peak_kib) / 1024, 1),
                     "largest_chunk_mib": round(int(chunk) / 2**20, 1), "calibration_s": round(float(secs), 1),
                     "process_s": round(time.perf_counter() - t0, 1)})
        print(rows[-1], flush=True)
    doc = {"benchmark": "calib_memory", "model": "full-size RAN (ResNet-18 width 64, 224 px faces and regions, ferplus6)",
           "rows": rows}
    (out / "calib_memory.json").write_text(json.dumps(doc, indent=2))
    md = ["# INT8 calibration memory, full-size RAN", "", f"{doc['model']}; one process per row; peak RSS of the whole process "
          "(Python, the ONNX Runtime session, histograms).", "",
          "| faces | peak RSS MiB | largest activation chunk MiB | calibration s |", "|---:|---:|---:|---:|"]
    md += [f"| {r['faces']} | {r['peak_rss_mib']} | {r['largest_chunk_mib']} | {r['calibration_s']} |" for r in rows]
    (out / "calib_memory.md").write_text("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
