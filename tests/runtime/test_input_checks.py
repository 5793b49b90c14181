"""Feed validation: "got X, expected Y" for names, dtype, rank, fixed dims, empty batch, NaN/Inf, batch bounds."""

from __future__ import annotations

import numpy as np
import pytest

from ran_edge.artifact import TensorSpec
from ran_edge.errors import RanEdgeError
from ran_edge.runtime import InputError, OrtRunner, check_feed, load
from ran_edge.runtime.ort_runner import resolve_providers
from tests.runtime.artifacts import faces

SPECS = (TensorSpec("faces", (-1, 3, 32, 32), "float32"),)


def ok(n=2):
    return np.zeros((n, 3, 32, 32), np.float32)


@pytest.mark.parametrize("feed, message", [
    ({"x": ok()}, r"got inputs \['x'\], expected \['faces'\]"),
    ({"faces": ok(), "extra": ok()}, r"got inputs \['extra', 'faces'\]"),
    ({"faces": ok().astype(np.float64)}, "got dtype float64, expected float32"),
    ({"faces": ok()[0]}, r"got shape \[3, 32, 32\], expected \[-1, 3, 32, 32\] \(rank 4\)"),
    ({"faces": np.zeros((2, 3, 16, 16), np.float32)}, r"axis 2 must be 32"),
    ({"faces": ok(0)}, "got an empty batch"),
    ({"faces": [[1.0]]}, "got list, expected a numpy array"),
])
def test_check_feed_messages(feed, message):
    with pytest.raises(InputError, match=message):
        check_feed(feed, SPECS)


def test_nan_and_inf_rejected():
    x = ok()
    x[0, 0, 0, 0] = np.nan
    x[1, 2, 3, 4] = np.inf
    with pytest.raises(InputError, match="got 2 NaN/Inf values, expected finite numbers"):
        check_feed({"faces": x}, SPECS)
    check_feed({"faces": x}, SPECS, check_finite=False)


def test_batch_range():
    check_feed({"faces": ok(4)}, SPECS, (1, 4))
    with pytest.raises(InputError, match=r"got batch 5, expected 1..4"):
        check_feed({"faces": ok(5)}, SPECS, (1, 4))
    with pytest.raises(InputError, match=r"got batch 1, expected >= 2"):
        check_feed({"faces": ok(1)}, SPECS, (2, None))


def test_feed_not_a_dict():
    with pytest.raises(InputError, match="expected a dict"):
        check_feed(ok(), SPECS)  # type: ignore[arg-type]


def test_runner_checks_through_infer(tiny_artifacts):
    _, paths = tiny_artifacts
    runner = OrtRunner(paths["onnx"])
    with pytest.raises(RanEdgeError, match=r"infer\(\) needs an active runner"):
        runner.infer({"faces": ok()})
    with runner:
        with pytest.raises(InputError, match="got dtype float64"):
            runner.infer({"faces": ok().astype(np.float64)})
        assert runner.infer({"faces": ok()})["logits"].shape == (2, 7)


def test_predict_validates_faces(tiny_artifacts):
    _, paths = tiny_artifacts
    with load(paths["onnx"]) as clf:
        with pytest.raises(RanEdgeError, match="got dtype float32, expected uint8"):
            clf.predict([np.zeros((32, 32, 3), np.float32)])
        with pytest.raises(RanEdgeError, match="got an empty batch"):
            clf.predict([])
        with pytest.raises(RanEdgeError, match=r"got shape \(32, 32\), expected HxWx3"):
            clf.predict([np.zeros((32, 32), np.uint8)])
        assert len(clf.predict(faces(1))) == 1


def test_resolve_providers():
    avail = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert resolve_providers(None, avail) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert resolve_providers(None, ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert resolve_providers("tensorrt", avail) == avail
    assert resolve_providers("cpu", avail) == ["CPUExecutionProvider"]
    with pytest.raises(RanEdgeError, match="onnxruntime-gpu"):
        resolve_providers("cuda", ["CPUExecutionProvider"])
