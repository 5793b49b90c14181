"""Shared fixtures: tiny models, RNG restore, and automatic skips with reasons for gpu/trt tests."""

from __future__ import annotations

import importlib.util
import random
import signal

import numpy as np
import pytest

# A test run started in the background (``nohup``, ``cmd &`` in a script) inherits SIGINT *ignored*, and every
# program it starts inherits that too: the Ctrl-C tests would then wait on children that cannot be interrupted.
# A Python handler here is reset to the default in each child at exec, so the children get Ctrl-C as a user does.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


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
    """A random-init RAN small enough for unit tests (see :func:`tests.helpers.make_tiny_ran`)."""
    pytest.importorskip("torch")
    from tests.helpers import make_tiny_ran

    return make_tiny_ran()


@pytest.fixture(scope="session")
def trained_demo_checkpoint(tmp_path_factory):
    """A narrow RAN trained on synthetic faces inside the test session (about 70 s on 2 cores).

    Same architecture as the demo (64 px faces, 32 px regions, width 16), shorter schedule (6,000 faces,
    8 epochs): about 89 %
    validation accuracy. Set ``RAN_EDGE_TEST_CHECKPOINT`` to reuse a checkpoint while developing.
    """
    import os
    from pathlib import Path

    pytest.importorskip("torch")
    pytest.importorskip("cv2")
    reuse = os.environ.get("RAN_EDGE_TEST_CHECKPOINT")
    if reuse and Path(reuse).is_file():
        return Path(reuse)
    from ran_edge.data.spec import open_dataset
    from ran_edge.model.ran import build_ran
    from ran_edge.preprocess import PreprocessSpec
    from ran_edge.train.loop import TrainConfig, train

    import torch

    spec = "synthetic:n_train=6000,n_val=350,n_test=350,size=64,seed=0"
    train_ds, val_ds = open_dataset(spec, "train"), open_dataset(spec, "val")
    torch.manual_seed(0)
    model = build_ran(train_ds.class_names, "ferplus6", "official", PreprocessSpec(face_size=64, region_size=32), 16)
    cfg = TrainConfig(epochs=8, lr=3e-3, batch_size=64, optimizer="adamw", schedule="cosine", weight_decay=0.05,
                      hflip=True)
    result = train(model, train_ds, val_ds, cfg, tmp_path_factory.mktemp("trained"), progress=False, log=lambda s: None)
    assert result.best_val_accuracy > 0.7, f"test model did not learn: val accuracy {result.best_val_accuracy}"
    return result.best_path
