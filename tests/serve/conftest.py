"""Fixtures for the serving tests: the serving interpreter (a separate venv) and tiny ONNX artifacts.

nvidia-pytriton pins numpy<2, so it lives in its own venv (``make serve-env`` → ``.venv-serve``);
tests that need a real Triton server or Triton's config schema run scripts under that interpreter.
``RAN_EDGE_SERVE_PYTHON`` points elsewhere. Without it these tests skip WITH the reason.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Dict

import pytest

ROOT = Path(__file__).resolve().parents[2]


def serve_python_path() -> Path:
    return Path(os.environ.get("RAN_EDGE_SERVE_PYTHON") or ROOT / ".venv-serve" / "bin" / "python")


@pytest.fixture(scope="session")
def serve_python() -> str:
    """The interpreter that has nvidia-pytriton + tritonclient + ran-edge, or a skip with the reason."""
    py = serve_python_path()
    if not py.is_file():
        pytest.skip(f"no serving environment at {py}: create it with 'make serve-env' "
                    "(or set RAN_EDGE_SERVE_PYTHON)")
    probe = subprocess.run([str(py), "-c", "import pytriton, tritonclient.http, tritonclient.grpc, ran_edge.serve"],
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
    if probe.returncode:
        pytest.skip(f"serving environment {py} is incomplete: {probe.stderr.strip().splitlines()[-1:]}; "
                    "re-run 'make serve-env'")
    return str(py)


@pytest.fixture(scope="session")
def onnx_artifacts(tmp_path_factory) -> Dict[str, Path]:
    """Tiny ``faces`` and ``regions`` ONNX artifacts with sidecars (exported here, no downloads)."""
    pytest.importorskip("torch")
    from ran_edge.export import export_onnx
    from tests.runtime.artifacts import tiny_model

    folder = tmp_path_factory.mktemp("serve_artifacts")
    model = tiny_model()
    quiet = lambda s: None  # noqa: E731
    return {"faces": Path(export_onnx(model, folder / "model.onnx", check=False, log=quiet).path),
            "regions": Path(export_onnx(model, folder / "regions.onnx", input_kind="regions", check=False, log=quiet).path)}
