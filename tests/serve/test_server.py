"""A real Triton server (PyTriton, started by ``ran-edge serve``) on a free loopback port.

Requests go through ``tritonclient`` (``ran_edge.serve.Client``, HTTP and gRPC) from a separate
process; predictions must equal the local Classifier's; bad requests get error responses and the
server keeps answering; a client killed mid-request does not disturb the others; SIGTERM stops
the server cleanly (exit 0).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from ran_edge.runtime import load
from tests.runtime.artifacts import faces

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def free_port_triple() -> int:
    """A port p with p, p+1, p+2 free on 127.0.0.1 (HTTP, gRPC, metrics)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base > 65000:
            continue
        try:
            socks = []
            for p in (base, base + 1, base + 2):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port triple on 127.0.0.1")


def wait_ready(port: int, proc: subprocess.Popen, timeout_s: float = 120.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/models/ran/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError("server not ready in time")


@pytest.mark.slow
def test_real_triton_server_end_to_end(serve_python, onnx_artifacts, tmp_path):
    artifact = onnx_artifacts["faces"]
    batch = faces(20, size=(40, 36)) + faces(2, seed=5, size=(48, 48))  # two sizes, 20 > max batch 16: 3 requests
    np.savez(tmp_path / "faces.npz", **{f"face_{i}": f for i, f in enumerate(batch)})
    with load(artifact) as clf:
        local = clf.predict(batch)

    port = free_port_triple()
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen([serve_python, "-m", "ran_edge.cli.main", "serve", str(artifact), "--port", str(port),
                               "--max-batch", "16", "--instances", "2"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    hammer = None
    try:
        wait_ready(port, server)
        http, grpc = f"http://127.0.0.1:{port}", f"grpc://127.0.0.1:{port + 1}"
        # a client killed mid-request
        hammer = subprocess.Popen([serve_python, str(HERE / "client_check.py"), "hammer", "--url", http], cwd=ROOT,
                                  stdout=subprocess.PIPE, text=True)
        for _ in range(3):
            assert hammer.stdout.readline().startswith("sending")
        hammer.send_signal(signal.SIGKILL)
        hammer.wait(timeout=10)

        out = tmp_path / "served.json"
        run = subprocess.run([serve_python, str(HERE / "client_check.py"), "check", "--url", http, "--url", grpc,
                              "--faces", str(tmp_path / "faces.npz"), "--out", str(out)],
                             cwd=ROOT, capture_output=True, text=True, timeout=180)
        assert run.returncode == 0, run.stderr[-2000:]
        served = json.loads(out.read_text())
        for url in (http, grpc):
            got = served[url]
            assert got["labels"] == [p.label for p in local]
            assert got["index"] == [p.index for p in local]
            np.testing.assert_allclose(np.array(got["logits"]), np.stack([p.logits for p in local]), atol=1e-5)
            np.testing.assert_allclose(np.array(got["probs"]), np.stack([p.probs for p in local]), atol=1e-6)
            np.testing.assert_allclose(np.array(got["region_weights"]), np.stack([p.region_weights for p in local]), atol=1e-6)
            dtype_err, shape_err, rank_err = got["errors"]
            assert dtype_err and "expects 'UINT8'" in dtype_err
            assert shape_err and "unexpected shape" in shape_err
            assert rank_err and "shape" in rank_err
            np.testing.assert_allclose(np.array(got["after_logits"]), np.array(got["logits"]), atol=1e-6)
        assert server.poll() is None, "server died"
    finally:
        if hammer is not None:
            if hammer.poll() is None:
                hammer.kill()
                hammer.wait(timeout=10)
            hammer.stdout.close()
        server.send_signal(signal.SIGTERM)
        try:
            rc = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            rc = None
        log.close()
    text = (tmp_path / "server.log").read_text()
    assert rc == 0, text[-3000:]
    assert "ran-edge serve: shutting down" in text and "ran-edge serve: stopped" in text


@pytest.mark.slow
def test_stub_failure_is_explained(serve_python, onnx_artifacts):
    """Without the libpython fix, a pyenv-style interpreter whose libpython is not the system one
    reproduces the '_recursion_count' stub failure; serve must explain it in one line."""
    probe = subprocess.run([serve_python, "-c", "import sysconfig as s; print(s.get_config_var('LIBDIR') + '/' + str(s.get_config_var('INSTSONAME')))"],
                           capture_output=True, text=True, timeout=60)
    lib = Path(probe.stdout.strip())
    libdir = str(lib.parent)
    if not lib.is_file() or libdir.startswith("/usr/lib"):
        pytest.skip(f"the serving interpreter's libpython is the system one ({libdir}): the mismatch cannot happen here")
    run = subprocess.run([serve_python, str(HERE / "client_check.py"), "stubfail", "--artifact", str(onnx_artifacts["faces"]),
                          "--port", str(free_port_triple())], cwd=ROOT, capture_output=True, text=True, timeout=180)
    line = [x for x in run.stdout.splitlines() if x.startswith(("ServeError", "started"))]
    assert line, run.stdout[-2000:] + run.stderr[-2000:]
    if line[0] == "started":  # the system libpython matches this interpreter's stdlib: nothing to explain
        pytest.skip("the serving interpreter's stdlib matches the system libpython; no stub failure to provoke")
    assert "libpython that does not match" in line[0] and "make serve-env" in line[0]
