"""Background samplers of host memory (RSS), GPU memory and power, while a configuration runs.

Absent sources give ``None``, never an invented number: RSS needs Linux ``/proc`` or psutil; GPU memory
and power need NVML (``pynvml``); Jetson power comes from ``tegrastats`` (``VDD_IN`` / ``POM_5V_IN``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_mb() -> float | None:
    """Resident set size of this process in MiB."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE / 2**20
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil  # type: ignore

        return psutil.Process().memory_info().rss / 2**20
    except Exception:
        return None


#: ``VDD_IN 5012mW/5012mW`` (JetPack 5/6) or ``POM_5V_IN 2000/2000`` (JetPack 4): board input power.
_TEGRA_POWER = re.compile(r"\b(?:VDD_IN|POM_5V_IN)\s+(\d+)(?:mW)?/(\d+)(?:mW)?")


def parse_tegrastats_power_w(line: str) -> float | None:
    """Instantaneous board input power in watts from one ``tegrastats`` line, or None."""
    m = _TEGRA_POWER.search(line)
    return int(m.group(1)) / 1000.0 if m else None


class _Nvml:
    """Tiny NVML reader for one GPU (memory used, power); unusable → every read is None."""

    def __init__(self, device: int = 0):
        self.handle: Any = None
        try:
            import pynvml  # type: ignore

            pynvml.nvmlInit()
            self.nvml = pynvml
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(device)
        except Exception:
            self.handle = None

    def memory_mb(self) -> float | None:
        try:
            return self.nvml.nvmlDeviceGetMemoryInfo(self.handle).used / 2**20 if self.handle else None
        except Exception:
            return None

    def power_w(self) -> float | None:
        try:
            return self.nvml.nvmlDeviceGetPowerUsage(self.handle) / 1000.0 if self.handle else None
        except Exception:
            return None


@dataclass(frozen=True)
class ResourceReport:
    """Peaks and means over one sampled interval (MiB, W, J); None where the source is absent."""

    peak_rss_mb: float | None
    peak_gpu_memory_mb: float | None
    mean_power_w: float | None
    power_source: str | None
    samples: int

    def to_dict(self) -> dict[str, Any]:
        return {"peak_rss_mb": self.peak_rss_mb, "peak_gpu_memory_mb": self.peak_gpu_memory_mb,
                "mean_power_w": self.mean_power_w, "power_source": self.power_source, "samples": self.samples}


class ResourceSampler:
    """``with ResourceSampler(gpu=True) as s: work()`` then ``s.report``.

    Samples every ``interval_s`` in a daemon thread; RSS is also read at start and stop so a short
    run still has a peak. Power: NVML when ``gpu`` and available, else ``tegrastats`` on a Jetson.
    """

    def __init__(self, gpu: bool = False, interval_s: float = 0.01, device: int = 0):
        self.interval_s = interval_s
        self.nvml = _Nvml(device) if gpu else None
        self._rss: list[float] = []
        self._gpu_mem: list[float] = []
        self._power: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tegra: subprocess.Popen | None = None
        self.report: ResourceReport | None = None

    def _sample(self) -> None:
        rss = current_rss_mb()
        if rss is not None:
            self._rss.append(rss)
        if self.nvml is not None and self.nvml.handle is not None:
            mem, power = self.nvml.memory_mb(), self.nvml.power_w()
            if mem is not None:
                self._gpu_mem.append(mem)
            if power is not None:
                self._power.append(power)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _tegra_loop(self, read: Callable[[], str]) -> None:
        while not self._stop.is_set():
            line = read()
            if not line:
                break
            watts = parse_tegrastats_power_w(line)
            if watts is not None:
                self._power.append(watts)

    def __enter__(self) -> "ResourceSampler":
        self._sample()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        if (self.nvml is None or self.nvml.handle is None) and shutil.which("tegrastats"):
            try:
                self._tegra = subprocess.Popen(["tegrastats", "--interval", "100"], stdout=subprocess.PIPE, text=True)
                threading.Thread(target=self._tegra_loop, args=(self._tegra.stdout.readline,), daemon=True).start()
            except OSError:
                self._tegra = None
        return self

    def __exit__(self, *exc: Any) -> None:
        self._sample()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self._tegra is not None:
            self._tegra.terminate()
            self._tegra.wait(timeout=2.0)
        source = None
        if self._power:
            source = "nvml" if (self.nvml is not None and self.nvml.handle is not None) else "tegrastats"
        self.report = ResourceReport(
            max(self._rss) if self._rss else None, max(self._gpu_mem) if self._gpu_mem else None,
            sum(self._power) / len(self._power) if self._power else None, source, len(self._rss))


def energy_per_face_mj(mean_power_w: float | None, seconds: float, faces: int) -> float | None:
    """Millijoules per face = mean power × duration / faces (None without a power reading)."""
    if mean_power_w is None or faces <= 0:
        return None
    return mean_power_w * seconds / faces * 1000.0


def now_ns() -> int:
    return time.perf_counter_ns()
