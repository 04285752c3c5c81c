import itertools

import numpy as np
import pandas as pd
import pytest


def brute_force(units: pd.DataFrame, centres: dict[str, tuple[float, float]], *, balance=None, capacity=None,
                weight=None, max_disruption=None, disruption_price=None, locks=None, adjacency=None):
    """Enumerate every assignment of units to fixed centres (Euclidean x,y) and return (best cost, best
    assignment dict) — an independent reference for the MIP. ``adjacency`` (unit id pairs) requires every
    non-empty territory to be connected on that graph (checked by a plain depth-first search)."""
    balance, capacity = balance or {}, capacity or {}
    max_disruption, disruption_price, locks = max_disruption or {}, disruption_price or {}, locks or {}
    ids = list(units["unit_id"])
    terrs = list(centres)
    xy = units[["x", "y"]].to_numpy(float)
    d = np.array([[np.hypot(*(xy[i] - np.array(centres[t]))) for t in terrs] for i in range(len(ids))])
    w = units[weight].to_numpy(float) if weight else np.ones(len(ids))
    cur = units["current_territory"].tolist() if "current_territory" in units else [None] * len(ids)
    best = (np.inf, None)
    for combo in itertools.product(range(len(terrs)), repeat=len(ids)):
        if any(terrs[combo[i]] != locks[u] for i, u in enumerate(ids) if u in locks):
            continue
        ok = True
        for m, tau in balance.items():
            v = units[m].to_numpy(float)
            mu = v.sum() / len(terrs)
            sizes = np.bincount(combo, weights=v, minlength=len(terrs))
            if (sizes < (1 - tau) * mu - 1e-9).any() or (sizes > (1 + tau) * mu + 1e-9).any():
                ok = False
        for m, cap in capacity.items():
            v = units[m].to_numpy(float)
            if (np.bincount(combo, weights=v, minlength=len(terrs)) > cap + 1e-9).any():
                ok = False
        moved = np.array([cur[i] is not None and terrs[combo[i]] != cur[i] for i in range(len(ids))])
        for m, frac in max_disruption.items():
            v = units[m].to_numpy(float)
            if v[moved].sum() > frac * v.sum() + 1e-9:
                ok = False
        if ok and adjacency is not None:
            ok = all(_connected([u for i, u in enumerate(ids) if combo[i] == j], adjacency)
                     for j in range(len(terrs)))
        if not ok:
            continue
        cost = sum(w[i] * d[i, combo[i]] for i in range(len(ids)))
        cost += sum(price * units[m].to_numpy(float)[moved].sum() for m, price in disruption_price.items())
        if cost < best[0] - 1e-9:
            best = (cost, {u: terrs[combo[i]] for i, u in enumerate(ids)})
    return best


def _connected(members: list, pairs) -> bool:
    if not members:
        return True
    inside = set(members)
    nbr = {u: set() for u in inside}
    for a, b in pairs:
        if a in inside and b in inside:
            nbr[a].add(b)
            nbr[b].add(a)
    seen, stack = {members[0]}, [members[0]]
    while stack:
        for v in nbr[stack.pop()] - seen:
            seen.add(v)
            stack.append(v)
    return seen == inside


@pytest.fixture
def line_units():
    """Seven units on a line; two territories with centres at x=0 (A) and x=10 (B)."""
    return pd.DataFrame({
        "unit_id": ["u1", "u2", "u3", "u4", "u5", "u6", "u7"],
        "x": [0.0, 1.0, 2.0, 4.0, 6.0, 9.0, 10.0],
        "y": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        "potential": [10.0, 30.0, 20.0, 15.0, 5.0, 10.0, 10.0],
        "workload": [3.0, 1.0, 2.0, 2.0, 4.0, 3.0, 1.0],
        "current_territory": ["A", "A", "A", "A", "B", "B", "B"],
    })


@pytest.fixture
def line_territories():
    return pd.DataFrame({"territory_id": ["A", "B"], "x": [0.0, 10.0], "y": [0.0, 0.0]})


@pytest.fixture
def files(tmp_path, line_units, line_territories):
    """The line case written as units.csv and territories.csv in a fresh folder."""
    line_units.to_csv(tmp_path / "units.csv", index=False)
    line_territories.to_csv(tmp_path / "territories.csv", index=False)
    return tmp_path
