"""ran_edge.serve and its CLI modules import without torch, pytriton and tritonclient (lazy imports)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_serve_modules_import_without_heavy_packages():
    code = ("import sys\n"
            "for m in ('torch', 'tensorrt', 'pytriton', 'tritonclient', 'onnxruntime'): sys.modules[m] = None\n"
            "import ran_edge.serve as s, ran_edge.serve.triton_config, ran_edge.serve.repository, ran_edge.serve.deepstream\n"
            "import ran_edge.serve.validate, ran_edge.serve.server, ran_edge.serve.client, ran_edge.serve.python_model\n"
            "import ran_edge.cli.serve, ran_edge.cli.export_triton\n"
            "from ran_edge.cli.main import main\n"
            "try:\n    s.TritonServer('x.onnx').start()\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("MissingDependencyError") and "ran-edge[serve]" in run.stdout and "make serve-env" in run.stdout
