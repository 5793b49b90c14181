# Two commands do all setup on a fresh machine:  make demo   and   make test
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.ran-edge-installed
TORCH   ?= torch==2.14.1 torchvision==0.29.1
EXTRAS  ?= train,export,quantize,video,bench,dev
DEMO_OUT ?= demo_out

.PHONY: install kernels test test-fast demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[$(EXTRAS)]'
	@touch $(STAMP)

# C++ reference + CUDA library of the fused region-batch kernel (CUDA only when nvcc is found).
kernels:
	@if [ -f CMakeLists.txt ]; then \
	  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j2; \
	else echo "no CMakeLists.txt: skipping kernels"; fi

test: $(STAMP) kernels
	@if [ -f build/CTestTestfile.cmake ]; then ctest --test-dir build --output-on-failure; fi
	$(PY) -m pytest -q

demo: $(STAMP) kernels
	$(VENV)/bin/ran-edge demo --out $(DEMO_OUT)

clean:
	rm -rf build $(DEMO_OUT) .pytest_cache
