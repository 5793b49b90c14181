"""Issue 24 class 6: ``ran-edge serve`` drains at SIGTERM / Ctrl-C. Requests accepted before the signal (running and
queued) are all answered, a request sent after it is refused with one line, the server exits 0 within
``--drain-timeout`` and its log has no traceback. A real server (``.venv-serve``); skips with the reason without it."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from ran_edge.errors import RanEdgeError
from tests.serve.conftest import ROOT, serve_python  # noqa: F401  (the fixture)
from tests.serve.test_server import free_port_triple, wait_ready

FACES = 2048  # one request of 2048 faces takes about a second here: the requests are still running or queued at the signal
CLIENTS = 4


def _start(serve_python: str, artifact: Path, log_path: Path) -> tuple:
    port = free_port_triple()
    log = open(log_path, "w")
    proc = subprocess.Popen([serve_python, "-m", "ran_edge.cli.main", "serve", str(artifact), "--port", str(port),
                             "--no-dynamic-batching", "--drain-timeout", "60"], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        wait_ready(port, proc)
    except BaseException:
        proc.kill()
        proc.wait(30)
        log.close()
        raise
    return proc, f"http://127.0.0.1:{port}", log


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_requests_in_flight_at_the_signal_are_answered_and_new_ones_refused(sig, serve_python, arts, tmp_path):
    pytest.importorskip("tritonclient.http", reason="the client extra is not installed here: pip install 'ran-edge[client]'")
    from ran_edge.serve import Client

    log_path = tmp_path / "server.log"
    proc, url, log = _start(serve_python, arts["onnx"], log_path)
    try:
        batch = np.random.default_rng(0).integers(0, 256, (FACES, 64, 64, 3), dtype=np.uint8)
        answers, errors = [], []

        def one_request() -> None:
            try:
                with Client(url, timeout_s=120) as client:
                    answers.append(client.infer_raw(batch))
            except RanEdgeError as exc:
                errors.append(str(exc))

        with Client(url) as client:
            client.infer_raw(batch[:2])  # warm: the first request pays the session start
        workers = [threading.Thread(target=one_request) for _ in range(CLIENTS)]
        for w in workers:
            w.start()
        time.sleep(1.0)  # all sent and accepted: one running, the others queued behind it (one instance, no batching)
        t_signal = time.monotonic()
        proc.send_signal(sig)
        time.sleep(0.5)
        late_error = None
        try:
            with Client(url, timeout_s=10) as client:
                client.infer_raw(batch[:1])
        except RanEdgeError as exc:
            late_error = str(exc)
        for w in workers:
            w.join(120)
        rc = proc.wait(timeout=90)
        elapsed = time.monotonic() - t_signal
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        log.close()
    text = log_path.read_text()
    assert not errors, (errors, text[-3000:])
    assert len(answers) == CLIENTS and all(a["logits"].shape[0] == FACES for a in answers)
    assert late_error is not None and "\n" not in late_error.strip(), "a request after the signal was answered"
    assert rc == 0, text[-3000:]
    assert elapsed < 75, elapsed
    assert "Traceback" not in text and "Non-graceful" not in text, text[-3000:]
    assert "draining" in text
