"""The runtime, the engine planner and the CLI import without torch and without tensorrt (a Jetson
without the export extra), and ``ran-edge --help`` works there."""

from __future__ import annotations

import subprocess
import sys

BLOCK = "import sys; sys.modules['torch'] = None; sys.modules['tensorrt'] = None; sys.modules['torchvision'] = None; "


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True, text=True, timeout=120)


def test_import_without_torch_and_tensorrt():
    code = ("import ran_edge, ran_edge.runtime, ran_edge.engine, ran_edge.cli.main, ran_edge.cli.build_engine, "
            "ran_edge.cli.inspect, ran_edge.cuda; "
            "from ran_edge.runtime import load, Classifier, OrtRunner, TrtRunner, TorchScriptRunner; "
            "from ran_edge.engine import plan_build, trtexec_command; "
            "p = ran_edge.cli.main.build_parser(); "
            "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]; "
            "assert sys.modules['tensorrt'] is None; print('ok')")
    res = _run(code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_cli_help_without_torch_and_tensorrt():
    for argv in ([], ["build-engine"], ["inspect"]):
        res = _run(f"from ran_edge.cli.main import main; sys.argv = ['ran-edge']; raise SystemExit(main({argv + ['--help']!r}))")
        assert res.returncode == 0, res.stderr
        assert "usage: ran-edge" in res.stdout


def test_trt_runner_without_tensorrt_is_a_clear_error(tmp_path):
    code = ("from ran_edge.runtime import TrtRunner\n"
            "from ran_edge.errors import MissingDependencyError\n"
            "try:\n    TrtRunner('x.engine').activate()\n"
            "except MissingDependencyError as e:\n    print(e)\n")
    res = _run(code)
    assert res.returncode == 0, res.stderr
    assert "'tensorrt' is not installed" in res.stdout and "pip install 'ran-edge[trt]'" in res.stdout
