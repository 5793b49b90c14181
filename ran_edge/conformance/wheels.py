"""NVIDIA's TensorRT Python bindings wheels and the null TensorRT libraries they import against.

The wheels (``tensorrt-bindings`` for 8.x, ``tensorrt-cu12-bindings`` for 10.x/11.x, about 1.3 MB
each) are fetched once with the interpreter's own ``pip download`` into a git-ignored cache and
unpacked there; the null stub (:file:`trt_null_stub.c`) is compiled with the C compiler under every
soname the bindings need. No TensorRT library is ever downloaded or run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Tuple

from ran_edge.errors import RanEdgeError

STUB_SOURCE = Path(__file__).with_name("trt_null_stub.c")
STUB_LIBS = ("nvinfer", "nvonnxparser", "nvinfer_plugin", "nvparsers")


@dataclass(frozen=True)
class Target:
    """One TensorRT version the conformance check covers."""

    version: str
    package: str
    where: str

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


#: The versions checked by ``make trt-conformance`` (the wheel versions NVIDIA publishes on PyPI).
TARGETS: Tuple[Target, ...] = (
    Target("8.6.1", "tensorrt-bindings", "JetPack 6.0, desktop 8.6"),
    Target("10.0.1", "tensorrt-cu12-bindings", "desktop 10.0"),
    Target("10.3.0", "tensorrt-cu12-bindings", "JetPack 6.1/6.2"),
    Target("10.13.3.9", "tensorrt-cu12-bindings", "desktop 10.13"),
    Target("11.0.0.114", "tensorrt-cu12-bindings", "desktop 11.0"),
    Target("11.4.0.106", "tensorrt-cu12-bindings", "desktop 11.4"),
)


#: The oldest Polygraphy that works on every target (0.49.x reads EXPLICIT_BATCH / ILayer.precision_is_set,
#: gone in TensorRT 11); ``pyproject.toml`` pins ``polygraphy>=POLYGRAPHY_FLOOR``. The walk runs with the
#: installed Polygraphy and with this floor.
POLYGRAPHY_FLOOR = "0.50.3"


class WheelUnavailable(RanEdgeError):
    """A bindings wheel could not be downloaded or unpacked (the reason is the message)."""


def wheel_site(target: Target, cache: Path) -> Path:
    """Download (once) and unpack the bindings wheel of ``target``; the folder to put on ``sys.path``."""
    return _unpacked(f"{target.package}=={target.version}", cache / "site" / target.version, cache, "tensorrt_bindings")


def polygraphy_site(version: str, cache: Path) -> Path:
    """Download (once) and unpack Polygraphy ``version`` (pure Python); the folder to put first on ``sys.path``."""
    return _unpacked(f"polygraphy=={version}", cache / "polygraphy" / version, cache, "polygraphy")


def _unpacked(spec: str, site: Path, cache: Path, package: str) -> Path:
    if (site / package / "__init__.py").is_file():
        return site
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    name, version = spec.split("==")
    wheel = _find_wheel(wheels, name, version)
    if wheel is None:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--dest", str(wheels), spec]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheel = _find_wheel(wheels, name, version)
        if proc.returncode != 0 or wheel is None:
            lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip() and "WARNING" not in ln]
            raise WheelUnavailable(f"cannot download {spec} with pip (Python {sys.version_info.major}."
                                   f"{sys.version_info.minor}): {lines[-1] if lines else 'no wheel found'}")
    tmp = site.with_name(site.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(tmp)
    except (zipfile.BadZipFile, OSError) as exc:
        raise WheelUnavailable(f"cannot unpack {wheel.name}: {exc}") from exc
    if not (tmp / package / "__init__.py").is_file():
        raise WheelUnavailable(f"{wheel.name} has no {package} package")
    shutil.rmtree(site, ignore_errors=True)
    tmp.rename(site)
    return site


def _find_wheel(folder: Path, name: str, version: str) -> "Path | None":
    found = sorted(folder.glob(name.replace("-", "_") + "-" + version + "-*.whl"))
    return found[-1] if found else None


def build_stubs(cache: Path, majors: Tuple[int, ...]) -> Path:
    """Compile the null stub as ``lib<name>.so.<major>`` (+ unversioned ``lib<name>.so``); the folder."""
    out = cache / "stub"
    out.mkdir(parents=True, exist_ok=True)
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise RanEdgeError("no C compiler (cc/gcc) to build the null TensorRT stub; install build-essential or set CC")
    obj = out / "trt_null_stub.o"
    if not obj.is_file() or obj.stat().st_mtime < STUB_SOURCE.stat().st_mtime:
        _run([cc, "-Wall", "-Wextra", "-Werror", "-fPIC", "-c", str(STUB_SOURCE), "-o", str(obj)])
    for major in majors:
        for lib in STUB_LIBS:
            so = out / f"lib{lib}.so.{major}"
            if not so.is_file() or so.stat().st_mtime < obj.stat().st_mtime:
                _run([cc, "-shared", f"-Wl,-soname,{so.name}", str(obj), "-o", str(so)])
    for lib in STUB_LIBS:  # for find_library(nvinfer) in the CMake detection test
        link = out / f"lib{lib}.so"
        if not link.exists():
            link.symlink_to(f"lib{lib}.so.{max(majors)}")
    return out


def _run(cmd: list) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RanEdgeError(f"{' '.join(cmd[:2])} ... failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")


def walk_env(stub_dir: Path) -> Dict[str, str]:
    """Environment of a walk subprocess: the stubs first on the library path, this checkout importable."""
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (str(stub_dir), env.get("LD_LIBRARY_PATH", "")) if p)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env
