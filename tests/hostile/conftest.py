"""Fixtures of the hostile-input suite: tiny artifacts made once per session (nothing downloaded)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Dict

import numpy as np
import pytest


@pytest.fixture(scope="session")
def arts(tmp_path_factory) -> Dict[str, Path]:
    """The tiny RAN as checkpoint, faces ONNX, regions ONNX, TorchScript (each with its sidecar), and a 3 s video."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    cv2 = pytest.importorskip("cv2")
    from tests.runtime.artifacts import export_all, tiny_model

    d = tmp_path_factory.mktemp("hostile_arts")
    out = export_all(tiny_model(), d)
    video = d / "good.mp4"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(30):
        w.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    w.release()
    out["video"] = video
    return out


@pytest.fixture
def work(arts, tmp_path) -> Dict[str, Path]:
    """Private copies of the artifacts (with sidecars) in this test's folder, so a test may damage them."""
    copies = {}
    for key, src in arts.items():
        dst = tmp_path / src.name
        shutil.copy(src, dst)
        side = Path(str(src) + ".json")
        if side.is_file():
            shutil.copy(side, str(dst) + ".json")
        copies[key] = dst
    return copies
