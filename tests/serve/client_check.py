"""Client side of tests/serve/test_server.py, run under the serving interpreter (tritonclient is there).

``check``: predictions over HTTP and gRPC through ``ran_edge.serve.Client``, bad requests (wrong
dtype, wrong shape), then predictions again → JSON. ``hammer``: send requests in a bounded loop
until killed (the test kills it mid-request). ``preprocess``: a generated Python-backend model in a
real Triton. ``stubfail``: start without the libpython fix.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from ran_edge.errors import RanEdgeError
from ran_edge.serve import Client


def check(urls, faces_path, out_path) -> int:
    data = np.load(faces_path)
    faces = [data[k] for k in sorted(data.files, key=lambda s: int(s.split("_")[1]))]
    result = {}
    for url in urls:
        with Client(url) as client:
            first = client.predict(faces)
            errors = []
            for bad in (np.zeros((2, 8, 8, 3), np.float32), np.zeros((1, 8, 8, 4), np.uint8), np.zeros((8, 8), np.uint8)):
                try:
                    client.infer_raw(bad)
                    errors.append(None)
                except RanEdgeError as exc:
                    errors.append(str(exc))
            after = client.predict(faces)
            result[url] = {"labels": [p.label for p in first], "index": [p.index for p in first],
                           "logits": [p.logits.tolist() for p in first], "probs": [p.probs.tolist() for p in first],
                           "region_weights": [p.region_weights.tolist() for p in first],
                           "errors": errors, "after_logits": [p.logits.tolist() for p in after]}
    with open(out_path, "w") as f:
        json.dump(result, f)
    return 0


def hammer(url, seconds: float = 60.0, max_requests: int = 5000) -> int:
    rng = np.random.default_rng(1)
    batch = rng.integers(0, 256, (16, 96, 96, 3), dtype=np.uint8)
    end = time.monotonic() + seconds
    with Client(url) as client:
        for i in range(max_requests):
            if time.monotonic() > end:
                break
            print(f"sending {i}", flush=True)
            client.infer_raw(batch)
    return 0


def preprocess_model(repo: str, models, port: int, faces_path: str, out_path: str) -> int:
    """Load a generated model repository (Python-backend models only) into PyTriton's real Triton
    and run each of ``models`` on the faces; saves the outputs (npz, one array per model)."""
    import os

    import tritonclient.http as tc
    from pytriton.triton import Triton, TritonConfig

    from ran_edge.serve.server import stub_environment

    os.environ.update(stub_environment())
    x = np.load(faces_path)["faces"]
    config = TritonConfig(model_repository=repo, http_address="127.0.0.1", http_port=port, grpc_address="127.0.0.1",
                          grpc_port=port + 1, metrics_address="127.0.0.1", metrics_port=port + 2, exit_timeout_secs=5)
    with Triton(config=config) as triton:
        triton.run()
        client = tc.InferenceServerClient(f"127.0.0.1:{port}")
        inp = tc.InferInput("faces_uint8", list(x.shape), "UINT8")
        inp.set_data_from_numpy(x)
        outs = {}
        for model in models:
            out_name = client.get_model_config(model)["output"][0]["name"]
            outs[model] = client.infer(model, [inp]).as_numpy(out_name)
        np.savez(out_path, **outs)
    return 0


def stub_failure(artifact: str, port: int) -> int:
    """Start a server WITHOUT the libpython fix; print the one-line error (or 'started')."""
    import os

    import ran_edge.serve.server as server

    server.stub_environment = lambda env=None: dict(os.environ)  # the unfixed environment
    try:
        with server.TritonServer(artifact, server.ServeOptions(http_port=port)):
            print("started")
    except server.ServeError as exc:
        print(f"ServeError: {exc}")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("check", "hammer", "stubfail", "preprocess"))
    p.add_argument("--repo")
    p.add_argument("--model", action="append")
    p.add_argument("--artifact")
    p.add_argument("--port", type=int)
    p.add_argument("--url", action="append")
    p.add_argument("--faces")
    p.add_argument("--out")
    a = p.parse_args()
    if a.mode == "preprocess":
        sys.exit(preprocess_model(a.repo, a.model, a.port, a.faces, a.out))
    if a.mode == "stubfail":
        sys.exit(stub_failure(a.artifact, a.port))
    sys.exit(check(a.url, a.faces, a.out) if a.mode == "check" else hammer(a.url[0]))
