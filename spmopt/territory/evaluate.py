"""Metrics of any alignment, and an independent checker.

The checker does not look at the optimisation model: it recomputes every territory's totals from the units
table with pandas and tests each rule of the request (every unit assigned once to an allowed territory, locks,
balance, capacity and per-territory limits, disruption limit, and with chosen centres: k territories, each
centre in its own territory, and with contiguity: each territory connected on the adjacency graph, by
networkx graph search). Solver answers, heuristic answers and hand-made alignments all go through it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from spmopt.data.validate import COUNT_MEASURE
from spmopt.errors import AlignmentCheckError
from spmopt.territory.contiguity import disconnected, territory_pieces
from spmopt.territory.problem import AlignmentProblem

#: relative tolerance of the checker on limits (solvers satisfy constraints to ~1e-9 absolute)
CHECK_RTOL = 1e-6


@dataclass(frozen=True)
class AlignmentMetrics:
    """Figures of one alignment: ``objective`` (cost as the model defines it), ``distance`` (Σ unit–centre
    distance, unweighted), per-territory ``table``, ``max_balance_deviation`` (measure → max over territories of
    |size/mean − 1|) and ``disruption`` (measure → share moved away from the current territory; None without a
    current alignment), ``units_moved``."""

    objective: float
    distance: float
    table: pd.DataFrame
    max_balance_deviation: dict[str, float]
    disruption: dict[str, float] | None
    units_moved: int | None


def _territory_labels(p: AlignmentProblem, assignment: pd.Series) -> list[str]:
    if p.chooses_centres:
        return sorted(pd.unique(assignment.dropna()))
    return list(p.territory_ids)


def report_measures(p: AlignmentProblem) -> list[str]:
    """Measures reported per territory: every numeric column, plus ``count``."""
    ms = list(p.units.attrs.get("measures", []))
    return ms + ([COUNT_MEASURE] if COUNT_MEASURE not in ms else [])


def evaluate(p: AlignmentProblem, assignment: pd.Series) -> AlignmentMetrics:
    """Compute the metrics of ``assignment`` (unit id → territory id) for problem ``p``."""
    a = assignment.reindex(p.unit_ids)
    labels = _territory_labels(p, a)
    col = pd.Index(p.territory_ids)
    ii = np.arange(p.n_units)
    jj = col.get_indexer(a.fillna("").to_numpy())
    valid = jj >= 0
    d = np.full(p.n_units, np.nan)
    d[valid] = p.distance[ii[valid], jj[valid]]
    if p.pieces:  # a piece of a split unit travels its share of the unit's distance
        d *= p.measure(COUNT_MEASURE)
    cost = np.full(p.n_units, np.nan)
    cost[valid] = p.cost()[ii[valid], jj[valid]]
    frame = pd.DataFrame({"territory_id": a.to_numpy(), "distance": d}, index=p.unit_ids)
    measures = report_measures(p)
    for m in measures:
        frame[m] = p.measure(m)
    cur = p.current()
    moved = None
    if cur is not None:
        moved = (cur.notna() & (cur != a)).to_numpy()
        frame["moved"] = moved
        frame["moved_out"] = moved
        frame["previous"] = cur.to_numpy()
    g = frame.groupby("territory_id", sort=False)
    table = pd.DataFrame(index=pd.Index(labels, name="territory_id"))
    centre = (p.territories["center_unit"].reindex(labels) if p.territories is not None
              else pd.Series(labels, index=labels))
    if p.pieces:  # a split unit counts as its share, and a split base unit by its own id
        frame["_share"] = p.measure(COUNT_MEASURE)
        centre = centre.map(lambda c: p.pieces[c][0] if c in p.pieces else c)
        g = frame.groupby("territory_id", sort=False)
    table["center_unit"] = centre.to_numpy()
    table["units"] = (g["_share"].sum().reindex(labels).fillna(0.0).round(6) if p.pieces
                      else g.size().reindex(labels).fillna(0).astype(int))
    P = p.n_territories
    maxdev: dict[str, float] = {}
    for m in measures:
        tot = g[m].sum().reindex(labels).fillna(0.0)
        mean = frame[m].sum() / P
        dev = (tot / mean - 1.0) if mean > 0 else tot * 0.0
        table[m] = tot
        table[f"{m}_dev_pct"] = 100.0 * dev
        maxdev[m] = float(np.abs(dev).max()) if len(dev) else 0.0
    table["distance"] = g["distance"].sum().reindex(labels).fillna(0.0)
    if p.contiguity is not None:
        pieces = territory_pieces(p.contiguity.graph, a.dropna())
        table["pieces"] = [len(pieces.get(t, [])) for t in labels]
    if cur is not None:
        if p.pieces:
            frame["moved"] = frame["moved"] * frame["_share"]
            frame["moved_out"] = frame["moved_out"] * frame["_share"]
            g = frame.groupby("territory_id", sort=False)
        cast = (lambda s: s.round(6)) if p.pieces else (lambda s: s.astype(int))  # noqa: E731
        table["moved"] = cast(g["moved"].sum().reindex(labels).fillna(0))
        table["moved_out"] = cast(frame.groupby("previous")["moved_out"].sum().reindex(labels).fillna(0))
    objective = float(np.nansum(cost))
    disruption = None
    if cur is not None:
        base = cur.notna().to_numpy()
        disruption = {}
        for m in measures:
            w = p.measure(m)
            tot = w[base].sum()
            disruption[m] = float(w[moved].sum() / tot) if tot > 0 else 0.0
        for m, price in p.disruption_price.items():
            objective += price * float(p.measure(m)[moved].sum())
    return AlignmentMetrics(objective=objective, distance=float(np.nansum(d)), table=table.reset_index(),
                            max_balance_deviation=maxdev, disruption=disruption,
                            units_moved=None if moved is None else
                            (round(float(p.measure(COUNT_MEASURE)[moved].sum()), 6) if p.pieces else int(moved.sum())))


def violations(p: AlignmentProblem, assignment: pd.Series, *, rtol: float = CHECK_RTOL) -> list[str]:
    """Every rule of ``p`` that ``assignment`` breaks, as readable sentences (empty list = valid)."""
    out: list[str] = []
    a = assignment
    if a.index.duplicated().any():
        out.append(f"unit '{a.index[a.index.duplicated()][0]}' is assigned more than once")
        a = a[~a.index.duplicated()]
    extra = a.index.difference(p.unit_ids)
    if len(extra):
        out.append(f"unknown unit '{extra[0]}' in the assignment")
    a = a.reindex(p.unit_ids)
    missing = a.index[a.isna()]
    if len(missing):
        out.append(f"{len(missing)} unit(s) not assigned, e.g. '{missing[0]}'")
    known = set(p.territory_ids)
    bad = a[a.notna() & ~a.isin(known)]
    if len(bad):
        out.append(f"unit '{bad.index[0]}' assigned to unknown territory '{bad.iloc[0]}'")
    ok = a.notna() & a.isin(known)
    ii = np.flatnonzero(ok.to_numpy())
    jj = pd.Index(p.territory_ids).get_indexer(a[ok].to_numpy())
    inf = ~np.isfinite(p.distance[ii, jj])
    if inf.any():
        out.append(f"unit '{p.unit_ids[ii[inf][0]]}' assigned to '{a.iloc[ii[inf][0]]}', a pair with no distance")
    for uid, t in p.locks().items():
        if a.get(uid) != t:
            out.append(f"unit '{uid}' is locked to '{t}' but assigned to '{a.get(uid)}'")
    labels = list(p.territory_ids)
    if p.chooses_centres:
        labels = sorted(pd.unique(a.dropna()))
        if len(labels) != p.k:
            out.append(f"{len(labels)} territories used, {p.k} asked for")
        ci = dict(zip(p.territory_ids, np.where(p.serves_itself(), p.centre_index(), -1), strict=True))
        for c in labels:
            u = p.unit_ids[ci[c]] if ci.get(c, -1) >= 0 else None
            if u is not None and a[u] != c:
                out.append(f"centre unit '{u}' of '{c}' is not in its own territory (assigned to '{a[u]}')")
        shut = sorted(set(labels) & set(p.closed))
        if shut:
            out.append(f"territory '{shut[0]}' is closed but has units")
        missing = sorted(set(p.must_open) - set(labels))
        if missing:
            out.append(f"territory '{missing[0]}' must stay open but has no units")
    g = pd.DataFrame({"t": a.to_numpy()}, index=p.unit_ids)
    P = p.n_territories
    col = {t: j for j, t in enumerate(p.territory_ids)}
    for m in {*p.balance, *p.limited_measures()}:
        g[m] = p.measure(m)
    sizes = g.groupby("t").sum().reindex(labels).fillna(0.0)
    for m, tau in p.balance.items():
        mu = p.measure(m).sum() / P
        lo, hi = (1 - tau) * mu, (1 + tau) * mu
        for t, v in sizes[m].items():
            if v < lo - rtol * max(1.0, abs(lo)) or v > hi + rtol * max(1.0, abs(hi)):
                out.append(f"territory '{t}' has {m} = {v:,.6g}, outside balance [{lo:,.6g}, {hi:,.6g}] "
                           f"(±{tau:.1%} of mean {mu:,.6g})")
    for m in p.limited_measures():
        U, L = p.limit_vector("max", m), p.limit_vector("min", m)
        for t, v in sizes[m].items():
            j = col[t]
            if v > U[j] + rtol * max(1.0, abs(U[j])):
                out.append(f"territory '{t}' has {m} = {v:,.6g}, above its maximum {U[j]:,.6g}")
            if v < L[j] - rtol * max(1.0, abs(L[j])):
                out.append(f"territory '{t}' has {m} = {v:,.6g}, below its minimum {L[j]:,.6g}")
    cur = p.current()
    if cur is not None and p.max_disruption:
        moved = (cur.notna() & (cur != a)).to_numpy()
        base = cur.notna().to_numpy()
        for m, frac in p.max_disruption.items():
            w = p.measure(m)
            share = w[moved].sum() / w[base].sum() if w[base].sum() > 0 else 0.0
            if share > frac + rtol:
                out.append(f"disruption on {m} is {share:.2%}, above the limit {frac:.2%}")
    if p.contiguity is not None:
        for t, n in disconnected(p.contiguity.graph, a.dropna()).items():
            out.append(f"territory '{t}' is not contiguous: it falls in {n} pieces on the adjacency graph "
                       f"({p.contiguity.source})")
    return out


def check_alignment(p: AlignmentProblem, assignment: pd.Series, *, rtol: float = CHECK_RTOL) -> None:
    """Raise :class:`AlignmentCheckError` listing every broken rule, or return quietly."""
    v = violations(p, assignment, rtol=rtol)
    if v:
        raise AlignmentCheckError(v)
