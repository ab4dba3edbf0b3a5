# Two commands do everything on a fresh machine: `make demo` and `make test`.
# `make setup` (run by both) builds .venv/ and is quick when nothing changed.
#   GPU=1            CUDA torch, onnxruntime-gpu and TensorRT instead of the CPU builds
#   TORCH_SPEC=...   any other torch, e.g. TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
PYTHON ?= python3.11
VENV ?= .venv
GPU ?= 0
ifeq ($(GPU),1)
TORCH_SPEC ?= torch==2.13.0
REQUIREMENTS := requirements.txt requirements-gpu.txt
else
TORCH_SPEC ?= torch==2.13.0
REQUIREMENTS := requirements.txt
endif
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-$(GPU)

.PHONY: setup test demo clean

setup: $(STAMP)

$(STAMP): $(REQUIREMENTS) requirements-build.txt setup.py package.xml Makefile scripts/setup_env.sh scripts/build_vision_msgs.sh $(wildcard msg/*/msg/*.msg)
	@PYTHON="$(PYTHON)" VENV="$(VENV)" GPU="$(GPU)" TORCH_SPEC="$(TORCH_SPEC)" bash scripts/setup_env.sh
	@touch $@

test: setup
	@bash scripts/run_tests.sh

demo: setup
	@$(PY) -m ar_ros.demo $(DEMO_ARGS)

clean:
	rm -rf $(VENV) build install log
