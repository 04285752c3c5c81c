"""Shortest-path contiguity (SPC) and the flow warm start: checked against enumeration and the flow equations.

SPC is a restriction of rooted contiguity: every answer must be contiguous (checked with networkx) and can never
beat the enumerated contiguous optimum; on a tree (one path per pair of units) the two coincide.
"""

import networkx as nx
import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
from conftest import brute_force

import spmopt
from spmopt.solver import SolveOptions, solve
from spmopt.territory import make_problem
from spmopt.territory.evaluate import evaluate, violations
from spmopt.territory.mip import build_model, root_distances


def grid(seed: int, rows: int = 3, cols: int = 4):
    """Jittered rows×cols grid with rook adjacency and two integer measures drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    ids = [f"u{r}{c}" for r in range(rows) for c in range(cols)]
    xy = [(c + rng.uniform(-.3, .3), r + rng.uniform(-.3, .3)) for r in range(rows) for c in range(cols)]
    units = pd.DataFrame({"unit_id": ids, "x": [p[0] for p in xy], "y": [p[1] for p in xy],
                          "potential": rng.integers(1, 9, len(ids)).astype(float),
                          "workload": rng.integers(1, 9, len(ids)).astype(float)})
    pairs = ([(f"u{r}{c}", f"u{r}{c + 1}") for r in range(rows) for c in range(cols - 1)]
             + [(f"u{r}{c}", f"u{r + 1}{c}") for r in range(rows - 1) for c in range(cols)])
    return units, pairs, dict(zip(ids, xy, strict=True))


def rooted(units, pairs, roots, bal):
    terr = pd.DataFrame({"territory_id": list(roots), "center_unit": list(roots.values())})
    return make_problem(units, terr, balance=bal, contiguity=pd.DataFrame(pairs, columns=["unit_a", "unit_b"]))


@pytest.mark.parametrize("seed", [3, 5, 11, 17])
def test_spc_answers_are_contiguous_and_never_beat_enumeration(seed):
    units, pairs, xy = grid(seed)
    roots = {"A": "u00", "B": "u03", "C": "u21"}
    bal = {"potential": 0.4, "workload": 0.4}
    cost, _ = brute_force(units, {t: xy[u] for t, u in roots.items()}, balance=bal,
                          locks={u: t for t, u in roots.items()}, adjacency=pairs)
    p = rooted(units, pairs, roots, bal)
    am = build_model(p, spc=True)
    out = solve(am.model, SolveOptions(time_limit=30, mip_gap=1e-9))
    assert out.status == "optimal"  # the restriction is feasible on these four instances
    a = am.assignment()
    assert not violations(p, a)
    g = nx.Graph(pairs)
    for t, u in roots.items():
        members = a.index[a == t]
        assert u in members
        assert nx.is_connected(g.subgraph(members))
    assert evaluate(p, a).objective >= cost - 1e-6


def test_spc_equals_contiguity_on_a_tree():
    """A comb-shaped tree (a spine with teeth): the path between two units is unique, so every connected
    territory holding its root meets the shortest-path condition and the SPC optimum is the contiguous one."""
    rng = np.random.default_rng(4)
    ids, xy, pairs = [], {}, []
    for c in range(4):
        for r in range(3):
            u = f"t{c}{r}"
            ids.append(u)
            xy[u] = (c + rng.uniform(-.2, .2), r + rng.uniform(-.2, .2))
            if r:
                pairs.append((f"t{c}{r - 1}", u))  # the tooth
        if c:
            pairs.append((f"t{c - 1}0", f"t{c}0"))  # the spine
    units = pd.DataFrame({"unit_id": ids, "x": [xy[u][0] for u in ids], "y": [xy[u][1] for u in ids],
                          "potential": rng.integers(1, 9, len(ids)).astype(float)})
    roots = {"A": "t00", "B": "t32"}
    bal = {"potential": 0.15}
    cost, _ = brute_force(units, {t: xy[u] for t, u in roots.items()}, balance=bal,
                          locks={u: t for t, u in roots.items()}, adjacency=pairs)
    free, _ = brute_force(units, {t: xy[u] for t, u in roots.items()}, balance=bal,
                          locks={u: t for t, u in roots.items()})
    assert np.isfinite(cost) and cost > free + 1e-6  # contiguity binds on this instance
    p = rooted(units, pairs, roots, bal)
    am = build_model(p, spc=True)
    out = solve(am.model, SolveOptions(time_limit=30, mip_gap=1e-9))
    assert out.status == "optimal"
    assert evaluate(p, am.assignment()).objective == pytest.approx(cost, abs=1e-6)


def test_root_distances_are_graph_shortest_paths():
    units, pairs, xy = grid(3)
    p = rooted(units, pairs, {"A": "u00", "B": "u23"}, {})
    d = root_distances(p)
    g = nx.Graph()
    g.add_weighted_edges_from((a, b, float(np.hypot(*np.subtract(xy[a], xy[b])))) for a, b in pairs)
    for j, r in enumerate(["u00", "u23"]):
        ref = nx.single_source_dijkstra_path_length(g, r)
        assert d[j] == pytest.approx([ref[u] for u in p.unit_ids], rel=1e-6)


def test_flow_warm_start_satisfies_every_flow_equation():
    """The flows handed to the solver with a contiguous start (subtree sizes along a breadth-first tree) meet
    conservation and the capacities, so the solver can accept the start as it is."""
    units, pairs, xy = grid(11)
    roots = {"A": "u00", "B": "u03", "C": "u21"}
    p = rooted(units, pairs, roots, {})
    am = build_model(p, flow=True)
    a = pd.Series("A", index=p.unit_ids)
    a[["u02", "u03", "u13", "u23", "u12"]] = "B"
    a[["u20", "u21", "u22", "u11"]] = "C"
    g = nx.Graph(pairs)
    assert all(nx.is_connected(g.subgraph(a.index[a == t])) for t in roots)
    vals = am.warm_start(a)
    for v in am.model.component_data_objects(pyo.Var):
        v.set_value(0.0)
    for v, x in vals:
        v.set_value(x)
    assert sum(1 for v, x in vals if v.parent_component() is am.model.f and x > 0) == p.n_units - len(roots)
    for c in am.model.flow.values():
        body = pyo.value(c.body)
        assert (c.lower is None or body >= pyo.value(c.lower) - 1e-9) and \
            (c.upper is None or body <= pyo.value(c.upper) + 1e-9)


def test_without_a_heuristic_the_spc_start_is_proved_optimal_by_the_exact_model():
    units, pairs, xy = grid(3)
    roots = {"A": "u00", "B": "u03", "C": "u21"}
    bal = {"potential": 0.35, "workload": 0.35}
    cost, _ = brute_force(units, {t: xy[u] for t, u in roots.items()}, balance=bal,
                          locks={u: t for t, u in roots.items()}, adjacency=pairs)
    terr = pd.DataFrame({"territory_id": list(roots), "center_unit": list(roots.values())})
    r = spmopt.align(units, terr, balance=bal, contiguity=pd.DataFrame(pairs, columns=["unit_a", "unit_b"]),
                     options=SolveOptions(time_limit=60, mip_gap=1e-9, heuristic=False, regions=0))
    assert "spc" in r.options
    assert r.status == "optimal"
    assert r.objective == pytest.approx(cost, abs=1e-6)
