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

Floor 3 of :mod:`spmopt.territory`: the bookkeeping and the single moves and swaps are
:mod:`spmopt.territory.state`'s (floor 1); the transfer chains (:mod:`~spmopt.territory.balance`), spanning-tree
splits (:mod:`~spmopt.territory.treepart`) and the compiled penalty search (:mod:`~spmopt.territory.search`) sit
on floor 2, and :func:`heuristic` chains them (none of them imports this module).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from spmopt import work as wk
from spmopt.territory.balance import rebalance
from spmopt.territory.contiguity import repair
from spmopt.territory.evaluate import evaluate, violations
from spmopt.territory.problem import AlignmentProblem
from spmopt.territory.search import penalty_search, search_data
from spmopt.territory.state import State, move_options, neighbour_lists, stays_connected, try_swap
from spmopt.territory.treepart import Parts, flow_balance, recombine, voronoi
from spmopt.territory.whatif import greedy_fill

EPS = 1e-9
#: work units per move evaluated by local_search (Python, reference machine; with contiguity × (1 + 0.03 n/J),
#: the connectivity checks) and per annealing step
LOCAL_WORK = 2.4e-5
ANNEAL_WORK = 3.5e-5


@dataclass
class HeuristicResult:
    assignment: pd.Series
    feasible: bool
    objective: float
    violation: float
    work: float
    moves: int


@wk.metered
def local_search(p: AlignmentProblem, start: np.ndarray, *, work: float = 10.0, max_passes: int = 200,
                 candidates: int = 8, swaps: bool = True) -> tuple[np.ndarray, int]:
    """Improve ``start`` (column index per unit) within ``work`` units; returns (assignment, moves applied)."""
    span = wk.span(work)
    clock = span.clock
    st = State(p, start)
    nbrs = neighbour_lists(p)
    free, near = move_options(p, st, candidates)
    per_option = LOCAL_WORK * (1.0 if nbrs is None else 1.0 + 0.03 * p.n_units / max(1, st.J))
    moves = 0
    rng = np.random.default_rng(0)
    for _ in range(max_passes):
        improved = False
        order = rng.permutation(p.n_units)
        for i in order:
            if not free[i] or span.done("local search"):
                continue
            s = st.a[i]
            opts = ({int(st.a[v]) for v in nbrs[i]} if nbrs is not None else set(map(int, near[i]))) - {s}
            clock.charge(per_option * (1 + len(opts)))
            best, best_key = None, None
            for t in opts:
                if not st.allowed[i, t]:
                    continue
                dv, dc = st.delta([(i, s, t)])
                if dv < -EPS or (abs(dv) <= EPS and dc < -EPS):
                    key = (round(dv, 9), dc)
                    if best_key is None or key < best_key:
                        best, best_key = t, key
            if best is not None and (nbrs is None or stays_connected(st.a, nbrs, i)):
                st.apply(i, best)
                moves += 1
                improved = True
            elif swaps and nbrs is not None and st.violation() > EPS:
                improved |= try_swap(st, nbrs, i, ~free)
        if not improved or span.done("local search"):
            break
    return st.a, moves


@wk.metered
def anneal(p: AlignmentProblem, start: np.ndarray, *, work: float = 10.0, seed: int = 0,
           candidates: int = 8) -> np.ndarray:
    """Simulated annealing on W·violation + cost with single-unit moves (contiguity kept as in
    :func:`local_search`); returns the best feasible assignment seen, or the least-violating one."""
    rng = np.random.default_rng(seed)
    st = State(p, start)
    nbrs = neighbour_lists(p)
    free, near = move_options(p, st, candidates)
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
    span = wk.span(work)
    it = 0
    while True:
        if it % 256 == 0:
            if it:
                span.clock.charge(256 * ANNEAL_WORK * (1.0 if nbrs is None else 1.3))
            frac = span.fraction() if work > 0 else 1.0
            if frac >= 1 or span.done("anneal"):
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
        if nbrs is not None and not stays_connected(st.a, nbrs, i):
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
        st = State(p, arr)
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
    moves = 0
    best = (State(p, a).violation(), a.copy())
    for turn in range(12):
        if budget() <= 0.1:
            break
        a, info = rebalance(p, a, work=0.4 * budget())
        moves += info["moves"]
        a, m = local_search(p, a, work=0.3 * budget())
        moves += m
        v = State(p, a).violation()
        if v < best[0] - 1e-9 or v <= 1e-7:
            best = (v, a.copy())
        if v <= 1e-7:
            break
        a = anneal(p, a, work=0.3 * budget(), seed=turn)  # a new seed each turn: a different escape
        v = State(p, a).violation()
        if v < best[0] - 1e-9:
            best = (v, a.copy())
    a = best[1]
    if best[0] <= 1e-7 and budget() > 0.1:
        a, m = local_search(p, a, work=budget())
        moves += m
    return a, moves


def _tree_search(p: AlignmentProblem, a0: np.ndarray, budget, given: bool) -> tuple[np.ndarray | None, int]:
    """Contiguous and rooted (every territory has a centre unit), with spanning-tree splits
    (:mod:`spmopt.territory.treepart`): a contiguous start — the current alignment when it is usable, else every
    unit at its nearest root along the graph — is balanced by Laplacian flows carried out as splits, then by
    recombination; the transfer chains and single moves finish any residue; recombination and single moves
    then lower the cost. None when the method does not apply (chosen centres, a territory without a root)."""
    if p.chooses_centres:
        return None, 0
    P = Parts(p)
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
    feas = wk.span(0.9 * total)
    feas_left = lambda: 0.0 if feas.done("tree search") else feas.left()  # noqa: E731
    moves = 0
    if State(p, start).violation() > 1e-7:
        start, moves = flow_balance(p, start, work=0.4 * total, parts=P)
    a, taken = recombine(p, start, work=0.6 * feas_left(), until_feasible=True, parts=P)
    moves += taken
    if State(p, a).violation() > 1e-7:
        a, m = _contiguous_search(p, a, feas_left)
        moves += m
    if State(p, a).violation() > 1e-7:
        return a, moves
    a, taken = recombine(p, a, work=0.8 * budget(), parts=P, seed=1)
    a, m = local_search(p, a, work=budget())
    return a, moves + taken + m


@wk.metered
def heuristic(p: AlignmentProblem, *, work: float = 10.0, start: pd.Series | None = None,
              progress=None, patience_from_feasible: bool = False) -> HeuristicResult:
    """Start → contiguity repair → penalty search → (if still short of the limits) the older searches. See the
    module docstring. ``progress`` gets the penalty search's status line every 30 s; ``patience_from_feasible``
    goes to the first penalty search without contiguity (see :func:`~spmopt.territory.search.penalty_search`).
    ``work`` is its budget in work units (:mod:`spmopt.work`)."""
    span = wk.span(work)
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
    budget = lambda: 0.05 if span.done("heuristic") else max(0.05, span.left())  # noqa: E731
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
    ps = penalty_search(p, a0, work=share * work * (0.5 if p.chooses_centres else 1.0),
                        data=search_data(p, cols), patience=None if p.contiguity is not None else 1.0,
                        progress=progress, patience_from_feasible=patience_from_feasible)
    a, moves = ps.assignment, ps.moves
    if p.chooses_centres and ps.feasible:
        # location–allocation: move each centre to its territory's 1-median, re-assign from there, repeat while
        # it pays (the spread-out start alone left OR-Library pmedcap 20 at 1,416 against the optimum 1,005)
        best = (ps.objective, a)
        end = span.start + share * work
        while span.clock.used < end - 0.05 and not span.done("heuristic"):
            b = relocate_centres(p, best[1])
            if np.array_equal(b, best[1]):
                break
            q = penalty_search(p, b, work=max(0.05, end - span.clock.used),
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
        quick = wk.span(0.1 * work)
        b, more = _contiguous_search(p, a0, lambda: 0.0 if quick.done("heuristic") else quick.left())
        if State(p, b).violation() > 1e-7:
            c, most = _tree_search(p, a0, budget, start is not None)
            if c is not None and State(p, c).violation() < State(p, b).violation():
                b, more = c, more + most
        if State(p, b).violation() < ps.violation:
            a, moves = b, moves + more
    elif not ps.feasible:
        b, more = local_search(p, a, work=0.3 * budget())
        if State(p, b).violation() > 1e-7:  # stuck short of feasibility: anneal, then polish the cost
            b = anneal(p, b, work=0.7 * budget())
            b, most = local_search(p, b, work=budget())
            more += most
        a, moves = b, moves + more
    assignment = pd.Series(np.asarray(p.territory_ids, dtype=object)[a], index=p.unit_ids, name="territory_id")
    bad = violations(p, assignment)
    st = State(p, a)
    return HeuristicResult(assignment=assignment, feasible=not bad, objective=evaluate(p, assignment).objective,
                           violation=st.violation(), work=span.used(), moves=moves)
