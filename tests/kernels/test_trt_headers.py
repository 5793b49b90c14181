"""The TensorRT plugin against NVIDIA's real headers (third_party/tensorrt-headers), compile only.

* CMake reads the TensorRT major version of every header set (both ``NvInferVersion.h`` styles),
  configured against the headers plus the null ``libnvinfer`` stub; the top-level project then picks
  the right plugin source (the 8.x case was skipped before: "major version '' < 8").
* The plugin compiles against each header set with the headers as ``-isystem`` and our code under
  ``-Wall -Wextra -Werror``: IPluginV2DynamicExt on 8.5.2/8.6.1, IPluginV3 on 10.3.0/10.13.3/11.1.
* The CUDA kernels (boxes and tap tables) compile for sm_72 (Xavier), sm_87 (Orin) and sm_90 where the installed nvcc has them.

Nothing is linked against or run on TensorRT here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEADERS = ROOT / "third_party" / "tensorrt-headers"
STUB = ROOT / "ran_edge" / "conformance" / "trt_null_stub.c"
MAJOR = {"8.5.2": 8, "8.6.1": 8, "10.3.0": 10, "10.13.3": 10, "11.1": 11}
PLUGIN = {8: "region_batch_plugin_v2.cpp", 10: "region_batch_plugin_v3.cpp", 11: "region_batch_plugin_v3.cpp"}
OUR_FLAGS = ["-std=c++17", "-Wall", "-Wextra", "-Werror"]


def _tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/local/cuda/bin/{name}" if Path(f"/usr/local/cuda/bin/{name}").exists() else None)
    if path is None:
        pytest.fail(f"{name} not found: the TensorRT header checks need it (make test installs nothing for it)")
    return path


def _cuda_include() -> Path:
    for base in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if base and (Path(base) / "include" / "cuda_runtime_api.h").is_file():
            return Path(base) / "include"
    nvcc = shutil.which("nvcc")
    if nvcc:
        inc = Path(os.path.realpath(nvcc)).parents[1] / "include"
        if (inc / "cuda_runtime_api.h").is_file():
            return inc
    pytest.skip("no CUDA toolkit headers (cuda_runtime_api.h), which NvInferRuntime.h includes")


@pytest.fixture(scope="module")
def stub_lib(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stub") / "libnvinfer.so"
    subprocess.run([_tool("cc"), "-shared", "-fPIC", str(STUB), "-o", str(out)], check=True)
    return out


def _trt_root(tmp_path: Path, version: str, stub: Path) -> Path:
    root = tmp_path / f"tensorrt-{version}"
    (root / "lib").mkdir(parents=True)
    (root / "include").symlink_to(HEADERS / version / "include")
    (root / "lib" / "libnvinfer.so").symlink_to(stub)
    return root


def _configure(src: Path, build: Path, *args: str) -> str:
    proc = subprocess.run([_tool("cmake"), "-S", str(src), "-B", str(build), *args], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.parametrize("version", sorted(MAJOR))
def test_cmake_reads_major_version(version, tmp_path, stub_lib):
    root = _trt_root(tmp_path, version, stub_lib)
    out = _configure(ROOT / "csrc" / "tests" / "trt_detect", tmp_path / "build", f"-DTENSORRT_ROOT={root}")
    m = re.search(r"ran-edge-trt-detect: include=(\S*) library=(\S*) major=(\S*)", out)
    assert m, out
    assert (m.group(1), m.group(2), m.group(3)) == (str(root / "include"), str(root / "lib" / "libnvinfer.so"),
                                                    str(MAJOR[version]))


def test_top_level_cmake_builds_the_8x_plugin(tmp_path, stub_lib):
    """JetPack 6.0 (TensorRT 8.6.1 headers): the top-level project selects the IPluginV2DynamicExt source."""
    _tool("nvcc")
    root = _trt_root(tmp_path, "8.6.1", stub_lib)
    out = _configure(ROOT, tmp_path / "build", f"-DTENSORRT_ROOT={root}", "-DRAN_EDGE_BUILD_TESTS=OFF")
    assert f"building libran_edge_trt_plugin (IPluginV2DynamicExt, TensorRT 8) from {root / 'include'}" in out, out


@pytest.mark.parametrize("version", sorted(MAJOR))
def test_plugin_compiles_without_warnings(version, tmp_path):
    cxx = os.environ.get("CXX") or _tool("g++")
    cuda = _cuda_include()
    sources = [ROOT / "csrc" / "trt" / PLUGIN[MAJOR[version]], ROOT / "csrc" / "trt" / "plugin_fields.cpp"]
    for src in sources:
        cmd = [cxx, *OUR_FLAGS, "-isystem", str(HEADERS / version / "include"), "-isystem", str(cuda),
               "-I", str(ROOT / "csrc"), "-c", str(src), "-o", str(tmp_path / (src.stem + ".o"))]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0 and not proc.stderr.strip(), f"{src.name} with TensorRT {version}:\n{proc.stderr[-3000:]}"


@pytest.mark.parametrize("arch", ["72", "87", "90"])
def test_cuda_kernel_compiles(arch, tmp_path):
    nvcc = _tool("nvcc")
    listed = subprocess.run([nvcc, "--list-gpu-arch"], capture_output=True, text=True).stdout
    if f"compute_{arch}" not in listed:
        version = re.search(r"release [\d.]+", subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout)
        pytest.skip(f"sm_{arch}: not in `nvcc --list-gpu-arch` of this nvcc ({version.group(0) if version else '?'}); "
                    "compile it with a CUDA 12 toolkit (JetPack 5/6)")
    for source in ("region_batch_cuda.cu", "region_batch_taps_cuda.cu"):  # boxes; tap tables (float and Pillow uint8)
        cmd = [nvcc, "-std=c++17", "-I", str(ROOT / "csrc"), "-gencode", f"arch=compute_{arch},code=sm_{arch}",
               "-Werror", "all-warnings", "-Xcompiler", "-Wall,-Wextra,-Werror", "-c", str(ROOT / "csrc" / source),
               "-o", str(tmp_path / "k.o")]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{source}: {proc.stderr[-3000:]}"
