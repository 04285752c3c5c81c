PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-all lint bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/spmopt demo --out out/demo
	$(BIN)/spmopt backtest $(foreach p,linear_commission quota_bonus_accelerator progressive_commission gated_bonus spiff_campaign,--plan scenarios/plans/$(p).yaml) \
	  --actuals scenarios/history/actuals.csv --quotas scenarios/history/quotas.csv --out out/demo/backtest
	$(BIN)/spmopt simulate --reps scenarios/sim/reps.csv $(foreach p,linear_commission quota_bonus_accelerator progressive_commission,--plan scenarios/plans/$(p).yaml) \
	  --stress scenarios/sim/stress.yaml --trials 500 --seed 1 --out out/demo/simulate

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ''

lint: $(STAMP)
	$(BIN)/ruff check spmopt tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) out
