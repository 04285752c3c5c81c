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
	$(BIN)/spmopt quota --units scenarios/northeast/units.csv --target 400000 --method potential --ratio 0.5:0.7 \
	  --round 100 --out out/demo/quota/current
	$(BIN)/spmopt quota-relief --units scenarios/northeast/units.csv --quotas out/demo/quota/current/quotas.csv \
	  --after out/demo/assignment.csv --effective 2026-07-01 --out out/demo/quota/relief
	$(BIN)/spmopt quota --reps scenarios/quota/reps.csv --target 21000000 --method equal-chance --growth -0.2:0.5 \
	  --round 1000 --trials 10000 --seed 1 --out out/demo/quota/reps

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
