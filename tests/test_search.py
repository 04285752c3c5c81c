"""Penalty search (spmopt.territory.search): answers checked against enumeration, the independent checker and
networkx, and its bookkeeping against a recomputation from the tables."""

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from conftest import brute_force
from test_spc import grid, rooted

from spmopt.data.generate import generate
from spmopt.territory import check_alignment, make_problem
from spmopt.territory.contiguity import disconnected, repair
from spmopt.territory.evaluate import evaluate, violations
from spmopt.territory.heuristics import start_assignment
from spmopt.territory.search import penalty_search, search_data


def as_series(p, a):
    return pd.Series(np.asarray(p.territory_ids, dtype=object)[a], index=p.unit_ids, name="territory_id")


def contiguous_start(p):
    tids = pd.Index(p.territory_ids)
    return tids.get_indexer(repair(p, p.contiguity.graph, as_series(p, start_assignment(p))).to_numpy())


@pytest.mark.parametrize("seed", [3, 5, 11, 17])
def test_finds_the_enumerated_contiguous_optimum_on_small_grids(seed):
    """3×4 grids, three rooted territories, two measures at ±40 %: 3^9 assignments of the free units are
    enumerated; the search (moves, swaps, kicks) reaches the contiguous optimum and each territory is connected."""
    units, pairs, xy = grid(seed)
    roots = {"A": "u00", "B": "u03", "C": "u21"}
    bal = {"potential": 0.4, "workload": 0.4}
    cost, _ = brute_force(units, {t: xy[u] for t, u in roots.items()}, balance=bal,
                          locks={u: t for t, u in roots.items()}, adjacency=pairs)
    p = rooted(units, pairs, roots, bal)
    r = penalty_search(p, contiguous_start(p), work=0.5, seed=seed)
    a = as_series(p, r.assignment)
    assert r.feasible and not violations(p, a)
    assert r.objective == pytest.approx(cost, abs=1e-6)
    g = nx.Graph(pairs)
    assert all(nx.is_connected(g.subgraph(a.index[a == t])) for t in roots)


def test_finds_the_enumerated_optimum_without_contiguity(line_units, line_territories):
    """Seven units on a line, ±20 % potential: the optimum (enumerated) is found from the nearest-centre start,
    which breaks the balance."""
    best, _ = brute_force(line_units, {"A": (0.0, 0.0), "B": (10.0, 0.0)}, balance={"potential": 0.2})
    p = make_problem(line_units.drop(columns="current_territory"), line_territories, balance={"potential": 0.2},
                     contiguity=False)
    start = start_assignment(p)
    assert violations(p, as_series(p, start))
    r = penalty_search(p, start, work=1.0)
    assert r.feasible
    check_alignment(p, as_series(p, r.assignment))
    assert r.objective == pytest.approx(best, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_contiguity_is_kept_and_claims_match_the_checker(seed):
    g = generate(300, 6, seed=seed)
    p = make_problem(g.units, g.territories, balance={"potential": 0.2, "workload": 0.2}, contiguity="auto")
    start = contiguous_start(p)
    assert not disconnected(p.contiguity.graph, as_series(p, start))
    r = penalty_search(p, start, work=2.0, seed=seed)
    a = as_series(p, r.assignment)
    assert not disconnected(p.contiguity.graph, a)
    assert r.feasible == (not violations(p, a))
    assert r.feasible  # ±20 % on 300 units is reached within the time on both seeds
    assert r.objective == pytest.approx(evaluate(p, a).objective, rel=1e-9)  # running sums = a recount
    locked = p.locks()
    assert (a[locked.index] == locked).all()  # centre units stay (locked with contiguity)


def test_disruption_limit_and_price_are_kept_in_the_books(line_units, line_territories):
    """With a price and a limit on moved potential, the search's objective equals the checker's (distance +
    price × moved potential) and the limit holds; the enumerated optimum is reached."""
    kw = dict(balance={"potential": 0.3}, max_disruption={"potential": 0.3}, disruption_price={"potential": 0.05})
    best, _ = brute_force(line_units, {"A": (0.0, 0.0), "B": (10.0, 0.0)}, **kw)
    p = make_problem(line_units, line_territories, **kw, contiguity=False)
    r = penalty_search(p, start_assignment(p), work=1.0)
    a = as_series(p, r.assignment)
    assert r.feasible
    check_alignment(p, a)
    assert r.objective == pytest.approx(evaluate(p, a).objective, rel=1e-12)
    assert r.objective == pytest.approx(best, abs=1e-9)


def test_a_feasible_start_is_never_made_worse():
    g = generate(200, 5, seed=4)
    p = make_problem(g.units, g.territories, balance={"potential": 0.5}, contiguity="auto")
    first = penalty_search(p, contiguous_start(p), work=1.0)
    assert first.feasible
    again = penalty_search(p, first.assignment, work=0.5, seed=9)
    assert again.feasible and again.objective <= first.objective + 1e-9


def test_chosen_centres_keep_their_own_unit():
    g = generate(120, 4, seed=2)
    p = make_problem(g.units.drop(columns="current_territory"), None, k=4, balance={"potential": 0.3}, contiguity=False)
    a0 = start_assignment(p)
    cols = np.unique(a0)
    r = penalty_search(p, a0, work=1.0, data=search_data(p, cols))
    assert set(np.unique(r.assignment)) <= set(cols)
    centre = p.centre_index()
    assert all(r.assignment[centre[j]] == j for j in cols)


@pytest.mark.parametrize("dense_max", [400, 0], ids=["dense", "sparse"])
def test_flow_prices_route_the_violations_as_an_electrical_flow(dense_max, monkeypatch):
    """Three territories on a path 0 – 1 – 2 (one unit each), one measure with σ = 1, band [4, 10]: territory 0
    at 12 (2 over), 1 at 5, 2 at 3 (1 under). Signed violations (2, 0, −1), mean 1/3 taken off: (5/3, −1/3,
    −4/3). On a path with unit resistances the flow across 0–1 is 5/3 and across 1–2 is 5/3 − 1/3 = 4/3, so
    the prices (λ φ / σ²) differ by λ·5/3 and λ·4/3, and sum to 0 (εI fixes the mean of φ at the mean of e)."""
    import spmopt.territory.search as search
    from spmopt.territory.search import SearchData, _flow_prices

    monkeypatch.setattr(search, "DENSE_MAX", dense_max)
    a = np.array([0, 1, 2])
    indptr = np.array([0, 1, 3, 4])
    indices = np.array([1, 0, 2, 1])
    d = SearchData(cost=np.zeros((3, 3)), allowed=np.ones((3, 3), dtype=bool), w=np.array([[12.0], [5.0], [3.0]]),
                   lo=np.full((1, 3), 4.0), hi=np.full((1, 3), 10.0), scale=np.array([1.0]),
                   free=np.ones(3, dtype=bool), indptr=indptr, indices=indices, graph=True,
                   near=np.zeros((3, 1), dtype=np.int64), cur=np.full(3, -1), dw=np.zeros((3, 0)),
                   dlim=np.zeros(0), dscale=np.zeros(0))
    sizes = np.array([[12.0, 5.0, 3.0]])
    pr = _flow_prices(a, sizes, d, 2.0)
    assert pr.shape == (1, 3)
    assert pr[0, 0] - pr[0, 1] == pytest.approx(2.0 * 5 / 3, rel=1e-5)
    assert pr[0, 1] - pr[0, 2] == pytest.approx(2.0 * 4 / 3, rel=1e-5)
    assert pr.sum() == pytest.approx(0.0, abs=1e-5)
    # stalled: the busiest edge (5/3 tolerances) already carries more than push = 1.2, so nothing changes;
    # push = 5 scales every price by 5 / (5/3) = 3
    assert _flow_prices(a, sizes, d, 2.0, push=1.2) == pytest.approx(pr)
    assert _flow_prices(a, sizes, d, 2.0, push=5.0) == pytest.approx(3 * pr, rel=1e-6)
    # within the band nothing flows
    assert _flow_prices(a, np.array([[6.0, 5.0, 7.0]]), d, 2.0) == pytest.approx(np.zeros((1, 3)), abs=1e-9)
