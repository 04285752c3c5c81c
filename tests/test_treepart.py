"""Spanning-tree splits (spmopt.territory.treepart): subtree bookkeeping against networkx, the cuts against a
direct check, flows on a path worked out by hand, and the contiguous heuristic at tight balance against
enumeration and the independent checker."""

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from conftest import brute_force
from test_balance import path_problem
from test_spc import grid, rooted

from spmopt.data.generate import generate
from spmopt.territory import check_alignment, make_problem
from spmopt.territory.evaluate import evaluate
from spmopt.territory.heuristics import heuristic
from spmopt.territory.state import State
from spmopt.territory.treepart import Parts, flow_balance, recombine, voronoi


def test_subtree_members_and_sums_match_networkx():
    inst = generate(80, 3, seed=2)
    p = make_problem(inst.units, inst.territories, balance={"potential": 0.2}, contiguity=inst.adjacency)
    P = Parts(p)
    tr = P.tree(np.arange(p.n_units), np.random.default_rng(5))
    edges = [(int(x), int(tr.pred[x])) for x in range(p.n_units) if x != tr.root]
    T = nx.Graph(edges)
    assert nx.is_tree(T) and T.number_of_nodes() == p.n_units
    assert all(p.contiguity.graph.has_edge(p.unit_ids[u], p.unit_ids[v]) for u, v in edges)  # graph edges only
    pot = p.measure("potential")
    sums = tr.sums(pot)
    for x, parent in edges:
        T.remove_edge(x, parent)
        below = nx.node_connected_component(T, x)
        T.add_edge(x, parent)
        assert set(tr.members(x).tolist()) == below
        assert sums[x] == pytest.approx(pot[list(below)].sum())


def test_cuts_are_exactly_the_valid_pieces():
    """Every cut the vectorised test returns holds exactly one territory's root, lies within that territory's
    limits and leaves the other within its own; every tree edge it rejects fails one of those."""
    inst = generate(120, 2, seed=3)
    p = make_problem(inst.units, inst.territories, balance={"potential": 0.1, "workload": 0.1},
                     contiguity=inst.adjacency)
    P = Parts(p)
    roots = set(np.flatnonzero(P.label >= 0).tolist())
    lo, hi = P.lo, P.hi
    rng = np.random.default_rng(0)
    found = 0
    for _ in range(40):
        tr = P.tree(np.arange(p.n_units), rng)
        x, j = P.cuts(tr, [0, 1], both=True)
        got = dict(zip(x.tolist(), j.tolist(), strict=True))
        for v in range(p.n_units):
            if v == tr.root:
                continue
            m = tr.members(v)
            held = roots & set(m.tolist())
            ok = len(held) == 1
            if ok:
                jj = int(P.label[held.pop()])
                s = P.w[m].sum(axis=0)
                r = P.w.sum(axis=0) - s
                ok = bool((s >= lo[:, jj] - 1e-9).all() and (s <= hi[:, jj] + 1e-9).all()
                          and (r >= lo[:, 1 - jj] - 1e-9).all() and (r <= hi[:, 1 - jj] + 1e-9).all())
            assert (v in got) == ok
            if ok:
                assert got[v] == jj
                found += 1
    assert found > 0  # the test saw real cuts


def test_flow_balance_moves_the_hand_worked_flows():
    """12 units on a line, A holds 5, B 4, C 3 (mean 4, limits 3.6–4.4, inner band 3.8–4.2): the targets are
    4.2, 4 and 3.8, so the Laplacian flows are 0.8 A→B and 0.8 B→C; the nearest whole split of each border moves
    one unit, which gives the unique feasible alignment in one sweep."""
    p = path_problem()
    start = np.array([0] * 5 + [1] * 4 + [2] * 3)
    a, taken = flow_balance(p, start, work=10)
    assert a.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert taken == 2


@pytest.mark.parametrize("seed", [3, 5, 11])
def test_recombination_never_beats_enumeration_and_never_worsens(seed):
    units, pairs, xy = grid(seed)
    roots = {"A": "u00", "B": "u03", "C": "u21"}
    bal = {"potential": 0.3, "workload": 0.3}
    best, _ = brute_force(units, {t: xy[u] for t, u in roots.items()}, balance=bal,
                          locks={u: t for t, u in roots.items()}, adjacency=pairs)
    p = rooted(units, pairs, roots, bal)
    h = heuristic(p, work=3)
    if not np.isfinite(best):
        assert not h.feasible
        return
    if not h.feasible:
        pytest.skip("the heuristic found nothing on this instance")  # allowed; feasibility is not promised
    check_alignment(p, h.assignment)
    assert h.objective >= best - 1e-6
    tids = pd.Index(p.territory_ids)
    a0 = tids.get_indexer(h.assignment.to_numpy())
    a, _ = recombine(p, a0, work=2, seed=seed)
    out = pd.Series(np.asarray(p.territory_ids, dtype=object)[a], index=p.unit_ids)
    check_alignment(p, out)
    assert evaluate(p, out).objective <= h.objective + 1e-9
    assert evaluate(p, out).objective >= best - 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_tight_two_measure_balance_with_contiguity_is_reached(seed):
    """±5 % on potential and workload with every territory connected: the nearest-root start is far out of
    balance, the heuristic must come back feasible, contiguous and with the roots in place."""
    inst = generate(400, 8, seed=seed)
    p = make_problem(inst.units, inst.territories, balance={"potential": 0.05, "workload": 0.05},
                     contiguity=inst.adjacency)
    v = voronoi(p)
    assert State(p, v).violation() > 10  # the start really is out of balance
    h = heuristic(p, work=20)
    assert h.feasible
    check_alignment(p, h.assignment)  # contiguous, within every limit, centre units at home (raises otherwise)
    g = p.contiguity.graph
    for t in p.territory_ids:
        assert nx.is_connected(g.subgraph(h.assignment.index[h.assignment == t]))


@pytest.mark.slow
def test_solve_with_contiguity_at_tight_balance_returns_a_checked_answer_and_honest_gap():
    """The whole pipeline at ±5 % / ±5 % with contiguity (before the spanning-tree heuristic: no feasible
    answer in time): a contiguous alignment within every limit, a bound no higher than the objective, and the
    gap computed from them."""
    from spmopt.solver import SolveOptions
    from spmopt.territory.solve import solve_problem

    inst = generate(300, 6, seed=5)
    p = make_problem(inst.units, inst.territories, balance={"potential": 0.05, "workload": 0.05},
                     contiguity=inst.adjacency)
    r = solve_problem(p, SolveOptions(time_limit=15, mip_gap=1e-3))
    check_alignment(p, r.assignment)
    assert r.stage.split("+")[0] in {"heuristic", "mip", "spc", "mip+heuristic"}
    assert r.bound <= r.objective + 1e-6
    assert r.gap == pytest.approx((r.objective - r.bound) / r.objective)
    if "recombination" in r.stage:
        rec = r.options["recombination"]
        assert rec["after"] < rec["before"] and rec["after"] == pytest.approx(r.objective)
