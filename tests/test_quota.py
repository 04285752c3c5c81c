"""Quota setting: every method against hand-worked cases, bounds, rounding, the infeasibility diagnosis,
equal-chance quotas checked on an independent simulation, quota relief, and the CLI."""

import json
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from spmopt import set_quotas
from spmopt.cli import app
from spmopt.errors import InfeasibleError, InputError
from spmopt.quota import gini, quota_relief

REPS = "scenarios/quota/reps.csv"


def three(**extra):
    d = {"rep_id": ["A", "B", "C"], "potential": [100.0, 200.0, 700.0], "history": [100.0, 200.0, 500.0]}
    d.update(extra)
    return pd.DataFrame(d)


def q_of(res):
    return res.table.set_index("rep_id")["quota"]


# ---------------------------------------------------------------------------------------------- methods
def test_potential_history_blend_by_hand():
    np.testing.assert_allclose(q_of(set_quotas(three(), 1000, "potential")), [100, 200, 700], atol=1e-6)
    np.testing.assert_allclose(q_of(set_quotas(three(), 1000, "potential", over_assignment=0.1)), [110, 220, 770],
                               atol=1e-6)
    # history shares 100/800, 200/800, 500/800
    np.testing.assert_allclose(q_of(set_quotas(three(), 1000, "history")), [125, 250, 625], atol=1e-6)
    # blend 0.5·(0.1, 0.2, 0.7) + 0.5·(0.125, 0.25, 0.625)
    r = set_quotas(three(), 1000, "blend", weights={"potential": 1, "history": 1})
    np.testing.assert_allclose(q_of(r), [112.5, 225, 662.5], atol=1e-6)
    assert r.summary["weights"] == {"potential": 0.5, "history": 0.5}
    assert r.summary["max_deviation"] < 1e-6


def test_rollup_sums_account_expectations_per_territory():
    units = pd.DataFrame({"unit_id": ["a1", "a2", "b1", "c1", "c2"], "potential": [1, 1, 1, 1, 1],
                          "expected": ["10", "30", "20", "15", "25"]})
    assign = pd.DataFrame({"unit_id": ["a1", "a2", "b1", "c1", "c2"], "territory_id": ["A", "A", "B", "C", "C"]})
    from spmopt.quota import basis_from_units

    b = basis_from_units(units, assign, rollup="expected")
    assert list(b.rollup) == [40, 20, 40] and list(b.units) == [2, 1, 2]
    r = set_quotas(b, 200, "rollup")
    np.testing.assert_allclose(r.table.set_index("territory_id")["quota"], [80, 40, 80], atol=1e-6)


def test_alignment_input_sums_potential_of_each_territory():
    from spmopt import align
    from spmopt.data.generate import generate

    case = generate(60, 4, seed=3)
    a = align(case.units, case.territories, balance={"potential": 0.2}, time_limit=20, contiguity=False)
    r = set_quotas(a, 1_000_000, "potential")
    pot = case.units.assign(t=a.assignment.reindex(case.units["unit_id"]).to_numpy())
    pot = pot.assign(potential=pot["potential"].astype(float)).groupby("t")["potential"].sum()
    expect = 1_000_000 * pot / pot.sum()
    got = r.table.set_index("territory_id")["quota"]
    np.testing.assert_allclose(got.reindex(expect.index), expect, rtol=1e-9)


# ---------------------------------------------------------------------------------------------- bounds
def test_growth_cap_spreads_the_excess_in_proportion():
    df = three(history=[1000.0, 1000.0, 500.0])
    r = set_quotas(df, 1000, "potential", growth=(None, 0.2))
    # C capped at 500·1.2 = 600; the 100 left goes to A and B in proportion 1:2
    np.testing.assert_allclose(q_of(r), [100 + 100 / 3, 200 + 200 / 3, 600], atol=1e-6)
    assert list(r.table["bound"]) == ["", "", "growth_max"]
    np.testing.assert_allclose(r.table["growth_pct"], [-86.666667, -73.333333, 20], atol=1e-5)
    assert r.summary["binding"] == {"growth_max": 1}
    # relative deviation: cheapest in % on the largest free holder, B (100/200 < 100/100)
    np.testing.assert_allclose(q_of(set_quotas(df, 1000, "potential", growth=(None, 0.2),
                                               deviation="relative")), [100, 300, 600], atol=1e-6)


def test_ratio_floor_ceiling_and_fixed():
    # by history: 125, 250, 625 → q/potential 1.25, 1.25, 0.89; within [0.9, 1.2]: A <= 120, B <= 240, and
    # C (>= 630) takes the 15 freed: 640
    r = set_quotas(three(), 1000, "history", ratio=(0.9, 1.2))
    np.testing.assert_allclose(q_of(r), [120, 240, 640], atol=1e-6)
    assert list(r.table["bound"]) == ["ratio_max", "ratio_max", ""]
    np.testing.assert_allclose(r.table["quota_to_potential"], [1.2, 1.2, 640 / 700], atol=1e-9)
    # floor for everyone and a per-rep ceiling column
    r = set_quotas(three(ceiling=["", "150", ""]), 1000, "potential", floor=150)
    # A raised to 150, B capped at 150: +50 and +(−50) → C keeps 700
    np.testing.assert_allclose(q_of(r), [150, 150, 700], atol=1e-6)
    # A fixed at 300: the other 700 split 200:700
    r = set_quotas(three(), 1000, "potential", fixed={"A": 300})
    np.testing.assert_allclose(q_of(r), [300, 700 * 2 / 9, 700 * 7 / 9], atol=1e-6)
    assert r.table.loc[0, "bound"] == "fixed"


def test_rounding_keeps_the_sum_exact_and_stays_near_the_spread():
    rng = np.random.default_rng(5)
    n = 60
    df = pd.DataFrame({"rep_id": [f"R{i}" for i in range(n)], "potential": rng.uniform(2e5, 3e6, n)})
    df["history"] = df["potential"] * rng.uniform(0.3, 0.6, n)
    target = int(round(df["history"].sum() * 1.05 / 1000)) * 1000
    r = set_quotas(df, target, "blend", weights={"potential": 0.7, "history": 0.3}, growth=(-0.1, 0.3),
                   unit=1000)
    q = r.table["quota"].to_numpy()
    assert sum(int(x) for x in q) == target                       # exact, in integers
    assert all(float(x) % 1000 == 0 for x in q)
    g = q / df["history"].to_numpy() - 1
    assert g.min() >= -0.1 - 1e-12 and g.max() <= 0.3 + 1e-12
    # the continuous answer of the same model, then: rounding moves nobody by a unit or more
    c = set_quotas(df, target, "blend", weights={"potential": 0.7, "history": 0.3}, growth=(-0.1, 0.3))
    assert abs(c.summary["sum_error"]) <= 1e-6
    assert np.abs(q - c.table["quota"].to_numpy()).max() < 1000
    # and the free holders of the continuous answer all moved by the same percentage
    free = (c.table["bound"] == "").to_numpy()
    ratio = c.table["quota"][free] / c.table["baseline"][free]
    assert ratio.max() - ratio.min() < 1e-9


def test_greedy_rounding_matches_brute_force():
    import itertools

    from spmopt.quota.model import greedy_rounding

    rng = np.random.default_rng(2)
    for _ in range(40):
        n = int(rng.integers(2, 5))
        q = rng.uniform(0, 6, n)
        w = rng.uniform(0.2, 3, n)
        klo = np.floor(q) - rng.integers(0, 3, n)
        khi = np.ceil(q) + rng.integers(0, 3, n)
        K = int(rng.integers(int(klo.sum()), int(khi.sum()) + 1))
        best = min((float(np.sum(w * np.abs(np.array(k) - q))), k)
                   for k in itertools.product(*(range(int(a), int(b) + 1) for a, b in zip(klo, khi, strict=True)))
                   if sum(k) == K)
        g = greedy_rounding(q, w, klo, khi, K)
        assert g.sum() == K and (g >= klo).all() and (g <= khi).all()
        assert float(np.sum(w * np.abs(g - q))) == pytest.approx(best[0], abs=1e-12)


def test_three_way_rounding_by_hand():
    r = set_quotas(pd.DataFrame({"rep_id": list("XYZ"), "potential": [1, 1, 1.001]}), 1000, unit=10)
    assert sorted(q_of(r)) == [330, 330, 340] and q_of(r)["Z"] == 340


# ---------------------------------------------------------------------------------------------- infeasible
def test_infeasible_growth_names_family_and_smallest_relaxation():
    with pytest.raises(InfeasibleError) as e:
        set_quotas(three(), 1000, "potential", growth=(None, 0.1))
    err = e.value
    assert err.family == "growth"
    # Σ history·(1 + g) = 800·(1 + g) must reach 1000: g = 0.25 exactly
    rel = [x for x in err.suggestion["relaxations"] if x["family"] == "growth"][0]
    assert rel["side"] == "upper" and rel["to"] == pytest.approx(0.25, abs=1e-4)
    assert err.suggestion["total_range"] == [0.0, pytest.approx(880.0)]
    set_quotas(three(), 1000, "potential", growth=(None, rel["to"]))        # the suggestion works
    with pytest.raises(InfeasibleError):
        set_quotas(three(), 1000, "potential", growth=(None, rel["to"] - 0.002))


def test_infeasible_clash_and_rounding():
    # A: quota/potential >= 2 → >= 200, but growth <= +50 % → <= 150
    with pytest.raises(InfeasibleError, match=r"A: quota/potential needs >= 200 but growth vs history allows <= 150"):
        set_quotas(three(), 1000, "potential", ratio=(2, None), growth=(None, 0.5))
    with pytest.raises(InfeasibleError, match="not a multiple of the rounding unit") as e:
        set_quotas(three(), 1005, "potential", unit=10)
    assert e.value.family == "rounding" and e.value.suggestion == {"unit": 5, "total": [1000, 1010]}
    with pytest.raises(InfeasibleError, match="un-fix"):
        set_quotas(three(), 1000, "potential", fixed={"A": 50, "B": 50}, ceiling=800)


def test_relaxations_hold_with_rounding():
    # three reps of 1/3 each, ceiling 250, total 1,000 in units of 100: each can take at most 200 after rounding
    # … so the ceiling must rise to 400 (+150), not to 350 (+100) as the continuous test would say
    df = pd.DataFrame({"rep_id": list("ABC"), "potential": [1.0, 1, 1], "history": [250.0] * 3})
    with pytest.raises(InfeasibleError) as e:
        set_quotas(df, 1000, "potential", ceiling=250, unit=100, simulate=False)
    rel = [r for r in e.value.suggestion["relaxations"] if r["family"] == "limits"][0]
    assert rel["by"] == 150
    set_quotas(df, 1000, "potential", ceiling=400, unit=100)
    with pytest.raises(InfeasibleError):
        set_quotas(df, 1000, "potential", ceiling=399, unit=100)
    # growth: 250·(1 + g) must allow 400 → g = 0.6 exactly (not 0.3334)
    with pytest.raises(InfeasibleError) as e:
        set_quotas(df, 1000, "potential", growth=(None, 0.2), unit=100)
    rel = [r for r in e.value.suggestion["relaxations"] if r["family"] == "growth"][0]
    assert rel["to"] == pytest.approx(0.6, abs=1e-4)


def test_edge_cases_zero_baseline_all_fixed_fixed_family_and_new_hires():
    # B and C are capped at 400 each; A (no potential) takes the rest
    r = set_quotas(pd.DataFrame({"rep_id": list("ABC"), "potential": [0.0, 100, 100]}), 1000, ceiling=400)
    np.testing.assert_allclose(q_of(r), [200, 400, 400])
    r = set_quotas(three(), 300, fixed={"A": 100, "B": 100, "C": 100}, unit=10)
    assert list(q_of(r)) == [100, 100, 100]
    with pytest.raises(InfeasibleError) as e:
        set_quotas(three(), 1000, fixed={"C": 1100})
    assert e.value.family == "fixed"
    # a rep without history has no growth bound (and a note says so)
    r = set_quotas(three(history=[0.0, 200, 500]), 1000, growth=(-0.5, 1.0))
    np.testing.assert_allclose(q_of(r), [100, 200, 700], atol=1e-6)
    assert any("without history" in n for n in r.notes)
    # a 'rollup' column is found without naming it
    t = pd.DataFrame({"rep_id": ["A", "B"], "rollup": ["10", "30"]})
    np.testing.assert_allclose(q_of(set_quotas(t, 100, "rollup")), [25, 75])


def test_quotas_csv_keeps_the_exact_sum(tmp_path):
    from spmopt.report.outputs import write_quotas

    r = set_quotas(pd.DataFrame({"rep_id": list("ABC"), "potential": [1.0, 2, 3]}), 123_456_789_012, unit=1)
    write_quotas(r, tmp_path, plot=False)
    back = pd.read_csv(tmp_path / "quotas.csv")
    assert sum(int(x) for x in back["quota"]) == 123_456_789_012


# ---------------------------------------------------------------------------------------------- equal chance
def test_equal_chance_quotas_hold_on_an_independent_run():
    r = set_quotas(REPS, 21_000_000, "equal_chance", trials=20_000, seed=3)
    pa = r.summary["p_attain"]
    common = pa["common"]
    assert 0.5 < common < 0.7
    # checked on independent trials (seed + 1): every rep within ±2 pp of the common chance
    assert np.abs(r.table["p_attain"] - common).max() <= 0.02
    assert r.summary["sum"] == pytest.approx(21_000_000, abs=1e-3)
    # more variable territories get relatively lower quotas: quota / expected sales falls with sales CV
    reps = r.basis.reps
    sales_cv = r.samples.std(axis=0) / r.samples.mean(axis=0)
    rel = r.table["quota"].to_numpy() / reps.expected_revenue
    order = np.argsort(sales_cv)
    assert rel[order[-5:]].mean() < rel[order[:5]].mean() - 0.1
    assert np.corrcoef(sales_cv, rel)[0, 1] < -0.9
    # the potential method on the same reps is far less even
    p = set_quotas(REPS, 21_000_000, "potential", trials=20_000, seed=3)
    assert p.summary["p_attain"]["spread"] > 5 * pa["spread"]


def test_equal_chance_analytic_two_reps():
    # constant deal sizes, no market noise: sales = size × Poisson(n·p·…); two identical reps → equal halves
    df = pd.DataFrame({"rep_id": ["A", "B"], "opportunities_per_year": [100, 100], "win_rate": [0.5, 0.5],
                       "deal_size_mean": [1000, 1000], "deal_size_cv": [0, 0]})
    r = set_quotas(df, 100_000, "equal_chance", trials=4000, seed=1)
    np.testing.assert_allclose(r.table["quota"], [50_000, 50_000], rtol=1e-9)
    # a total beyond the unbounded range that a fixed quota makes placeable (review case)
    small = df.assign(opportunities_per_year=[10, 10])
    from spmopt.quota import QuotaWarning

    with pytest.warns(QuotaWarning, match=r"A \(fixed: 0 %\)"):   # A's fixed 25,000 is beyond its 10 deals
        r = set_quotas(small, 30_000, "equal_chance", fixed={"A": 25_000}, trials=500)
    assert list(r.table["quota"]) == [25_000, 5_000]


# ---------------------------------------------------------------------------------------------- relief
def test_quota_relief_by_hand():
    units = pd.DataFrame({"unit_id": ["a1", "a2", "b1"], "potential": [1.0, 3.0, 2.0],
                          "current_territory": ["A", "A", "B"]})
    quotas = pd.DataFrame({"territory_id": ["A", "B"], "quota": [400.0, 200.0]})
    after = pd.DataFrame({"unit_id": ["a1", "a2", "b1"], "territory_id": ["C", "B", "B"]})
    r = quota_relief(units, quotas, after, "2026-07-01")
    f = Fraction(184, 365)                     # 1 Jul – 31 Dec inclusive of 365 days
    t = r.table.set_index("territory_id")
    assert r.summary["remaining_fraction"] == pytest.approx(float(f))
    assert t.loc["A", "quota_after"] == pytest.approx(400 - 400 * float(f))       # both units leave
    assert t.loc["B", "quota_after"] == pytest.approx(200 + 300 * float(f))
    assert t.loc["C", "quota_after"] == pytest.approx(100 * float(f))
    assert math.isclose(r.summary["total_after"], 600.0, rel_tol=1e-12)
    assert set(r.moves["unit_id"]) == {"a1", "a2"}
    with pytest.raises(InputError, match="outside the quota period"):
        quota_relief(units, quotas, after, "2026-07-01", period=("2027-01-01", "2027-12-31"))
    with pytest.raises(InputError, match="no quota for territory 'B'"):
        quota_relief(units, quotas.iloc[:1], after, "2026-07-01")


# ---------------------------------------------------------------------------------------------- input errors
def test_input_errors_name_file_row_and_column(tmp_path):
    units = pd.DataFrame({"unit_id": ["u1", "u2"], "potential": ["5", "x"]})
    units.attrs["source"] = "units.csv"
    with pytest.raises(InputError, match=r"units.csv, row 3, column 'potential': 'x' is not a number"):
        set_quotas(units.assign(current_territory=["A", "B"]), 100)
    units = pd.DataFrame({"unit_id": ["u1", "u2"], "potential": ["5", "6"]})
    assign = pd.DataFrame({"unit_id": ["u1", "u9"], "territory_id": ["A", "B"]})
    assign.attrs["source"] = "a.csv"
    from spmopt.quota import basis_from_units

    with pytest.raises(InputError, match=r"a.csv, row 3, column 'unit_id': unit 'u9' is not in the units file"):
        basis_from_units(units, assign)
    with pytest.raises(InputError, match="have no territory"):
        basis_from_units(units, assign.iloc[:1])
    with pytest.raises(InputError, match="unknown quota method"):
        set_quotas(three(), 100, "luck")
    with pytest.raises(InputError, match="needs a 'history' column"):
        set_quotas(three().drop(columns="history"), 100, growth=(0, 0.1))
    with pytest.raises(InputError, match="fixed quota for 'Q'"):
        set_quotas(three(), 100, fixed={"Q": 5})
    with pytest.raises(InputError, match="equal-chance quotas need the simulator's columns"):
        set_quotas(three(), 100, "equal_chance")


def test_gini_by_hand():
    assert gini(np.array([1.0, 1.0, 1.0])) == pytest.approx(0.0)
    assert gini(np.array([0.0, 0.0, 0.0, 1.0])) == pytest.approx(0.75)      # (n − 1)/n for one holder of all
    assert gini(np.array([1.0, 2.0, 3.0])) == pytest.approx(2 / 9)


# ---------------------------------------------------------------------------------------------- CLI
def test_cli_quota_and_relief(tmp_path):
    runner = CliRunner()
    out = tmp_path / "q"
    res = runner.invoke(app, ["quota", "--reps", REPS, "--target", "21000000", "--method", "blend",
                              "--weight", "potential=0.6", "--weight", "history=0.4", "--growth", "-0.2:0.5",
                              "--round", "1000", "--trials", "1000", "--out", str(out), "--no-plot"])
    assert res.exit_code == 0, res.output
    t = pd.read_csv(out / "quotas.csv")
    assert list(t.columns[:3]) == ["rep_id", "quota", "baseline"]
    assert {"growth_pct", "quota_to_potential", "p_attain", "bound"} <= set(t.columns)
    assert int(t["quota"].sum()) == 21_000_000
    s = json.loads((out / "summary.json").read_text())
    assert s["sum"] == 21_000_000 and s["target"] == 21_000_000 and "gini" in s["quota_to_potential"]
    assert s["p_attain"]["spread"] == pytest.approx(t["p_attain"].max() - t["p_attain"].min())

    res = runner.invoke(app, ["quota", "--reps", REPS, "--target", "30000000", "--growth", "-0.05:0.2",
                              "--no-simulate", "--out", str(tmp_path / "x")])
    assert res.exit_code == 3 and "growth upper bound +20 % -> +30.12 %" in res.output

    q = tmp_path / "tq"
    res = runner.invoke(app, ["quota", "--units", "scenarios/northeast/units.csv", "--target", "400000",
                              "--ratio", "0.5:0.7", "--round", "100", "--out", str(q), "--no-plot"])
    assert res.exit_code == 0, res.output
    tq = pd.read_csv(q / "quotas.csv")
    assert tq["territory_id"].tolist() == [f"T{i:02d}" for i in range(1, 11)] and tq["quota"].sum() == 400000
    after = pd.read_csv("scenarios/northeast/units.csv", dtype=str)[["unit_id", "current_territory"]]
    after = after.rename(columns={"current_territory": "territory_id"})
    after.loc[after["unit_id"] == "09001", "territory_id"] = "T02"
    after.to_csv(tmp_path / "after.csv", index=False)
    res = runner.invoke(app, ["quota-relief", "--units", "scenarios/northeast/units.csv", "--quotas",
                              str(q / "quotas.csv"), "--after", str(tmp_path / "after.csv"), "--effective",
                              "2026-10-01", "--out", str(tmp_path / "r"), "--no-plot"])
    assert res.exit_code == 0, res.output
    rel = pd.read_csv(tmp_path / "r" / "relief.csv").set_index("territory_id")
    mv = pd.read_csv(tmp_path / "r" / "moves.csv", dtype={"unit_id": str})
    assert mv["unit_id"].tolist() == ["09001"]
    assert rel["quota_after"].sum() == pytest.approx(400000, abs=1e-3)   # CSV keeps 10 digits
    assert rel.loc["T02", "moved_in"] == pytest.approx(mv["annual_share"].iloc[0] * 92 / 365)


def test_bounds_that_stop_equal_chance_are_named(recwarn):
    """The README's example: growth of at least -20 % holds reps whose equal-chance quota would fall further
    (issue 28). R016's quota is its floor, 0.8 x last year, and its chance is far below the common one."""
    import warnings

    from spmopt.quota import QuotaWarning

    reps = REPS
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        q = set_quotas(reps, 21_000_000, "equal_chance", growth=(-0.2, 0.5), unit=1000)
    msgs = [str(w.message) for w in caught if issubclass(w.category, QuotaWarning)]
    assert len(msgs) == 1 and "R016 (growth min" in msgs[0] and msgs[0] in q.notes
    ec = q.summary["equal_chance"]
    assert ec["holds"] is False and "R016" in ec["held"]
    r16 = q.table.set_index("rep_id").loc["R016"]
    assert r16["quota"] == pytest.approx(round(0.8 * r16["history"] / 1000) * 1000, abs=1000)
    assert r16["p_attain"] < ec["common"] - 0.3
    free = set_quotas(reps, 21_000_000, "equal_chance", unit=1000)
    assert free.summary["equal_chance"] == {"holds": True}
    assert free.summary["p_attain"]["spread"] < 0.1
