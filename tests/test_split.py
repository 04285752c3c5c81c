"""Units too big for one territory: the up-front diagnosis, and splitting them between neighbouring territories.

The case, worked by hand: five units on a line, A B C D E at x = 0 … 4, bases A (T1) and E (T2).
potential 15 15 40 15 15 (mean 50), workload 25 25 5 20 25 (mean 50); balance ±10 % on both: [45, 55].
A territory holding C whole has 55 − 40 = 15 potential of room; within reach (paths carrying ≤ 15 potential
besides C) are B and D only, and the most workload 15 potential of them can buy is B's 25 (ratio 25/15 beats
D's 20/15): 5 + 25 = 30 < 45. So no connected territory holds C whole — with or without the solver.
Split into pieces of at most one tolerance (5 potential): 40 / 5 = 8 pieces of 5 potential, 0.625 workload.
T1 = A, B + x pieces: potential 30 + 5x ∈ [45, 55] → x ∈ [3, 5]; T2 = D, E + (8 − x): same → x ∈ [3, 5].
Distances: C is 2 from both bases, so every feasible split costs the same: 0+1+2 (T1) + 1+0 (T2) = 4 … with C
counted once in all: Σ = A 0 + B 1 + C 2 + D 1 + E 0 = 4.
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import spmopt
from spmopt.cli import app
from spmopt.errors import InfeasibleError, InputError
from spmopt.territory.problem import make_problem, precheck
from spmopt.territory.split import pieces_for, shares, too_big

BAL = {"potential": 0.1, "workload": 0.1}


@pytest.fixture
def line():
    units = pd.DataFrame({"unit_id": list("ABCDE"), "x": [0.0, 1, 2, 3, 4], "y": [0.0] * 5,
                          "potential": [15.0, 15, 40, 15, 15], "workload": [25.0, 25, 5, 20, 25],
                          "current_territory": ["T1", "T1", "T1", "T2", "T2"]})
    terr = pd.DataFrame({"territory_id": ["T1", "T2"], "center_unit": ["A", "E"]})
    adj = pd.DataFrame({"unit_a": list("ABCD"), "unit_b": list("BCDE")})
    return units, terr, adj


def test_too_big_by_hand(line):
    units, terr, adj = line
    p = make_problem(units, terr, balance=BAL, contiguity=adj)
    found = too_big(p.units, p.contiguity.graph, p.balance, 2)
    assert [x.unit for x in found] == ["C"]
    x = found[0]
    assert (x.heavy, x.light) == ("potential", "workload")
    assert x.room == pytest.approx(15.0) and x.need == pytest.approx(40.0) and x.reach == pytest.approx(25.0)
    assert x.pieces == 8 == pieces_for({"potential": 40.0, "workload": 5.0}, BAL, {"potential": 50, "workload": 50})
    with pytest.raises(InfeasibleError, match=r"unit 'C' whole.*--split C") as e:
        precheck(p)
    assert e.value.family == "contiguity" and e.value.suggestion == {"split": ["C"]}
    assert too_big(p.units, p.contiguity.graph, {"potential": 0.1}, 2) == []  # one measure: nothing to trade


def test_split_pieces_carry_the_unit(line):
    units, terr, adj = line
    p = make_problem(units, terr, balance=BAL, contiguity=adj, split=["C"])
    assert p.n_units == 4 + 8 and len(p.pieces) == 8
    assert p.measure("potential").sum() == pytest.approx(100) and p.measure("workload").sum() == pytest.approx(100)
    assert p.measure("count").sum() == pytest.approx(5)
    g = p.contiguity.graph
    assert all(g.has_edge(f"C#{k}", "B") and g.has_edge(f"C#{k}", "D") for k in range(1, 9))
    assert nx.is_connected(g.subgraph(["A", "B", "C#3"]))
    precheck(p)


def _brute(p) -> float:
    """The optimum over every assignment of the 12 (piece) units that meets the limits and keeps both
    territories connected on the expanded graph, bases at home: an independent exact model."""
    ids = list(p.unit_ids)
    free = [i for i in ids if i not in ("A", "E")]
    pot, wl = p.measure("potential"), p.measure("workload")
    share = p.measure("count")
    d = p.distance
    best = np.inf
    idx = {u: k for k, u in enumerate(ids)}
    g = p.contiguity.graph
    for bits in itertools.product((0, 1), repeat=len(free)):
        a = {"A": 0, "E": 1, **dict(zip(free, bits, strict=True))}
        ok = True
        cost = 0.0
        for t in (0, 1):
            mem = [u for u in ids if a[u] == t]
            k = [idx[u] for u in mem]
            if not (45 - 1e-9 <= pot[k].sum() <= 55 + 1e-9 and 45 - 1e-9 <= wl[k].sum() <= 55 + 1e-9):
                ok = False
                break
            if not nx.is_connected(g.subgraph(mem)):
                ok = False
                break
            cost += float((d[k, t] * share[k]).sum())
        if ok:
            best = min(best, cost)
    return best


def test_split_alignment_matches_enumeration_and_reports_shares(line, tmp_path):
    units, terr, adj = line
    p = make_problem(units, terr, balance=BAL, contiguity=adj, split=["C"])
    r = spmopt.align(p, options=spmopt.SolveOptions(time_limit=60, mip_gap=1e-9))
    assert r.objective == pytest.approx(_brute(p), abs=1e-9) and r.objective == pytest.approx(4.0)
    f = r.assignment_frame()
    assert list(f.columns) == ["unit_id", "territory_id", "share"]
    c = f[f["unit_id"] == "C"].set_index("territory_id")["share"]
    assert set(c.index) == {"T1", "T2"} and c.sum() == pytest.approx(1.0)
    assert 3 / 8 - 1e-9 <= c["T1"] <= 5 / 8 + 1e-9
    whole = f[f["unit_id"] != "C"]
    assert (whole["share"] == 1.0).all() and len(whole) == 4
    s = r.summary()
    assert s["n_units"] == 5 and s["splits"][0]["unit_id"] == "C" and s["request"]["split"] == ["C"]
    t = r.territory_table().set_index("territory_id")
    assert t["potential"].sum() == pytest.approx(100)
    assert t["potential"].between(45 - 1e-6, 55 + 1e-6).all() and t["workload"].between(45 - 1e-6, 55 + 1e-6).all()


def test_split_auto_and_the_cli(line, tmp_path):
    units, terr, adj = line
    units.to_csv(tmp_path / "u.csv", index=False)
    terr.to_csv(tmp_path / "t.csv", index=False)
    adj.to_csv(tmp_path / "adj.csv", index=False)
    base = ["align", "--units", str(tmp_path / "u.csv"), "--territories", str(tmp_path / "t.csv"), "--balance",
            "potential=0.1", "--balance", "workload=0.1", "--contiguity", str(tmp_path / "adj.csv"), "--no-plot"]
    runner = CliRunner()
    r = runner.invoke(app, [*base, "--out", str(tmp_path / "o1")])
    assert r.exit_code == 3 and "--split C" in r.output
    r = runner.invoke(app, [*base, "--split", "auto", "--out", str(tmp_path / "o2")])
    assert r.exit_code == 0, r.output
    a = pd.read_csv(tmp_path / "o2" / "assignment.csv")
    assert list(a.columns) == ["unit_id", "territory_id", "share"]
    assert a.groupby("unit_id")["share"].sum().round(9).eq(1.0).all() and (a["unit_id"] == "C").sum() == 2
    r = runner.invoke(app, [*base, "--split", "Z", "--out", str(tmp_path / "o3")])
    assert r.exit_code == 2 and "'Z' is not a unit id" in r.output
    r = runner.invoke(app, [*base[:-3], "--no-contiguity", "--no-plot", "--split", "C", "--out", str(tmp_path / "o4")])
    assert r.exit_code == 2 and "needs contiguity" in r.output


def test_shares_fold_pieces_back():
    a = pd.Series({"X": "T1", "C#1": "T1", "C#2": "T2", "C#3": "T2", "Y": "T2"})
    parts = {f"C#{k}": ("C", 1 / 3) for k in (1, 2, 3)}
    f = shares(a, parts)
    assert f.values.tolist() == [["X", "T1", 1.0], ["C", "T2", pytest.approx(2 / 3)],
                                 ["C", "T1", pytest.approx(1 / 3)], ["Y", "T2", 1.0]]


def test_split_refused_where_it_cannot_apply(line):
    units, terr, adj = line
    with pytest.raises(InputError, match="need contiguity"):
        make_problem(units, terr, balance=BAL, contiguity=False, split=["C"])
    with pytest.raises(InputError, match="not a unit id"):
        make_problem(units, terr, balance=BAL, contiguity=adj, split=["nope"])


def test_count_balance_counts_a_piece_as_its_share():
    """13 units on a line, S (60 potential) split into 40 pieces, count ±50 % with potential ±1 %: a hand-built
    assignment meets every limit, so the pre-check must not call any unit too big (each piece counts 1/40)."""
    ids = [f"U{i}" for i in range(8)] + ["S"] + [f"V{i}" for i in range(4)]
    units = pd.DataFrame({"unit_id": ids, "x": np.arange(13.0), "y": 0.0,
                          "potential": [10.0] * 8 + [60.0] + [10.0] * 4})
    adj = pd.DataFrame({"unit_a": ids[:-1], "unit_b": ids[1:]})
    terr = pd.DataFrame({"territory_id": ["T1", "T2", "T3"], "center_unit": ["U0", "U7", "V3"]})
    p = make_problem(units, terr, balance={"potential": 0.01, "count": 0.5}, contiguity=adj, split=["S"])
    assert p.mean("count") == pytest.approx(13 / 3)
    a = pd.Series({u: "T1" if u in [f"U{i}" for i in range(6)] else "T2" if u in ("U6", "U7") else "T3"
                   for u in p.unit_ids})
    for q in range(1, 28):
        a[f"S#{q}"] = "T2"
    from spmopt.territory.evaluate import evaluate, violations

    assert violations(p, a) == []
    precheck(p)
    m = evaluate(p, a)
    t = m.table.set_index("territory_id")
    assert t["units"].sum() == pytest.approx(13) and t.loc["T2", "units"] == pytest.approx(2 + 27 / 40)
    assert t.loc["T2", "center_unit"] == "U7"


def test_piece_ids_that_are_taken_are_refused(line):
    units, terr, adj = line
    units = pd.concat([units, pd.DataFrame({"unit_id": ["C#1"], "x": [5.0], "y": [0.0], "potential": [1.0],
                                            "workload": [1.0], "current_territory": ["T2"]})], ignore_index=True)
    adj = pd.concat([adj, pd.DataFrame({"unit_a": ["E"], "unit_b": ["C#1"]})], ignore_index=True)
    with pytest.raises(InputError, match="'C#1' is already taken"):
        make_problem(units, terr, balance=BAL, contiguity=adj, split=["C"])


def test_scenario_key_split_reaches_the_report(line, tmp_path):
    units, terr, adj = line
    units.to_csv(tmp_path / "units.csv", index=False)
    terr.to_csv(tmp_path / "territories.csv", index=False)
    adj.to_csv(tmp_path / "adj.csv", index=False)
    (tmp_path / "s.yaml").write_text("name: split-line\ndata: {units: units.csv, territories: territories.csv}\n"
                                     "align:\n  balance: {potential: 0.1, workload: 0.1}\n  contiguity: adj.csv\n"
                                     "  split: [C]\n  time_limit: 30\n")
    r = CliRunner().invoke(app, ["run", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out"), "--no-store"])
    assert r.exit_code == 0, r.output
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Shared units: <code>C</code> T1" in html and "the same answer on any machine" in html
    a = pd.read_csv(tmp_path / "out" / "align" / "assignment.csv")
    assert list(a.columns) == ["unit_id", "territory_id", "share"] and (a["unit_id"] == "C").sum() == 2


def test_pieces_are_ordered_and_a_warm_start_is_relabelled_to_fit(line):
    """The 8 pieces of C are interchangeable: the model orders them (Σ_j j·x piece k ≤ piece k+1), and a warm
    start that gives them out in any order is relabelled to the ordered one (same shares, so same answer)."""
    from spmopt.territory.mip import build_model

    units, terr, adj = line
    p = make_problem(units, terr, balance=BAL, contiguity=adj, split=["C"])
    am = build_model(p)
    assert [len(c) for c in am.chains] == [8] and len(am.model.piece_order) == 7
    ids = [f"C#{k}" for k in range(1, 9)]
    start = pd.Series({"A": "T1", "B": "T1", "D": "T2", "E": "T2",
                       **dict(zip(ids, ["T2", "T1", "T2", "T1", "T1", "T2", "T1", "T2"], strict=True))})
    vals = {v.name: x for v, x in am.warm_start(start)}
    j_of = [sum(j * vals[am.model.x[a].name] for a in range(len(am.arc_unit)) if am.arc_unit[a] == i
                for j in [am.arc_terr[a]]) for i in p.unit_ids.get_indexer(ids)]
    assert j_of == sorted(j_of) and sum(j_of) == 4  # four pieces each way, in order
    for c in am.model.piece_order.values():  # the relabelled start meets every order row
        body = sum(coef * vals[v.name] for coef, v in zip(c.body.linear_coefs, c.body.linear_vars, strict=True))
        assert body <= 1e-9
    r = spmopt.align(units, terr, balance=BAL, contiguity=adj, split=["C"], time_limit=30, mip_gap=1e-9)
    assert r.objective == pytest.approx(4.0)  # the hand-worked optimum, with the order rows in the model


def test_map_cells_tile_the_units_and_a_split_unit_is_drawn_once():
    """The map's cells (Voronoi cells of the unit places, clipped): one per unit (a split unit once), each
    holding its own unit's place, none overlapping another; and the three-panel map draws."""
    import matplotlib

    matplotlib.use("Agg")
    from shapely import Point

    from spmopt.data.generate import generate
    from spmopt.report.plots import plot_before_after, unit_cells

    g = generate(120, 4, seed=3)
    p = make_problem(g.units, g.territories, balance={"potential": 0.3}, contiguity=g.adjacency,
                     split=[g.units.unit_id.iloc[5]])
    ids, cells, pts = unit_cells(p)
    assert list(ids) == g.units.unit_id.to_list()   # 120 map units, the split one once
    assert all(c.contains(Point(xy)) for c, xy in zip(cells, pts, strict=True))
    areas = np.array([c.area for c in cells])
    assert (areas > 0).all()
    total = cells[0]
    for c in cells[1:]:
        total = total.union(c)
    assert total.area == pytest.approx(areas.sum(), rel=1e-6)  # no two cells overlap
    r = spmopt.align(p, work=2, time_limit=60)
    fig = plot_before_after(r)
    assert len(fig.axes) >= 3


def test_quota_reads_a_split_assignment(line, tmp_path):
    """``spmopt quota --assignment`` takes an alignment's assignment.csv with split units (one row per unit and
    territory, with shares): each territory's potential is its whole units' plus its share of the split ones
    (worked by hand), and shares that do not add up to 1 are refused with the file, row and column."""
    units, _, _ = line
    units.to_csv(tmp_path / "u.csv", index=False)
    a = pd.DataFrame({"unit_id": ["A", "B", "C", "C", "D", "E"], "territory_id": ["T1", "T1", "T1", "T2", "T2", "T2"],
                      "share": [1, 1, 0.25, 0.75, 1, 1]})
    a.to_csv(tmp_path / "a.csv", index=False)
    r = CliRunner().invoke(app, ["quota", "--units", str(tmp_path / "u.csv"), "--assignment", str(tmp_path / "a.csv"),
                                 "--target", "1000", "--method", "potential", "--no-simulate", "--no-plot",
                                 "--out", str(tmp_path / "q")])
    assert r.exit_code == 0, r.output
    q = pd.read_csv(tmp_path / "q" / "quotas.csv").set_index("territory_id")
    assert q.loc["T1", "potential"] == pytest.approx(15 + 15 + 10) and q.loc["T2", "potential"] == pytest.approx(60)
    assert q["quota"].to_dict() == pytest.approx({"T1": 400.0, "T2": 600.0})
    a.loc[3, "share"] = 0.5
    a.to_csv(tmp_path / "b.csv", index=False)
    r = CliRunner().invoke(app, ["quota", "--units", str(tmp_path / "u.csv"), "--assignment", str(tmp_path / "b.csv"),
                                 "--target", "1000", "--no-simulate", "--no-plot", "--out", str(tmp_path / "q2")])
    assert r.exit_code == 2 and "b.csv" in r.output and "row 4" in r.output and "'share'" in r.output
    assert "add up to 0.75" in r.output
