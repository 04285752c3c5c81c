"""Back-test on history: a hand-worked case end to end through the CLI, and input errors that name the cell."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from spmopt.cli import app
from spmopt.plans import PlanError, plan_from_dict
from spmopt.plans.backtest import backtest, parse_period, period_label, read_actuals, read_quotas

PLAN = """
name: Bonus and spiff
target_incentive: 40000
period: quarter
components:
  - type: quota_bonus
    measure: revenue
    curve: [[0, 0], [1, 1]]
  - type: spiff
    amount: 100
    window: [2025-02-01, 2025-03-31]
    product: A
"""

ACTUALS = """rep_id,date,measure,value,product,segment
R1,2025-01-15,revenue,60000,A,SMB
R1,2025-02-10,revenue,30000,A,SMB
R1,2025-03-31,revenue,30000,B,SMB
R1,2025-04-02,revenue,50000,A,SMB
R2,2025-03-01,revenue,20000,A,ENT
R2,2025-07-01,revenue,10000,A,ENT
R3,2025-01-05,revenue,5000,,
"""

QUOTAS = "rep_id,period,measure,quota\n" + "".join(f"R1,2025-{m:02d},revenue,40000\n" for m in range(1, 7)) + \
    "R2,2025-Q1,revenue,50000\n"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "plan.yaml").write_text(PLAN)
    (tmp_path / "a.csv").write_text(ACTUALS)
    (tmp_path / "q.csv").write_text(QUOTAS)
    return tmp_path


def run(files, *extra):
    return CliRunner().invoke(app, ["backtest", "--plan", str(files / "plan.yaml"), "--actuals",
                                    str(files / "a.csv"), "--quotas", str(files / "q.csv"),
                                    "--out", str(files / "out"), *extra])


def test_backtest_hand_worked(files):
    res = run(files)
    assert res.exit_code == 0, res.output
    pay = pd.read_csv(files / "out" / "payouts.csv")
    assert list(pay.columns) == ["plan", "rep_id", "period", "component", "amount"]
    got = {(r.rep_id, r.period, r.component): r.amount for r in pay.itertuples()}
    # R1: monthly quotas summed to 120,000 a quarter. Q1 120,000 → 1.0 × 10,000; one spiff deal (Feb, product A;
    # the 31 March deal is product B). Q2 50,000/120,000 → 4,166.67. R2: Q1 20,000/50,000 → 4,000 + one spiff.
    assert got == {("R1", "2025-Q1", "quota_bonus"): 10000.0, ("R1", "2025-Q1", "spiff"): 100.0,
                   ("R1", "2025-Q2", "quota_bonus"): 4166.67, ("R1", "2025-Q2", "spiff"): 0.0,
                   ("R2", "2025-Q1", "quota_bonus"): 4000.0, ("R2", "2025-Q1", "spiff"): 100.0}
    s = json.loads((files / "out" / "summary.json").read_text())["plans"][0]
    assert s["total_cost"] == pytest.approx(18366.6667, abs=0.01)
    assert s["revenue"] == pytest.approx(190000.0)
    assert s["cost_of_sales"] == pytest.approx(18366.6667 / 190000, rel=1e-6)
    assert s["reps"] == 2 and s["reps_at_or_above_quota"] == 0
    assert s["attainment"]["max"] == pytest.approx(170000 / 240000)
    # R2's Q3 deal (no Q3 quota) and R3 (no quota at all) are not paid, and are counted, not lost
    assert s["excluded_actuals"]["rows"] == 2 and s["excluded_actuals"]["value_by_measure"] == {"revenue": 15000.0}
    assert s["target_incentive"] == pytest.approx(30000.0)   # three active rep-quarters × 10,000
    assert (files / "out" / "curve_bonus_and_spiff.png").stat().st_size > 10_000


def test_backtest_ranks_plans_by_cost(tmp_path):
    """Two plans on the shipped history: the same rows, different costs; 4 % linear costs exactly 4 % of revenue."""
    from spmopt.data.history import sales_history
    from spmopt.plans import library

    a, q = sales_history(n_reps=6, seed=3)
    res = backtest([library.load("linear_commission"), library.load("quota_bonus_accelerator")], a, q)
    lin, qb = (r.summary for r in res)
    total = a.loc[a.measure == "revenue", "value"].sum()
    assert lin["revenue"] == pytest.approx(total) and qb["revenue"] == pytest.approx(total)
    assert lin["cost_of_sales"] == pytest.approx(0.04)
    assert 0 < qb["total_cost"] <= 2.0 * 40000 * 6 + 1e-6   # the bonus cap (2 × target) for 6 reps


def test_shipped_history_is_the_generator_output():
    from pathlib import Path

    from spmopt.data.history import sales_history

    root = Path(__file__).resolve().parents[1] / "scenarios" / "history"
    a, q = sales_history()
    shipped = pd.read_csv(root / "actuals.csv", keep_default_na=False, na_values=[""])
    assert len(shipped) == len(a) and shipped["value"].sum() == pytest.approx(a["value"].sum())
    assert pd.read_csv(root / "quotas.csv")["quota"].tolist() == q["quota"].tolist()


@pytest.mark.parametrize(("text", "label"), [("2025", "2025"), ("2025-Q3", "2025-Q3"), ("2025q3", "2025-Q3"),
                                             ("2025-01", "2025-01"), ("2025-1", "2025-01")])
def test_period_spellings(text, label):
    assert period_label(parse_period(text)) == label


@pytest.mark.parametrize("text", ["2025-13", "2025-Q5", "Q1", "25-01", "2025/01"])
def test_bad_period_spellings(text):
    assert parse_period(text) is None


def frame(text, name):
    from io import StringIO

    df = pd.read_csv(StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
    df = df.astype(object).where(df.notna(), None)
    df.attrs["source"] = name
    return df


@pytest.mark.parametrize(("bad", "where"), [
    (("2025-02-10", "2025-02-30"), "A.csv, row 3, column 'date': '2025-02-30' is not a date"),
    (("30000,A", "30k,A"), "A.csv, row 3, column 'value': '30k' is not a number"),
])
def test_actuals_errors_name_the_cell(bad, where):
    with pytest.raises(Exception, match=where.replace("(", r"\(")):
        read_actuals(frame(ACTUALS.replace(*bad, 1), "A.csv"))


def test_quota_errors_name_the_cell():
    with pytest.raises(Exception, match=r"Q.csv, row 8, column 'period': '2025-Q7' is not a period"):
        read_quotas(frame(QUOTAS.replace("2025-Q1", "2025-Q7"), "Q.csv"))
    with pytest.raises(Exception, match=r"Q.csv, row 2, column 'quota': quota must be > 0"):
        read_quotas(frame(QUOTAS.replace("40000", "0", 1), "Q.csv"))
    short = frame(QUOTAS.replace("R1,2025-02,revenue,40000\n", ""), "Q.csv")
    p = plan_from_dict({"name": "b", "target_incentive": 1, "period": "quarter",
                        "components": [{"quota_bonus": {"measure": "revenue", "curve": [[1, 1]]}}]})
    with pytest.raises(Exception, match=r"cover 2 of the 3 months of 2025-Q1"):
        backtest([p], read_actuals(frame(ACTUALS, "A.csv")), read_quotas(short))


def test_unknown_measure_names_plan_key(files):
    (files / "plan.yaml").write_text(PLAN.replace("measure: revenue", "measure: bookings"))
    res = run(files)
    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert "plan.yaml" in text and "key 'components[0].measure'" in text and "unknown measure 'bookings'" in text


def test_spiff_filter_without_column_is_an_error():
    p = plan_from_dict({"name": "s", "target_incentive": 1, "components": [
        {"commission": {"measure": "revenue", "tiers": [{"from": 0, "rate": 0.1}]}},
        {"spiff": {"amount": 5, "segment": "ENT"}}]}, source="s.yaml")
    a = frame("rep_id,date,measure,value\nR1,2025-01-01,revenue,5\n", "A.csv")
    q = frame("rep_id,period,measure,quota\nR1,2025,revenue,5\n", "Q.csv")
    with pytest.raises(PlanError, match=r"s.yaml: key 'components\[1\].segment': filters on segment"):
        backtest([p], a, q)


def test_cli_plan_check_and_list(tmp_path):
    (tmp_path / "p.yaml").write_text(PLAN)
    r = CliRunner().invoke(app, ["plan", "check", str(tmp_path / "p.yaml"), "--plot", str(tmp_path / "c.png")])
    assert r.exit_code == 0, r.output
    assert "is valid" in r.output and (tmp_path / "c.png").exists()
    (tmp_path / "bad.yaml").write_text(PLAN.replace("[1, 1]", "[1, -1]"))
    r = CliRunner().invoke(app, ["plan", "check", str(tmp_path / "bad.yaml")])
    assert r.exit_code == 2 and "components[0].curve" in " ".join(r.output.split())
    r = CliRunner().invoke(app, ["plan", "list"])
    assert r.exit_code == 0 and "quota_bonus_accelerator" in r.output


def _bt(plan_dict, actuals_text, quotas_text):
    p = plan_from_dict({"name": "x", "target_incentive": 40000, **plan_dict})
    return backtest([p], read_actuals(frame(actuals_text, "A.csv")), read_quotas(frame(quotas_text, "Q.csv")))[0]


def test_index_measure_quotas_are_averaged_not_summed():
    """An NPS quota of 50 each month means 50 for the quarter (not 150): attainment 1.0 pays 10,000."""
    acts = "rep_id,date,measure,value\n" + "".join(f"R1,2025-{m:02d}-15,nps,50\n" for m in range(1, 7))
    qs = "rep_id,period,measure,quota\n" + "".join(f"R1,2025-{m:02d},nps,50\n" for m in range(1, 7))
    bt = _bt({"period": "quarter", "true_up": "year", "true_up_clawback": True, "measures": {"nps": "mean"},
              "components": [{"quota_bonus": {"measure": "nps", "curve": [[0, 0], [1, 1]]}}]}, acts, qs)
    f = bt.payouts_frame().set_index(["period", "component"])["amount"]
    assert f[("2025-Q1", "quota_bonus")] == pytest.approx(10000.0)
    assert f[("2025-Q2", "quota_bonus:true_up")] == pytest.approx(0.0)   # annual attainment is 1.0 too


def test_missing_index_reading_leaves_gate_open_and_reversal_is_no_deal():
    acts = ("rep_id,date,measure,value\nR1,2025-01-10,nps,10\nR1,2025-01-11,revenue,1000\n"
            "R1,2025-04-10,revenue,1000\nR1,2025-04-12,revenue,-1000\nR1,2025-04-11,revenue,1000\n")
    qs = "rep_id,period,measure,quota\nR1,2025-Q1,revenue,1000\nR1,2025-Q2,revenue,1000\n"
    bt = _bt({"period": "quarter", "measures": {"revenue": "sum", "nps": "mean"}, "components": [
        {"commission": {"measure": "revenue", "tiers": [[0, 0.1]]}},
        {"gate": {"measure": "nps", "threshold": 30, "factor": 0.5, "applies_to": "commission"}},
        {"spiff": {"amount": 7}}]}, acts, qs)
    f = bt.payouts_frame().set_index(["period", "component"])["amount"]
    assert f[("2025-Q1", "commission")] == pytest.approx(50.0)    # NPS 10 < 30: halved
    assert f[("2025-Q2", "commission")] == pytest.approx(100.0)   # no NPS reading in Q2: gate open
    assert f[("2025-Q2", "spiff")] == pytest.approx(14.0)         # two deals; the −1,000 reversal is not a deal


def test_value_only_plan_pays_every_rep_period():
    acts = "rep_id,date,measure,value\nR1,2025-01-10,revenue,100\nR2,2025-05-10,revenue,100\n"
    qs = "rep_id,period,measure,quota\nR1,2025-01,units,3\n"   # a measure the plan does not read
    bt = _bt({"period": "quarter", "components": [{"commission": {"measure": "revenue", "tiers": [[0, 0.1]]}}]},
             acts, qs)
    assert bt.summary["total_cost"] == pytest.approx(20.0) and bt.summary["excluded_actuals"]["rows"] == 0


def test_empty_actuals_is_an_error():
    with pytest.raises(Exception, match=r"A.csv: no credited rows"):
        _bt({"components": [{"commission": {"measure": "revenue", "tiers": [[0, 0.1]]}}]},
            "rep_id,date,measure,value\n", "rep_id,period,measure,quota\nR1,2025,revenue,1\n")
