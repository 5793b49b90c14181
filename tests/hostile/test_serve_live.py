"""A real server (``.venv-serve``) under malformed requests beside a valid client, and SIGTERM while a
request is in flight; the client runs here, in the main environment (``ran-edge[client]``, numpy 2).
Skips with the reason without the serving venv or without tritonclient here (issue #15 finding 9)."""

from __future__ import annotations

import signal
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from ran_edge.errors import RanEdgeError
from tests.serve.conftest import ROOT, serve_python  # noqa: F401  (the fixture)
from tests.serve.test_server import free_port_triple, wait_ready


@pytest.fixture(scope="module")
def server(serve_python, arts, tmp_path_factory):
    pytest.importorskip("tritonclient.http", reason="the client extra is not installed here: pip install 'ran-edge[client]'")
    port = free_port_triple()
    log_path = tmp_path_factory.mktemp("serve_live") / "server.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([serve_python, "-m", "ran_edge.cli.main", "serve", str(arts["onnx"]), "--port", str(port),
                             "--max-batch", "8"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(port, proc)
        yield proc, f"http://127.0.0.1:{port}", log_path
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        log.close()


BAD = {"zero-size image": np.zeros((1, 0, 0, 3), np.uint8), "zero-height image": np.zeros((1, 0, 8, 3), np.uint8),
       "empty batch": np.zeros((0, 8, 8, 3), np.uint8), "float32": np.zeros((1, 8, 8, 3), np.float32),
       "4 channels": np.zeros((1, 8, 8, 4), np.uint8)}


def test_malformed_requests_get_one_line_and_valid_clients_keep_answers(server):
    from ran_edge.serve import Client

    proc, url, _ = server
    face = np.random.default_rng(0).integers(0, 256, (40, 36, 3), dtype=np.uint8)
    with Client(url) as client:
        first = client.predict([face])
        for name, bad in BAD.items():
            with pytest.raises(RanEdgeError) as info:
                client.infer_raw(bad)
            msg = str(info.value)
            assert "\n" not in msg.strip() and "Traceback" not in msg, (name, msg)
        again = client.predict([face])
    np.testing.assert_allclose(first[0].logits, again[0].logits, atol=1e-6)
    assert proc.poll() is None, "server died"


def test_sigterm_with_requests_in_flight_drains_and_exits_0(server):
    from ran_edge.serve import Client

    proc, url, log_path = server
    faces = [np.zeros((40, 36, 3), np.uint8)] * 8
    results, errors, go = [], [], threading.Event()

    def load() -> None:
        with Client(url) as client:
            for _ in range(200):
                try:
                    results.append(client.predict(faces))
                    go.set()
                except RanEdgeError as exc:  # refused or unreachable once stopping: one line, never a hang
                    errors.append(str(exc))
                    return

    worker = threading.Thread(target=load)
    worker.start()
    assert go.wait(60), "no request answered before the stop"
    proc.send_signal(signal.SIGTERM)  # the client keeps sending: requests are in flight
    rc = proc.wait(timeout=60)
    worker.join(60)
    text = Path(log_path).read_text()
    assert rc == 0, text[-3000:]
    assert "Non-graceful" not in text and "exited with failure" not in text, text[-3000:]
    assert results and all(len(r) == len(faces) for r in results)
    assert all("\n" not in e.strip() for e in errors)
