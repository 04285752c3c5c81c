"""The structural behavioural model: the rep's dynamic programme against closed forms, the two engines against
each other, consecutive years and the command-line contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from spmopt.cli import app
from spmopt.plans import plan_from_dict
from spmopt.sim import Behaviour, read_reps, simulate
from spmopt.sim.market import Calendar, StressCase, resolve
from spmopt.sim.pay import plan_context
from spmopt.sim.policy import compound_poisson, size_lattice, solve_policies

SALES = pd.DataFrame({
    "rep_id": [f"R{i}" for i in range(4)], "quota": [1_000_000.0] * 4, "opportunities_per_year": [80.0] * 4,
    "win_rate": [0.25] * 4, "deal_size_mean": [50_000.0] * 4, "deal_size_cv": [0.5] * 4, "cycle_days": [45.0] * 4,
    "nps": [20.0, 20.0, 50.0, 50.0], "mbo": [1.0] * 4, "mbo_quota": [1.0] * 4})
CAL = Calendar(2025)
BASE = resolve(StressCase(), StressCase(), CAL)


def _plan(components, period="year", ti=40_000, name="p"):
    return plan_from_dict({"name": name, "target_incentive": ti, "period": period, "components": components})


def _linear(rate, period="year", name=None, **kw):
    return _plan([{"type": "commission", "measure": "revenue", "tiers": [[0, rate]], **kw}], period,
                 name=name or f"{rate:g} commission")


def _policies(plan, bh=None, reps=SALES, **kw):
    r = read_reps(reps)
    return solve_policies(plan_context(plan, r, CAL), r, BASE, CAL, bh or Behaviour(mode="full"), **kw)


def _decide(ps, month, attainment, rep=0, y=0.0):
    a = np.asarray(attainment, dtype=float) * 1e6
    n = a.size
    return ps.decide(month, np.full(n, rep), None, np.full(n, y), a, np.zeros(n, dtype=np.intp))


@pytest.mark.parametrize("rate,period", [(0.02, "year"), (0.04, "quarter"), (0.055, "month")])
def test_flat_commission_effort_is_the_closed_form(rate, period):
    """Pay r per dollar, cost r0·μ·e^(1+ψ)/(1+ψ) per month: e* = (r/r0)^(1/ψ) in every state (a hand derivation:
    the first-order condition r·μ = r0·μ·e^ψ), and no deal is moved (timing gains nothing)."""
    bh = Behaviour(mode="full", discount=1.0)
    ps = _policies(_linear(rate, period), bh)[0]
    want = (rate / bh.reference_rate) ** (1 / bh.effort_curvature)
    for t in (0, 5, 11):
        e, push, pull, _ = _decide(ps, t, np.linspace(0, 1.4, 15))
        np.testing.assert_allclose(e, want, atol=2e-3)
        assert not push.any() and not pull.any()


def test_pay_level_matters_and_fixed_pay_does_not():
    """A 3 % and a 4 % commission give different revenue (the old model's flaw: both gave the same); adding pay
    that does not depend on sales (an MBO-style fixed bonus on a measure from the reps file) changes nothing; a
    gate that halves the commission (NPS below 30) lowers effort to (½·r/r0)^(1/ψ)."""
    bh = Behaviour(mode="full", discount=1.0)
    fixed = _plan([{"type": "commission", "measure": "revenue", "tiers": [[0, 0.04]]},
                   {"type": "quota_bonus", "measure": "mbo", "curve": [[1.0, 1.0]], "weight": 0.5}])
    gated = _plan([{"type": "commission", "name": "c", "measure": "revenue", "tiers": [[0, 0.04]]},
                   {"type": "gate", "measure": "nps", "threshold": 30, "factor": 0.5, "applies_to": ["c"]}])
    e_fixed = _decide(_policies(fixed, bh)[0], 3, [0.2, 0.6])[0]
    np.testing.assert_allclose(e_fixed, 1.0, atol=2e-3)
    ps = _policies(gated, bh)[0]
    low, high = _decide(ps, 3, [0.3], rep=0)[0], _decide(ps, 3, [0.3], rep=2)[0]
    np.testing.assert_allclose(low, 0.5 ** (1 / 3), atol=2e-3)        # NPS 20: the gate halves the rate
    np.testing.assert_allclose(high, 1.0, atol=2e-3)                  # NPS 50: the gate is open
    res = simulate(SALES, [_linear(0.03), _linear(0.04)], trials=300, seed=3, behaviour=bh, marginal=False)
    r3, r4 = res.revenue(0), res.revenue(1)
    ratio = r3.mean() / r4.mean()
    assert ratio == pytest.approx(0.75 ** (1 / 3), abs=0.01)         # common random numbers: a tight ratio


def test_december_decisions_follow_the_bonus():
    """Annual bonus paying from 80 % of quota, capped at 130 %: in December a rep far below the threshold gives up
    (effort well down, deals held back for next year), a rep just below it works hardest and pulls deals in,
    a rep beyond the cap holds deals back (they earn nothing this year)."""
    plan = _plan([{"type": "quota_bonus", "measure": "revenue", "curve": [[0.8, 0.5], [1.0, 1.0], [1.3, 1.6]],
                   "cap": 1.6}])
    ps = _policies(plan)[0]
    e, push, pull, _ = _decide(ps, 11, [0.3, 0.75, 1.6])
    far, near, beyond = 0, 1, 2
    assert e[near] > 1.2 and e[near] > e[far] + 0.3 and e[near] > e[beyond] + 0.3
    assert pull[near] > 0 and push[near] == 0
    assert push[far] > 0 and push[beyond] > 0
    assert e[far] < 0.9      # it still works some: what it holds back counts next year


def test_lattice_sum_has_the_compound_poisson_moments():
    """The lattice distribution of a month's sales keeps the compound-Poisson mean ν·E[X] and variance ν·E[X²]
    (log-normal X: E[X²] = m²(1 + cv²)) to within the lattice's resolution."""
    m, cv, nu, step, n = 50_000.0, 0.5, 3.2, 4_000.0, 256
    f = size_lattice(m, cv, step, 2 * n)
    pmf = compound_poisson(np.array(nu), np.fft.rfft(f), n)
    x = np.arange(n) * step
    mean = (pmf * x).sum()
    var = (pmf * x * x).sum() - mean ** 2
    assert mean == pytest.approx(nu * m, rel=2e-3)
    assert var == pytest.approx(nu * m * m * (1 + cv * cv), rel=0.03)


def test_event_model_and_fast_path_agree_in_distribution():
    """Both engines apply the same policies to the same statistical model: annual revenue per rep, total cost
    and the revenue moved by timing agree (two-sample KS on independent seeds)."""
    reps = SALES.iloc[:2].assign(deal_size_cv=[0.6, 0.0], cycle_days=[60.0, 30.0])
    plan = "scenarios/plans/quota_bonus_accelerator.yaml"
    st = {"base": {"market_sigma": 0.1, "seasonality": [0.8, 0.9, 1.1, 0.9, 0.9, 1.1, 0.8, 0.8, 1.1, 1.0, 1.1, 1.4]}}
    des = simulate(reps, plan, st, trials=250, seed=1, behaviour="full", engine="des", marginal=False)
    vec = simulate(reps, plan, st, trials=1000, seed=2, behaviour="full", engine="vector", marginal=False)
    for r in range(2):
        assert stats.ks_2samp(des.cell().revenue[:, r], vec.cell().revenue[:, r]).pvalue > 0.01
    assert stats.ks_2samp(des.cost(), vec.cost()).pvalue > 0.01
    assert des.cell().pushed.mean() > 0 and vec.cell().pushed.mean() > 0
    sd = np.sqrt(des.cell().pushed.var() / 250 + vec.cell().pushed.var() / 1000)
    assert abs(des.cell().pushed.mean() - vec.cell().pushed.mean()) < 4 * sd


def test_consecutive_years_carry_quota_and_deals():
    """A ratchet with weight 1 sets next year's quota to this year's booked revenue, trial by trial and rep by
    rep; under a fixed rule quotas stay; summary and monthly tables get a year column."""
    plan = _plan([{"type": "quota_bonus", "measure": "revenue", "curve": [[0.5, 0.25], [1.0, 1.0], [1.5, 2.0]]}])
    res = simulate(SALES, plan, trials=40, seed=4, behaviour="full", years=3, quota_rule="ratchet", marginal=False)
    for y in (0, 1):
        np.testing.assert_allclose(res.by_year[(0, 0, y + 1)].quota, res.by_year[(0, 0, y)].revenue)
    s, m = res.summary(), res.monthly()
    assert list(s["year"]) == [1, 2, 3] and set(m["year"]) == {1, 2, 3} and len(m) == 36
    fixed = simulate(SALES, plan, trials=40, seed=4, behaviour="none", years=2, marginal=False)
    np.testing.assert_array_equal(fixed.by_year[(0, 0, 1)].quota, 1_000_000.0)
    # behaviour none over two years: the second year is a fresh year of the same market (expected 1 M$ a rep)
    rev2 = fixed.by_year[(0, 0, 1)].revenue
    assert abs(rev2.mean() - 1e6) < 4 * rev2.std() / np.sqrt(rev2.size)


def test_held_back_december_deals_land_in_january():
    """Deals held back in December book in January of the next simulated year, exactly: with a hand-made policy
    (effort 1, hold back half of December's deals) against one that moves nothing, on the same trials, next
    January differs by what December held back (minus the lost share), trial by trial and rep by rep; every
    other month of both years is identical."""
    from spmopt.sim.policy import PolicySet
    from spmopt.sim.vector import BehaviourModel

    reps = read_reps(SALES)
    R = len(reps)

    def policy(push_in_december: bool) -> PolicySet:
        choice = np.zeros((R, 1, 12, 1, 2, 1), dtype=np.int16)
        choice[:, :, 11] = 1 if push_in_december else 0
        return PolicySet(choice=choice, effort=np.ones(choice.shape, np.float32), step=np.full((R, 1), 1e9),
                         y_step=np.zeros((R, 1)), kappa=np.ones(1), efforts=np.ones(1), push=np.array([0.0, 0.5]),
                         pull=np.zeros(2), pull_index=np.zeros(2, dtype=np.intp), phis=np.zeros(1))

    bh = Behaviour(mode="full")
    runs = [BehaviourModel(reps, BASE, CAL, bh, (policy(p), policy(False)), (), 1, 2).run(9, range(30))
            for p in (False, True)]
    (k1, k2), (h1, h2) = runs
    held = h1.pushed
    assert held.sum() > 0 and k1.pushed.sum() == 0
    np.testing.assert_allclose(h2.revenue[..., 0] - k2.revenue[..., 0], held, rtol=1e-12, atol=1e-6)
    np.testing.assert_array_equal(h1.revenue[..., :11], k1.revenue[..., :11])
    np.testing.assert_array_equal(h2.revenue[..., 1:], k2.revenue[..., 1:])
    moved_out = (k1.revenue[..., 11] - h1.revenue[..., 11]).sum()
    assert 1.1 * held.sum() < moved_out < 1.45 * held.sum()   # a fifth of held-back deals lost: 1/(1 − 0.2)


@pytest.mark.slow   # starts a process pool
def test_same_results_for_any_workers_and_chunks_with_behaviour():
    plan = "scenarios/plans/quota_bonus_accelerator.yaml"
    a = simulate(SALES, plan, trials=30, seed=6, behaviour="full", workers=1, chunk_size=30, years=2)
    b = simulate(SALES, plan, trials=30, seed=6, behaviour="full", workers=2, chunk_size=7, years=2)
    for k in a.by_year:
        np.testing.assert_array_equal(a.by_year[k].revenue, b.by_year[k].revenue)
        np.testing.assert_array_equal(a.by_year[k].payout, b.by_year[k].payout)


def test_cli_fast_path_with_behaviour_and_years(tmp_path):
    """The contract: --behaviour full --engine vector runs; --years N adds a year column to both tables."""
    out = tmp_path / "sim"
    reps = tmp_path / "reps.csv"
    pd.read_csv("scenarios/sim/reps.csv").head(3).to_csv(reps, index=False)
    r = CliRunner().invoke(app, ["simulate", "--reps", str(reps), "--plan",
                                 "scenarios/plans/quota_bonus_accelerator.yaml", "--trials", "20", "--seed", "1",
                                 "--behaviour", "full", "--engine", "vector", "--years", "2", "--quota-rule",
                                 "growth:0.05", "--workers", "1", "--no-plot", "--out", str(out)])
    assert r.exit_code == 0, r.output
    s, m = pd.read_csv(out / "summary.csv"), pd.read_csv(out / "monthly.csv")
    assert {"plan", "stress", "year", "revenue_mean", "cost_mean"} <= set(s.columns)
    assert {"plan", "stress", "year", "month", "revenue_mean"} <= set(m.columns)
    assert sorted(s["year"]) == [1, 2] and len(m) == 24
    assert s.set_index("year").loc[2, "effort_mean"] != 1.0


def test_coaching_lifts_closings_as_ramped_and_is_costed():
    """A coaching programme (13 % more deals closed, reached linearly over 6 months, 5,000 a rep) against the same
    plan without it: expected revenue rises by Σ_t c_t·(1 + 0.13·min(1, t/6)) / Σ_t c_t − 1 (worked from the
    closing rates, behaviour none so effort stays 1), in both engines; its cost is reported apart from pay."""
    from spmopt.sim.policy import closing_rates

    plain = _linear(0.04, name="plain")
    coached = plan_from_dict({**plain.model_dump(), "name": "coached",
                              "coaching": {"cost_per_rep": 5000, "win_rate_lift": 0.13, "ramp_months": 6}})
    c, _ = closing_rates(read_reps(SALES), BASE, CAL)
    w = c.sum(axis=0) * 50_000.0
    want = (w * coached.coaching.lift()[0]).sum() / w.sum() - 1
    assert 0.08 < want < 0.12
    vec = simulate(SALES, [plain, coached], trials=1500, seed=8, marginal=False)
    r0, r1 = vec.revenue(0), vec.revenue(1)
    got = r1.mean() / r0.mean() - 1
    se = np.std(r1 - r0 * (1 + want)) / np.sqrt(len(r0)) / r0.mean()
    assert abs(got - want) < 4 * se + 1e-3
    s = vec.summary().set_index("plan")
    assert s.loc["coached", "coaching_cost"] == 5000 * 4 and s.loc["plain", "coaching_cost"] == 0
    des = simulate(SALES, coached, trials=150, seed=9, engine="des", marginal=False)
    assert stats.ks_2samp(des.revenue(), r1).pvalue > 0.01
