"""Calibration (spmopt.sim.calibrate): closed forms, recovery of known parameters from the model's own history,
the command line and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from spmopt.cli import app
from spmopt.data.history import sim_reps
from spmopt.data.io import read_table
from spmopt.plans import load_plan
from spmopt.sim import Behaviour, read_reps
from spmopt.sim.calibrate import (
    MOMENTS,
    CalibrationError,
    History,
    calibrate,
    deal_sizes,
    read_history,
    synthetic_history,
)

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "scenarios" / "plans" / "quota_bonus_accelerator.yaml"
HISTORY = ROOT / "scenarios" / "history"
TRUTH = {"effort_curvature": 3.0, "timing_cost": 0.1}
runner = CliRunner()


def _reps(n: int, seed: int = 5):
    df = sim_reps(n, seed=seed).assign(cycle_days=60.0, skill=1.0)
    return df, read_reps(df)


def _truth(psi: float = 3.0, tau: float = 0.1) -> Behaviour:
    return Behaviour(mode="full", grid=41, effort_steps=12, effort_curvature=psi, push_loss=tau, pull_loss=tau)


# ------------------------------------------------------------------------------------------------- closed forms
def test_deal_sizes_closed_form():
    """Mean deal size per rep and pooled log-normal CV from deal values (known answer, 4,000 deals)."""
    rng = np.random.default_rng(1)
    cv, means = 0.8, {"A": 20000.0, "B": 50000.0}
    s = np.sqrt(np.log1p(cv * cv))
    rows = []
    for rep, m in means.items():
        for v in rng.lognormal(np.log(m) - s * s / 2, s, 2000):
            rows.append((rep, f"2025-{rng.integers(1, 13):02d}-10", "revenue", round(float(v), 2)))
    act = pd.DataFrame(rows, columns=["rep_id", "date", "measure", "value"])
    # two reps are too few for a calibration, but the closed forms only need the deals
    h = History(rep_ids=("A", "B"), years=np.array([2025, 2025]), monthly=np.ones((2, 12)), quota=np.ones(2),
                deals={r: act.loc[act.rep_id == r, "value"].to_numpy() for r in means}, measure="revenue",
                source="<test>")
    mean, cv_hat = deal_sizes(h)
    assert mean == pytest.approx([20000, 50000], rel=0.05)
    assert cv_hat == pytest.approx(cv, rel=0.06)


def test_shipped_history_reads_into_rep_years():
    h = read_history(read_table(HISTORY / "actuals.csv"), read_table(HISTORY / "quotas.csv"), load_plan(PLAN))
    assert len(h) == 25 and h.monthly.shape == (25, 12) and not h.aggregated
    assert h.quota == pytest.approx(np.full(25, h.quota.mean()), rel=0.2)


# --------------------------------------------------------------------------------------------------- recovery
@pytest.mark.slow   # about 25 s alone, a minute on a busy machine
def test_recovery_fast(tmp_path):
    """History drawn from the model at ψ = 3, timing cost 0.1 (40 reps × 5 years, seed 11; the vector engine books
    months, so the reps' deal sizes are given), written as files and read back, calibrated with another seed:
    the truth lies inside the 95 % intervals, and the ψ interval is bounded on both sides (within [0.5, 30])."""
    df, reps = _reps(40)
    plan = load_plan(PLAN)
    act, quo = synthetic_history(reps, plan, _truth(), years=5, seed=11)
    act.to_csv(tmp_path / "actuals.csv", index=False)
    quo.to_csv(tmp_path / "quotas.csv", index=False)
    h = read_history(read_table(tmp_path / "actuals.csv"), read_table(tmp_path / "quotas.csv"), plan)
    assert len(h) == 200 and h.aggregated
    cal = calibrate(h, plan, trials=30, seed=3, evaluations=26, coarse=False,
                    sizes=df[["rep_id", "deal_size_mean", "deal_size_cv"]])
    p = cal.parameters.set_index("parameter")
    for name, truth in TRUTH.items():
        assert p.loc[name, "identified"]
        assert p.loc[name, "ci_low"] <= truth <= p.loc[name, "ci_high"], (name, p.loc[name].to_dict())
    lo, hi = p.loc["effort_curvature", "ci_low"], p.loc["effort_curvature", "ci_high"]
    assert lo > 0.5 and hi < 30, (lo, hi)        # bounded on both sides (ψ is weakly identified: docs/calibration.md)
    assert p.loc["timing_cost", "ci_high"] - p.loc["timing_cost", "ci_low"] < 0.6
    assert list(cal.moments["moment"]) == list(MOMENTS)
    assert cal.evaluations <= 26 + 5
    assert set(cal.reps.columns) >= {"rep_id", "quota", "opportunities_per_year", "deal_size_mean"}


@pytest.mark.slow
def test_recovery_several_truths():
    """Recovery at three parameter values and seeds (40 reps × 6 years, S = 40, 50 evaluations): coverage of the six
    95 % intervals. At nominal coverage two or more misses out of six happen with probability 3 %; one miss (26 %)
    is allowed. Result (docs/calibration.md): all six covered (ψ̂ 4.86, 1.17, 4.17; τ̂ 0.115, 0.009, 0.262)."""
    rows = []
    for psi, tau, seed in [(3.0, 0.1, 21), (2.0, 0.05, 22), (5.0, 0.2, 23)]:
        df, reps = _reps(40, seed=seed)
        plan = load_plan(PLAN)
        act, quo = synthetic_history(reps, plan, _truth(psi, tau), years=6, seed=seed)
        cal = calibrate(act, plan, quo, trials=40, seed=seed + 100, evaluations=50,
                        sizes=df[["rep_id", "deal_size_mean", "deal_size_cv"]])
        for name, truth in (("effort_curvature", psi), ("timing_cost", tau)):
            r = cal.parameters.set_index("parameter").loc[name]
            rows.append((name, truth, r["estimate"], r["ci_low"], r["ci_high"],
                         bool(r["ci_low"] <= truth <= r["ci_high"])))
    table = pd.DataFrame(rows, columns=["parameter", "truth", "estimate", "ci_low", "ci_high", "covered"])
    print(table.to_string())
    assert table["covered"].sum() >= 5, table.to_string()


# ----------------------------------------------------------------------------------------------- identification
def test_history_that_cannot_identify_says_so(tmp_path):
    plan = load_plan(PLAN)
    act = pd.read_csv(HISTORY / "actuals.csv", dtype=str)
    quo = pd.read_csv(HISTORY / "quotas.csv", dtype=str)
    few = act[act.rep_id.isin(["R001", "R002", "R003"])]
    with pytest.raises(CalibrationError, match="3 complete rep-year.*at least 8"):
        read_history(few, quo[quo.rep_id.isin(["R001", "R002", "R003"])], plan)
    # quarterly totals: every quarter's revenue on its last day
    a = act[act.measure == "revenue"].copy()
    d = pd.to_datetime(a["date"])
    a["date"] = (d.dt.to_period("Q").dt.end_time.dt.date).astype(str)
    with pytest.raises(CalibrationError, match="single month"):
        read_history(a, quo, plan)
    yearly = load_plan(ROOT / "scenarios" / "plans" / "linear_commission.yaml")
    if yearly.period != "quarter":
        with pytest.raises(CalibrationError, match="quarterly plan"):
            read_history(act, quo, yearly)


# ------------------------------------------------------------------------------------------------ command line
@pytest.mark.slow   # about 16 s: 100 simulated years per rep-year, 40+ evaluations
def test_cli_calibrate_shipped_history(tmp_path):
    out = tmp_path / "cal"
    res = runner.invoke(app, ["calibrate", "--history", str(HISTORY / "actuals.csv"), "--plan", str(PLAN),
                              "--out", str(out), "--trials", "20", "--seed", "1", "--evaluations", "10"])
    assert res.exit_code == 0, res.output
    for f in ("calibration.json", "fit.csv", "fit.png", "behaviour.yaml", "reps.csv"):
        assert (out / f).exists(), f
    doc = json.loads((out / "calibration.json").read_text())
    assert [p["parameter"] for p in doc["parameters"]] == ["effort_curvature", "timing_cost"]
    assert doc["evaluations"] <= 10 + 5 and doc["rep_years"] == 25
    # the outputs feed the simulator
    import yaml

    from spmopt.sim import simulate

    bh = yaml.safe_load((out / "behaviour.yaml").read_text())
    sim = simulate(out / "reps.csv", [PLAN], trials=5, seed=0, behaviour=bh)
    assert len(sim.rep_ids) == 25


def test_cli_bad_history_names_file_and_column(tmp_path):
    bad = tmp_path / "actuals.csv"
    pd.read_csv(HISTORY / "actuals.csv").drop(columns=["value"]).to_csv(bad, index=False)
    res = runner.invoke(app, ["calibrate", "--history", str(bad), "--plan", str(PLAN), "--quotas",
                              str(HISTORY / "quotas.csv"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "actuals.csv" in res.output and "'value'" in res.output
    res = runner.invoke(app, ["calibrate", "--history", str(bad), "--plan", str(PLAN), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--quotas" in res.output
