"""Shared fixtures: tiny models, RNG restore, and automatic skips with reasons for gpu/trt tests."""

from __future__ import annotations

import importlib.util
import random

import numpy as np
import pytest


def _trt_reason() -> str | None:
    if importlib.util.find_spec("tensorrt") is None:
        return "TensorRT is not installed (pip install 'ran-edge[trt]' or use JetPack's TensorRT)"
    try:
        import tensorrt  # noqa: F401
    except Exception as exc:  # a stub wheel or missing libnvinfer
        return f"TensorRT is not importable: {exc}"
    return None


def _gpu_reason() -> str | None:
    try:
        import torch

        if torch.cuda.is_available():
            return None
    except ImportError:
        pass
    try:
        from cuda.bindings import runtime as cudart  # type: ignore

        err, count = cudart.cudaGetDeviceCount()
        if int(err) == 0 and count > 0:
            return None
    except Exception:
        pass
    return "no CUDA device on this machine"


def pytest_collection_modifyitems(config, items):
    trt_reason = gpu_reason = None
    checked = False
    for item in items:
        if not checked and (item.get_closest_marker("trt") or item.get_closest_marker("gpu")):
            trt_reason, gpu_reason, checked = _trt_reason(), _gpu_reason(), True
        if item.get_closest_marker("trt") and trt_reason:
            item.add_marker(pytest.mark.skip(reason=trt_reason))
        elif item.get_closest_marker("gpu") and gpu_reason:
            item.add_marker(pytest.mark.skip(reason=gpu_reason))


@pytest.fixture(autouse=True)
def _restore_rng():
    state_py = random.getstate()
    state_np = np.random.get_state()
    try:
        import torch

        state_t = torch.get_rng_state()
    except ImportError:
        state_t = None
    yield
    random.setstate(state_py)
    np.random.set_state(state_np)
    if state_t is not None:
        import torch

        torch.set_rng_state(state_t)


@pytest.fixture
def tiny_ran():
    """A random-init RAN small enough for unit tests: 32x32 faces, 16x16 regions, width 8."""
    pytest.importorskip("torch")
    import torch

    from ran_edge.data.classes import RAFDB_CLASSES
    from ran_edge.model.ran import build_ran
    from ran_edge.preprocess import PreprocessSpec

    torch.manual_seed(0)
    model = build_ran(RAFDB_CLASSES, "ferplus6", "official", PreprocessSpec(face_size=32, region_size=16), trunk_width=8)
    # Non-trivial BN statistics so eval mode is not an identity.
    model.train()
    with torch.no_grad():
        model.run(torch.rand(16, 3, 32, 32))
    return model.eval()
