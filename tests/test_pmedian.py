"""Chosen centres (issue 29): the p-median Lagrangian bound, swap search, reduced-cost fixing and branch-and-bound
(spmopt/territory/pmedian.py), against enumeration of every centre set and against published optima."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import spmopt
from spmopt import work as wk
from spmopt.territory import make_problem
from spmopt.territory.pmedian import lagrangian_bound, swap_search

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def instance(seed: int, n: int = 13, weights: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    u = pd.DataFrame({"unit_id": [f"u{i:02d}" for i in range(n)], "x": rng.random(n) * 100,
                      "y": rng.random(n) * 100})
    if weights:
        u["visits"] = rng.integers(1, 9, n).astype(float)
    return u


def enumerate_optimum(units: pd.DataFrame, k: int, weight: str | None) -> tuple[float, tuple]:
    """Every k-subset of units as centres, each unit to its nearest: the exact p-median optimum."""
    xy = units[["x", "y"]].to_numpy()
    D = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    w = units[weight].to_numpy() if weight else np.ones(len(units))
    best = (np.inf, ())
    for S in itertools.combinations(range(len(units)), k):
        c = float((w * D[:, S].min(axis=1)).sum())
        if c < best[0]:
            best = (c, S)
    return best


@pytest.mark.parametrize("seed,k", [(1, 2), (2, 3), (3, 4), (4, 5), (5, 3), (6, 6)])
def test_bound_is_valid_and_the_answer_optimal(seed, k):
    units = instance(seed)
    opt, best_set = enumerate_optimum(units, k, "visits")
    p = make_problem(units, k=k, weight="visits", contiguity=False)
    with wk.clock(100.0, 60.0):
        pm = lagrangian_bound(p, work=5.0)
    assert pm.bound <= opt * (1 + 1e-9)                  # a lower bound, always
    assert pm.objective >= opt * (1 - 1e-9)               # an answer, never below the optimum
    # reduced-cost fixing with an answer just above the optimum keeps every pair of the optimum
    cols_ok, pairs_ok = pm.fixing(opt * (1 + 1e-6) + 1e-6)
    xy = units[["x", "y"]].to_numpy()
    nearest = np.array(best_set)[np.argmin(np.hypot(*(xy[:, None, :] - xy[None, best_set, :]).transpose(2, 0, 1)),
                                           axis=1)]
    assert cols_ok[list(best_set)].all()
    assert pairs_ok[np.arange(len(units)), nearest].all()
    a = spmopt.align(units, k=k, weight="visits", contiguity=False, time_limit=30)
    assert a.status == "optimal" and a.objective == pytest.approx(opt, rel=1e-9)
    assert a.gap == pytest.approx(0.0, abs=1e-9)


def test_swap_search_reaches_a_local_optimum_no_single_swap_improves():
    units = instance(11, n=30, weights=False)
    p = make_problem(units, k=4, contiguity=False)
    C = p.cost()
    cols, cost, _ = swap_search(C, p.open_state(), np.arange(4))
    assert cost == pytest.approx(C[:, cols].min(axis=1).sum())
    for r in cols:                      # checked by brute force over every single swap
        for j in set(range(30)) - set(cols):
            S = [c for c in cols if c != r] + [j]
            assert C[:, S].min(axis=1).sum() >= cost - 1e-9


def test_pmed1_published_optimum_proved_by_the_lagrangian_stage():
    from pmedian import PMED, pmed

    if not (PMED / "pmed1.txt").is_file():
        pytest.skip(f"the OR-Library instances are not at {PMED} (a checkout without ../shared)")

    n, p, D = pmed(1)
    ids = np.array([str(i + 1) for i in range(n)], dtype=object)
    ii, jj = np.meshgrid(ids, ids, indexing="ij")
    dist = pd.DataFrame({"unit_id": ii.ravel(), "territory_id": jj.ravel(), "distance": D.ravel()})
    a = spmopt.align(pd.DataFrame({"unit_id": ids}), distances=dist, k=p, contiguity=False, time_limit=60)
    assert (n, p) == (100, 5)
    assert a.objective == pytest.approx(5819) and a.status == "optimal"        # Beasley's pmedopt.txt
    assert a.options["pmedian"]["steps"] >= 1


@pytest.mark.slow
def test_pmed26_needs_the_branching_and_is_proved():
    """600 units, p = 5: the root bound is 0.6 % below the optimum 9917; the branch-and-bound closes it."""
    from pmedian import pmed

    n, p, D = pmed(26)
    ids = np.array([str(i + 1) for i in range(n)], dtype=object)
    ii, jj = np.meshgrid(ids, ids, indexing="ij")
    dist = pd.DataFrame({"unit_id": ii.ravel(), "territory_id": jj.ravel(), "distance": D.ravel()})
    a = spmopt.align(pd.DataFrame({"unit_id": ids}), distances=dist, k=p, contiguity=False, time_limit=120)
    info = a.options["pmedian"]
    assert a.objective == pytest.approx(9917) and a.status == "optimal"
    assert info["bound"] < 9917 * 0.999 and info["complete"] and info["nodes"] > 1


def test_capacitated_chosen_centres_still_match_enumeration():
    """With a capacity the Lagrangian bound still holds (it relaxes more), and the exact model over the pairs
    fixing leaves finds the optimum: checked against enumeration of centre sets and assignments."""
    units = instance(21, n=9).assign(demand=lambda d: np.arange(1.0, 10.0))
    xy = units[["x", "y"]].to_numpy()
    D = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    cap, k, best = 18.0, 3, np.inf
    dem = units["demand"].to_numpy()
    for S in itertools.combinations(range(9), k):
        for combo in itertools.product(range(k), repeat=9):
            if any(combo[S[t]] != t for t in range(k)):      # an open centre serves itself
                continue
            if (np.bincount(combo, weights=dem, minlength=k) > cap + 1e-9).any():
                continue
            best = min(best, float(D[np.arange(9), np.array(S)[list(combo)]].sum()))
    a = spmopt.align(units, k=k, capacity={"demand": cap}, contiguity=False, time_limit=30)
    assert a.objective == pytest.approx(best, rel=1e-9) and a.status == "optimal"
    assert a.options["pmedian"]["bound"] <= best + 1e-9
