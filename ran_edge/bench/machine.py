"""What machine a bench ran on: CPU, cores, memory, GPU and driver, package versions, git commit.

Everything is read, never guessed: a fact that cannot be read is ``None``. The nominal peak FP32
FLOP/s is an *estimate* from the CPU flags and clock (stated with its formula) so results can be put
against the machine's limit.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

from ran_edge import __version__


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def cpu_info(cpuinfo_text: str | None = None) -> dict[str, Any]:
    """CPU model, logical cores, SIMD flags and clock from ``/proc/cpuinfo`` (Linux) or platform."""
    text = cpuinfo_text if cpuinfo_text is not None else (_read("/proc/cpuinfo") or "")
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags_m = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", text, re.M)
    flags = set(flags_m.group(1).split()) if flags_m else set()
    mhz = [float(m) for m in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", text, re.M)]
    max_khz = _read("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    clock = float(max_khz) / 1000.0 if max_khz and max_khz.strip().isdigit() else (max(mhz) if mhz else None)
    simd = "avx512" if "avx512f" in flags else "avx2-fma" if {"avx2", "fma"} <= flags else \
        "neon" if ("asimd" in flags or "neon" in flags) else "sse" if flags else None
    return {"model": model.group(1).strip() if model else (platform.processor() or None),
            "int8_dot_product": int8_dot_product(flags),
            "logical_cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "clock_mhz": clock, "simd": simd, "machine": platform.machine()}


#: CPU flags of instructions that multiply-add int8 into int32 in one step (x86 VNNI / AMX, Arm dot product / i8mm)
INT8_DOT_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni", "i8mm", "asimddp")


def int8_dot_product(flags: set[str]) -> str | None:
    """The CPU's one-step int8 dot-product instruction set (``None``: none; on x86 AVX2 then int8 GEMMs go
    through ``VPMADDUBSW`` + ``VPMADDWD``, about 2x the multiply-adds per instruction of FP32 FMA, not 4x)."""
    return next((f for f in INT8_DOT_FLAGS if f in flags), None)


#: FP32 FLOPs per cycle per core by SIMD class (2 FMA units: avx512 2×16×2, avx2 2×8×2, neon 2×4×2).
FLOPS_PER_CYCLE = {"avx512": 64, "avx2-fma": 32, "neon": 16, "sse": 8}


def nominal_peak_flops(cpu: Mapping[str, Any]) -> dict[str, Any] | None:
    """Nominal FP32 peak = usable cores × clock × FLOPs/cycle (an upper bound, not a measurement)."""
    simd = cpu.get("simd") or ""
    per_cycle = FLOPS_PER_CYCLE.get(simd)
    note = "2 FMA units assumed"
    if simd == "avx512" and "amd" in str(cpu.get("model") or "").lower():
        per_cycle, note = 32, "AMD Zen 4 runs 512-bit FMAs as two 256-bit halves: 32 FLOP/cycle"
    cores, mhz = cpu.get("usable_cores"), cpu.get("clock_mhz")
    if not per_cycle or not cores or not mhz:
        return None
    return {"flops_per_s": cores * mhz * 1e6 * per_cycle, "formula":
            f"{cores} logical cores x {mhz:.0f} MHz x {per_cycle} FP32 FLOP/cycle ({simd}; {note}); at the reported "
            "clock, so turbo can exceed it and SMT siblings share units: a yardstick, not a hard limit"}


def memory_total_mb() -> float | None:
    text = _read("/proc/meminfo")
    m = re.search(r"^MemTotal:\s*(\d+)\s*kB", text or "", re.M)
    return int(m.group(1)) / 1024.0 if m else None


def gpu_info() -> list[dict[str, Any]]:
    """GPUs from NVML (``pynvml``) or ``nvidia-smi``; empty when there is none."""
    try:
        import pynvml  # type: ignore

        pynvml.nvmlInit()
        try:
            driver = pynvml.nvmlSystemGetDriverVersion()
            out = []
            for i in range(pynvml.nvmlDeviceGetCount()):
                h = pynvml.nvmlDeviceGetHandleByIndex(i)
                name = pynvml.nvmlDeviceGetName(h)
                mem = pynvml.nvmlDeviceGetMemoryInfo(h)
                out.append({"index": i, "name": name.decode() if isinstance(name, bytes) else name,
                            "driver": driver.decode() if isinstance(driver, bytes) else driver,
                            "memory_total_mb": mem.total / 2**20})
            return out
        finally:
            pynvml.nvmlShutdown()
    except Exception:
        pass
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        text = subprocess.run([smi, "--query-gpu=index,name,driver_version,memory.total", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 4:
            gpus.append({"index": int(parts[0]), "name": parts[1], "driver": parts[2], "memory_total_mb": float(parts[3])})
    return gpus


def package_versions() -> dict[str, str | None]:
    """Versions of the packages a result depends on (None when not installed); no heavy import."""
    from importlib import metadata

    out: dict[str, str | None] = {"ran-edge": __version__, "python": platform.python_version()}
    for dist in ("numpy", "torch", "torchvision", "onnx", "onnxruntime", "onnxruntime-gpu", "tensorrt", "opencv-python-headless"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def git_commit(start: str | Path | None = None) -> dict[str, Any]:
    """HEAD commit and whether the tree is dirty, of the repository holding ``start`` (None outside one)."""
    cwd = str(start or Path(__file__).resolve().parent)
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10)
        return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip()) if dirty.returncode == 0 else None}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def machine_info(argv: list[str] | None = None) -> dict[str, Any]:
    """Everything about the host for ``bench.json``'s ``machine`` section."""
    cpu = cpu_info()
    return {"hostname": platform.node(), "os": platform.platform(), "cpu": cpu,
            "nominal_peak_fp32": nominal_peak_flops(cpu), "memory_total_mb": memory_total_mb(),
            "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "gpus": gpu_info(), "jetson": Path("/etc/nv_tegra_release").exists(),
            "versions": package_versions(), "git": git_commit(),
            "command_line": list(argv if argv is not None else sys.argv)}


def machine_slug(cpu: Mapping[str, Any] | None = None) -> str:
    """A folder name for committed results, e.g. ``cpu-epyc-2c`` or ``gpu-h200``."""
    cpu = cpu or cpu_info()
    gpus = gpu_info()
    if gpus:
        name = re.sub(r"[^a-z0-9]+", "-", gpus[0]["name"].lower().replace("nvidia", "")).strip("-")
        return f"gpu-{name}"
    model = (cpu.get("model") or "cpu").lower()
    word = next((w for w in ("epyc", "xeon", "ryzen", "core", "graviton", "neoverse", "cortex") if w in model), "cpu")
    return f"cpu-{word}-{cpu.get('usable_cores') or '?'}c"
