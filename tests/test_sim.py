"""The Monte Carlo simulator: closed forms, engine agreement, seeds across executors, behaviour, files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from spmopt.errors import InputError
from spmopt.plans import plan_from_dict
from spmopt.sim import Behaviour, read_reps, simulate
from spmopt.sim.market import Calendar, StressError, expected_closings, resolve, stress_from_dict

REPS = pd.DataFrame({
    "rep_id": ["A", "B", "C"],
    "quota": [900_000.0, 1_000_000.0, 300_000.0],
    "opportunities_per_year": [60.0, 24.0, 40.0],
    "win_rate": [0.3, 0.5, 0.25],
    "deal_size_mean": [50_000.0, 80_000.0, 30_000.0],
    "deal_size_cv": [0.6, 1.2, 0.0],
    "cycle_days": [60.0, 120.0, 30.0],
})
LINEAR = plan_from_dict({"name": "linear", "target_incentive": 40_000, "period": "year",
                         "components": [{"type": "commission", "measure": "revenue", "tiers": [[0, 0.04]]}]})


def _compound_poisson(reps: pd.DataFrame):
    """Annual revenue of each rep: compound Poisson with n = opportunities × win rate deals of log-normal size.
    Returns (n, mean, variance, fourth central moment) from the cumulants κ_j = n·E[X^j]."""
    n = reps["opportunities_per_year"].to_numpy() * reps["win_rate"].to_numpy()
    mu = reps["deal_size_mean"].to_numpy()
    s2 = np.log1p(reps["deal_size_cv"].to_numpy() ** 2)
    m = np.log(mu) - s2 / 2

    def moment(j):
        return np.exp(j * m + j * j * s2 / 2)

    k2, k4 = n * moment(2), n * moment(4)
    return n, n * mu, k2, k4 + 3 * k2 ** 2


def _p_reach(n: float, mean: float, cv: float, quota: float) -> float:
    """P(S ≥ quota) for compound Poisson S by FFT of the discretised severity (Panjer's setting, independent of
    the simulator): φ_S = exp(n(φ_X − 1)) on a grid of quota/4000."""
    h = quota / 4000
    size = 1 << 18
    grid = np.arange(size + 1) * h
    if cv == 0:
        sev = np.zeros(size)
        sev[int(round(mean / h))] = 1.0
    else:
        s = np.sqrt(np.log1p(cv * cv))
        cdf = stats.lognorm.cdf(grid + h / 2, s, scale=mean * np.exp(-s * s / 2))
        sev = np.diff(np.concatenate([[0.0], cdf]))[:size]
    pad = 2 * size
    phi = np.fft.rfft(sev, pad)
    pmf = np.fft.irfft(np.exp(n * (phi - 1)), pad)[:size]
    k = int(round(quota / h))
    return float(1 - pmf[:k].sum())


# ------------------------------------------------------------------------------------------- closed forms
def test_closings_are_stationary_without_seasonality():
    """The steady-state pipeline makes expected closings per month exactly proportional to its days."""
    cal = Calendar(2024)  # leap year
    case = resolve(stress_from_dict({"base": {}})[0], stress_from_dict({"base": {}})[0], cal)
    e = expected_closings(case, cal, np.array([10.0, 60.0, 200.0]))
    days = np.diff(cal.starts)
    np.testing.assert_allclose(e, np.broadcast_to(days, e.shape), rtol=1e-9)


@pytest.mark.parametrize("engine,trials", [("vector", 40_000), pytest.param("des", 3_000, marks=pytest.mark.slow)])
def test_annual_revenue_is_compound_poisson(engine, trials):
    res = simulate(REPS, LINEAR, trials=trials, seed=3, engine=engine, workers=1, marginal=False)
    rev = res.cell().revenue                                     # (trials, reps)
    n, mean, var, mu4 = _compound_poisson(REPS)
    se_mean = np.sqrt(var / trials)
    assert np.all(np.abs(rev.mean(axis=0) - mean) < 4 * se_mean), (rev.mean(axis=0), mean)
    se_var = np.sqrt((mu4 - var ** 2) / trials)
    assert np.all(np.abs(rev.var(axis=0, ddof=1) - var) < 4 * se_var), (rev.var(axis=0), var)
    # P(attainment ≥ 1) against the FFT computation
    for r, row in REPS.reset_index(drop=True).iterrows():
        p = _p_reach(n[r], row.deal_size_mean, row.deal_size_cv, row.quota)
        got = (res.attainment()[:, r] >= 1).mean()
        assert abs(got - p) < 4 * np.sqrt(p * (1 - p) / trials) + 2e-3, (row.rep_id, got, p)
    # linear 4 % commission on an annual plan: pay is exactly 4 % of revenue, rep by rep and trial by trial
    np.testing.assert_allclose(res.cell().payout, 0.04 * rev, rtol=1e-12)


def test_fft_reference_is_right_on_a_poisson_case():
    """The independent P(S ≥ q) computation on a case with a closed form: constant deal size → Poisson count."""
    n, size, quota = 12.0, 50_000.0, 700_000.0
    assert _p_reach(n, size, 0.0, quota) == pytest.approx(stats.poisson.sf(13, n), abs=1e-9)


STRESS = {
    "market": {"market_sigma": 0.15, "idiosyncratic_sigma": 0.1,
               "seasonality": [0.6, 0.8, 1.2, 0.9, 1.0, 1.1, 0.7, 0.8, 1.2, 1.0, 1.1, 1.6]},
    "cases": {"stressed": {"demand": 0.9, "win_rate": -0.05, "shock": {"month": 6, "demand": 0.7},
                           "windfall": {"probability": 0.2, "size": 5}}},
}


@pytest.mark.slow
def test_des_and_vector_agree_in_distribution():
    """Same statistical model, two engines: annual revenue per rep matches in mean (4 s.e.), in distribution
    (two-sample Kolmogorov–Smirnov) and month by month, with market noise, seasonality, a shock and windfalls."""
    vec = simulate(REPS, LINEAR, STRESS, trials=20_000, seed=5, engine="vector", workers=1, marginal=False)
    des = simulate(REPS, LINEAR, STRESS, trials=2_500, seed=6, engine="des", workers=1, marginal=False)
    rv, rd = vec.cell().revenue, des.cell().revenue
    for r in range(len(REPS)):
        se = np.sqrt(rv[:, r].var() / len(rv) + rd[:, r].var() / len(rd))
        assert abs(rv[:, r].mean() - rd[:, r].mean()) < 4 * se
        assert stats.ks_2samp(rv[:, r], rd[:, r]).pvalue > 1e-3
        for q in (0.1, 0.5, 0.9):  # the DES quantile sits at the same level of the vector distribution
            qd = np.quantile(rd[:, r], q)  # (4 s.e. of a proportion; atoms when deal sizes are constant)
            tol = 4 * np.sqrt(q * (1 - q) / len(rd)) + 0.005
            assert (rv[:, r] < qd).mean() - tol < q < (rv[:, r] <= qd).mean() + tol
    mv, md = vec.cell().monthly_revenue, des.cell().monthly_revenue
    se_m = np.sqrt(mv.var(axis=0) / len(mv) + md.var(axis=0) / len(md))
    assert np.all(np.abs(mv.mean(axis=0) - md.mean(axis=0)) < 4.5 * se_m)


# ------------------------------------------------------------------------------------------- seeds
def _fingerprint(res):
    return np.concatenate([c.revenue.ravel() for c in res.cells.values()] +
                          [c.payout.ravel() for c in res.cells.values()])


@pytest.mark.slow   # the fast suite has the property test of tests/test_determinism.py
def test_same_seed_same_results_for_any_workers_and_chunks():
    plans = [LINEAR, "scenarios/plans/quota_bonus_accelerator.yaml"]
    a = simulate(REPS, plans, STRESS, trials=60, seed=11, workers=1, chunk_size=60)
    b = simulate(REPS, plans, STRESS, trials=60, seed=11, workers=2, chunk_size=7)
    c = simulate(REPS, plans, STRESS, trials=60, seed=12, workers=1)
    assert np.array_equal(_fingerprint(a), _fingerprint(b))
    assert not np.array_equal(_fingerprint(a), _fingerprint(c))
    pd.testing.assert_frame_equal(a.summary(), b.summary())
    d1 = simulate(REPS, plans, trials=6, seed=2, behaviour="full", workers=1, chunk_size=6)
    d2 = simulate(REPS, plans, trials=6, seed=2, behaviour="full", workers=2, chunk_size=1)
    assert np.array_equal(_fingerprint(d1), _fingerprint(d2))


@pytest.mark.slow
def test_same_seed_on_a_dask_cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        remote = simulate(REPS, LINEAR, STRESS, trials=40, seed=4, scheduler=cluster.scheduler_address,
                          chunk_size=3)
        remote_des = simulate(REPS, LINEAR, trials=4, seed=4, engine="des", scheduler=cluster.scheduler_address,
                              chunk_size=1)
    local = simulate(REPS, LINEAR, STRESS, trials=40, seed=4, workers=1)
    local_des = simulate(REPS, LINEAR, trials=4, seed=4, engine="des", workers=1)
    assert np.array_equal(_fingerprint(remote), _fingerprint(local))
    assert np.array_equal(_fingerprint(remote_des), _fingerprint(local_des))


# ------------------------------------------------------------------------------------------- behaviour
SALES = pd.DataFrame({
    "rep_id": [f"R{i}" for i in range(12)],
    "quota": [1_000_000.0] * 12,
    "opportunities_per_year": [80.0] * 12,
    "win_rate": [0.25] * 12,
    "deal_size_mean": [50_000.0] * 12,
    "deal_size_cv": [0.5] * 12,
    "cycle_days": [45.0] * 12,
})


@pytest.mark.slow
def test_annual_bonus_makes_a_year_end_spike_and_a_january_dip():
    """Quotas at each rep's expected sales, an annual bonus with a threshold and an accelerator (as experiment 3
    of benchmarks/behaviour.py): reps near quota work harder in December and pull January's deals in, so December
    books more than the other months and the next January less; a linear commission moves nothing."""
    curve = [[0.5, 0.25], [1.0, 1.0], [1.5, 2.0]]
    bonus = plan_from_dict({"name": "annual bonus", "target_incentive": 25_000, "period": "year",
                            "components": [{"type": "quota_bonus", "measure": "revenue", "curve": curve,
                                            "extrapolate": True}]})
    skill = np.repeat([0.7, 0.85, 1.0, 1.15, 1.3], 2)
    reps = pd.DataFrame({"rep_id": [f"R{i}" for i in range(10)], "quota": 1e6 * skill, "skill": skill,
                         "opportunities_per_year": 80.0, "win_rate": 0.25, "deal_size_mean": 50_000.0,
                         "deal_size_cv": 0.5, "cycle_days": 45.0})
    res = simulate(reps, [LINEAR, bonus], {"base": {"market_sigma": 0.1}}, trials=600, seed=1, behaviour="full",
                   years=2, workers=1, marginal=False)
    m = res.monthly().set_index(["plan", "year", "month"])["revenue_mean"]
    y1, y2 = m.loc[("annual bonus", 1)], m.loc[("annual bonus", 2)]
    assert y1.loc[12] > 1.03 * y1.loc[1:11].mean()          # benchmark (2,000 trials, 40 reps): 1.09
    assert y2.loc[1] < 0.99 * y2.loc[2:11].mean()           # benchmark: 0.94
    s = res.summary().set_index(["plan", "year"])
    assert (s.loc["linear", ["pulled_mean", "pushed_mean"]] == 0).all().all()
    assert s.loc[("annual bonus", 1), "pulled_mean"] > 0


def test_unreachable_threshold_lowers_effort():
    far = plan_from_dict({"name": "far threshold", "target_incentive": 40_000, "period": "year",
                          "components": [{"type": "quota_bonus", "measure": "revenue",
                                          "curve": [[3.0, 1.0], [4.0, 2.0]]}]})
    res = simulate(SALES, [LINEAR, far], trials=30, seed=2, behaviour="effort", workers=1)
    s = res.summary().set_index("plan")
    # 4 % = the reference rate: effort 1, a hair less for pay that falls due at year end (discount 0.999 a month)
    assert s.loc["linear", "effort_mean"] == pytest.approx(1.0, abs=0.005)
    assert s.loc["far threshold", "effort_mean"] < 0.9
    assert s.loc["far threshold", "revenue_uplift"] < -0.05
    assert s.loc["far threshold", "share_below_threshold"] == 1.0


def test_behaviour_parameters_are_checked():
    with pytest.raises(ValueError, match="effort_min"):
        Behaviour(mode="effort", effort_min=1.2)
    with pytest.raises(ValueError, match="one year"):
        simulate(REPS, LINEAR, trials=2, behaviour="effort", engine="des", years=2)
    with pytest.raises(ValueError, match="quota rule"):
        simulate(REPS, LINEAR, trials=2, years=2, quota_rule="ratchet:fast")


# ------------------------------------------------------------------------------------------- metrics
def test_summary_metrics_follow_their_definitions():
    res = simulate(REPS, [LINEAR, "scenarios/plans/quota_bonus_accelerator.yaml"], STRESS, trials=400, seed=9)
    s = res.summary()
    rt = res.rep_trials()
    assert list(rt.columns) == ["plan", "stress", "trial", "rep_id", "revenue", "attainment", "payout"]
    assert len(rt) == 2 * 1 * 400 * 3
    for _, row in s.iterrows():
        g = rt[(rt.plan == row.plan) & (rt.stress == row.stress)]
        cost = g.groupby("trial")["payout"].sum().to_numpy()
        assert row.cost_mean == pytest.approx(cost.mean())
        assert row.cost_p95 == pytest.approx(np.quantile(cost, 0.95))
        assert row.cost_cvar95 == pytest.approx(cost[cost >= np.quantile(cost, 0.95)].mean())
        assert row.share_at_or_above_quota == pytest.approx((g.attainment >= 1).mean())
        assert row.pay_performance_correlation == pytest.approx(np.corrcoef(g.attainment, g.payout)[0, 1])
    lin = s[s.plan == "linear"].iloc[0]
    assert lin.marginal_pay_rate_mean == pytest.approx(0.04) and lin.share_zero_marginal_pay == 0
    assert lin.revenue_uplift == 0 and lin.share_at_cap == 0
    m = res.monthly()
    assert m.groupby(["plan", "stress"], observed=True)["payout_mean"].sum().loc[("linear", "stressed")] == \
        pytest.approx(lin.cost_mean)


# ------------------------------------------------------------------------------------------- inputs and files
def test_reps_errors_name_file_row_and_column(tmp_path):
    bad = REPS.copy()
    bad.loc[1, "win_rate"] = 1.5
    with pytest.raises(InputError, match=r"row 3, column 'win_rate'.*between 0 and 1"):
        read_reps(bad.astype(str), source="reps.csv")
    bad = REPS.drop(columns="opportunities_per_year")
    with pytest.raises(InputError, match="opportunities_per_year"):
        read_reps(bad)
    with_pot = REPS.drop(columns="opportunities_per_year").assign(potential=[900_000.0, 2_000_000.0, 300_000.0])
    r = read_reps(with_pot)
    np.testing.assert_allclose(r.opportunities, [60.0, 50.0, 40.0])
    q = pd.DataFrame({"rep_id": ["A", "B", "Z"], "quota": [1.0, 2.0, 3.0]})
    with pytest.raises(InputError, match=r"row 4, column 'rep_id'.*'Z' is not in the reps file"):
        read_reps(REPS, q)


def test_stress_errors_name_the_key():
    with pytest.raises(StressError, match=r"key 'cases.down.demnd': unknown key"):
        stress_from_dict({"cases": {"down": {"demnd": 0.9}}})
    with pytest.raises(StressError, match="12 monthly factors"):
        stress_from_dict({"market": {"seasonality": [1, 2]}, "cases": {"a": {}}})
    cases = stress_from_dict({"market": {"market_sigma": 0.1}, "cases": {"a": {}, "b": {"market_sigma": 0.3}}})
    assert [c.market_sigma for c in cases] == [0.1, 0.3]


def test_cli_writes_every_output_and_no_partial_files(tmp_path):
    from typer.testing import CliRunner

    from spmopt.cli import app

    out = tmp_path / "sim"
    r = CliRunner().invoke(app, ["simulate", "--reps", "scenarios/sim/reps.csv", "--plan",
                                 "scenarios/plans/linear_commission.yaml", "--plan",
                                 "scenarios/plans/gated_bonus.yaml", "--stress", "scenarios/sim/stress.yaml",
                                 "--trials", "50", "--seed", "1", "--workers", "1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    names = {p.name for p in out.iterdir()}
    assert names == {"summary.csv", "rep_trials.parquet", "monthly.csv", "run.json", "attainment.png",
                     "cost_cdf.png", "monthly.png", ".spmopt-output.json"}   # the marker: a later run may replace it
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name or ".old-" in p.name]
    s = pd.read_csv(out / "summary.csv")
    assert len(s) == 2 * 4 and set(s.stress) == {"base", "downturn", "boom", "volatile"}
    rt = pd.read_parquet(out / "rep_trials.parquet")
    assert len(rt) == 2 * 4 * 50 * 25
    assert json.loads((out / "run.json").read_text())["seed"] == 1
    bad = CliRunner().invoke(app, ["simulate", "--reps", "scenarios/sim/reps.csv", "--plan",
                                   "scenarios/plans/linear_commission.yaml", "--trials", "5",
                                   "--years", "2", "--engine", "des", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "one year" in bad.output


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    from spmopt.report import outputs

    res = simulate(REPS, LINEAR, trials=5, seed=1, workers=1)

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(type(res), "monthly", boom)
    with pytest.raises(KeyboardInterrupt):
        outputs.write_simulation(res, tmp_path / "o", plot=False)
    assert list((tmp_path / "o").iterdir()) == []


def test_shipped_reps_file_is_the_generator_output():
    from pathlib import Path

    from spmopt.data.history import sim_reps

    shipped = pd.read_csv(Path(__file__).resolve().parents[1] / "scenarios" / "sim" / "reps.csv")
    pd.testing.assert_frame_equal(shipped, sim_reps(), check_dtype=False)


def test_seasonality_moves_revenue_between_months_not_out_of_the_year():
    """Periodic steady state: with a heavy December, as much pipeline comes in on 1 January as leaves on
    31 December, so the year's expected closings stay λ (day-weighted normalisation)."""
    cal = Calendar(2025)
    st = stress_from_dict({"s": {"seasonality": [1] * 11 + [3]}})[0]
    e = expected_closings(resolve(st, st, cal), cal, np.array([30.0, 90.0]))
    np.testing.assert_allclose(e.sum(axis=1), cal.days, rtol=1e-6)
    assert e[0, 11] > 1.5 * e[0, 5]  # short cycles: December closes much more than June
    one = REPS.iloc[:1].assign(deal_size_cv=0.0, cycle_days=90.0)
    res = simulate(one, LINEAR, {"s": {"seasonality": [1] * 11 + [3]}}, trials=300, seed=2, engine="des",
                   workers=1, marginal=False)
    n, mean, var, _ = _compound_poisson(one)
    assert abs(res.cell().revenue.mean() - mean[0]) < 4 * np.sqrt(var[0] / 300)


def test_constant_deal_sizes_meet_a_spiff_minimum_equal_to_them():
    one = SALES.iloc[:1].assign(deal_size_cv=0.0, deal_size_mean=40_000.0)
    plan = plan_from_dict({"name": "spiff", "target_incentive": 1000, "period": "year", "components": [
        {"type": "commission", "measure": "revenue", "tiers": [[0, 0.01]]},
        {"type": "spiff", "measure": "revenue", "amount": 100, "min_value": 40_000}]})
    for engine in ("vector", "des"):
        res = simulate(one, plan, trials=20, seed=1, engine=engine, workers=1, marginal=False)
        deals = res.cell().revenue / 40_000
        np.testing.assert_allclose(res.cell().payout, 0.01 * res.cell().revenue + 100 * deals)
