"""Transfer chains (spmopt.territory.balance) and the locally scaled Delaunay graph."""

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from spmopt.data.generate import generate
from spmopt.geo import delaunay_edges
from spmopt.territory import check_alignment, make_problem
from spmopt.territory.balance import rebalance
from spmopt.territory.contiguity import repair
from spmopt.territory.heuristics import heuristic, local_search
from spmopt.territory.state import State

START = np.array([0] * 5 + [1] * 4 + [2] * 3)  # A holds 5 units, B 4, C 3


def path_problem():
    """12 units on a line, roots of A, B, C at units 0, 5 and 11, one unit of potential each, balance ±10 %: the
    only feasible contiguous alignment is A = 0–3, B = 4–7, C = 8–11. Distances are 0 to the territory of START
    and 10 elsewhere, so no move that leaves the violation unchanged can pay for itself."""
    ids = [f"u{i:02d}" for i in range(12)]
    units = pd.DataFrame({"unit_id": ids, "potential": 1.0})
    terr = pd.DataFrame({"territory_id": ["A", "B", "C"], "center_unit": ["u00", "u05", "u11"]})
    dist = pd.DataFrame([(u, t, 0.0 if START[i] == j else 10.0) for i, u in enumerate(ids)
                         for j, t in enumerate("ABC")], columns=["unit_id", "territory_id", "distance"])
    adj = pd.DataFrame({"unit_a": ids[:-1], "unit_b": ids[1:]})
    return make_problem(units, terr, dist, balance={"potential": 0.1}, contiguity=adj)


def test_chain_passes_load_through_a_full_territory():
    """Every single move leaves the violation unchanged (A→B fixes A and breaks B) and costs 10, so the local
    search stalls; one chain A→B→C (two moves) reaches the unique feasible alignment."""
    p = path_problem()
    start = START.copy()
    assert State(p, start).violation() == pytest.approx(3.0)  # 0.6 over and 0.6 under, tolerance 0.4 each
    stalled, _ = local_search(p, start, work=5)
    assert State(p, stalled).violation() == pytest.approx(3.0)
    a, info = rebalance(p, start, work=5)
    assert a.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert info["violation_after"] == 0 and info["chains_kept"] == 1 and info["moves"] == 2


@pytest.mark.parametrize("seed", [1, 2])
def test_rebalance_keeps_contiguity_and_never_adds_violation(seed):
    inst = generate(400, 8, seed=seed)
    p = make_problem(inst.units, inst.territories, balance={"potential": 0.05, "workload": 0.05},
                     contiguity=inst.adjacency)
    near = np.argmin(np.where(p.allowed(), p.cost(), np.inf), axis=1)
    tids = np.asarray(p.territory_ids, dtype=object)
    s = repair(p, p.contiguity.graph, pd.Series(tids[near], index=p.unit_ids))
    start = pd.Index(p.territory_ids).get_indexer(s.to_numpy())
    v0 = State(p, start).violation()
    a, info = rebalance(p, start, work=5)
    assert info["violation_after"] == pytest.approx(State(p, a).violation())
    assert info["violation_after"] <= v0 + 1e-9
    assert info["violation_after"] < 0.5 * v0  # the chains do real work on a badly balanced start
    g = p.contiguity.graph
    out = pd.Series(tids[a], index=p.unit_ids)
    for t in p.territory_ids:
        assert nx.is_connected(g.subgraph(out.index[out == t]))
    locks = p.locks()
    assert (out[locks.index] == locks).all()  # centre units never leave


def test_contiguous_heuristic_output_is_what_it_claims():
    inst = generate(300, 6, seed=4)
    p = make_problem(inst.units, inst.territories, balance={"potential": 0.1, "workload": 0.1},
                     contiguity=inst.adjacency)
    h = heuristic(p, work=10)
    assert h.feasible  # ±10 % on 50 units per territory is within reach
    check_alignment(p, h.assignment)  # contiguous and within every limit (raises otherwise)


def test_delaunay_keeps_sparse_units_joined():
    """A dense metro blob inside sparse countryside: every rural unit keeps at least two neighbours and no edge
    is a bridge (a global yardstick — 3 × the median edge, all metro — would leave rural units hanging on
    single spanning-tree edges)."""
    rng = np.random.default_rng(0)
    metro = rng.normal(0, 1, size=(300, 2))
    rural = rng.uniform(-60, 60, size=(60, 2))
    pts = np.vstack([metro, rural])
    e = delaunay_edges(pts, "xy")
    g = nx.Graph()
    g.add_nodes_from(range(len(pts)))
    g.add_edges_from(map(tuple, e))
    assert nx.is_connected(g)
    deg = dict(g.degree())
    assert min(deg[i] for i in range(300, 360)) >= 2
    assert sum(1 for _ in nx.bridges(g)) == 0
