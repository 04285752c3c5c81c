"""Floor 1 of :mod:`spmopt.territory`: an assignment, its bookkeeping and the moves every search is made of.

:class:`State` holds an assignment (unit → territory column) with running territory sizes and the violation of
the limits — balance, capacity and per-territory limits, disruption; each in units of its own tolerance — and
prices any set of moves before it is applied. :class:`Graph` is the unit adjacency in CSR form. The rest are the
connectivity checks that keep a contiguous assignment contiguous move by move (:func:`stays_connected`,
:func:`connected_territory`, :func:`cut_off`), which units may move and where (:func:`move_options`), and the
swap of two neighbouring units (:func:`try_swap`).

The local searches, transfer chains, spanning-tree splits, the compiled penalty search and the models above it
all work on this bookkeeping; it imports only :mod:`spmopt.territory.problem`. The independent checker in
:mod:`spmopt.territory.evaluate` has the last word on every answer.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd

from spmopt.territory.problem import AlignmentProblem

EPS = 1e-9


class State:
    """Assignment (unit → column) with running territory sizes and violation bookkeeping."""

    def __init__(self, p: AlignmentProblem, assign: np.ndarray):
        self.p = p
        self.a = assign.astype(int).copy()
        self.cost = p.cost()
        self.allowed = p.allowed()
        J = len(p.territory_ids)
        self.J = J
        # limits per (measure, territory) as lo/hi arrays and a scale for the violation
        ms = list(dict.fromkeys([*p.balance, *p.limited_measures()]))
        self.w = np.column_stack([p.measure(m) for m in ms]) if ms else np.zeros((p.n_units, 0))
        lo = np.zeros((len(ms), J))
        hi = np.full((len(ms), J), np.inf)
        scale = np.ones(len(ms))
        for k, m in enumerate(ms):
            mu = p.mean(m)
            scale[k] = max(mu, EPS)
            if m in p.balance:
                lo[k] = (1 - p.balance[m]) * mu
                hi[k] = (1 + p.balance[m]) * mu
            lo[k] = np.maximum(lo[k], p.limit_vector("min", m))
            hi[k] = np.minimum(hi[k], p.limit_vector("max", m))
            if m in p.balance:
                scale[k] = max(p.balance[m] * mu, 1e-3 * mu, EPS)
        if p.chooses_centres:  # only the open centres carry limits
            closed = np.setdiff1d(np.arange(J), np.unique(self.a))
            lo[:, closed], hi[:, closed] = 0.0, np.inf
        self.lo, self.hi, self.scale = lo, hi, scale
        self.sizes = np.zeros((len(ms), J))
        for k in range(len(ms)):
            self.sizes[k] = np.bincount(self.a, weights=self.w[:, k], minlength=J)
        # disruption: moved share per limited measure
        cur = p.current()
        self.cur = None
        if cur is not None and (p.max_disruption or p.disruption_price):
            col = pd.Index(p.territory_ids).get_indexer(cur.fillna("").to_numpy())
            self.cur = np.where(cur.notna().to_numpy(), col, -2)
            self.dm = list(p.max_disruption)
            self.dw = np.column_stack([p.measure(m) * (self.cur >= -1) for m in self.dm]) if self.dm else \
                np.zeros((p.n_units, 0))
            self.dlim = np.array([p.max_disruption[m] * max(self.dw[:, k].sum(), EPS) for k, m in enumerate(self.dm)])
            self.dscale = np.array([max(self.dlim[k], 1e-3 * self.dw[:, k].sum(), EPS) for k in range(len(self.dm))])
            self.moved = np.array([self.dw[(self.a != self.cur) & (self.cur >= -1), k].sum()
                                   for k in range(len(self.dm))])
            self.price = np.zeros(p.n_units)
            for m, pr in p.disruption_price.items():
                self.price += pr * p.measure(m) * (self.cur >= -1)

    # -- figures ---------------------------------------------------------------------------------------------
    def viol(self, s: np.ndarray, k_lo, k_hi, scale) -> np.ndarray:
        """Elementwise violation of sizes ``s`` below ``k_lo`` or above ``k_hi``, in units of ``scale``."""
        return (np.maximum(0.0, k_lo - s) + np.maximum(0.0, s - k_hi)) / scale

    def violation(self) -> float:
        v = float(self.viol(self.sizes, self.lo, self.hi, self.scale[:, None]).sum())
        if self.cur is not None and len(self.dm):
            v += float((np.maximum(0.0, self.moved - self.dlim) / self.dscale).sum())
        return v

    def objective(self) -> float:
        c = float(self.cost[np.arange(len(self.a)), self.a].sum())
        if self.cur is not None:
            c += float(self.price[(self.a != self.cur)].sum())
        return c

    def unit_cost(self, i: int, j: int) -> float:
        c = self.cost[i, j]
        if self.cur is not None and self.cur[i] != j:
            c += self.price[i]
        return c

    def delta(self, moves: list[tuple[int, int, int]]) -> tuple[float, float]:
        """(Δ violation, Δ cost) of moving units (i, from s, to t) together."""
        dv, dc = 0.0, 0.0
        touched: dict[int, np.ndarray] = {}
        for i, s, t in moves:
            for j, sign in ((s, -1.0), (t, 1.0)):
                if j not in touched:
                    touched[j] = self.sizes[:, j].copy()
                touched[j] += sign * self.w[i]
            dc += self.unit_cost(i, t) - self.unit_cost(i, s)
        for j, new in touched.items():
            dv += float(self.viol(new, self.lo[:, j], self.hi[:, j], self.scale).sum()
                        - self.viol(self.sizes[:, j], self.lo[:, j], self.hi[:, j], self.scale).sum())
        if self.cur is not None and len(self.dm):
            moved = self.moved.copy()
            for i, s, t in moves:
                if self.cur[i] >= -1:
                    moved += self.dw[i] * (float(t != self.cur[i]) - float(s != self.cur[i]))
            dv += float((np.maximum(0.0, moved - self.dlim) / self.dscale).sum()
                        - (np.maximum(0.0, self.moved - self.dlim) / self.dscale).sum())
        return dv, dc

    def apply(self, i: int, t: int) -> None:
        s = self.a[i]
        self.sizes[:, s] -= self.w[i]
        self.sizes[:, t] += self.w[i]
        if self.cur is not None and len(self.dm) and self.cur[i] >= -1:
            self.moved += self.dw[i] * (float(t != self.cur[i]) - float(s != self.cur[i]))
        self.a[i] = t


def neighbour_lists(p: AlignmentProblem) -> list[np.ndarray] | None:
    """Per unit, the indices of its neighbours on the adjacency graph; None without contiguity."""
    if p.contiguity is None:
        return None
    pos = {u: i for i, u in enumerate(p.unit_ids)}
    g = p.contiguity.graph
    return [np.array([pos[v] for v in g.neighbors(u)], dtype=int) for u in p.unit_ids]


def stays_connected(a: np.ndarray, nbrs: list[np.ndarray], i: int, gone: set[int] | None = None) -> bool:
    """Would territory a[i] stay connected if unit i (and the units in ``gone``) left it? Searches from one
    remaining neighbour of i until every remaining neighbour is reached."""
    s = a[i]
    gone = (gone or set()) | {i}
    targets = {int(v) for v in nbrs[i] if a[v] == s and v not in gone}
    if len(targets) <= 1:
        # a leaf (or isolated piece) leaving: fine unless it was the only unit holding others (none left)
        return True
    start = targets.pop()
    seen = {start}
    q = deque([start])
    while q and targets:
        u = q.popleft()
        for v in nbrs[u]:
            v = int(v)
            if a[v] == s and v not in gone and v not in seen:
                seen.add(v)
                targets.discard(v)
                q.append(v)
    return not targets


def move_options(p: AlignmentProblem, st: State, candidates: int) -> tuple[np.ndarray, np.ndarray]:
    """Which units may move (not locked, not an open centre) and, per unit, its ``candidates`` nearest open
    territories (column indices; a not-allowed pair is skipped by the callers)."""
    free = np.ones(p.n_units, dtype=bool)
    if len(p.locks()):
        free[p.unit_ids.get_indexer(p.locks().index)] = False
    if p.chooses_centres:  # an open centre's own unit stays with it
        ci = np.where(p.serves_itself(), p.centre_index(), -1)
        free[ci[st.a] == np.arange(p.n_units)] = False
        cols = np.unique(st.a)
    else:
        cols = np.arange(st.J)
    c = np.where(st.allowed[:, cols], st.cost[:, cols], np.inf)
    kk = min(candidates, len(cols))
    near = np.argpartition(c, kk - 1, axis=1)[:, :kk] if kk < len(cols) else np.tile(np.arange(len(cols)),
                                                                                     (p.n_units, 1))
    return free, cols[near]


def try_swap(st: State, nbrs, i: int, locked) -> bool:
    """Swap unit i (territory s) with a neighbour k of i in territory t ≠ s when that lowers the violation and
    both territories stay connected."""
    s = st.a[i]
    for k in nbrs[i]:
        k = int(k)
        t = st.a[k]
        if t == s or locked[k] or not (st.allowed[i, t] and st.allowed[k, s]):
            continue
        dv, dc = st.delta([(i, s, t), (k, t, s)])
        if dv < -EPS:
            a2 = st.a.copy()
            a2[i], a2[k] = t, s
            if connected_territory(a2, nbrs, s) and connected_territory(a2, nbrs, t):
                st.apply(i, t)
                st.apply(k, s)
                return True
    return False


def connected_territory(a: np.ndarray, nbrs, j: int) -> bool:
    """Is territory j connected under assignment ``a``?"""
    members = np.flatnonzero(a == j)
    if len(members) <= 1:
        return True
    seen = {int(members[0])}
    q = deque(seen)
    while q:
        u = q.popleft()
        for v in nbrs[u]:
            v = int(v)
            if a[v] == j and v not in seen:
                seen.add(v)
                q.append(v)
    return len(seen) == len(members)


class Graph:
    """Unit adjacency as CSR arrays (indptr, indices; ``src`` is the tail of each directed edge, so every edge
    appears in both directions), for vectorised boundary queries."""

    def __init__(self, p: AlignmentProblem):
        pos = {u: i for i, u in enumerate(p.unit_ids)}
        g = p.contiguity.graph
        eu = np.fromiter((pos[u] for u, _ in g.edges()), dtype=np.int64, count=g.number_of_edges())
        ev = np.fromiter((pos[v] for _, v in g.edges()), dtype=np.int64, count=g.number_of_edges())
        src = np.concatenate([eu, ev])
        dst = np.concatenate([ev, eu])
        order = np.argsort(src, kind="stable")
        self.indices = dst[order]
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=p.n_units))])
        self.nbrs = [self.indices[self.indptr[i]:self.indptr[i + 1]] for i in range(p.n_units)]
        self.src = np.repeat(np.arange(p.n_units), np.diff(self.indptr))  # directed edges, CSR order

    def territory_graph(self, a: np.ndarray, J: int) -> list[list[int]]:
        """Territory j → the territories sharing an edge with it under assignment ``a`` (sorted)."""
        ta, tb = a[self.src], a[self.indices]
        cross = ta != tb
        code = np.unique(ta[cross] * J + tb[cross])
        adj: list[list[int]] = [[] for _ in range(J)]
        for s, t in zip((code // J).tolist(), (code % J).tolist(), strict=True):
            adj[s].append(t)
        return adj

    def boundary(self, a: np.ndarray, s: int, t: int) -> np.ndarray:
        """Units of territory s with a neighbour in territory t."""
        m = (a[self.src] == s) & (a[self.indices] == t)
        return np.unique(self.src[m])


def cut_off(a: np.ndarray, nbrs, i: int, root: int | None, limit: int | None = None) -> list[int] | None:
    """Unit i plus the parts of its territory that lose their link to ``root`` when i leaves (with no root: all
    but the largest part). None when i is the root, or when the block would hold more than ``limit`` units."""
    s = a[i]
    if root is not None and i == root:
        return None
    seen = {i}
    parts = []
    for v0 in nbrs[i]:
        v0 = int(v0)
        if a[v0] != s or v0 in seen:
            continue
        part = [v0]
        seen.add(v0)
        q = deque([v0])
        while q:
            u = q.popleft()
            for v in nbrs[u]:
                v = int(v)
                if a[v] == s and v not in seen:
                    seen.add(v)
                    part.append(v)
                    q.append(v)
        parts.append(part)
    if root is not None:
        keep = next((k for k, pt in enumerate(parts) if root in pt), None)
        if keep is None:
            return None
    else:
        keep = int(np.argmax([len(pt) for pt in parts])) if parts else None
    block = [i] + [u for k, pt in enumerate(parts) if k != keep for u in pt]
    return None if limit is not None and len(block) > limit else block
