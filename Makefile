# The targets are exactly what CI runs (.ci/run calls `make test`).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
QUICK ?=

.PHONY: all setup check-ffmpeg assets demo test lint typecheck bench fuzz completions docs clean

all: test

check-ffmpeg:
	@command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || { \
	  echo "ffmpeg and ffprobe are required: install them (Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg)"; exit 1; }

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip==26.3
	$(BIN)/python -m pip install -q -e '.[cpu,test]'
	@touch $(STAMP)

setup: check-ffmpeg $(STAMP)

# Models (converted to ONNX) and real test media, into the shared cache.
assets: setup
	$(BIN)/facedubd models fetch
	$(BIN)/facedubd samples fetch

demo: assets
	$(BIN)/python -m bench.demo $(if $(QUICK),--quick,)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

typecheck: setup
	$(BIN)/mypy

test: assets lint
	$(BIN)/python -m pytest
	$(BIN)/python -m bench.reliability_report
	$(MAKE) demo QUICK=1
	$(MAKE) bench QUICK=1

bench: assets
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

fuzz: assets
	FACEDUB_FUZZ_EXAMPLES=2000 $(BIN)/python -m pytest tests/api -k schemathesis
	FACEDUB_LOAD_S=60 $(BIN)/python -m pytest tests/daemon/test_load.py

completions: setup
	$(BIN)/python -m facedub_cli.gen_completions completions

docs: setup
	$(BIN)/python -m facedub_cli.gen_reference README.md

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
