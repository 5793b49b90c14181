#!/usr/bin/env bash
# One prepared GPU check for ran-edge: run it on a machine with an NVIDIA GPU and read the results folder.
#
#   benchmarks/gpu_check.sh [OUT_DIR]          (default: benchmarks/results/gpu-check-<UTC time>)
#
# Steps (each logged; a failed optional step is recorded and the rest still runs):
#   1. machine facts (nvidia-smi, nvcc, python, JetPack release if any)
#   2. a venv (VENV, default .venv-gpu; --system-site-packages so JetPack's tensorrt/pycuda are visible),
#      and `pip install -e .[export,quantize,trt,dev]` plus onnxruntime-gpu (optional). Offline machines:
#      set WHEELS=/path/to/wheels (pip --no-index --find-links) or SKIP_INSTALL=1 to use what is installed.
#   3. the C++/CUDA kernels (cmake, CUDA on) and their ctest tests
#   4. pytest -m "trt or gpu" (junit XML + the skip reasons)
#   5. a short bench: benchmarks/gpu_check.py (engines fp32/fp16/int8 of a full-size RAN, latency, parity)
# Exit status: 0 when steps 3-5 passed, 1 otherwise (see summary.txt).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-benchmarks/results/gpu-check-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
VENV="${VENV:-.venv-gpu}"
PYTHON="${PYTHON:-python3}"
exec > >(tee "$OUT/log.txt") 2>&1
status=0
note() { echo "$*" | tee -a "$OUT/summary.txt"; }

echo "== 1. machine"
nvidia-smi | tee "$OUT/nvidia-smi.txt" || { note "FAIL: nvidia-smi: no NVIDIA GPU/driver here"; exit 1; }
(command -v nvcc && nvcc --version) > "$OUT/nvcc.txt" 2>&1 || echo "nvcc not found" > "$OUT/nvcc.txt"
cat /etc/nv_tegra_release > "$OUT/jetson.txt" 2>/dev/null || echo "not a Jetson" > "$OUT/jetson.txt"

echo "== 2. environment ($VENV)"
if [ ! -x "$VENV/bin/python" ]; then "$PYTHON" -m venv --system-site-packages "$VENV" || { note "FAIL: venv"; exit 1; }; fi
PY="$VENV/bin/python"
if [ "${SKIP_INSTALL:-0}" != "1" ]; then
  PIP=("$PY" -m pip install -q)
  if [ -n "${WHEELS:-}" ]; then PIP+=(--no-index --find-links "$WHEELS"); fi
  "${PIP[@]}" -e '.[export,quantize,trt,dev]' || note "WARN: pip install -e .[export,quantize,trt,dev] failed (offline? set WHEELS=...)"
  "${PIP[@]}" onnxruntime-gpu || note "note: onnxruntime-gpu not installed (ORT CUDA provider is optional)"
fi
"$PY" - > "$OUT/versions.txt" 2>&1 <<'PYEOF'
import importlib
for name in ("ran_edge", "numpy", "torch", "onnx", "onnxruntime", "tensorrt", "polygraphy", "cuda.bindings", "pycuda"):
    try:
        mod = importlib.import_module(name)
        print(f"{name}: {getattr(mod, '__version__', 'present')}")
    except Exception as exc:  # report, never stop
        print(f"{name}: MISSING ({type(exc).__name__}: {exc})")
try:
    import torch
    print("torch.cuda:", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
except Exception:
    pass
PYEOF
cat "$OUT/versions.txt"

echo "== 3. kernels (cmake, CUDA on)"
if cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DRAN_EDGE_BUILD_CUDA=ON > "$OUT/cmake.txt" 2>&1 \
   && cmake --build build-gpu -j"$(nproc)" >> "$OUT/cmake.txt" 2>&1; then
  ctest --test-dir build-gpu --output-on-failure > "$OUT/ctest.txt" 2>&1 && note "ok: kernels built, ctest passed" \
    || { note "FAIL: ctest (see ctest.txt)"; status=1; }
  export RAN_EDGE_KERNELS_LIB="$(pwd)/build-gpu"
else
  note "FAIL: kernel build (see cmake.txt)"; status=1
fi

echo "== 4. pytest -m 'trt or gpu'"
if "$PY" -m pytest -m "trt or gpu" -rs -q -p no:cacheprovider --junitxml "$OUT/pytest-gpu.xml" -s > "$OUT/pytest-gpu.txt" 2>&1; then
  note "ok: pytest -m 'trt or gpu': $(tail -n 1 "$OUT/pytest-gpu.txt")"
else
  note "FAIL: pytest -m 'trt or gpu': $(tail -n 1 "$OUT/pytest-gpu.txt")"; status=1
fi
grep -E "^SKIPPED" "$OUT/pytest-gpu.txt" > "$OUT/skips.txt" || true

echo "== 5. bench"
if "$PY" benchmarks/gpu_check.py --out "$OUT" > "$OUT/bench.txt" 2>&1; then
  note "ok: bench -> $OUT/gpu_bench.json, $OUT/gpu_bench.md"
else
  note "FAIL: bench (see bench.txt)"; status=1
fi
echo "== summary"; cat "$OUT/summary.txt"
exit $status
