"""A wheel builds from the source tree and works installed elsewhere (issue 26: README's install from a clone).

``pip wheel --no-deps --no-build-isolation`` (offline: setuptools and wheel of the current environment) on a copy of
the tree, so the checkout gets no build/ or egg-info; the wheel holds every module and the package data; installed
with ``pip install --no-deps --target``, ``import ran_edge, ran_edge.runtime`` works from there alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DATA = ("ran_edge/video/synthetic_face_hog.json", "ran_edge/conformance/trt_null_stub.c")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "ran_edge", src / "ran_edge", ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyc"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp / "dist"), "."], cwd=src, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheels = list((tmp / "dist").glob("ran_edge-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_holds_every_module_and_the_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "ran_edge").rglob("*.py") if "__pycache__" not in p.parts}
    assert modules and modules <= names, sorted(modules - names)[:10]
    assert set(PACKAGE_DATA) <= names
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "ran-edge = ran_edge.__main__:entry" in zipfile.ZipFile(wheel).read(entry).decode()


def test_installed_wheel_imports_on_its_own(wheel, tmp_path):
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target),
                           str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)
    code = ("import ran_edge, ran_edge.runtime, ran_edge.conformance.wheels as w; "
            "print(ran_edge.__file__); print(w.STUB_SOURCE.is_file())")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    where, stub = proc.stdout.split()
    assert Path(where).resolve().is_relative_to(target.resolve()) and stub == "True"
