"""Add / remove-territory what-ifs: each answer equals the enumerated optimum over every candidate centre set
(brute force over all assignments for each set), the centres the answer opens and closes are reported, and bad
requests fail with a message that names the culprit."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import brute_force
from typer.testing import CliRunner

import spmopt
from spmopt.cli import app
from spmopt.errors import InputError
from spmopt.territory import check_alignment, make_problem
from spmopt.territory.whatif import candidate_sets

BAL = {"potential": 0.3}


def _centres(terr: pd.DataFrame) -> dict:
    return {t: (x, y) for t, x, y in terr[["territory_id", "x", "y"]].itertuples(index=False)}


def _best_add_one(units, terr, candidates):
    """min over candidate centre units c of the enumerated optimum with the current centres plus c, c's own
    unit locked to it (a new rep's home unit is in the rep's territory)."""
    out = {}
    for c in candidates:
        row = units.set_index("unit_id").loc[c]
        centres = {**_centres(terr), f"new:{c}": (row["x"], row["y"])}
        out[c], _ = brute_force(units, centres, balance=BAL, locks={c: f"new:{c}"})
    return out


def test_add_one_territory_equals_enumeration(line_units, line_territories):
    per = _best_add_one(line_units, line_territories, list(line_units["unit_id"]))
    best = min(per.values())
    r = spmopt.align(line_units, line_territories, balance=BAL, add=1, mip_gap=1e-9, time_limit=60, contiguity=False)
    check_alignment(r.problem, r.assignment)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(best, abs=1e-6)
    wi = r.summary()["what_if"]
    assert wi["kept"] == ["A", "B"] and wi["closed"] == [] and len(wi["opened"]) == 1
    new = wi["opened"][0]
    centre = new.removeprefix("new:")
    assert r.assignment[centre] == new  # the new rep's own unit is in the new territory
    assert per[centre] == pytest.approx(best, abs=1e-6)  # the chosen centre is an enumerated best
    assert r.problem.n_territories == 3


def test_add_candidates_query_restricts_the_new_centre(line_units, line_territories):
    allowed = list(line_units.loc[line_units["x"] >= 6, "unit_id"])
    per = _best_add_one(line_units, line_territories, allowed)
    r = spmopt.align(line_units, line_territories, balance=BAL, add=1, add_candidates="x >= 6", mip_gap=1e-9,
                     contiguity=False)
    assert r.objective == pytest.approx(min(per.values()), abs=1e-6)
    new = r.summary()["what_if"]["opened"][0].removeprefix("new:")
    assert new in allowed
    # the unrestricted optimum is strictly better here, so the restriction was really applied
    everywhere = min(_best_add_one(line_units, line_territories, list(line_units["unit_id"])).values())
    assert everywhere < min(per.values()) - 1e-6


@pytest.fixture
def three(line_territories):
    return pd.concat([line_territories, pd.DataFrame({"territory_id": ["C"], "x": [5.0], "y": [0.0]})],
                     ignore_index=True)


def test_remove_named_territory_equals_problem_without_it(line_units, three):
    centres = {t: xy for t, xy in _centres(three).items() if t != "B"}
    best, _ = brute_force(line_units, centres, balance=BAL)
    r = spmopt.align(line_units, three, balance=BAL, remove=["B"], mip_gap=1e-9, contiguity=False)
    check_alignment(r.problem, r.assignment)
    assert r.objective == pytest.approx(best, abs=1e-6)
    assert "B" not in set(r.assignment)
    s = r.summary()
    assert s["what_if"]["closed"] == ["B"]
    # every unit of the closed territory moved, and the disruption counts exactly the units that changed
    cur = line_units.set_index("unit_id")["current_territory"]
    assert set(cur[cur == "B"].index) <= set(cur.index[cur != r.assignment.reindex(cur.index)])
    assert s["units_moved"] == int((cur != r.assignment.reindex(cur.index)).sum())


@pytest.mark.parametrize("by_unit", [False, True])
def test_remove_count_chooses_the_cheapest_closure(line_units, three, by_unit):
    """Choosing the closure equals the best of the three named closures, also when the territories are given by
    centre units (a kept territory need not hold its centre unit, as without the what-if)."""
    if by_unit:
        three = pd.DataFrame({"territory_id": ["A", "B", "C"], "center_unit": ["u1", "u7", "u4"],
                              "x": [0.0, 10.0, 4.0], "y": [0.0, 0.0, 0.0]})
    per = {}
    for drop in ("A", "B", "C"):
        centres = {t: xy for t, xy in _centres(three).items() if t != drop}
        per[drop], _ = brute_force(line_units, centres, balance=BAL)
        named = spmopt.align(line_units, three.drop(columns="x" if by_unit else []).drop(
            columns="y" if by_unit else []), balance=BAL, remove=[drop], mip_gap=1e-9, contiguity=False)
        assert named.objective == pytest.approx(per[drop], abs=1e-6)
    r = spmopt.align(line_units, three.drop(columns=["x", "y"]) if by_unit else three, balance=BAL, remove=1,
                     mip_gap=1e-9, contiguity=False)
    assert r.objective == pytest.approx(min(per.values()), abs=1e-6)
    closed = r.summary()["what_if"]["closed"]
    assert len(closed) == 1 and per[closed[0]] == pytest.approx(min(per.values()), abs=1e-6)


def test_candidate_sets_rank_by_distance_saved(line_units, line_territories):
    """Centres at x=0 and 10; the units' nearest-centre distances are 0,1,2,4,4,1,0. As a third centre u4 (x=4)
    saves 4 at itself + 2 at u5 = 6, u5 (x=6) saves 4 + 2 at u4 = 6, u3 (x=2) saves 2 + 2 at u4 = 4, u2 (x=1)
    saves 1 at itself, at u3 and at u4 = 3, u6 (x=9) 1 + 1 = 2; so the sets are tried in the order u4, u5 (tie,
    table order), u3, u2."""
    p = make_problem(line_units, line_territories, add=1, contiguity=False)
    sets = candidate_sets(p, 4)
    new = [[p.territory_ids[j] for j in s if p.open_state()[j] == 0] for s in sets]
    assert new == [["new:u4"], ["new:u5"], ["new:u3"], ["new:u2"]]
    assert all(len(s) == p.k for s in sets)


@pytest.mark.parametrize("kw, words", [
    ({"remove": ["Z"]}, "unknown territory 'Z'"),
    ({"remove": ["A", "B"]}, "every territory"),
    ({"remove": 2}, "remove = 2"),
    ({"add": 1, "add_candidates": "nonsense >"}, "cannot evaluate"),
    ({"add": 2, "add_candidates": "x > 9.5"}, "only 1 candidate"),
    ({"add": 1, "add_candidates": ["u1", "nope"]}, "'nope' is not a unit id"),
    ({"add": -1}, "whole number"),
])
def test_bad_what_if_requests_say_why(line_units, line_territories, kw, words):
    with pytest.raises(InputError, match=words.replace("(", r"\(")):
        make_problem(line_units, line_territories, balance=BAL, **kw, contiguity=False)


def test_what_if_needs_fixed_territories_and_locked_units_block_a_removal(line_units, line_territories):
    with pytest.raises(InputError, match="fixed territories"):
        make_problem(line_units, k=2, add=1, contiguity=False)
    u = line_units.assign(locked_territory=[None, None, None, None, None, "B", None])
    with pytest.raises(InputError, match="'u6' is locked to 'B'"):
        make_problem(u, line_territories, remove=["B"], contiguity=False)


def test_cli_add_territory_writes_what_if(tmp_path, line_units, line_territories):
    line_units.to_csv(tmp_path / "units.csv", index=False)
    line_territories.to_csv(tmp_path / "territories.csv", index=False)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["align", "--units", str(tmp_path / "units.csv"), "--territories",
                                   str(tmp_path / "territories.csv"), "--balance", "potential=0.3",
                                   "--add-territories", "1", "--add-where", "x >= 6", "--out", str(out),
                                   "--no-plot", "--no-contiguity"])
    assert res.exit_code == 0, res.output
    s = json.loads((out / "summary.json").read_text())
    assert len(s["what_if"]["opened"]) == 1 and s["n_territories"] == 3
    a = pd.read_csv(out / "assignment.csv")
    assert a["territory_id"].nunique() == 3
    assert "what-if: opened" in res.output
    bad = CliRunner().invoke(app, ["align", "--units", str(tmp_path / "units.csv"), "--territories",
                                   str(tmp_path / "territories.csv"), "--add-where", "x > 1", "--out",
                                   str(tmp_path / "o2"), "--no-contiguity"])
    assert bad.exit_code != 0 and "--add-territories" in bad.output
    assert np.isfinite(s["objective"])
