"""Fast alignment heuristics: a start, a repair and a local search, all on plain NumPy arrays.

:func:`local_search` improves an assignment lexicographically — first the total violation of the limits
(balance, capacity and per-territory limits, disruption; each in units of its own tolerance), then the cost —
by moving one unit to another territory or swapping two units of neighbouring territories. With contiguity every
move keeps both territories connected (a unit joins only a territory it touches, and leaves only if the
territory stays connected without it), so a contiguous start stays contiguous.

:func:`heuristic` chains: start (the current alignment when it is usable, else every unit at its nearest allowed
centre), contiguity repair, local search. It returns an assignment and whether it meets every limit; the caller
hands a feasible one to the MIP as its first incumbent, and falls back to it when the MIP finds nothing better
in time. The independent checker in :mod:`spmopt.territory.evaluate` has the last word.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spmopt.territory.problem import AlignmentProblem

EPS = 1e-9


@dataclass
class HeuristicResult:
    assignment: pd.Series
    feasible: bool
    objective: float
    violation: float
    seconds: float
    moves: int


class _State:
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
    def _viol(self, s: np.ndarray, k_lo, k_hi, scale) -> np.ndarray:
        return (np.maximum(0.0, k_lo - s) + np.maximum(0.0, s - k_hi)) / scale

    def violation(self) -> float:
        v = float(self._viol(self.sizes, self.lo, self.hi, self.scale[:, None]).sum())
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
            dv += float(self._viol(new, self.lo[:, j], self.hi[:, j], self.scale).sum()
                        - self._viol(self.sizes[:, j], self.lo[:, j], self.hi[:, j], self.scale).sum())
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


def _neighbour_lists(p: AlignmentProblem) -> list[np.ndarray] | None:
    if p.contiguity is None:
        return None
    pos = {u: i for i, u in enumerate(p.unit_ids)}
    g = p.contiguity.graph
    return [np.array([pos[v] for v in g.neighbors(u)], dtype=int) for u in p.unit_ids]


def _stays_connected(a: np.ndarray, nbrs: list[np.ndarray], i: int, gone: set[int] | None = None) -> bool:
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


def _moves(p: AlignmentProblem, st: _State, candidates: int) -> tuple[np.ndarray, np.ndarray]:
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


def local_search(p: AlignmentProblem, start: np.ndarray, *, time_limit: float = 10.0, max_passes: int = 200,
                 candidates: int = 8, swaps: bool = True) -> tuple[np.ndarray, int]:
    """Improve ``start`` (column index per unit); returns (assignment, number of moves applied)."""
    t_end = time.perf_counter() + time_limit
    st = _State(p, start)
    nbrs = _neighbour_lists(p)
    free, near = _moves(p, st, candidates)
    moves = 0
    rng = np.random.default_rng(0)
    for _ in range(max_passes):
        improved = False
        order = rng.permutation(p.n_units)
        for i in order:
            if not free[i] or time.perf_counter() > t_end:
                continue
            s = st.a[i]
            opts = ({int(st.a[v]) for v in nbrs[i]} if nbrs is not None else set(map(int, near[i]))) - {s}
            best, best_key = None, None
            for t in opts:
                if not st.allowed[i, t]:
                    continue
                dv, dc = st.delta([(i, s, t)])
                if dv < -EPS or (abs(dv) <= EPS and dc < -EPS):
                    key = (round(dv, 9), dc)
                    if best_key is None or key < best_key:
                        best, best_key = t, key
            if best is not None and (nbrs is None or _stays_connected(st.a, nbrs, i)):
                st.apply(i, best)
                moves += 1
                improved = True
            elif swaps and nbrs is not None and st.violation() > EPS:
                improved |= _try_swap(st, nbrs, i, ~free)
        if not improved or time.perf_counter() > t_end:
            break
    return st.a, moves


def anneal(p: AlignmentProblem, start: np.ndarray, *, time_limit: float = 10.0, seed: int = 0,
           candidates: int = 8) -> np.ndarray:
    """Simulated annealing on W·violation + cost with single-unit moves (contiguity kept as in
    :func:`local_search`); returns the best feasible assignment seen, or the least-violating one."""
    rng = np.random.default_rng(seed)
    st = _State(p, start)
    nbrs = _neighbour_lists(p)
    free, near = _moves(p, st, candidates)
    kk = near.shape[1]
    units = np.flatnonzero(free)
    if not len(units):
        return st.a

    def pick(i):
        if nbrs is not None:
            opts = st.a[nbrs[i]]
            opts = opts[opts != st.a[i]]
            return int(rng.choice(opts)) if len(opts) else None
        t = int(near[i, rng.integers(kk)])
        return t if t != st.a[i] else None

    # scale: typical cost change of a move
    samples = []
    for i in rng.choice(units, size=min(300, len(units))):
        t = pick(i)
        if t is not None and st.allowed[i, t]:
            samples.append(abs(st.unit_cost(i, t) - st.unit_cost(i, st.a[i])))
    c0 = float(np.median(samples)) if samples and np.median(samples) > 0 else 1.0
    W = 30.0 * c0
    T0, T1 = c0, c0 * 1e-3
    best_feas = (np.inf, None)
    best_viol = (st.violation(), st.objective(), st.a.copy())
    viol, obj = best_viol[0], best_viol[1]
    t0 = time.perf_counter()
    it = 0
    while True:
        if it % 256 == 0:
            frac = (time.perf_counter() - t0) / max(time_limit, 1e-6)
            if frac >= 1:
                break
            T = T0 * (T1 / T0) ** frac
        it += 1
        i = int(units[rng.integers(len(units))])
        t = pick(i)
        if t is None or not st.allowed[i, t]:
            continue
        s_ = int(st.a[i])
        dv, dc = st.delta([(i, s_, t)])
        d = W * dv + dc
        if d > 0 and rng.random() >= np.exp(-d / T):
            continue
        if nbrs is not None and not _stays_connected(st.a, nbrs, i):
            continue
        st.apply(i, t)
        viol += dv
        obj += dc
        if viol <= 1e-7 and obj < best_feas[0] - EPS:
            viol = st.violation()
            if viol <= 1e-7:
                best_feas = (obj, st.a.copy())
        elif viol < best_viol[0] - EPS:
            best_viol = (viol, obj, st.a.copy())
    return best_feas[1] if best_feas[1] is not None else best_viol[2]


def _try_swap(st: _State, nbrs, i: int, locked) -> bool:
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
            if _connected_territory(a2, nbrs, s) and _connected_territory(a2, nbrs, t):
                st.apply(i, t)
                st.apply(k, s)
                return True
    return False


def _connected_territory(a: np.ndarray, nbrs, j: int) -> bool:
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


def start_assignment(p: AlignmentProblem) -> np.ndarray:
    """The current alignment when every unit has one and its territories are allowed; otherwise each unit at its
    nearest allowed centre (for chosen centres: k spread-out centres, then nearest). Locks are applied."""
    allowed = p.allowed()
    cost = np.where(allowed, p.cost(), np.inf)
    cur = p.current()
    if cur is not None and cur.notna().all():
        a = pd.Index(p.territory_ids).get_indexer(cur.to_numpy())
        if (a >= 0).all() and allowed[np.arange(p.n_units), a].all():
            return a
    if p.chooses_centres:
        cols = _spread_centres(p, cost)
        sub = cost[:, cols]
        a = cols[np.argmin(sub, axis=1)]
        ci = np.where(p.serves_itself(), p.centre_index(), -1)[cols]
        a[ci[ci >= 0]] = cols[ci >= 0]
        return a
    return np.argmin(cost, axis=1)


def _spread_centres(p: AlignmentProblem, cost: np.ndarray) -> np.ndarray:
    """k territory columns by weighted farthest-point sampling on the distances (deterministic): the columns that
    must be open and those with locked units first, then the candidate whose centre unit is farthest from the
    chosen ones."""
    d = np.where(np.isfinite(p.distance), p.distance, np.nanmax(np.where(np.isfinite(p.distance),
                                                                           p.distance, 0)) * 10)
    w = p.measure(p.weight) if p.weight else np.ones(p.n_units)
    state, ci = p.open_state(), p.centre_index()
    forced = sorted(set(np.flatnonzero(state > 0)) |
                    set(pd.Index(p.territory_ids).get_indexer(p.locks().to_numpy())) - {-1})
    pool = np.flatnonzero((state == 0) & (ci >= 0))
    chosen = list(forced) or [int(pool[np.argmin((d[:, pool] * w[:, None]).sum(axis=0))])]
    if (state != 0).any():  # a what-if: greedy add, the candidate that saves the most distance first
        from spmopt.territory.whatif import greedy_fill

        return np.array(greedy_fill(cost, chosen, pool, p.k), dtype=int)
    while len(chosen) < p.k:
        gap = d[:, chosen].min(axis=1) * np.maximum(w, EPS)
        score = gap[ci[pool]]
        score[np.isin(pool, chosen)] = -1
        chosen.append(int(pool[np.argmax(score)]))
    return np.array(chosen[:p.k], dtype=int)


def relocate_centres(p: AlignmentProblem, a: np.ndarray) -> np.ndarray:
    """Chosen centres: one *locate* step of location–allocation (Cooper's alternating method). Each open
    territory whose centre may move (not forced open, no locked unit) takes as its new centre the member unit
    that serves the same members at the least cost (its 1-median); a new centre must be a candidate that is not
    already open and, with limits per territory, must take the same load. The members stay together, so balance,
    contiguity and the self-service of the new centre hold. Moves are kept together when the whole is no worse
    (violation first, then cost, with disruption), else one territory at a time. Returns the new assignment."""
    if not p.chooses_centres:
        return a
    cost = np.where(p.allowed(), p.cost(), np.inf)
    state, ci = p.open_state(), p.centre_index()
    col_of = np.full(p.n_units, -1)
    ok = (ci >= 0) & (state == 0) & p.serves_itself()
    col_of[ci[ok]] = np.flatnonzero(ok)
    locked = np.zeros(p.n_units, dtype=bool)
    li = p.unit_ids.get_indexer(p.locks().index)
    locked[li[li >= 0]] = True
    limits = [(p.measure(m), p.limit_vector("min", m), p.limit_vector("max", m)) for m in p.limited_measures()]
    open_cols = set(np.unique(a).tolist())
    moves: list[tuple[np.ndarray, int]] = []
    for j in sorted(open_cols):
        members = np.flatnonzero(a == j)
        if state[j] != 0 or locked[members].any():
            continue
        cands = col_of[members]
        cands = np.array([c for c in cands if c >= 0 and c not in open_cols], dtype=int)
        if not len(cands):
            continue
        for w, lo, hi in limits:
            load = w[members].sum()
            cands = cands[(lo[cands] <= load + EPS) & (load <= hi[cands] + EPS)]
        if not len(cands):
            continue
        total = cost[np.ix_(members, cands)].sum(axis=0)
        best = int(np.argmin(total))
        if np.isfinite(total[best]) and total[best] < cost[members, j].sum() - 1e-9 * max(1.0, abs(total[best])):
            moves.append((members, int(cands[best])))
            open_cols.add(int(cands[best]))  # two territories may not take the same new centre

    def score(arr: np.ndarray) -> tuple[float, float]:
        st = _State(p, arr)
        return round(st.violation(), 9), st.objective()

    if not moves:
        return a
    new = a.copy()
    for members, c in moves:
        new[members] = c
    base = score(a)
    if score(new) <= base:
        return new
    out = a.copy()
    for members, c in moves:  # the whole was worse (e.g. disruption): one territory at a time
        trial = out.copy()
        trial[members] = c
        sc = score(trial)
        if sc <= base:
            out, base = trial, sc
    return out


def _contiguous_search(p: AlignmentProblem, a: np.ndarray, budget) -> tuple[np.ndarray, int]:
    """Contiguous start → feasible: transfer chains (:func:`spmopt.territory.balance.rebalance`), then single
    moves and swaps, then a short anneal (a new seed each turn), in turns until feasible or out of time; the
    least violating assignment seen is kept, and a final pass polishes the cost of a feasible one."""
    from spmopt.territory.balance import rebalance

    moves = 0
    best = (_State(p, a).violation(), a.copy())
    for turn in range(12):
        if budget() <= 0.1:
            break
        a, info = rebalance(p, a, time_limit=0.4 * budget())
        moves += info["moves"]
        a, m = local_search(p, a, time_limit=0.3 * budget())
        moves += m
        v = _State(p, a).violation()
        if v < best[0] - 1e-9 or v <= 1e-7:
            best = (v, a.copy())
        if v <= 1e-7:
            break
        a = anneal(p, a, time_limit=0.3 * budget(), seed=turn)  # a new seed each turn: a different escape
        v = _State(p, a).violation()
        if v < best[0] - 1e-9:
            best = (v, a.copy())
    a = best[1]
    if best[0] <= 1e-7 and budget() > 0.1:
        a, m = local_search(p, a, time_limit=budget())
        moves += m
    return a, moves


def _tree_search(p: AlignmentProblem, a0: np.ndarray, budget, given: bool) -> tuple[np.ndarray | None, int]:
    """Contiguous and rooted (every territory has a centre unit), with spanning-tree splits
    (:mod:`spmopt.territory.treepart`): a contiguous start — the current alignment when it is usable, else every
    unit at its nearest root along the graph — is balanced by Laplacian flows carried out as splits, then by
    recombination; the transfer chains and single moves finish any residue; recombination and single moves
    then lower the cost. None when the method does not apply (chosen centres, a territory without a root)."""
    from spmopt.territory.contiguity import repair
    from spmopt.territory.treepart import _Parts, flow_balance, recombine, voronoi

    if p.chooses_centres:
        return None, 0
    P = _Parts(p)
    if not P.rooted:
        return None, 0
    start = a0
    cur = p.current()
    if not given and not (cur is not None and cur.notna().all()):
        v = voronoi(p, P)
        if v is not None:
            tids = pd.Index(p.territory_ids)
            ids = np.asarray(p.territory_ids, dtype=object)
            start = tids.get_indexer(repair(p, p.contiguity.graph, pd.Series(ids[v], index=p.unit_ids)).to_numpy())
    # reaching the limits gets 90 % of the budget (large cases need it: 10,000 × 100 at ±5 % takes minutes); a
    # success spends the rest on cost
    total = budget()
    feas_end = time.perf_counter() + 0.9 * total
    feas_left = lambda: max(0.0, feas_end - time.perf_counter())  # noqa: E731
    moves = 0
    if _State(p, start).violation() > 1e-7:
        start, moves = flow_balance(p, start, time_limit=0.4 * total, parts=P)
    a, taken = recombine(p, start, time_limit=0.6 * feas_left(), until_feasible=True, parts=P)
    moves += taken
    if _State(p, a).violation() > 1e-7:
        a, m = _contiguous_search(p, a, feas_left)
        moves += m
    if _State(p, a).violation() > 1e-7:
        return a, moves
    a, taken = recombine(p, a, time_limit=0.8 * budget(), parts=P, seed=1)
    a, m = local_search(p, a, time_limit=budget())
    return a, moves + taken + m


def heuristic(p: AlignmentProblem, *, time_limit: float = 10.0, start: pd.Series | None = None,
              progress=None, patience_from_feasible: bool = False) -> HeuristicResult:
    """Start → contiguity repair → penalty search → (if still short of the limits) the older searches. See the
    module docstring. ``progress`` gets the penalty search's status line every 30 s; ``patience_from_feasible``
    goes to the first penalty search without contiguity (see :func:`~spmopt.territory.search.penalty_search`)."""
    from spmopt.territory.contiguity import repair
    from spmopt.territory.evaluate import evaluate, violations
    from spmopt.territory.search import penalty_search, search_data

    t0 = time.perf_counter()
    tids = pd.Index(p.territory_ids)
    if start is not None:
        a0 = tids.get_indexer(start.reindex(p.unit_ids).fillna("").to_numpy())
        if (a0 < 0).any():
            a0 = start_assignment(p)
    else:
        a0 = start_assignment(p)
    if p.contiguity is not None:
        s = repair(p, p.contiguity.graph, pd.Series(np.asarray(p.territory_ids, dtype=object)[a0],
                                                    index=p.unit_ids))
        a0 = tids.get_indexer(s.to_numpy())
    budget = lambda: max(0.05, time_limit - (time.perf_counter() - t0))  # noqa: E731
    # the compiled penalty search first (moves and swaps under an adaptive price on the limits): at loose and
    # middling tolerances it is feasible within a second or two and keeps polishing the cost for its share;
    # with contiguity a fifth of the time stays for the chains and spanning-tree splits in case it stalls (it
    # is the better of the two where both reach the limits: 1,000 × 20 at ±5 % on two measures, 123,329 in
    # 20 s against 134,297 in 60 s; 10,000 × 100 needs 15–30 s of it)
    cols = np.unique(a0) if p.chooses_centres else None
    share = 0.8 if p.contiguity is not None else 0.9
    # without contiguity the MIP takes over from a feasible answer, so the search stops once it stalls; with it
    # the search is the best improver there is (on 1,000 × 20 at ±40 %: 68,739 after its first stall at 1.3 s,
    # 62,347 after 20 s)
    ps = penalty_search(p, a0, time_limit=share * time_limit * (0.5 if p.chooses_centres else 1.0),
                        data=search_data(p, cols), patience=None if p.contiguity is not None else 1.0,
                        progress=progress, patience_from_feasible=patience_from_feasible)
    a, moves = ps.assignment, ps.moves
    if p.chooses_centres and ps.feasible:
        # location–allocation: move each centre to its territory's 1-median, re-assign from there, repeat while
        # it pays (the spread-out start alone left OR-Library pmedcap 20 at 1,416 against the optimum 1,005)
        best = (ps.objective, a)
        end = t0 + share * time_limit
        while time.perf_counter() < end - 0.05:
            b = relocate_centres(p, best[1])
            if np.array_equal(b, best[1]):
                break
            q = penalty_search(p, b, time_limit=max(0.05, end - time.perf_counter()),
                               data=search_data(p, np.unique(b)),
                               patience=None if p.contiguity is not None else 1.0)
            moves += q.moves
            if not q.feasible or q.objective >= best[0] - 1e-9 * max(1.0, abs(best[0])):
                break
            best = (q.objective, q.assignment)
        a = best[1]
    if not ps.feasible and p.contiguity is not None:
        # transfer chains and single moves first, briefly: at loose tolerances they are feasible in a fraction of
        # a second and keep the shapes compact; where they stall, the spanning-tree splits take over
        quick = time.perf_counter() + 0.1 * time_limit
        b, more = _contiguous_search(p, a0, lambda: max(0.0, quick - time.perf_counter()))
        if _State(p, b).violation() > 1e-7:
            c, most = _tree_search(p, a0, budget, start is not None)
            if c is not None and _State(p, c).violation() < _State(p, b).violation():
                b, more = c, more + most
        if _State(p, b).violation() < ps.violation:
            a, moves = b, moves + more
    elif not ps.feasible:
        b, more = local_search(p, a, time_limit=0.3 * budget())
        if _State(p, b).violation() > 1e-7:  # stuck short of feasibility: anneal, then polish the cost
            b = anneal(p, b, time_limit=0.7 * budget())
            b, most = local_search(p, b, time_limit=budget())
            more += most
        a, moves = b, moves + more
    assignment = pd.Series(np.asarray(p.territory_ids, dtype=object)[a], index=p.unit_ids, name="territory_id")
    bad = violations(p, assignment)
    st = _State(p, a)
    return HeuristicResult(assignment=assignment, feasible=not bad, objective=evaluate(p, assignment).objective,
                           violation=st.violation(), seconds=time.perf_counter() - t0, moves=moves)
