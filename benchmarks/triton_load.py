"""Bounded loopback load test: ran-edge behind Triton (PyTriton) vs the in-process Classifier.

Make the benchmark artifact with the main venv (torch), then run under the serving one::

    .venv/bin/python benchmarks/triton_load.py --make-artifact runs/triton_load/model.onnx
    .venv-serve/bin/python benchmarks/triton_load.py --artifact runs/triton_load/model.onnx

For C in (1, 4, 16) concurrent clients, each sends a fixed number of one-face requests
(``tritonclient`` over HTTP, one client object per thread) to a server on 127.0.0.1, first with
Triton's dynamic batching on, then off (``max_batch_size`` 0: every request runs alone); the
same C threads also call the in-process Classifier directly. Throughput (faces/s) and p50/p99
latency per request go to benchmarks/results/triton_load.{json,md}. The server is stopped at the
end, also on failure; only 127.0.0.1 is used; the run stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ran_edge.runtime import load  # noqa: E402
from ran_edge.serve import Client, ServeOptions, TritonServer  # noqa: E402

#: the benchmark model: random-init RAN, ferplus6 regions, 112px faces, 64px regions, trunk width 16
BENCH_MODEL = {"face_size": 112, "region_size": 64, "trunk_width": 16}


def make_artifact(out: Path) -> None:
    """Export the benchmark model (needs torch: run with the main venv)."""
    import torch

    from ran_edge.data.classes import RAFDB_CLASSES
    from ran_edge.export import export_onnx
    from ran_edge.model.ran import build_ran
    from ran_edge.preprocess import PreprocessSpec

    torch.manual_seed(0)
    spec = PreprocessSpec(face_size=BENCH_MODEL["face_size"], region_size=BENCH_MODEL["region_size"])
    model = build_ran(RAFDB_CLASSES, "ferplus6", "official", spec, trunk_width=BENCH_MODEL["trunk_width"]).eval()
    print(export_onnx(model, out, check=False, log=lambda s: None).path)


def free_port() -> int:
    """A base port with base..base+2 free on 127.0.0.1."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        try:
            for p in (base + 1, base + 2):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
    raise RuntimeError("no free ports on 127.0.0.1")


def run_clients(make_call: Callable[[], Callable[[], Any]], clients: int, requests: int) -> Dict[str, float]:
    """``clients`` threads, each making ``requests`` calls; wall-clock throughput and latency percentiles."""
    latencies: List[List[float]] = [[] for _ in range(clients)]
    errors: List[BaseException] = []
    barrier = threading.Barrier(clients + 1, timeout=300)

    def worker(i: int) -> None:
        try:  # the client is made and warmed up in its own thread (tritonclient.http's gevent needs that)
            call = make_call()
            call()
        except BaseException as exc:  # recorded and re-raised below
            errors.append(exc)
        barrier.wait()
        try:
            for _ in range(requests if not errors else 0):
                t = time.perf_counter()
                call()
                latencies[i].append(time.perf_counter() - t)
        except BaseException as exc:  # recorded and re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join(timeout=600)
    wall = time.perf_counter() - start
    if errors:
        raise errors[0]
    lat = np.concatenate([np.array(x) for x in latencies]) * 1000.0
    return {"clients": clients, "requests": int(lat.size), "wall_s": round(wall, 3),
            "throughput_faces_s": round(lat.size / wall, 1), "p50_ms": round(float(np.percentile(lat, 50)), 2),
            "p99_ms": round(float(np.percentile(lat, 99)), 2)}


def bench_server(artifact: Path, face: np.ndarray, dynamic: bool, conc: List[int], requests: int,
                 args: argparse.Namespace) -> List[Dict[str, float]]:
    opts = ServeOptions(http_port=free_port(), max_batch=args.max_batch, dynamic_batching=dynamic,
                        queue_delay_us=args.queue_delay_us, instances=args.instances, threads=args.threads)
    rows = []
    with TritonServer(artifact, opts) as server:  # stopped on exit, also on failure
        for c in conc:
            def make_call() -> Callable[[], Any]:
                client = Client(server.http_url)
                return lambda: client.predict([face])
            row = run_clients(make_call, c, requests)
            row["mode"] = f"triton, dynamic batching {'on' if dynamic else 'off'}"
            rows.append(row)
            print(row, flush=True)
    return rows


def bench_local(artifact: Path, face: np.ndarray, conc: List[int], requests: int, threads: int) -> List[Dict[str, float]]:
    rows = []
    with load(artifact, threads=threads) as clf:
        for c in conc:
            row = run_clients(lambda: (lambda: clf.predict([face])), c, requests)
            row["mode"] = "in-process Classifier"
            rows.append(row)
            print(row, flush=True)
    return rows


def markdown(result: Dict[str, Any]) -> str:
    lines = [f"# Triton load test ({result['machine']})", "",
             f"Artifact `{result['artifact']}` ({result['model']}); one face per request, {result['requests_per_client']} "
             f"requests per client, HTTP on 127.0.0.1, {result['instances']} instance(s), ORT threads {result['threads']}, "
             f"max batch {result['max_batch']}, queue delay {result['queue_delay_us']} us. Client, server and model share "
             "the same cores (1-min load average before/after: "
             f"{result['loadavg_before_after']}), so absolute figures are a floor for this machine, not GPU figures.", "",
             "| mode | clients | faces/s | p50 ms | p99 ms |", "|---|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['mode']} | {r['clients']} | {r['throughput_faces_s']} | {r['p50_ms']} | {r['p99_ms']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--artifact", type=Path)
    p.add_argument("--make-artifact", type=Path, help="export the benchmark model here (main venv) and exit")
    p.add_argument("--clients", default="1,4,16")
    p.add_argument("--requests", type=int, default=40, help="requests per client")
    p.add_argument("--max-batch", type=int, default=16)
    p.add_argument("--queue-delay-us", type=int, default=2000)
    p.add_argument("--instances", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "triton_load")
    args = p.parse_args()
    if args.make_artifact:
        make_artifact(args.make_artifact)
        return 0
    if args.artifact is None:
        p.error("--artifact is required (make one with --make-artifact)")
    conc = [int(c) for c in args.clients.split(",")]
    meta_face = load(args.artifact).meta.preprocess.face_size
    face = np.random.default_rng(0).integers(0, 256, (meta_face, meta_face, 3), dtype=np.uint8)
    load_before = os.getloadavg()
    rows = bench_local(args.artifact, face, conc, args.requests, args.threads)
    rows += bench_server(args.artifact, face, True, conc, args.requests, args)
    rows += bench_server(args.artifact, face, False, conc, args.requests, args)
    result = {"machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
              "artifact": str(args.artifact), "model": "random-init RAN ferplus6, " + ", ".join(f"{k} {v}" for k, v in BENCH_MODEL.items()),
              "requests_per_client": args.requests, "instances": args.instances, "threads": args.threads,
              "max_batch": args.max_batch, "queue_delay_us": args.queue_delay_us,
              "loadavg_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)], "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
