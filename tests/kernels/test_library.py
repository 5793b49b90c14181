"""Finding and loading the native library, the numpy fallback, describe(), and importing without torch."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from ran_edge import kernels
from ran_edge.errors import RanEdgeError
from ran_edge.kernels import api, library, region_batch
from ran_edge.preprocess import PreprocessSpec, region_batch_reference
from ran_edge.presets import FERPLUS6


@pytest.fixture
def no_library(monkeypatch):
    """Make the loader find nothing, as on a checkout where `make kernels` was never run."""
    monkeypatch.delenv(library.ENV_VAR, raising=False)
    monkeypatch.setattr(library, "candidate_paths", lambda: [])
    monkeypatch.setattr(api, "_warned_fallback", False)
    library.reset()
    yield
    library.reset()


def test_fallback_uses_the_numpy_reference_with_one_warning(no_library):
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    boxes = np.array([[2.5, 3.0, 30.0, 28.0]])
    assert kernels.active_implementation() == "python"
    with pytest.warns(RuntimeWarning, match="make kernels"):
        got = region_batch(frame, boxes, size=12, dtype="float16")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second call is silent
        region_batch(frame, boxes, size=12)
    want = region_batch_reference(frame, boxes, FERPLUS6, PreprocessSpec(region_size=12))
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, want.astype(np.float16))
    text = kernels.describe()
    assert "Python reference" in text and "make kernels" in text and "CUDA: unavailable" in text
    with pytest.raises(RanEdgeError, match="CUDA region-batch kernel is unavailable"):
        region_batch(frame, boxes, size=12, device="cuda")  # never a silent CPU fallback


def test_env_var_naming_a_missing_library_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv(library.ENV_VAR, str(tmp_path / "libnothing.so"))
    library.reset()
    try:
        with pytest.raises(RanEdgeError, match="no such library file"):
            library.load()
        assert "unusable native library" in kernels.describe()  # describe() reports, never raises
    finally:
        monkeypatch.delenv(library.ENV_VAR)
        library.reset()


def test_env_var_accepts_the_library_or_its_directory(native, monkeypatch):
    for value in (native.path, native.path.parent):
        monkeypatch.setenv(library.ENV_VAR, str(value))
        library.reset()
        assert library.load().path == native.path
    monkeypatch.delenv(library.ENV_VAR)
    library.reset()


def test_describe_names_the_active_library(native):
    text = kernels.describe()
    assert text.startswith("region-batch kernels: C++ CPU reference") and str(native.path) in text
    assert "CUDA:" in text
    assert kernels.active_implementation() == "cpp"


def test_kernels_import_without_torch_tensorrt_or_opencv():
    code = (
        "import sys\n"
        "for m in ('torch', 'tensorrt', 'cv2', 'onnx', 'onnxruntime'): sys.modules[m] = None\n"
        "import numpy as np\n"
        "from ran_edge.kernels import region_batch, describe\n"
        "print(describe().splitlines()[0])\n"
        "out = region_batch(np.zeros((20, 20, 3), np.uint8), np.array([[1.0, 1.0, 15.0, 15.0]]), size=8)\n"
        "print(out.shape)\n"
    )
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "region-batch kernels:" in proc.stdout and "(6, 3, 8, 8)" in proc.stdout
