"""Contiguity: optima checked by enumeration (with a plain DFS connectivity test), the checker, graph input."""

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from conftest import brute_force

import spmopt
from spmopt.errors import AlignmentCheckError, InfeasibleError, InputError
from spmopt.solver import SolveOptions
from spmopt.territory import check_alignment, make_problem


def grid_case(seed: int = 65):
    """3×3 jittered grid, rook adjacency, potentials 1..8 drawn from ``seed`` (65 is an instance where the
    balanced optimum without contiguity splits a territory)."""
    rng = np.random.default_rng(seed)
    ids = [f"g{r}{c}" for r in range(3) for c in range(3)]
    xy = [(c + rng.uniform(-.3, .3), r + rng.uniform(-.3, .3)) for r in range(3) for c in range(3)]
    units = pd.DataFrame({"unit_id": ids, "x": [p[0] for p in xy], "y": [p[1] for p in xy],
                          "potential": rng.integers(1, 9, 9).astype(float)})
    pairs = ([(f"g{r}{c}", f"g{r}{c + 1}") for r in range(3) for c in range(2)]
             + [(f"g{r}{c}", f"g{r + 1}{c}") for r in range(2) for c in range(3)])
    return units, pairs, {"A": xy[0], "B": xy[8]}


def adjacency_frame(pairs):
    return pd.DataFrame(pairs, columns=["unit_a", "unit_b"])


@pytest.mark.parametrize("flow", [False, True], ids=["cuts", "flow"])
def test_contiguous_optimum_differs_and_matches_enumeration(flow):
    """Both forms of contiguity — separator cuts in rounds and the single-commodity flow — reach the enumerated
    contiguous optimum."""
    units, pairs, centres = grid_case()
    terr = pd.DataFrame({"territory_id": ["A", "B"], "center_unit": ["g00", "g22"]})
    locks = {"g00": "A", "g22": "B"}  # a centre unit belongs to its territory under contiguity
    free_cost, _ = brute_force(units, centres, balance={"potential": 0.1}, locks=locks)
    cont_cost, cont_best = brute_force(units, centres, balance={"potential": 0.1}, locks=locks, adjacency=pairs)
    assert cont_cost > free_cost + 0.1  # the instance is one where contiguity binds

    plain = spmopt.align(units, terr, balance={"potential": 0.1}, time_limit=30, mip_gap=1e-9, contiguity=False)
    assert plain.objective == pytest.approx(free_cost, abs=1e-6)
    r = spmopt.align(units, terr, balance={"potential": 0.1}, contiguity=adjacency_frame(pairs),
                     options=SolveOptions(time_limit=30, mip_gap=1e-9, contiguity_flow=flow))
    assert r.status == "optimal"
    assert r.objective == pytest.approx(cont_cost, abs=1e-6)
    assert r.options["contiguity"]["model"] == ("flow" if flow else "cuts")
    if not flow:
        assert r.options["contiguity"]["cuts"] >= 1  # at least the single-unit cuts
    g = nx.Graph(pairs)
    for t in ("A", "B"):
        assert nx.is_connected(g.subgraph(r.assignment.index[r.assignment == t]))
    assert (r.territory_table()["pieces"] == 1).all()


def test_root_free_cuts_when_centres_are_coordinates():
    """Centres given as x,y (no centre unit): the a–b separator form of the cut is used."""
    units, pairs, centres = grid_case()
    terr = pd.DataFrame({"territory_id": ["A", "B"], "x": [centres["A"][0], centres["B"][0]],
                         "y": [centres["A"][1], centres["B"][1]]})
    cost, _ = brute_force(units, centres, balance={"potential": 0.1}, adjacency=pairs)
    r = spmopt.align(units, terr, balance={"potential": 0.1}, contiguity=adjacency_frame(pairs), time_limit=30,
                     mip_gap=1e-9)
    assert r.objective == pytest.approx(cost, abs=1e-6)


@pytest.mark.parametrize("seed", [pytest.param(1, marks=pytest.mark.slow), 2, 3, 4])
def test_random_grids_three_territories(seed):
    """3×3 grid, three territories with coordinate centres: MIP + cuts equals enumeration (3^9 cases)."""
    rng = np.random.default_rng(seed)
    units, pairs, _ = grid_case(seed)
    centres = {t: tuple(rng.uniform(0, 2, 2)) for t in "ABC"}
    terr = pd.DataFrame({"territory_id": list(centres), "x": [c[0] for c in centres.values()],
                         "y": [c[1] for c in centres.values()]})
    cost, _ = brute_force(units, centres, balance={"potential": 0.35}, adjacency=pairs)
    if not np.isfinite(cost):
        with pytest.raises(InfeasibleError):
            spmopt.align(units, terr, balance={"potential": 0.35}, contiguity=adjacency_frame(pairs))
        return
    r = spmopt.align(units, terr, balance={"potential": 0.35}, contiguity=adjacency_frame(pairs), time_limit=30,
                     mip_gap=1e-9)
    assert r.objective == pytest.approx(cost, abs=1e-6)


def test_chosen_centres_with_contiguity_are_connected():
    units, pairs, _ = grid_case()
    r = spmopt.align(units, k=3, balance={"potential": 0.4}, contiguity=adjacency_frame(pairs), time_limit=30)
    g = nx.Graph(pairs)
    for c in r.centres:
        members = r.assignment.index[r.assignment == c]
        assert c in members and nx.is_connected(g.subgraph(members))


def test_checker_rejects_disconnected_territory(line_units, line_territories):
    pairs = [(f"u{i}", f"u{i + 1}") for i in range(1, 7)]  # a path u1–u2–…–u7
    p = make_problem(line_units, line_territories, contiguity=adjacency_frame(pairs))
    ok = pd.Series(["A"] * 4 + ["B"] * 3, index=p.unit_ids)
    check_alignment(p, ok)
    split = pd.Series(["A", "B", "A", "A", "B", "B", "B"], index=p.unit_ids)
    with pytest.raises(AlignmentCheckError, match="territory 'A' is not contiguous: it falls in 2 pieces"):
        check_alignment(p, split)


def test_auto_graph_is_delaunay_and_connected(line_units, line_territories):
    units = line_units.assign(y=[0.0, 0.3, -0.2, 0.1, -0.1, 0.2, 0.0])
    p = make_problem(units, line_territories, contiguity="auto")
    g = p.contiguity.graph
    assert set(g.nodes) == set(units["unit_id"]) and nx.is_connected(g)
    assert p.contiguity.source.startswith("auto")


def test_isolated_units_reported_and_unreachable_piece_is_infeasible(line_units):
    terr = pd.DataFrame({"territory_id": ["A", "B"], "center_unit": ["u1", "u7"]})
    pairs = [("u1", "u2"), ("u2", "u3"), ("u6", "u7")]  # u4, u5 have no neighbours
    p = make_problem(line_units, terr, contiguity=adjacency_frame(pairs))
    d = p.contiguity.describe()
    assert d["n_isolated"] == 2 and set(d["isolated_units"]) == {"u4", "u5"} and d["components"] == 4
    with pytest.raises(InfeasibleError, match="4 separate pieces but there are only 2 territories") as e:
        spmopt.align(p)
    assert e.value.family == "contiguity"
    pairs2 = [("u1", "u2"), ("u2", "u3"), ("u3", "u4"), ("u5", "u6"), ("u5", "u4")]  # u7 alone, but it is B's
    r = spmopt.align(line_units, terr, contiguity=adjacency_frame(pairs2))
    assert r.assignment["u7"] == "B" and (r.assignment.drop("u7") == "A").all()


def test_piece_without_a_centre_is_infeasible(line_units):
    terr = pd.DataFrame({"territory_id": ["A", "B"], "center_unit": ["u1", "u2"]})
    pairs = [("u1", "u2"), ("u2", "u3"), ("u4", "u5"), ("u5", "u6"), ("u6", "u7")]
    with pytest.raises(InfeasibleError, match=r"form a piece of the adjacency graph .* with no territory centre"):
        spmopt.align(line_units, terr, contiguity=adjacency_frame(pairs))


@pytest.mark.slow
def test_infeasible_with_contiguity_names_the_working_relaxation(line_units):
    """On the path u1–…–u7 with centres u1 and u7, territories are prefixes/suffixes; potentials
    10,30,20,15,5,10,10 (total 100) give prefix sums 10,40,60,75,80,90: the best split is 40/60 or 60/40,
    so ±20 % is the tightest feasible tolerance (±10 % is feasible without contiguity: {u2,u3}∪… is not
    connected)."""
    terr = pd.DataFrame({"territory_id": ["A", "B"], "center_unit": ["u1", "u7"]})
    pairs = [(f"u{i}", f"u{i + 1}") for i in range(1, 7)]
    with pytest.raises(InfeasibleError, match=r"±20\.00%") as e:
        spmopt.align(line_units, terr, balance={"potential": 0.1}, contiguity=adjacency_frame(pairs))
    assert e.value.family == "balance"
    assert e.value.suggestion["balance"]["potential"] == pytest.approx(0.2, abs=1e-6)


def test_adjacency_errors_name_row_and_column(line_units, line_territories):
    bad = pd.DataFrame({"unit_a": ["u1", "u2", "zz"], "unit_b": ["u2", "u3", "u4"]})
    with pytest.raises(InputError, match="unknown unit 'zz'") as e:
        make_problem(line_units, line_territories, contiguity=bad)
    assert e.value.row == 4 and e.value.column == "unit_a"
    with pytest.raises(InputError, match="unit_b"):
        make_problem(line_units, line_territories, contiguity=pd.DataFrame({"unit_a": ["u1"], "b": ["u2"]}))


def test_centre_unit_locked_elsewhere_is_an_input_error(line_units):
    terr = pd.DataFrame({"territory_id": ["A", "B"], "center_unit": ["u1", "u7"]})
    units = line_units.assign(locked_territory=[None, None, None, None, None, None, "A"])
    with pytest.raises(InputError, match="centre of territory 'B' but locked to 'A'"):
        make_problem(units, terr, contiguity="auto")


@pytest.mark.parametrize("seed", [3, 11])
def test_flow_and_cuts_agree_with_enumeration_three_territories(seed):
    """3×4 grid, three rooted territories, two balance measures: the flow form, the cuts and enumeration of all
    3^9 assignments of the free units give the same contiguous optimum."""
    rng = np.random.default_rng(seed)
    ids = [f"u{r}{c}" for r in range(3) for c in range(4)]
    xy = [(c + rng.uniform(-.3, .3), r + rng.uniform(-.3, .3)) for r in range(3) for c in range(4)]
    units = pd.DataFrame({"unit_id": ids, "x": [p[0] for p in xy], "y": [p[1] for p in xy],
                          "potential": rng.integers(1, 9, 12).astype(float),
                          "workload": rng.integers(1, 9, 12).astype(float)})
    pairs = ([(f"u{r}{c}", f"u{r}{c + 1}") for r in range(3) for c in range(3)]
             + [(f"u{r}{c}", f"u{r + 1}{c}") for r in range(2) for c in range(4)])
    roots = {"A": "u00", "B": "u03", "C": "u21"}
    centres = {t: xy[ids.index(u)] for t, u in roots.items()}
    bal = {"potential": 0.35, "workload": 0.35}
    cost, _ = brute_force(units, centres, balance=bal, locks={u: t for t, u in roots.items()}, adjacency=pairs)
    assert np.isfinite(cost)
    terr = pd.DataFrame({"territory_id": list(roots), "center_unit": list(roots.values())})
    for flow in (False, True):
        r = spmopt.align(units, terr, balance=bal, contiguity=adjacency_frame(pairs),
                         options=SolveOptions(time_limit=60, mip_gap=1e-9, contiguity_flow=flow))
        assert r.status == "optimal"
        assert r.objective == pytest.approx(cost, abs=1e-6), f"flow={flow}"


def test_flow_form_on_unrooted_territories_is_a_clear_error():
    """Centres given as coordinates have no root unit, so the flow form cannot be asked for explicitly."""
    units, pairs, centres = grid_case()
    terr = pd.DataFrame({"territory_id": ["A", "B"], "x": [centres["A"][0], centres["B"][0]],
                         "y": [centres["A"][1], centres["B"][1]]})
    with pytest.raises(ValueError, match="every territory rooted"):
        spmopt.align(units, terr, balance={"potential": 0.1}, contiguity=adjacency_frame(pairs),
                     options=SolveOptions(time_limit=10, contiguity_flow=True))


def test_neighbour_cuts_listed_by_hand_and_limited_to_a_model_s_pairs(line_units):
    """Line u1–…–u7, A rooted at u1, B at u7 (each root locked to its territory): every other unit, in each
    territory, needs a neighbour there — 5 + 5 cuts, each naming the unit's two line neighbours. Given a
    model's pairs, only the cuts of those pairs (roots excepted) come back."""
    from spmopt.territory.contiguity import neighbour_cuts

    terr = pd.DataFrame({"territory_id": ["A", "B"], "center_unit": ["u1", "u7"]})
    pairs = [(f"u{i}", f"u{i + 1}") for i in range(1, 7)]
    p = make_problem(line_units, terr, contiguity=adjacency_frame(pairs))
    cuts = neighbour_cuts(p, p.contiguity.graph)
    want = {(j, i, None, (i - 1, i + 1)) for j in (0, 1) for i in range(1, 6)}  # units u2..u6, 0-based
    assert {(j, i, b, tuple(s)) for j, i, b, s in cuts} == want
    arcs = (np.array([0, 2, 6, 4]), np.array([0, 0, 1, 1]))  # (u1, A) root, (u3, A), (u7, B) root, (u5, B)
    got = neighbour_cuts(p, p.contiguity.graph, arcs=arcs)
    assert {(j, i, b, tuple(s)) for j, i, b, s in got} == {(0, 2, None, (1, 3)), (1, 4, None, (3, 5))}


def test_single_unit_cuts_with_chosen_centres_cover_every_candidate():
    """With --k every unit is a candidate centre: the cuts x_ij ≤ Σ_(v∈N(i)) x_vj are listed per candidate
    column (was an IndexError on Nebraska, Iowa and Kansas: one root per territory indexed by candidate). On a
    3 × 3 grid with ±50 % on w (at most 4.5 units a territory), a unit joins a centre only if a path of at most
    4 units links them: all pairs but the 4 (ordered) opposite corners, 77 of 81; minus the 9 centres' own
    pairs, 68 cuts."""
    from spmopt.territory.contiguity import neighbour_cuts

    units = pd.DataFrame({"unit_id": [f"g{r}{c}" for r in range(3) for c in range(3)],
                          "x": [float(c) for r in range(3) for c in range(3)],
                          "y": [float(r) for r in range(3) for c in range(3)], "w": 1.0})
    pairs = [(f"g{r}{c}", f"g{r}{c + 1}") for r in range(3) for c in range(2)] + \
        [(f"g{r}{c}", f"g{r + 1}{c}") for r in range(2) for c in range(3)]
    p = make_problem(units, k=3, balance={"w": 0.5}, contiguity=adjacency_frame(pairs))
    cuts = neighbour_cuts(p, p.contiguity.graph)
    assert int(p.allowed().sum()) == 77 and not p.allowed()[0, 8] and not p.allowed()[2, 6]
    assert len(cuts) == 68
    centre = p.centre_index()
    assert all(i != centre[j] for j, i, _, _ in cuts)
    r = spmopt.align(units, k=3, balance={"w": 0.5}, contiguity=adjacency_frame(pairs), time_limit=30)
    assert r.status == "optimal"
    # by hand: three rows of three around their middles cost 3 × 2 = 6, the least for 3 connected trios
    assert r.objective == pytest.approx(6.0)


def test_within_reach_by_hand():
    """Lightest paths on a line a–b–c–d–e of weights 1, 0, 5, 1, 1: from a they weigh a 1, b 1 (a unit of
    weight 0 still conducts), c 6, d 7, e 8, so under an upper limit of 6.5 a territory rooted at a cannot hold
    d or e; rooted at e under 10 it can hold everything; a column without a root is not restricted."""
    from spmopt.territory.contiguity import within_reach

    g = nx.path_graph(list("abcde"))
    w = np.array([1.0, 0.0, 5.0, 1.0, 1.0])
    ok = within_reach(g, list("abcde"), {0: 0, 1: 4}, {"m": w}, {"m": np.array([6.5, 10.0, 1.0])}, 3)
    assert ok[:, 0].tolist() == [True, True, True, False, False]
    assert ok[:, 1].all() and ok[:, 2].all()
    # exactly at the limit is allowed: c from a weighs 6
    ok = within_reach(g, list("abcde"), {0: 0}, {"m": w}, {"m": np.array([6.0])}, 1)
    assert ok[:, 0].tolist() == [True, True, True, False, False]


def test_a_unit_out_of_every_territorys_reach_is_diagnosed():
    """Seven units on a line, both centres at one end (a, b), at most 1.2 × 3.5 = 4.2 units a territory: the
    paths to f hold 6 units from a and 5 from b, to g 7 and 6, beyond any connected territory. Exit 3 before any
    solve, with the tolerance that brings f in reach of b: 5 / 3.5 − 1 = 42.857… %, shown rounded up."""
    ids = list("abcdefg")
    units = pd.DataFrame({"unit_id": ids, "x": np.arange(7.0), "y": 0.0})
    terr = pd.DataFrame({"territory_id": ["A", "B"], "center_unit": ["a", "b"]})
    pairs = list(zip(ids[:-1], ids[1:], strict=True))
    with pytest.raises(InfeasibleError, match=r"unit 'f' cannot be assigned: every path.*\(2 unit\(s\) like"
                                              r".*'count' to at least ±42\.86%") as err:
        spmopt.align(units, terr, balance={"count": 0.2}, contiguity=adjacency_frame(pairs), time_limit=10)
    assert err.value.family == "balance"
    assert err.value.suggestion["balance"]["count"] == pytest.approx(0.4286)
