"""Balanced contiguous alignments from spanning-tree splits: flow balancing and recombination.

Moving one unit at a time stalls short of ±5 % balance on two measures when every territory must stay connected
(the territory that is too large is ringed by territories at their own limits, and the surplus has to cross
several of them). Redistricting practice gets past this with *recombination* (ReCom; DeFord, Duchin & Solomon
2021, "Recombination: a family of Markov chains for redistricting"): merge two neighbouring districts, draw a
random spanning tree of the union and cut one edge — both sides are connected, and among the edges whose sides
meet the limits any may be taken. Here every territory has a root (its centre unit, and any locked units), so a
side belongs to a territory when it holds exactly that territory's roots and no other's.

* :func:`flow_balance` moves the surplus globally, as diffusion load balancing does in graph partitioning
  (Hu & Blake 1999): the Laplacian system of the territory graph gives the least-squares flow of each measure
  across each shared border, and each border is re-split so that its two sides move that amount.
* :func:`recombine` finishes and then improves: each pair is re-split where the squared excess over the limits
  is least, then where the cost is least. Half the trees are drawn with edges between units of like cost
  difference first, so their cuts follow the cheapest boundary between the two centres.
* :func:`voronoi` is the contiguous start: every unit at its nearest root along the graph.

A tree costs a minimum spanning tree (random weights) plus prefix sums over its depth-first order, where every
subtree is a contiguous range, so all cuts of a tree are scored at once. Limits, scales and the disruption
bookkeeping are :class:`spmopt.territory.state.State`'s; the independent checker has the last word.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import depth_first_order, minimum_spanning_tree

from spmopt import work as wk
from spmopt.territory.contiguity import roots
from spmopt.territory.mip import root_distances
from spmopt.territory.problem import AlignmentProblem
from spmopt.territory.state import Graph, State

EPS = 1e-9
#: work units per tree drawn and per (unit of a pair × tree drawn) in a re-split, and per territory pair of a
#: sweep (reference machine)
TREE_WORK = 4e-4
NODE_WORK = 2e-6
PAIR_WORK = 2e-5


class _Tree:
    """One random spanning tree of ``nodes`` (unit indices; their induced subgraph must be connected):
    preorder, subtree ranges, and prefix sums to read any subtree's totals."""

    def __init__(self, G, nodes: np.ndarray, rng: np.random.Generator, local: np.ndarray,
                 key: np.ndarray | None = None):
        n = len(nodes)
        local[nodes] = np.arange(n)
        src, dst = G.src, G.indices
        keep = (local[src] >= 0) & (local[dst] >= 0) & (src < dst)
        u, v = local[src[keep]], local[dst[keep]]
        w = rng.random(len(u)) + 1e-3
        if key is not None:  # edges between units of like key first: the cuts follow the key's level sets
            d = np.abs(key[u] - key[v])
            w = w * (d + 1e-3 * (float(d.mean()) if len(d) else 0.0) + 1e-12)
        T = minimum_spanning_tree(coo_matrix((w, (u, v)), shape=(n, n)).tocsr())
        root = int(rng.integers(n))
        order, pred = depth_first_order(T, root, directed=False, return_predecessors=True)
        local[nodes] = -1
        if len(order) != n:
            raise ValueError("not connected")
        size = [1] * n
        pl = pred.tolist()
        for x in reversed(order[1:].tolist()):
            size[pl[x]] += size[x]
        self.nodes = nodes
        self.order = order  # local ids in preorder
        self.pos = np.empty(n, dtype=np.int64)
        self.pos[order] = np.arange(n)
        self.size = np.asarray(size, dtype=np.int64)
        self.root = root
        self.pred = pred  # parent of each local node in the tree (−9999 at the root)

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Subtree total of ``values`` (rows = local nodes) below every node."""
        c = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values[self.order], axis=0)])
        return c[self.pos + self.size] - c[self.pos]

    def members(self, x: int) -> np.ndarray:
        return self.nodes[self.order[self.pos[x]:self.pos[x] + self.size[x]]]


class Parts:
    """What the tree moves need from the problem: limits, measures, labels, costs, allowed pairs."""

    def __init__(self, p: AlignmentProblem):
        J = len(p.territory_ids)
        st = State(p, np.zeros(p.n_units, dtype=int))
        self.lo, self.hi, self.scale, self.w = st.lo, st.hi, st.scale, st.w
        self.G = Graph(p)
        self.cost = p.cost()
        self.allowed = p.allowed()
        self.label = np.full(p.n_units, -1)
        col = {t: j for j, t in enumerate(p.territory_ids)}
        for t, u in roots(p).items():
            self.label[p.unit_ids.get_loc(u)] = col[t]
        for u, t in p.locks().items():
            if t in col:
                self.label[p.unit_ids.get_loc(u)] = col[t]
        self.n_labels = np.bincount(self.label[self.label >= 0], minlength=J)
        self.rooted = bool((self.n_labels > 0).all())
        self.n, self.J = p.n_units, J
        self.local = np.full(p.n_units, -1, dtype=np.int64)

    def tree(self, nodes: np.ndarray, rng, key: np.ndarray | None = None) -> _Tree:
        """A random spanning tree of ``nodes``; with ``key`` (one value per node) biased towards edges joining
        units of like key."""
        return _Tree(self.G, nodes, rng, self.local, key)

    def cuts(self, tr: _Tree, left: list[int], *, both: bool, fit: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(local node x, territory j) of the cuts whose subtree below x is a valid piece for j: exactly j's
        labels, within j's limits, the remainder within the others' summed limits. ``both``: two territories
        left, so the remainder must also be allowed whole for the other (checked by the caller)."""
        lab = self.label[tr.nodes]
        has = lab >= 0
        jj = np.where(has, lab, 0).astype(float)
        S = tr.sums(np.column_stack([has.astype(float), jj, jj * jj]))
        cnt, s1, s2 = S[:, 0], S[:, 1], S[:, 2]
        j = np.where(cnt > 0, np.rint(s1 / np.maximum(cnt, 1)), -1).astype(int)
        ok = (cnt > 0) & (np.abs(s1 - cnt * j) < 0.5) & (np.abs(s2 - cnt * j * j.astype(float)) < 0.5)
        ok &= cnt == self.n_labels[np.maximum(j, 0)]
        ok[tr.root] = False
        x = np.flatnonzero(ok)
        j = j[x]
        if not len(x) or not fit:
            return x, j
        W = tr.sums(self.w[tr.nodes])[x]  # (cuts × measures)
        total = self.w[tr.nodes].sum(axis=0)
        lo_all, hi_all = self.lo[:, left].sum(axis=1), self.hi[:, left].sum(axis=1)
        fit = ((W >= self.lo[:, j].T - EPS) & (W <= self.hi[:, j].T + EPS)).all(axis=1)
        R = total - W
        fit &= ((R >= lo_all - self.lo[:, j].T - EPS) & (R <= hi_all - self.hi[:, j].T + EPS)).all(axis=1)
        return x[fit], j[fit]

    def spread(self, sums: np.ndarray, j: np.ndarray, band: float = 1.0) -> np.ndarray:
        """Σ over measures of the squared excess of territory sums (rows; measures in columns) beyond
        ``band`` × the half-width of territory j's limits around their middle, in units of the tolerance
        (one-sided limits: the squared violation)."""
        lo, hi = self.lo[:, j].T, self.hi[:, j].T
        two = np.isfinite(hi) & (lo > 0)
        mid = np.where(two, 0.5 * (lo + np.where(two, hi, 0.0)), 0.0)
        half = np.where(two, 0.5 * (np.where(two, hi, 0.0) - lo), 0.0)
        ex2 = np.maximum(0.0, np.abs(sums - mid) - band * half)
        ex1 = np.maximum(0.0, lo - sums) + np.maximum(0.0, sums - np.where(np.isfinite(hi), hi, np.inf))
        ex = np.where(two, ex2, ex1) / self.scale
        return (ex ** 2).sum(axis=1)

    def valid(self, tr: _Tree, x: int, j: int, other: int | None) -> bool:
        m = tr.members(x)
        if not self.allowed[m, j].all():
            return False
        if other is not None:
            rest = np.setdiff1d(tr.nodes, m, assume_unique=True)
            return bool(self.allowed[rest, other].all())
        return True


def _pair_cuts(P: Parts, nodes: np.ndarray, s: int, t: int, rng, draws: int, cost: np.ndarray):
    """For each of ``draws`` spanning trees of the union ``nodes`` of territories s and t (every other one drawn
    with edges between units of like cost difference c_is − c_it first): the tree, its cuts whose sides hold
    exactly one of the two territories' roots, the territory of each piece below a cut and the other one, the
    measures below each cut, and the cost of each split."""
    cs, ct = cost[nodes, s], cost[nodes, t]
    diff = cs - ct
    for d in range(draws):
        try:
            tr = P.tree(nodes, rng, diff if d % 2 == 0 else None)
        except ValueError:  # the pair is not connected (a start that was not contiguous)
            return
        x, j = P.cuts(tr, [s, t], both=True, fit=False)
        if not len(x):
            continue
        below = tr.sums(diff)[x]
        # piece for s below x: Σ c_t + Σ_below (c_s − c_t); piece for t: Σ c_s − Σ_below (c_s − c_t)
        cval = np.where(j == s, ct.sum() + below, cs.sum() - below)
        yield tr, x, j, np.where(j == s, t, s), tr.sums(P.w[nodes])[x], cval


def _split_moves(st, nodes: np.ndarray, members: np.ndarray, j: int, other: int) -> list[tuple[int, int, int]]:
    """(unit, from, to) for the units of the pair ``nodes`` that change territory when ``members`` go to j and
    the rest to ``other``."""
    new = np.full(len(nodes), other)
    new[np.isin(nodes, members)] = j
    return [(int(i), int(st.a[i]), int(t)) for i, t in zip(nodes, new, strict=True) if st.a[i] != t]


@wk.metered
def recombine(p: AlignmentProblem, a: np.ndarray, *, work: float = 10.0, seed: int = 0, draws: int = 6,
              band: float = 1.0, until_feasible: bool = False, parts: Parts | None = None,
              progress=None) -> tuple[np.ndarray, int]:
    """Recombination (module docstring) of a contiguous assignment, lexicographically on (spread, cost): for
    neighbouring territories in turn, draw spanning trees of their union and re-split it where the two sides'
    squared excess beyond ``band`` × the balance tolerance (and beyond any other limit) is least, then the cost.
    A split is taken when it lowers the spread, or keeps it and lowers the cost, and never raises the total
    violation (disruption included). Squared excess is convex, so surplus diffuses across the territory graph as
    averaging does; once every limit is met the same move lowers the cost. Half the trees are drawn with edges
    between units of like cost difference c_is − c_it first, so their cuts follow the cheapest boundary.

    Stops when its ``work`` (units) is spent or after a sweep without a split at the most trees per pair
    (``draws`` doubles after each idle sweep up to 64), or as soon as every limit is met with ``until_feasible``.
    Returns (assignment, splits taken). Units never leave the pair, so the other territories are untouched; roots, locks
    and allowed pairs are respected by construction."""
    P = parts or Parts(p)
    if not P.rooted or p.contiguity is None or p.chooses_centres:
        return a, 0
    span = wk.span(work)
    clock = span.clock
    rng = np.random.default_rng(seed)
    st = State(p, a)
    cost = np.where(np.isfinite(P.cost), P.cost, 0.0)  # a pair not allowed is caught by P.valid
    cols = np.arange(P.J)
    taken = 0
    while not span.done("recombination"):
        pairs = _pairs(P, st.a)
        spread = P.spread(st.sizes.T, cols, band)
        # the pairs with the most spread first, the rest in random order
        pairs = pairs[np.lexsort((rng.random(len(pairs)), -(spread[pairs[:, 0]] + spread[pairs[:, 1]])))]
        improved = 0
        for s, t in pairs.tolist():
            if span.done("recombination") or (until_feasible and st.violation() <= 1e-7):
                break
            nodes = np.flatnonzero((st.a == s) | (st.a == t))
            clock.charge(PAIR_WORK + (TREE_WORK + NODE_WORK * len(nodes)) * draws)
            now_v = spread[s] + spread[t]
            now_c = cost[st.a == s, s].sum() + cost[st.a == t, t].sum()
            tol_c = 1e-9 * max(1.0, abs(now_c))
            total = P.w[nodes].sum(axis=0)
            best = None
            for tr, x, j, other, W, cval in _pair_cuts(P, nodes, s, t, rng, draws, cost):
                val = P.spread(W, j, band) + P.spread(total - W, other, band)
                for k in np.lexsort((cval, val)):
                    better = val[k] < now_v - 1e-9 or (val[k] <= now_v + 1e-12 and cval[k] < now_c - tol_c)
                    if not better or (best is not None and (val[k], cval[k]) >= best[0]):
                        break
                    if P.valid(tr, int(x[k]), int(j[k]), int(other[k])):
                        best = ((val[k], cval[k]), tr.members(int(x[k])), int(j[k]), int(other[k]))
                        break
            if best is None:
                continue
            moved = _split_moves(st, nodes, *best[1:])
            dv, dc = st.delta(moved)
            if dv <= EPS and (best[0][0] < now_v - 1e-9 or dc < -tol_c):
                for i, _s, t_ in moved:
                    st.apply(i, t_)
                spread[[s, t]] = P.spread(st.sizes[:, [s, t]].T, np.array([s, t]), band)
                taken += 1
                improved += 1
        if progress is not None:
            progress(f"recombination: {taken} splits, violation {st.violation():.3g}, cost {st.objective():,.6g}")
        if until_feasible and st.violation() <= 1e-7:
            break
        if not improved:
            if draws >= 64:
                break
            draws *= 2  # a sweep without a split: look at more trees before giving up
    return st.a.copy(), taken


def voronoi(p: AlignmentProblem, parts: Parts | None = None) -> np.ndarray | None:
    """Every unit at the root nearest to it along the adjacency graph (contiguous: each unit's shortest path to
    its root stays in the territory), locked units at their territory; None without roots for every territory."""
    P = parts or Parts(p)
    if not P.rooted or p.contiguity is None or p.chooses_centres:
        return None
    d = root_distances(p, P.G)
    d = np.where(P.allowed.T, d, np.inf)
    if not np.isfinite(d).any(axis=0).all():
        return None  # a unit no territory can reach along the graph
    a = np.argmin(d, axis=0)
    a[P.label >= 0] = P.label[P.label >= 0]
    return a


def _pairs(P: Parts, a: np.ndarray) -> np.ndarray:
    """Neighbouring territory pairs (s < t) under assignment ``a``."""
    pairs = np.unique(np.sort(np.column_stack([a[P.G.src], a[P.G.indices]]), axis=1), axis=0)
    return pairs[pairs[:, 0] != pairs[:, 1]]


@wk.metered
def flow_balance(p: AlignmentProblem, a: np.ndarray, *, work: float = 10.0, seed: int = 0, draws: int = 6,
                 band: float = 0.5, parts: Parts | None = None, progress=None) -> tuple[np.ndarray, int]:
    """Balance a contiguous assignment globally, as diffusion load balancing does (Hu & Blake 1999).

    For each balanced measure solve the territory graph's Laplacian system L x = b, where b is each
    territory's excess over a target (its size clipped into ``band`` × its limits around their middle, the
    rest shared equally so the targets add up; in units of the tolerance), so a territory well inside is left
    alone. The least-squares flow that removes every excess runs x_s − x_t from s to t across each shared
    border. Each border, largest flow first, is re-split by recombination so that its sides move that amount
    (the spanning-tree cut nearest to it on every measure, then the cheapest), and the flows are solved again
    from the new sizes. Surplus crosses many territories in one sweep instead of diffusing pair by pair. A
    sweep may overfill a territory on the way, so the least-violating assignment seen is returned (with the
    splits taken); stops when the limits are met, after two sweeps that cut the violation by less than 2 %,
    or when its ``work`` (units) is spent."""
    P = parts or Parts(p)
    if not P.rooted or p.contiguity is None or p.chooses_centres:
        return a, 0
    span = wk.span(work)
    clock = span.clock
    rng = np.random.default_rng(seed)
    st = State(p, a)
    two = (np.isfinite(P.hi) & (P.lo > 0)).all(axis=1)  # measures with a band for every territory
    if not two.any():
        return a, 0
    mid = 0.5 * (P.lo[two] + P.hi[two])
    half = 0.5 * (P.hi[two] - P.lo[two])
    sc = P.scale[two]
    cost = np.where(np.isfinite(P.cost), P.cost, 0.0)
    best = (st.violation(), st.a.copy())
    taken, stale = 0, 0
    while not span.done("flow balance") and best[0] > 1e-7 and stale < 2:
        pairs = _pairs(P, st.a)
        clock.charge(PAIR_WORK * len(pairs) + 1e-9 * P.J ** 3)
        L = np.zeros((P.J, P.J))
        np.add.at(L, (pairs[:, 0], pairs[:, 1]), -1.0)
        np.add.at(L, (pairs[:, 1], pairs[:, 0]), -1.0)
        L[np.arange(P.J), np.arange(P.J)] = -L.sum(axis=1)
        # targets: each size clipped into the inner band (``band`` × the half-width around the middle), the
        # remainder shared equally so the targets add up to the total; territories already inside stay put
        size = st.sizes[two]
        target = np.clip(size, mid - band * half, mid + band * half)
        target += (size.sum(axis=1) - target.sum(axis=1))[:, None] / P.J
        b = ((size - target) / sc[:, None]).T  # (J × measures), each column adds up to 0
        x = np.linalg.lstsq(L, b, rcond=None)[0]
        F = (x[pairs[:, 0]] - x[pairs[:, 1]]) * sc  # measure units, s → t
        order = np.argsort(-(np.abs(F) / sc).sum(axis=1))
        for e in order.tolist():
            if span.done("flow balance"):
                break
            s, t = (int(v) for v in pairs[e])
            f = F[e]
            if (np.abs(f) / sc).max() < 0.05:
                break  # the rest of the flows are small: leave them to the finishing moves
            nodes = np.flatnonzero((st.a == s) | (st.a == t))
            clock.charge(PAIR_WORK + (TREE_WORK + NODE_WORK * len(nodes)) * draws)
            in_s = st.a[nodes] == s
            want = P.w[nodes][in_s][:, two].sum(axis=0) - f  # what s should hold of the pair
            total = P.w[nodes][:, two].sum(axis=0)
            now = float(((f / sc) ** 2).sum())
            pick = None
            for tr, x_, j, other, W, cval in _pair_cuts(P, nodes, s, t, rng, draws, cost):
                Ws = np.where((j == s)[:, None], W[:, two], total - W[:, two])
                val = (((Ws - want) / sc) ** 2).sum(axis=1)
                for k in np.lexsort((cval, np.round(val, 2))):
                    if val[k] >= now or (pick is not None and (round(val[k], 2), cval[k]) >= pick[0]):
                        break
                    if P.valid(tr, int(x_[k]), int(j[k]), int(other[k])):
                        pick = ((round(val[k], 2), cval[k]), tr.members(int(x_[k])), int(j[k]), int(other[k]))
                        break
            if pick is None:
                continue
            for i, _s, t_ in _split_moves(st, nodes, *pick[1:]):
                st.apply(i, t_)
            taken += 1
        v = st.violation()
        if progress is not None:
            progress(f"flow balance: {taken} splits, violation {v:.3g}, cost {st.objective():,.6g}")
        if v < best[0] - 1e-9:
            stale = 0 if v < 0.98 * best[0] else stale + 1
            best = (v, st.a.copy())
        else:
            stale += 1
    return best[1], taken
