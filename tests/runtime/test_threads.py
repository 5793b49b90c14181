"""Thread safety on ONNX Runtime: concurrent predict gives the same results as serial."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ran_edge.runtime import load
from tests.runtime.artifacts import faces


def test_concurrent_predict_equals_serial(tiny_artifacts):
    _, paths = tiny_artifacts
    batches = [faces(1 + i % 3, seed=i) for i in range(12)]
    with load(paths["onnx"], threads=1) as clf:
        serial = [np.stack([p.logits for p in clf.predict(b)]) for b in batches]
        with ThreadPoolExecutor(max_workers=4) as pool:
            parallel = list(pool.map(lambda b: np.stack([p.logits for p in clf.predict(b)]), batches))
    for s, p in zip(serial, parallel):
        np.testing.assert_array_equal(s, p)
