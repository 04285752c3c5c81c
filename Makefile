PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow test-all lint bench clean

# uv (from PyPI) installs in seconds; pip is the fallback if uv cannot be had or fails. Bytecode is compiled at
# install (as pip does): without it every process compiles NumPy, pandas … again when PYTHONDONTWRITEBYTECODE is set
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	( $(BIN)/python -m pip install --quiet uv && $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[test]' ) \
	  || ( $(BIN)/python -m pip install --quiet --upgrade pip && $(BIN)/python -m pip install --quiet -e '.[test]' )
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/spmopt run scenarios/demo.yaml --out out/demo

# the fast suite on every core (pytest-xdist; one file per worker, so module fixtures are built once)
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist loadfile

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ''

lint: $(STAMP)
	$(BIN)/ruff check spmopt tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) out
