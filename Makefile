# Two commands do all setup on a fresh machine:  make demo   and   make test
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.ran-edge-installed
TORCH   ?= torch==2.14.1 torchvision==0.29.1
EXTRAS  ?= train,export,quantize,video,bench,client,dev
DEMO_OUT ?= demo_out

SERVE_VENV   ?= .venv-serve
SERVE_PY     := $(SERVE_VENV)/bin/python
SERVE_STAMP  := $(SERVE_VENV)/.ran-edge-serve-installed
# pyenv or Debian python both work (libpython fix in ran_edge/serve/server.py)
SERVE_PYTHON ?= python3

.PHONY: install kernels test test-hostile demo serve-env modelopt-env bench-triton gpu-check clean trt-conformance trt-headers

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PY) -m pip --version >/dev/null 2>&1 || (rm -rf $(VENV) && python3 -m venv $(VENV))
	@echo "make install: PyTorch, then ran-edge with the extras $(EXTRAS) into $(VENV) (about 2 minutes on a fresh machine)"
	$(PY) -m pip install $(TORCH)
	$(PY) -m pip install -e '.[$(EXTRAS)]'
	@touch $(STAMP)

# C++ reference + CUDA library of the fused region-batch kernel (CUDA only when nvcc is found).
kernels:
	@if [ -f CMakeLists.txt ]; then \
	  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j2; \
	else echo "no CMakeLists.txt: skipping kernels"; fi

# NVIDIA Model Optimizer, only for the side-by-side INT8 benchmark (benchmarks/int8_fidelity.py): its [onnx] extra
# pins onnxruntime-gpu, which cannot share a venv with ran-edge's onnxruntime, so it gets a venv of its own.
MODELOPT_VENV ?= .venv-modelopt
modelopt-env:
	@$(MODELOPT_VENV)/bin/python -m pip --version >/dev/null 2>&1 || python3 -m venv $(MODELOPT_VENV)
	$(MODELOPT_VENV)/bin/python -m pip install $(TORCH)
	$(MODELOPT_VENV)/bin/python -m pip install 'nvidia-modelopt[onnx]==0.47.0' requests huggingface_hub

# Serving (PyTriton) lives in its own venv: nvidia-pytriton pins numpy<2.
serve-env: $(SERVE_STAMP)

$(SERVE_STAMP): pyproject.toml
	@$(SERVE_PY) -m pip --version >/dev/null 2>&1 || (rm -rf $(SERVE_VENV) && $(SERVE_PYTHON) -m venv $(SERVE_VENV))
	$(SERVE_PY) -m pip install -q -e '.[serve]'
	@touch $(SERVE_STAMP)

test: $(STAMP) kernels serve-env trt-conformance
	@if [ -f build/CTestTestfile.cmake ]; then ctest --test-dir build --output-on-failure; fi
	$(PY) -m pytest -q

# The hostile-input suite alone (also part of make test): every command and API under bad input.
test-hostile: $(STAMP)
	$(PY) -m pytest -q tests/hostile

# ran-edge's TensorRT code walked against NVIDIA's real Python bindings of every supported TensorRT
# (wheels fetched once into .trt-conformance/ with pip, null TensorRT stub built with cc). Names and
# arities only, never behaviour. Fails (exit 2, with the reason) when a wheel cannot be downloaded.
trt-conformance: $(STAMP)
	$(PY) -m ran_edge.conformance

# The plugin compiled against NVIDIA's vendored TensorRT headers (8.5.2 ... 11.1), CMake's TensorRT detection,
# the CUDA kernel per arch (also part of the pytest run of make test).
trt-headers: $(STAMP)
	$(PY) -m pytest -q tests/kernels/test_trt_headers.py

demo: $(STAMP) kernels
	$(VENV)/bin/ran-edge demo --out $(DEMO_OUT) --video

bench-triton: $(STAMP) serve-env
	$(PY) benchmarks/triton_load.py --make-artifact runs/triton_load/model.onnx
	$(SERVE_PY) benchmarks/triton_load.py --artifact runs/triton_load/model.onnx --requests 60

# On a machine with an NVIDIA GPU (and TensorRT wheels or JetPack): TensorRT + CUDA tests and a short bench.
gpu-check:
	bash benchmarks/gpu_check.sh

clean:
	rm -rf build $(DEMO_OUT) .pytest_cache
