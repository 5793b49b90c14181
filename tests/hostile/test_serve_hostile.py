"""Serving under malformed requests and a dead server (issue #15 finding 9, the parts testable without PyTriton):
the server's infer function refuses a bad request with one line before preprocessing, and keeps answering
valid ones; the Client on a dead URL raises one RanEdgeError instead of a bare ConnectionRefusedError."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from ran_edge.errors import RanEdgeError

BAD_REQUESTS = {
    "zero-size image": np.zeros((1, 0, 0, 3), np.uint8), "empty batch": np.zeros((0, 32, 32, 3), np.uint8),
    "float32": np.zeros((1, 32, 32, 3), np.float32), "3-D": np.zeros((32, 32, 3), np.uint8),
    "4 channels": np.zeros((1, 32, 32, 4), np.uint8), "oversized side": np.zeros((1, 5000, 1, 3), np.uint8),
    "object": np.array([[["x"]]], dtype=object), "scalar": np.uint8(3),
}


@pytest.mark.parametrize("name", sorted(BAD_REQUESTS))
def test_bad_requests_are_refused_with_one_line(name):
    from ran_edge.serve.server import check_request

    with pytest.raises(ValueError) as info:
        check_request(BAD_REQUESTS[name])
    assert "\n" not in str(info.value) and "expected [N,H,W,3] uint8" in str(info.value)


def test_infer_function_refuses_garbage_and_keeps_answering(arts):
    pytest.importorskip("onnxruntime")
    from ran_edge.runtime import load
    from ran_edge.serve.server import make_infer_func

    good = {"faces_uint8": np.random.default_rng(0).integers(0, 256, (2, 40, 36, 3), dtype=np.uint8)}
    with load(arts["onnx"]) as clf:
        infer = make_infer_func(clf)
        first = infer([good])[0]
        for name, bad in BAD_REQUESTS.items():
            with pytest.raises(ValueError):
                infer([{"faces_uint8": bad}])
        with pytest.raises(ValueError, match="request without"):
            infer([{"other": good["faces_uint8"]}])
        again = infer([good])[0]
    np.testing.assert_array_equal(first["logits"], again["logits"])
    assert first["logits"].shape == (2, 7)


def test_client_on_a_dead_url_is_one_error():
    pytest.importorskip("tritonclient.http")
    from ran_edge.serve.client import Client

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = Client(f"http://127.0.0.1:{port}", timeout_s=5)
    assert client.is_ready() is False
    with pytest.raises(RanEdgeError, match="cannot reach the server"):
        client.predict([np.zeros((32, 32, 3), np.uint8)])


def test_drain_lets_in_flight_requests_finish_and_refuses_new_ones(arts):
    """SIGTERM under load (the part in ran-edge's hands): the stop closes the drain, the request already running
    answers, a new one gets one line, and the wait is bounded."""
    import threading
    import time

    pytest.importorskip("onnxruntime")
    from ran_edge.runtime import load
    from ran_edge.serve.server import Drain, make_infer_func

    drain, started, release = Drain(), threading.Event(), threading.Event()
    good = {"faces_uint8": np.zeros((1, 40, 36, 3), np.uint8)}
    with load(arts["onnx"]) as clf:
        inner = make_infer_func(clf, drain)

        class Slow(dict):  # a request whose input is read only when released: an in-flight request
            def __getitem__(self, key):
                started.set()
                release.wait(10)
                return good[key]

        answers = []
        worker = threading.Thread(target=lambda: answers.append(inner([Slow()])))
        worker.start()
        assert started.wait(10) and drain.in_flight == 1
        drain.close()
        with pytest.raises(ValueError, match="shutting down"):
            inner([good])
        t0 = time.perf_counter()
        assert drain.wait(0.2) is False and time.perf_counter() - t0 < 1.0  # bounded
        release.set()
        assert drain.wait(10) is True
        worker.join(10)
    assert answers and answers[0][0]["logits"].shape == (1, 7)


def test_a_relayed_server_traceback_becomes_one_line():
    from ran_edge.serve.client import one_line

    relayed = ("Failed to process the request(s) for model 'ran_0_0', message: TritonModelException: Traceback (most recent "
               "call last):\n  File \"/tmp/x/1/model.py\", line 486, in execute\n    f.result()\nTypeError: memoryview: cannot "
               "cast view with zeros in shape or strides\n\nAt:\n  /tmp/x/1/model.py(501): execute\n")
    assert one_line(relayed) == "TypeError: memoryview: cannot cast view with zeros in shape or strides"
    assert one_line("inference input 'faces_uint8' data-type is 'FP32', but model 'ran' expects 'UINT8'").endswith("'UINT8'")
