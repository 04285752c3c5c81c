"""Heuristic (feasibility claims agree with the checker, contiguity kept) and the disruption frontier
(each point equals the enumerated optimum at its limit)."""

import numpy as np
import pandas as pd
import pytest
from conftest import brute_force

import spmopt
from spmopt.data.generate import generate
from spmopt.solver import SolveOptions
from spmopt.territory import check_alignment, make_problem
from spmopt.territory.contiguity import disconnected
from spmopt.territory.heuristics import heuristic
from spmopt.territory.pareto import disruption_frontier


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("contiguity", [None, "auto"])
def test_heuristic_feasibility_claim_matches_checker(seed, contiguity):
    g = generate(150, 5, seed=seed)
    p = make_problem(g.units, g.territories, balance={"potential": 0.25, "workload": 0.25}, contiguity=contiguity)
    h = heuristic(p, time_limit=3)
    assert h.assignment.index.equals(p.unit_ids) and h.assignment.notna().all()
    if h.feasible:
        check_alignment(p, h.assignment)
    if contiguity:  # the start is repaired to be contiguous and every move keeps it so
        assert not disconnected(p.contiguity.graph, h.assignment)


def test_heuristic_reaches_feasibility_and_is_no_better_than_optimum(line_units, line_territories):
    centres = {"A": (0.0, 0.0), "B": (10.0, 0.0)}
    best, _ = brute_force(line_units, centres, balance={"potential": 0.2})
    p = make_problem(line_units.drop(columns="current_territory"), line_territories, balance={"potential": 0.2})
    h = heuristic(p, time_limit=2)
    assert h.feasible
    check_alignment(p, h.assignment)
    assert h.objective >= best - 1e-9


def test_time_limit_with_contiguity_returns_feasible_alignment_and_gap():
    g = generate(300, 6, seed=1)
    r = spmopt.align(g.units, g.territories, balance={"potential": 0.4}, contiguity="auto", time_limit=4)
    check_alignment(r.problem, r.assignment)
    assert r.status in ("optimal", "feasible") and r.gap is not None and 0 <= r.gap < 1
    assert r.bound <= r.objective + 1e-6


def test_frontier_points_match_enumeration(line_units, line_territories):
    """Frontier on potential moved; every point is the enumerated optimum under its limit, the first point's
    limit is the least feasible disruption, and distance never rises as the limit grows."""
    centres = {"A": (0.0, 0.0), "B": (10.0, 0.0)}
    bal = {"potential": 0.3}  # enumeration: 10 % moved → distance 22, ≥ 15 % moved → 14
    p = make_problem(line_units, line_territories, balance=bal)
    fr = disruption_frontier(p, SolveOptions(time_limit=30, mip_gap=1e-9), measure="potential", points=4)
    t = fr.table
    # least feasible disruption by enumeration, on a 1 % grid
    least = None
    for frac in np.linspace(0, 1, 101):
        cost, _ = brute_force(line_units, centres, balance=bal, max_disruption={"potential": frac})
        if np.isfinite(cost):
            least = frac
            break
    assert least is not None
    assert t["limit"].iloc[0] <= least + 1e-6
    for _, row in t.iterrows():
        cost, _ = brute_force(line_units, centres, balance=bal, max_disruption={"potential": row["limit"]})
        assert row["distance"] == pytest.approx(cost, abs=1e-6)
        assert row["disruption"] <= row["limit"] + 1e-9
    assert (np.diff(t["distance"]) <= 1e-9).all()
    assert t["distance"].iloc[0] == pytest.approx(22.0) and t["distance"].iloc[-1] == pytest.approx(14.0)
    free, _ = brute_force(line_units, centres, balance=bal)
    assert t["distance"].iloc[-1] == pytest.approx(free, abs=1e-6)


def test_frontier_needs_current_alignment(line_units, line_territories):
    p = make_problem(line_units.drop(columns="current_territory"), line_territories)
    with pytest.raises(spmopt.errors.InputError, match="current alignment"):
        disruption_frontier(p, SolveOptions())


def test_cli_pareto_writes_csv_png_and_assignments(tmp_path, line_units, line_territories):
    from typer.testing import CliRunner

    from spmopt.cli import app

    line_units.to_csv(tmp_path / "u.csv", index=False)
    line_territories.to_csv(tmp_path / "t.csv", index=False)
    res = CliRunner().invoke(app, ["align", "--units", str(tmp_path / "u.csv"), "--territories",
                                   str(tmp_path / "t.csv"), "--balance", "potential=0.3", "--pareto",
                                   "disruption", "--pareto-points", "3", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    t = pd.read_csv(tmp_path / "o" / "pareto.csv")
    assert len(t) == 3 and {"limit", "disruption", "distance", "gap", "status"} <= set(t.columns)
    assert (tmp_path / "o" / "pareto.png").stat().st_size > 1000
    assert len(list((tmp_path / "o" / "pareto").glob("assignment_*.csv"))) == 3
