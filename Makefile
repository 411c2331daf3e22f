# Verbs of simengine. Each one bootstraps .venv from nothing (only python3.11 and make needed).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DRAWS  ?= 1000

.PHONY: run test test-fast bench docs lint clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or: make PYTHON=python3 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

# numba's cache checks only the file of a cached function, and the kernels inline helpers from
# their sibling modules: after a change to any of them, the compiled kernels are dropped
KERNELS := $(VENV)/.kernels
$(KERNELS): $(STAMP) $(wildcard simengine/kernels/*.py) simengine/codes.py
	rm -rf simengine/kernels/__pycache__/*.nbi simengine/kernels/__pycache__/*.nbc .numba_cache
	@touch $(KERNELS)

run: $(STAMP) $(KERNELS)
	$(BIN)/simengine run scenarios/baseline.yaml -n $(DRAWS) --seed 42 -o out/baseline.nc --plots out/

test: $(STAMP) $(KERNELS)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP) $(KERNELS)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP) $(KERNELS)
	$(BIN)/python -m pytest benchmarks -q --benchmark-only --benchmark-columns=min,mean,rounds

lint: $(STAMP)
	$(BIN)/python -m ruff check simengine tests benchmarks

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis .benchmarks
