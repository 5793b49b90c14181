#!/usr/bin/env bash
# Every region-batch check that needs a CUDA device, as one prepared run (for a machine with a GPU):
# builds for the local GPU only (fast), runs ctest (CUDA vs CPU parity, zero-copy entry on a stream, error flag,
# kernel timing) and the `gpu`-marked pytest tests against that build. Run from the repository root:
#     bash csrc/tests/gpu_check.sh [python]        (python: default .venv/bin/python, else python3)
set -euo pipefail
py=${1:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n1 | tr -d '. ')
cmake -S . -B build/gpu -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="${arch}" >/dev/null
cmake --build build/gpu -j"$(nproc)"
ctest --test-dir build/gpu --output-on-failure -V -R region_batch_cuda | grep -E "kind=|kernel:|checks|skipped|Passed|Failed"
ctest --test-dir build/gpu --output-on-failure
if "${py}" -c "import numpy, ran_edge" 2>/dev/null; then
  RAN_EDGE_KERNELS_LIB="$PWD/build/gpu" "${py}" -m pytest -q -rs -p no:cacheprovider tests/kernels/test_cuda_parity.py
else
  echo "python with numpy + ran_edge not found: skipped the pytest part"
fi
