"""National-scale machinery: the Lagrangian bound, candidate restriction with an honest bound, and the regional
decomposition. References are independent: enumeration (conftest.brute_force) and the LP relaxation of the
Pyomo model solved by HiGHS with integrality dropped."""

import itertools

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
from conftest import brute_force

from spmopt.data.generate import generate
from spmopt.solver import SolveOptions, solve
from spmopt.territory import check_alignment, make_problem
from spmopt.territory.decompose import improve_by_regions, subproblem
from spmopt.territory.evaluate import evaluate, violations
from spmopt.territory.mip import build_model
from spmopt.territory.pricing import candidate_mask, lagrangian, lagrangian_ascent, lp_bound, side_rows
from spmopt.territory.solve import solve_problem


def _tiny(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Eight units, three territories, with a current alignment: small enough to enumerate 3^8 assignments."""
    rng = np.random.default_rng(seed)
    units = pd.DataFrame({
        "unit_id": [f"u{i}" for i in range(8)],
        "x": rng.uniform(0, 10, 8), "y": rng.uniform(0, 10, 8),
        "potential": rng.integers(5, 30, 8).astype(float),
        "workload": rng.integers(1, 6, 8).astype(float),
        "current_territory": rng.choice(["A", "B", "C"], 8),
    })
    centres = {"A": (1.0, 1.0), "B": (9.0, 2.0), "C": (5.0, 9.0)}
    terr = pd.DataFrame({"territory_id": list(centres), "x": [c[0] for c in centres.values()],
                         "y": [c[1] for c in centres.values()]})
    return units, terr, centres


REQUESTS = [
    dict(balance={"potential": 0.35}),
    dict(balance={"potential": 0.4, "workload": 0.5}, max_disruption={"potential": 0.6}),
    dict(balance={"potential": 0.4}, disruption_price={"potential": 0.05}),
    dict(capacity={"workload": 12.0}, disruption_price={"workload": 0.3}),
]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("req", range(len(REQUESTS)))
def test_lagrangian_is_a_lower_bound_for_any_multipliers(seed, req):
    """L(y) ≤ the enumerated optimum for every y ≥ 0 (weak duality) — random y, y = 0 and the ascent's best."""
    units, terr, centres = _tiny(seed)
    kw = REQUESTS[req]
    opt, _ = brute_force(units, centres, **kw)
    assert np.isfinite(opt)  # the requests are loose enough for every draw here
    p = make_problem(units, terr, **kw, contiguity=False)
    rows = side_rows(p)
    rng = np.random.default_rng(seed)
    for _ in range(50):
        y = rng.exponential(rng.choice([0.01, 0.3, 3.0]), rows.n_rows)
        assert lagrangian(rows, y)[0] <= opt + 1e-7
    L0 = lagrangian(rows, np.zeros(rows.n_rows))[0]
    asc = lagrangian_ascent(p, work=2.0)
    assert L0 - 1e-9 <= asc.value <= opt + 1e-7


def _lp_relaxation(p) -> float:
    am = build_model(p)
    pyo.TransformationFactory("core.relax_integer_vars").apply_to(am.model)
    out = solve(am.model, SolveOptions(time_limit=60, mip_gap=0))
    assert out.status == "optimal"
    return out.objective


@pytest.mark.parametrize("seed", [1, 2])
def test_column_generation_reaches_the_full_lp_and_ascent_approaches_it(seed):
    g = generate(400, 8, seed=seed)
    p = make_problem(g.units, g.territories, balance={"potential": 0.05, "workload": 0.05},
                     max_disruption={"potential": 0.5}, contiguity=False)
    ref = _lp_relaxation(p)
    lp = lp_bound(p, k=2)  # starts from 2 pairs per unit: infeasible alone, so columns must price in
    assert lp.complete and lp.columns < p.n_units * len(p.territory_ids)
    assert lp.value == pytest.approx(ref, rel=1e-7)
    asc = lagrangian_ascent(p, work=5.0)
    assert ref * (1 - 5e-3) <= asc.value <= ref + 1e-6 * abs(ref)


@pytest.mark.parametrize("seed", [1, 2])
def test_one_interior_point_lp_over_candidates_bounds_every_pair_and_beats_the_ascent(seed):
    """The pricing LP (interior point, one round, no columns priced in): L(y) of its duals is a bound for the full
    problem whatever columns it had — at most the full LP value — and on these cases it is above the ascent's and
    within 0.1 % of the full LP."""
    g = generate(400, 8, seed=seed)
    p = make_problem(g.units, g.territories, balance={"potential": 0.05, "workload": 0.05}, contiguity=False)
    ref = _lp_relaxation(p)
    asc = lagrangian_ascent(p, work=1.0)
    lp = lp_bound(p, start=candidate_mask(asc, 3), method="ipm", max_rounds=1)
    assert lp.rounds == 1 and lp.columns < p.n_units * 8
    assert asc.value - 1e-9 <= lp.value <= ref + 1e-7 * abs(ref)
    assert lp.value >= ref * (1 - 1e-3)
    x = lp.x
    assert np.allclose(x.sum(axis=1), 1.0) and (x >= -1e-9).all()  # the LP solution: each unit fully assigned


def test_candidate_restriction_keeps_the_bound_valid_for_all_pairs():
    """With 1 or 2 candidate territories per unit, the answer may be worse but the reported bound must stay below
    the all-pairs optimum (solved to proven optimality here)."""
    g = generate(120, 4, seed=3)
    p = make_problem(g.units, g.territories, balance={"potential": 0.1, "workload": 0.15}, contiguity=False)
    full = solve_problem(p, SolveOptions(time_limit=120, mip_gap=1e-6, candidates=0))
    assert full.status == "optimal"
    for k in (1, 2):
        r = solve_problem(p, SolveOptions(time_limit=60, mip_gap=1e-6, candidates=k, regions=0))
        check_alignment(p, r.assignment)
        assert r.objective >= full.objective - 1e-6
        assert r.bound <= full.objective + 1e-6
        c = r.options["candidates"]
        assert c["lagrangian_bound"] <= full.objective + 1e-6
        assert r.gap == pytest.approx((r.objective - r.bound) / r.objective)


def test_subproblem_balances_against_the_global_mean():
    g = generate(200, 6, seed=4)
    p = make_problem(g.units, g.territories, balance={"potential": 0.1}, max_disruption={"potential": 0.3},
                     contiguity=False)
    a = np.argmin(np.where(p.allowed(), p.cost(), np.inf), axis=1)
    sub, rows = subproblem(p, a, [0, 2, 5])
    mu = g.units["potential"].sum() / 6
    assert sub.n_units == int(np.isin(a, [0, 2, 5]).sum()) and len(rows) == sub.n_units
    assert np.allclose(sub.limits[("max", "potential")], 1.1 * mu)
    assert np.allclose(sub.limits[("min", "potential")], 0.9 * mu)
    # the nearest-centre assignment is the generator's current one: nothing has moved outside, so the region
    # keeps the whole budget, rescaled to its own base
    cur_pot = g.units.set_index("unit_id")["potential"]
    base, base_in = cur_pot.sum(), cur_pot.iloc[rows].sum()
    assert sub.max_disruption["potential"] == pytest.approx(min(1.0, 0.3 * base / base_in))


@pytest.mark.parametrize("contiguity", [None, pytest.param("auto", marks=pytest.mark.slow)])
def test_regions_improve_a_feasible_start_and_stay_feasible(contiguity):
    g = generate(150, 5, seed=0)
    p = make_problem(g.units, g.territories, balance={"potential": 0.4}, contiguity=contiguity)
    start = solve_problem(p, SolveOptions(time_limit=30, mip_gap=0.25)).assignment  # a rough feasible start
    r = improve_by_regions(p, start, work=20, size=3, region_work=2, solve_problem=solve_problem)
    assert r.feasible and not violations(p, r.assignment)
    assert r.objective <= evaluate(p, start).objective + 1e-6
    check_alignment(p, r.assignment)


@pytest.mark.slow
def test_auto_path_on_a_large_request_reports_an_honest_bound():
    """Above AUTO_PAIRS the pipeline prices, restricts and decomposes. The Lagrangian part of the bound cannot
    exceed the full LP value (computed here by column generation), and the answer cannot beat it."""
    g = generate(2600, 100, seed=2)
    p = make_problem(g.units, g.territories, balance={"potential": 0.3}, contiguity=False)
    r = solve_problem(p, SolveOptions(time_limit=40, mip_gap=1e-3))
    check_alignment(p, r.assignment)
    c = r.options["candidates"]
    # restricted to candidates (AUTO_CANDIDATES = 2 per unit; since the widening rule of stop 22 it widens only
    # when three more rounds like the last fit in the time left, which 40 s on this case does not give — this
    # slow test had asserted ≥ 3 and failed at 126d62d too, unnoticed while CI skipped the slow tests)
    assert c["per_unit"] >= 2 and c["pairs"] < p.n_units * 100
    lp = lp_bound(p, k=4, work=120)
    assert lp.complete
    assert c["lagrangian_bound"] <= lp.value + 1e-6 * abs(lp.value)
    assert r.objective >= lp.value - 1e-6 * abs(lp.value)
    assert r.bound <= r.objective


def test_heuristic_budget_is_decided_by_work_not_by_a_slow_stage(monkeypatch):
    """The stages share the budget by work (spmopt.work), so a stage that is slow on the wall clock — here the
    pricing LP, slowed by 1 s — changes nothing: the heuristic gets the same budget, capped at 90 % of the work
    the pricing left (with contiguity at national scale its share is 80 % of the budget, and a slow pricing once
    made 10,000 × 100 end 7 s past a 60 s limit), and the answer is the same."""
    import time

    import spmopt.territory.solve as solve_mod
    from spmopt import work as wk

    g = generate(150, 5, seed=0)
    p = make_problem(g.units, g.territories, balance={"potential": 0.3}, contiguity=g.adjacency)
    real_lp, real_h = solve_mod.lp_bound, solve_mod.heuristic

    def run(sleep: float):
        seen = {}

        def slow_lp(*args, **kw):
            time.sleep(sleep)
            return real_lp(*args, **kw)

        def record(prob, *, work, **kw):
            if not seen:  # the first call is the start heuristic (contiguity rounds may call it again)
                clock = wk.current()
                seen["budget"], seen["left"] = work, clock.budget - clock.used
            return real_h(prob, work=work, **kw)

        monkeypatch.setattr(solve_mod, "lp_bound", slow_lp)
        monkeypatch.setattr(solve_mod, "heuristic", record)
        r = solve_problem(p, SolveOptions(time_limit=60.0, work=4.0, mip_gap=1e-3, candidates=2))
        assert r.options["candidates"]["per_unit"] >= 2  # the priced path ran
        assert not r.options["work"]["guard_hit"]
        return seen, r

    quick, r1 = run(0.0)
    slow, r2 = run(1.0)
    assert quick["left"] < 4.0  # the pricing charged some of the 4 units
    assert quick["budget"] <= 0.9 * quick["left"] + 1e-9
    assert slow == quick  # to the last digit: no wall clock in the decisions
    assert r2.assignment.equals(r1.assignment)
    assert r2.options["work"]["work_used"] == r1.options["work"]["work_used"]


def test_restricted_lp_reports_the_artificial_slack_it_needed():
    """Four units on a line (x = 0, 1, 2, 10), potential 1 each, centres at 0 and 10, balance ±20 % (band
    [1.6, 2.4]). With only each unit's nearest territory as a column, A must hold 3 (0.6 over) and B 1 (0.6
    under): the restricted LP can only meet the rows with 1.2 of artificial slack. With every pair it needs none."""
    units = pd.DataFrame({"unit_id": list("abcd"), "x": [0.0, 1.0, 2.0, 10.0], "y": 0.0, "potential": 1.0})
    terr = pd.DataFrame({"territory_id": ["A", "B"], "x": [0.0, 10.0], "y": [0.0, 0.0]})
    p = make_problem(units, terr, balance={"potential": 0.2}, contiguity=False)
    nearest = lp_bound(p, k=1, max_rounds=1)
    assert nearest.slack == pytest.approx(1.2, abs=1e-7)
    full = lp_bound(p, k=2)
    assert full.slack == pytest.approx(0.0, abs=1e-9) and full.complete
    # all pairs: 0.6 of c (the cheapest to move, 2 → 8) goes to B; LP optimum 0 + 1 + 0.4·2 + 0.6·8 + 0 = 6.6
    assert full.lp_value == pytest.approx(6.6, abs=1e-6)


@pytest.mark.slow
def test_pricing_spends_an_unusable_lp_s_time_on_more_subgradient_steps(monkeypatch):
    """When the restricted LP needs its artificial slacks (or returns nothing), its duals and rounded answer
    are not used: the ascent continues from its best multipliers for the rest of the LP's budget, and the
    bound reported is the subgradient one."""
    import dataclasses

    import spmopt.territory.solve as solve_mod

    g = generate(400, 20, seed=3)
    p = make_problem(g.units, g.territories, balance={"potential": 0.3}, contiguity=False)
    real_lp, real_asc = solve_mod.lp_bound, solve_mod.lagrangian_ascent
    calls = []

    def bad_lp(*args, **kw):
        return dataclasses.replace(real_lp(*args, **kw), slack=5.0)

    def asc(prob, **kw):
        calls.append(kw.get("y0") is not None)
        return real_asc(prob, **kw)

    monkeypatch.setattr(solve_mod, "lp_bound", bad_lp)
    monkeypatch.setattr(solve_mod, "lagrangian_ascent", asc)
    r = solve_problem(p, SolveOptions(time_limit=20, mip_gap=1e-3, candidates=3))
    check_alignment(p, r.assignment)
    assert calls == [False, True]  # the first ascent, then one more from its multipliers
    assert r.options["candidates"]["duals"] == "subgradient"
    assert r.bound <= r.objective


@pytest.mark.slow
def test_candidates_are_not_widened_into_a_model_the_work_left_cannot_hold(monkeypatch):
    """One candidate per unit at ±2 % is infeasible and the heuristic is off, so the pipeline widens the
    candidates while work allows. With each round charged 2 more units and a 4.2-unit budget (0.6 × 7 s), a
    second round would end past the budget: the pipeline stops with a clear error inside it instead. Uncharged,
    it widens and solves."""
    import spmopt.territory.solve as solve_mod
    from spmopt import work as wk
    from spmopt.errors import SolverError

    g = generate(300, 10, seed=4)
    p = make_problem(g.units, g.territories, balance={"potential": 0.02}, contiguity=False)
    opts = SolveOptions(time_limit=7.0, mip_gap=1e-3, candidates=1, heuristic=False, regions=0)
    r = solve_problem(p, dataclasses_replace(opts, time_limit=60.0))
    assert r.options["candidates"]["per_unit"] > 1  # widened and solved
    check_alignment(p, r.assignment)
    real = solve_mod._solve_in_rounds

    def slow(*args, **kw):
        wk.current().charge(2.0)
        return real(*args, **kw)

    monkeypatch.setattr(solve_mod, "_solve_in_rounds", slow)
    with wk.clock(None) as outer, pytest.raises(SolverError, match="candidate territories per unit"):
        solve_problem(p, opts)
    assert outer.used < 4.2 + 0.5


def dataclasses_replace(obj, **kw):
    import dataclasses

    return dataclasses.replace(obj, **kw)


def test_the_start_is_the_rounded_pricing_answer_that_breaks_the_limits_least():
    """Four units on a line (x = 0, 1, 2, 10), potential 1 each, balance ±20 %: the ascent's answer A,A,A,B breaks
    both bands by 0.6 (1.5 tolerances each of 0.4), the LP's A,A,B,B meets them; the LP's is taken whatever its
    duals, and the ascent's when there is no LP."""
    from spmopt.territory.pricing import LPBound
    from spmopt.territory.solve import _rounded_start

    units = pd.DataFrame({"unit_id": list("abcd"), "x": [0.0, 1.0, 2.0, 10.0], "y": 0.0, "potential": 1.0})
    terr = pd.DataFrame({"territory_id": ["A", "B"], "x": [0.0, 10.0], "y": [0.0, 0.0]})
    p = make_problem(units, terr, balance={"potential": 0.2}, contiguity=False)

    def bound(cols):
        x = np.zeros((4, 2))
        x[np.arange(4), cols] = 1.0
        return LPBound(value=0.0, lp_value=0.0, y=np.zeros(0), reduced=np.zeros((4, 2)), x=x, columns=0, rounds=1,
                       complete=False, seconds=0.0, slack=3.0)

    asc, lp = bound([0, 0, 0, 1]), bound([0, 0, 1, 1])
    assert list(_rounded_start(p, asc, lp)) == ["A", "A", "B", "B"]
    assert list(_rounded_start(p, lp, asc)) == ["A", "A", "B", "B"]
    assert list(_rounded_start(p, asc, None)) == ["A", "A", "A", "B"]


@pytest.mark.slow
def test_a_heuristic_that_ends_short_of_the_limits_is_repaired_by_the_regions(monkeypatch):
    """At national scale the penalty search can end a sliver short of the limits; the regions around the
    territories that break them then repair its answer before the MIP. Here the heuristic returns a feasible
    answer with a few units moved to their nearest other territory until it breaks the ±10 % band."""
    import spmopt.territory.solve as solve_mod
    from spmopt.territory.heuristics import HeuristicResult

    g = generate(400, 20, seed=5)
    p = make_problem(g.units, g.territories, balance={"potential": 0.1}, contiguity=False)
    good = solve_problem(p, SolveOptions(time_limit=10, mip_gap=1e-2, candidates=3)).assignment
    off = good.copy()
    cost = pd.DataFrame(p.cost(), index=p.unit_ids, columns=p.territory_ids)
    for u in off.index[:40]:
        off[u] = cost.loc[u].drop(off[u]).idxmin()
        if violations(p, off):
            break
    assert violations(p, off)

    def short(prob, **kw):
        return HeuristicResult(assignment=off, feasible=False, objective=evaluate(prob, off).objective,
                               violation=1.0, work=0.0, moves=0)

    monkeypatch.setattr(solve_mod, "heuristic", short)
    said = []
    r = solve_problem(p, SolveOptions(time_limit=25, mip_gap=1e-3, candidates=3), progress=said.append)
    check_alignment(p, r.assignment)
    assert any(m.startswith("regions: repair feasible") for m in said)


def test_regions_of_two_grow_to_three_for_an_exchange_only_a_cycle_makes():
    """Three units, one per territory (count balance ±1 %: every territory holds exactly one). Cost of the
    current diagonal a→A, b→B, c→C is 5 + 5 + 5 = 15; each unit is free (0) in the next territory round the
    cycle and costs 11 in the third. Every exchange of two units costs 0 + 11 + 5 = 16 > 15, so regions of two
    territories improve nothing; the three-way rotation a→B, b→C, c→A costs 0 (by hand, and the brute force over
    the 3! one-per-territory assignments agrees). The regions must grow to three and find it."""
    d = {"a": {"A": 5, "B": 0, "C": 11}, "b": {"A": 11, "B": 5, "C": 0}, "c": {"A": 0, "B": 11, "C": 5}}
    units = pd.DataFrame({"unit_id": list("abc"), "x": 0.0, "y": 0.0, "count": 1.0})
    terr = pd.DataFrame({"territory_id": list("ABC"), "x": 0.0, "y": 0.0})
    dist = pd.DataFrame([{"unit_id": u, "territory_id": t, "distance": float(v)}
                         for u, row in d.items() for t, v in row.items()])
    p = make_problem(units, terr, dist, balance={"count": 0.01}, contiguity=False)
    best = min(sum(d[u][t] for u, t in zip("abc", perm, strict=True)) for perm in itertools.permutations("ABC"))
    assert best == 0
    start = pd.Series(list("ABC"), index=pd.Index(list("abc"), name="unit_id"))
    pairs = improve_by_regions(p, start, work=20, size=2, region_work=2, mip_gap=1e-9,
                               solve_problem=solve_problem)
    assert pairs.size == 3 and pairs.objective == pytest.approx(best, abs=1e-9)
    assert pairs.assignment.to_dict() == {"a": "B", "b": "C", "c": "A"}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("req", range(len(REQUESTS)))
def test_regions_score_each_answer_by_its_moves_and_reach_the_enumerated_optimum(seed, req):
    """The regions keep the score up to date move by move (no full evaluation per region): the objective they
    report must be the evaluator's for the answer they return — disruption prices included — and on three
    territories, regions of two that grow to all three end at the optimum found by enumerating 3^8 assignments."""
    units, terr, centres = _tiny(seed)
    kw = REQUESTS[req]
    p = make_problem(units, terr, **kw, contiguity=False)
    ref, _ = brute_force(units, centres, **kw)
    start = units.set_index("unit_id")["current_territory"]  # may break the limits: the regions repair it
    r = improve_by_regions(p, start, work=30, size=2, region_work=5, mip_gap=1e-9, solve_problem=solve_problem)
    assert r.feasible and not violations(p, r.assignment)
    assert r.objective == pytest.approx(evaluate(p, r.assignment).objective, rel=1e-9, abs=1e-9)
    assert r.objective == pytest.approx(ref, rel=1e-6, abs=1e-6)


@pytest.mark.slow
def test_patience_from_the_first_feasible_answer_stops_the_search_early_and_keeps_its_best():
    """With ``patience_from_feasible`` a search that is feasible at once and then stops gaining ends long before
    its limit (on 150 units the kicks stop gaining after a few seconds; it then waits as long again plus 3 % of
    the 60 s), and what it returns is feasible by the checker, at the cost the evaluator gives."""
    from spmopt.territory.heuristics import start_assignment
    from spmopt.territory.search import penalty_search

    g = generate(150, 5, seed=0)
    p = make_problem(g.units, g.territories, balance={"potential": 0.4}, contiguity=False)
    r = penalty_search(p, start_assignment(p), work=60.0, patience=1.0, patience_from_feasible=True)
    assert r.feasible and r.work < 30.0
    s = pd.Series(np.asarray(p.territory_ids, dtype=object)[r.assignment], index=p.unit_ids)
    assert not violations(p, s)
    assert r.objective == pytest.approx(evaluate(p, s).objective, rel=1e-9)
