"""Penalty local search for alignments, compiled with Numba: moves and swaps of boundary units under an adaptive
price on the limits (strategic oscillation), contiguity kept move by move.

The search minimises

    f(x) = Σ_i c_{i,a(i)}  +  λ · V(x)                                                    (S1)

where a(i) is unit i's territory, c the cost of the model (distance × weight, plus the disruption price of a
moved unit), and V the total violation of the limits, each in units of its own tolerance:

    V(x) = Σ_m Σ_j [max(0, lo_mj − s_mj) + max(0, s_mj − hi_mj)] / σ_m  +  Σ_d max(0, D_d − Δ_d) / σ_d       (S2)

with s_mj the size of territory j on measure m, lo/hi the balance band intersected with the capacity and
per-territory limits, σ_m = τ_m·μ_m (the tolerance in the measure's own units), D_d the moved amount of a
disruption-limited measure and Δ_d its limit. A move takes one free unit (not locked, not a root) to a
territory it may join: with contiguity, a territory of one of its graph neighbours, and only if its own
territory stays connected without it (a breadth-first search inside that territory, stopped as soon as every
same-territory neighbour of the unit is reached); without contiguity, one of its ``candidates`` cheapest
territories. A swap exchanges two neighbouring units of different territories (with contiguity: both stay
connected, checked in sequence), or, without contiguity, a unit of a territory that breaks a limit (or of one
whose candidate does) with any unit of that candidate territory. Every pass takes the units in a new random
order and applies the best improving move of each; between passes λ is raised (×1.5) while V > 0 and lowered
(÷1.2) while V = 0, so the search oscillates across the boundary of the feasible set and keeps the cheapest
feasible assignment it sees. When a pass improves nothing at V = 0, a random kick (2 % of the free units moved
at random, contiguity kept) starts the next descent (iterated local search).

With contiguity, while V > 0, the moves also see *flow prices* (:func:`_flow_prices`): each territory's surplus
or deficit is routed as an electrical flow over the graph of neighbouring territories, and a unit moving
along that flow gains λ per tolerance of flow it carries. A move between two territories that both break a
limit (or both meet them) leaves V unchanged, so without the prices a surplus deep inside a region of full
territories moves by cost alone and never reaches the deficits at the region's edge; with them it drains
along the flow (50,000 × 500 at ±5 %, 300 s: V from 2,477 tolerances to 4.3, was 578; 10,000 × 100: feasible
within 10 s, was 25 s). Once the least V stalls, the prices are raised until the busiest edge carries more
than a tolerance, which pushes units through territories at their limits.

A contiguous start stays contiguous; a start that is not contiguous is not made contiguous here (see
:func:`spmopt.territory.contiguity.repair`). The independent checker in :mod:`spmopt.territory.evaluate` still
has the last word on every answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from spmopt import work as wk
from spmopt.territory.problem import AlignmentProblem
from spmopt.territory.state import Graph, State

EPS = 1e-9
#: without contiguity λ is raised only on passes that cut V by less than this fraction (see penalty_search)
VIOL_DROP = 0.1
#: V at or below this counts as feasible inside the search (the checker's relative tolerance is 1e-6)
FEAS_TOL = 1e-9
#: work units per pass, per unit visited in a pass, per operation of a pass (a change priced; a connectivity
#: check counts 4), and per (edge × measure) of a flow-price solve (reference machine)
PASS_WORK = 3e-5
#: with no feasible answer yet, the search stops after this many passes (or 100 per unit) without a real drop
#: in the least violation: on a small map the rest of the budget is better spent by the exact model (a 7-unit
#: line that no contiguous alignment fits spent 14 s of oscillation before the MIP proved it in 1 s)
STALL_STOP = 5_000
VISIT_WORK = 2e-7
OP_WORK = 8e-8
FLOW_WORK = 2e-7


@dataclass
class SearchResult:
    """Best assignment found (column index per unit), whether it meets every limit in the search's terms, its
    cost and violation V, and what the search did."""

    assignment: np.ndarray
    feasible: bool
    objective: float
    violation: float
    passes: int
    moves: int
    work: float


@dataclass(frozen=True)
class SearchData:
    """The arrays the compiled search works on, built once per problem (see :func:`search_data`)."""

    cost: np.ndarray      # n × J, large where not allowed
    allowed: np.ndarray   # n × J bool
    w: np.ndarray         # n × M measures with limits
    lo: np.ndarray        # M × J
    hi: np.ndarray        # M × J
    scale: np.ndarray     # M
    free: np.ndarray      # n bool: may move
    indptr: np.ndarray    # CSR adjacency (empty graph without contiguity)
    indices: np.ndarray
    graph: bool           # moves follow the graph and keep territories connected
    near: np.ndarray      # n × K candidate columns (without contiguity)
    cur: np.ndarray       # n current column (−1 none, J one that is not a column); disruption bookkeeping
    dw: np.ndarray        # n × D disruption-limited measures (0 where the unit has no current territory)
    dlim: np.ndarray      # D
    dscale: np.ndarray    # D


def search_data(p: AlignmentProblem, columns: np.ndarray | None = None, *, candidates: int = 8) -> SearchData:
    """Arrays for :func:`penalty_search`. ``columns`` are the open territory columns (chosen centres); the
    others take no units and carry no limits. Limits, scales and the disruption books are
    :class:`spmopt.territory.state.State`'s."""
    J = len(p.territory_ids)
    # any assignment that opens exactly ``columns`` gives State the open set
    st = State(p, np.zeros(p.n_units, dtype=int) if columns is None else np.resize(columns, p.n_units))
    allowed = p.allowed().copy()
    if columns is not None:
        allowed[:, np.setdiff1d(np.arange(J), columns)] = False
    c = st.cost
    big = float(np.nanmax(np.where(np.isfinite(c), c, 0.0))) * 10 + 1.0
    cost = np.where(allowed, c, big)
    curcol = np.full(p.n_units, -1, dtype=np.int64)
    dw, dlim, dscale = np.zeros((p.n_units, 0)), np.zeros(0), np.zeros(0)
    if st.cur is not None:
        # State: −2 no current territory, −1 one that is not a column (moved whatever the answer); here −1, J
        curcol = np.where(st.cur == -2, -1, np.where(st.cur == -1, J, st.cur)).astype(np.int64)
        cost = cost + np.where(np.arange(J)[None, :] != curcol[:, None], st.price[:, None], 0.0)
        dw, dlim, dscale = st.dw, st.dlim.astype(float), st.dscale.astype(float)
    free = np.ones(p.n_units, dtype=bool)
    if len(p.locks()):
        free[p.unit_ids.get_indexer(p.locks().index)] = False
    if columns is not None:  # an open centre's own unit stays with it
        ci = p.centre_index()[columns]
        own = p.serves_itself()[columns] & (ci >= 0)
        free[ci[own]] = False
    free &= allowed.sum(axis=1) > 1
    if p.contiguity is not None:
        G = Graph(p)
        indptr, indices, graph = G.indptr.astype(np.int64), G.indices.astype(np.int64), True
    else:
        indptr, indices, graph = np.zeros(p.n_units + 1, dtype=np.int64), np.zeros(0, dtype=np.int64), False
    cols = np.flatnonzero(allowed.any(axis=0))
    kk = max(1, min(candidates, len(cols)))
    sub = cost[:, cols]
    near = cols[np.argpartition(sub, kk - 1, axis=1)[:, :kk]] if kk < len(cols) else \
        np.tile(cols, (p.n_units, 1))
    return SearchData(cost=np.ascontiguousarray(cost, dtype=np.float64), allowed=np.ascontiguousarray(allowed),
                      w=np.ascontiguousarray(st.w, dtype=np.float64), lo=st.lo, hi=st.hi, scale=st.scale, free=free,
                      indptr=indptr, indices=indices, graph=graph, near=np.ascontiguousarray(near, dtype=np.int64),
                      cur=curcol, dw=np.ascontiguousarray(dw, dtype=np.float64), dlim=dlim, dscale=dscale)


# -- compiled kernels -----------------------------------------------------------------------------------------

@numba.njit(cache=True)
def _viol_one(s, lo, hi, scale):
    v = 0.0
    if s < lo:
        v += (lo - s) / scale
    if s > hi:
        v += (s - hi) / scale
    return v


@numba.njit(cache=True)
def _dis_term(moved, dlim, dscale):
    return max(0.0, moved - dlim) / dscale


@numba.njit(cache=True)
def _delta_move(i, s, t, sizes, w, lo, hi, scale, lw, cur, dw, moved, dlim, dscale, ld):
    """Priced Δ violation of moving unit i from s to t: λ·ΔV of (S1), with ``lw``/``ld`` the price of each limit
    (the driver keeps them all at λ)."""
    dv = 0.0
    for m in range(w.shape[1]):
        x = w[i, m]
        if x != 0.0:
            dv += lw[m, s] * (_viol_one(sizes[m, s] - x, lo[m, s], hi[m, s], scale[m])
                              - _viol_one(sizes[m, s], lo[m, s], hi[m, s], scale[m]))
            dv += lw[m, t] * (_viol_one(sizes[m, t] + x, lo[m, t], hi[m, t], scale[m])
                              - _viol_one(sizes[m, t], lo[m, t], hi[m, t], scale[m]))
    if dw.shape[1] > 0 and cur[i] >= 0:
        ch = (1.0 if t != cur[i] else 0.0) - (1.0 if s != cur[i] else 0.0)
        if ch != 0.0:
            for d in range(dw.shape[1]):
                dv += ld[d] * (_dis_term(moved[d] + ch * dw[i, d], dlim[d], dscale[d])
                               - _dis_term(moved[d], dlim[d], dscale[d]))
    return dv


@numba.njit(cache=True)
def _delta_swap(i, s, k, t, sizes, w, lo, hi, scale, lw, cur, dw, moved, dlim, dscale, ld):
    """Priced Δ violation of unit i going s → t and unit k going t → s together."""
    dv = 0.0
    for m in range(w.shape[1]):
        x = w[k, m] - w[i, m]  # s gains x, t loses x
        if x != 0.0:
            dv += lw[m, s] * (_viol_one(sizes[m, s] + x, lo[m, s], hi[m, s], scale[m])
                              - _viol_one(sizes[m, s], lo[m, s], hi[m, s], scale[m]))
            dv += lw[m, t] * (_viol_one(sizes[m, t] - x, lo[m, t], hi[m, t], scale[m])
                              - _viol_one(sizes[m, t], lo[m, t], hi[m, t], scale[m]))
    if dw.shape[1] > 0:
        chi = 0.0
        chk = 0.0
        if cur[i] >= 0:
            chi = (1.0 if t != cur[i] else 0.0) - (1.0 if s != cur[i] else 0.0)
        if cur[k] >= 0:
            chk = (1.0 if s != cur[k] else 0.0) - (1.0 if t != cur[k] else 0.0)
        if chi != 0.0 or chk != 0.0:
            for d in range(dw.shape[1]):
                dv += ld[d] * (_dis_term(moved[d] + chi * dw[i, d] + chk * dw[k, d], dlim[d], dscale[d])
                               - _dis_term(moved[d], dlim[d], dscale[d]))
    return dv


@numba.njit(cache=True)
def _apply(i, t, a, sizes, w, cur, dw, moved):
    s = a[i]
    for m in range(w.shape[1]):
        sizes[m, s] -= w[i, m]
        sizes[m, t] += w[i, m]
    if dw.shape[1] > 0 and cur[i] >= 0:
        ch = (1.0 if t != cur[i] else 0.0) - (1.0 if s != cur[i] else 0.0)
        for d in range(dw.shape[1]):
            moved[d] += ch * dw[i, d]
    a[i] = t


@numba.njit(cache=True)
def _stays_connected(i, a, indptr, indices, mark, target, queue, stamp):
    """Would territory a[i] stay connected without unit i? BFS inside the territory from one same-territory
    neighbour of i until every other one is reached. ``mark``/``target`` hold stamps (no clearing needed)."""
    s = a[i]
    need = 0
    first = -1
    for e in range(indptr[i], indptr[i + 1]):
        v = indices[e]
        if a[v] == s and target[v] != stamp:
            target[v] = stamp
            need += 1
            if first < 0:
                first = v
    if need <= 1:
        return True
    mark[i] = stamp
    mark[first] = stamp
    need -= 1
    head = 0
    tail = 0
    queue[tail] = first
    tail += 1
    while head < tail:
        u = queue[head]
        head += 1
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            if a[v] == s and mark[v] != stamp:
                mark[v] = stamp
                if target[v] == stamp:
                    need -= 1
                    if need == 0:
                        return True
                queue[tail] = v
                tail += 1
    return False


@numba.njit(cache=True)
def _breaks(j, sizes, lo, hi):
    """Does territory j break a limit?"""
    for m in range(sizes.shape[0]):
        if sizes[m, j] < lo[m, j] or sizes[m, j] > hi[m, j]:
            return True
    return False


@numba.njit(cache=True)
def _touches(i, t, a, indptr, indices):
    for e in range(indptr[i], indptr[i + 1]):
        if a[indices[e]] == t:
            return True
    return False


@numba.njit(cache=True)
def _pass(a, sizes, moved, cost, allowed, w, lo, hi, scale, lw, free, indptr, indices, graph, near, cur, dw,
          dlim, dscale, ld, order, swaps, mark, target, queue, stamp):
    """One pass over ``order``: each free unit takes its best improving move on (S1); then the swaps (with the
    graph: a unit's first improving swap with a neighbour; without: its best with a unit of a candidate
    territory, where either territory breaks a limit). Returns (units moved, next stamp, operations: the
    changes priced plus 4 per connectivity check — what the work clock is charged for)."""
    n_moves = 0
    ops = 0
    for idx in range(order.shape[0]):
        i = order[idx]
        if not free[i]:
            continue
        s = a[i]
        best_t = -1
        best_d = -EPS
        deg = indptr[i + 1] - indptr[i] if graph else near.shape[1]
        for q in range(deg):
            t = a[indices[indptr[i] + q]] if graph else near[i, q]
            if t == s or not allowed[i, t]:
                continue
            ops += 1
            d = cost[i, t] - cost[i, s] + \
                _delta_move(i, s, t, sizes, w, lo, hi, scale, lw, cur, dw, moved, dlim, dscale, ld)
            if d < best_d:
                best_d = d
                best_t = t
        if best_t < 0:
            continue
        if graph:
            stamp += 1
            ops += 4
            if not _stays_connected(i, a, indptr, indices, mark, target, queue, stamp):
                continue
        _apply(i, best_t, a, sizes, w, cur, dw, moved)
        n_moves += 1
    if graph and swaps:
        for idx in range(order.shape[0]):
            i = order[idx]
            if not free[i]:
                continue
            s = a[i]
            for e in range(indptr[i], indptr[i + 1]):
                k = indices[e]
                t = a[k]
                if t == s or not free[k] or not allowed[i, t] or not allowed[k, s]:
                    continue
                ops += 1
                d = cost[i, t] + cost[k, s] - cost[i, s] - cost[k, t] + \
                    _delta_swap(i, s, k, t, sizes, w, lo, hi, scale, lw, cur, dw, moved, dlim, dscale, ld)
                if d >= -EPS:
                    continue
                stamp += 1
                ops += 8
                if not _stays_connected(i, a, indptr, indices, mark, target, queue, stamp):
                    break  # i cannot leave s at all
                _apply(i, t, a, sizes, w, cur, dw, moved)
                stamp += 1
                if _touches(k, s, a, indptr, indices) and \
                        _stays_connected(k, a, indptr, indices, mark, target, queue, stamp):
                    _apply(k, s, a, sizes, w, cur, dw, moved)
                    n_moves += 2
                    break
                _apply(i, s, a, sizes, w, cur, dw, moved)  # undo
    if not graph and swaps:
        # swaps with any unit of a candidate territory, for units of a territory that breaks a limit, or into one
        # (the swap is there to repair, single moves polish the cost); member lists are taken at the start of
        # the pass and checked (a unit that has moved since is skipped)
        J = cost.shape[1]
        by = np.argsort(a)
        start = np.searchsorted(a[by], np.arange(J + 1))
        for idx in range(order.shape[0]):
            i = order[idx]
            if not free[i]:
                continue
            s = a[i]
            best_k = -1
            best_d = -EPS
            bad_s = _breaks(s, sizes, lo, hi)
            for q in range(near.shape[1]):
                t = near[i, q]
                if t == s or not allowed[i, t] or not (bad_s or _breaks(t, sizes, lo, hi)):
                    continue
                for z in range(start[t], start[t + 1]):
                    k = by[z]
                    if a[k] != t or not free[k]:
                        continue
                    # the priced change of the limits first: it reads only the small arrays, and a swap here
                    # must repair (most partners do not, and the n × J cost and allowed rows they would read
                    # are cache misses: 50,000 × 500, 10 s a pass while most territories broke a limit)
                    ops += 1
                    dv = _delta_swap(i, s, k, t, sizes, w, lo, hi, scale, lw, cur, dw, moved, dlim, dscale, ld)
                    if dv >= -EPS or not allowed[k, s]:
                        continue
                    d = cost[i, t] + cost[k, s] - cost[i, s] - cost[k, t] + dv
                    if d < best_d:
                        best_d = d
                        best_k = k
            if best_k >= 0:
                t = a[best_k]
                _apply(i, t, a, sizes, w, cur, dw, moved)
                _apply(best_k, s, a, sizes, w, cur, dw, moved)
                n_moves += 2
    return n_moves, stamp, ops


@numba.njit(cache=True)
def _kick(a, sizes, moved, allowed, w, free, indptr, indices, graph, near, cur, dw, units, n_kick, seed, mark,
          target, queue, stamp):
    """Move ``n_kick`` random free units to a random territory they may join (keeping contiguity). Numba keeps
    its own random state inside compiled code; ``seed`` (drawn from the caller's Generator) fixes it per call."""
    np.random.seed(seed)  # noqa: NPY002 (Numba's state, not NumPy's global one)
    done = 0
    tries = 0
    while done < n_kick and tries < 20 * n_kick:
        tries += 1
        i = units[np.random.randint(units.shape[0])]  # noqa: NPY002
        s = a[i]
        if graph:
            deg = indptr[i + 1] - indptr[i]
            if deg == 0:
                continue
            t = a[indices[indptr[i] + np.random.randint(deg)]]  # noqa: NPY002
        else:
            t = near[i, np.random.randint(near.shape[1])]  # noqa: NPY002
        if t == s or not allowed[i, t]:
            continue
        if graph:
            stamp += 1
            if not _stays_connected(i, a, indptr, indices, mark, target, queue, stamp):
                continue
        _apply(i, t, a, sizes, w, cur, dw, moved)
        done += 1
    return stamp


@numba.njit(cache=True)
def _violation(sizes, lo, hi, scale, moved, dlim, dscale):
    """V (S2)."""
    v = 0.0
    for m in range(sizes.shape[0]):
        for j in range(sizes.shape[1]):
            v += _viol_one(sizes[m, j], lo[m, j], hi[m, j], scale[m])
    for d in range(moved.shape[0]):
        v += _dis_term(moved[d], dlim[d], dscale[d])
    return v


@numba.njit(cache=True)
def _total_cost(a, cost):
    c = 0.0
    for i in range(a.shape[0]):
        c += cost[i, a[i]]
    return c


# -- driver ---------------------------------------------------------------------------------------------------

#: once the least violation has not fallen by 0.1 % in STALL passes (or ever after the first feasible answer), the flow
#: prices are raised until the busiest territory edge carries PUSH tolerances: enough to push a unit through a
#: territory at its limit (50,000 × 500 at ±5 % contiguous: stuck at V = 4.26 for 200 s, feasible 40 s later)
PUSH = 1.2
STALL = 50
#: from this many territories up the flow prices are on whenever V > 0 (below, only once the search stalls)
FLOW_MIN_TERRITORIES = 50
#: up to this many territories the flow is solved with a dense Laplacian, above with a sparse LU
DENSE_MAX = 400


def _flow_prices(a: np.ndarray, sizes: np.ndarray, d: SearchData, lam: float, push: float = 0.0,
                 src: np.ndarray | None = None) -> np.ndarray:
    """Prices (M × J) that point every territory's surplus towards the deficits along the territory graph.

    For each measure m, the signed violation e_j (above hi positive, below lo negative; its mean taken off, so
    the net is absorbed evenly) is routed as an electrical flow on the graph of territories that share an
    edge: φ = (L + εI)⁻¹ e, with L the graph Laplacian, and the flow across an edge (s, t) is φ_s − φ_t.
    A unit of measure w moving s → t then gains λ · (w/σ) · (φ_s − φ_t)/σ: each tolerance that has to cross
    the edge is worth the current price of one tolerance of violation, λ, per tolerance carried. Moves between
    two territories that both break a limit, or both meet them, change V by nothing; without the prices they
    go by cost alone, and a surplus deep inside a region of full territories never reaches a deficit."""
    J = sizes.shape[1]
    if src is None:
        src = np.repeat(np.arange(len(a)), np.diff(d.indptr))
    ta, tb = a[src], a[d.indices]
    cross = ta != tb
    code = np.unique(ta[cross] * J + tb[cross])
    ea, eb = code // J, code % J
    over = np.maximum(sizes - d.hi, 0.0)
    under = np.maximum(d.lo - sizes, 0.0)
    e = np.where(np.isfinite(over), over, 0.0) - np.where(np.isfinite(under), under, 0.0)
    e = e - e.mean(axis=1, keepdims=True)
    if J <= DENSE_MAX:  # dense is faster here (the pass itself takes a millisecond or two on small cases)
        A = np.zeros((J, J))
        A[ea, eb] = 1.0
        A[eb, ea] = 1.0
        L = np.diag(A.sum(axis=1) + 1e-6) - A
        phi = np.linalg.solve(L, e.T).T  # M × J
    else:
        A = sp.coo_matrix((np.ones(len(code)), (ea, eb)), shape=(J, J)).tocsr()
        A = ((A + A.T) > 0).astype(float)
        L = (sp.diags(np.asarray(A.sum(axis=1)).ravel() + 1e-6) - A).tocsc()
        phi = np.atleast_2d(spla.spsolve(L, e.T).T).reshape(e.shape)
    scale = np.maximum(d.scale, EPS)[:, None]
    if push > 0 and len(code):  # stalled: raise the prices until the busiest edge carries ``push`` tolerances
        fmax = np.abs(phi[:, ea] - phi[:, eb]).max(axis=1)[:, None] / scale
        phi = phi * np.maximum(1.0, push / np.maximum(fmax, EPS))
    return lam * phi / scale ** 2

_COMPILED = False


def _compile() -> None:
    """Compile (or load from Numba's cache) every kernel on a two-unit problem, once per process, so that no
    time limit pays for it."""
    global _COMPILED
    if _COMPILED:
        return
    for graph in (True, False):
        a = np.array([0, 1], dtype=np.int64)
        sizes, w = np.array([[1.0, 1.0]]), np.array([[1.0], [1.0]])
        lo, hi, lw = np.zeros((1, 2)), np.full((1, 2), 2.0), np.ones((1, 2))
        cost, allowed = np.array([[0.0, 1.0], [1.0, 0.0]]), np.ones((2, 2), dtype=bool)
        indptr, indices = np.array([0, 1, 2]), np.array([1, 0])
        near, cur, dw = np.array([[0, 1], [0, 1]]), np.array([-1, -1]), np.zeros((2, 0))
        moved, dz, marks = np.zeros(0), np.zeros(0), [np.zeros(2, dtype=np.int64) for _ in range(3)]
        free, scale = np.ones(2, dtype=bool), np.ones(1)
        _pass(a, sizes, moved, cost, allowed, w, lo, hi, scale, lw, free, indptr, indices, graph, near, cur, dw,
              dz, dz, dz, np.array([0, 1]), True, *marks, 0)
        _kick(a, sizes, moved, allowed, w, free, indptr, indices, graph, near, cur, dw, np.array([0, 1]), 1, 0,
              *marks, 0)
        _violation(sizes, lo, hi, scale, moved, dz, dz)
        _total_cost(a, cost)
    _COMPILED = True


def _sizes(a: np.ndarray, d: SearchData) -> tuple[np.ndarray, np.ndarray]:
    J = d.cost.shape[1]
    sizes = np.zeros((d.w.shape[1], J))
    for m in range(d.w.shape[1]):
        sizes[m] = np.bincount(a, weights=d.w[:, m], minlength=J)
    on = (a != d.cur) & (d.cur >= 0)
    moved = np.array([d.dw[on, k].sum() for k in range(d.dw.shape[1])], dtype=float)
    return sizes, moved


@wk.metered
def penalty_search(p: AlignmentProblem, start: np.ndarray, *, work: float = 10.0, seed: int = 0,
                   data: SearchData | None = None, swaps: bool = True, kick: float = 0.02,
                   max_passes: int = 1_000_000, max_restarts: int = 200, patience: float | None = None,
                   stop_when_feasible: bool = False, flow_prices: bool | None = None, progress=None,
                   every: float = 30.0, patience_from_feasible: bool = False) -> SearchResult:
    """Search from ``start`` (territory column per unit) for ``work`` units (see the module docstring and
    :mod:`spmopt.work`; each pass is charged for the units it visits and the flow prices it solves).
    Returns the cheapest assignment with V = 0 seen, or the least violating one when none was. It stops early
    after ``max_restarts`` returns to the best answer without a gain (30 kicks each); with ``patience`` once
    the work since the last gain exceeds ``patience`` × the work it took to reach it, plus 0.1 unit (the
    rest of the budget is worth more to the stages after it) — with ``patience_from_feasible`` the work counts
    from the first feasible answer instead, plus 3 % of ``work`` (where reaching the limits is the long
    part, the search rarely improves the answer after it: the budget goes to the stages after); and with
    ``stop_when_feasible`` at the first feasible local optimum. ``progress`` is called with a one-line status
    every ``every`` units."""
    _compile()
    span = wk.span(work)
    clock = span.clock
    d = data if data is not None else search_data(p)
    a = np.asarray(start, dtype=np.int64).copy()
    n, M, J = len(a), d.w.shape[1], d.cost.shape[1]
    sizes, moved = _sizes(a, d)
    flow_prices = flow_prices is not False and d.graph and M > 0
    pcost = d.cost  # the costs the moves see: with flow prices, plus each measure's price in each territory
    mark, target, queue = (np.zeros(n, dtype=np.int64) for _ in range(3))
    stamp = 0
    rng = np.random.default_rng(seed)
    cost = _total_cost(a, d.cost)
    # one tolerance's worth of violation starts at ten times the mean cost of a unit
    lam0 = max(10.0 * cost / max(n, 1), 1e-6)
    lam, lam_min, lam_max = lam0, lam0 * 1e-3, lam0 * 1e6
    lw = np.full((M, J), lam)
    ld = np.full(d.dw.shape[1], lam)
    viol = _violation(sizes, d.lo, d.hi, d.scale, moved, d.dlim, d.dscale)
    prev_viol = viol
    best_feas: tuple[float, np.ndarray] | None = (cost, a.copy()) if viol <= FEAS_TOL else None
    best_viol = (viol, cost, a.copy())
    movable = np.flatnonzero(d.free).astype(np.int64)
    passes = total = stale = restarts = 0
    t_gain = 0.0  # when the best feasible answer was found
    t_feas = None  # when the first was
    t_say = every
    t_viol = 0  # the pass of the last real drop in the least violation
    src = np.repeat(np.arange(n), np.diff(d.indptr)) if flow_prices else None  # tail of each directed edge
    visit = PASS_WORK + VISIT_WORK * len(movable)
    flow_cost = 8e-5 + FLOW_WORK * max(1, len(d.indices)) * max(1, M)
    while len(movable) and passes < max_passes and not span.done("penalty search"):
        order = rng.permutation(movable)
        if flow_prices:
            # on large maps whenever V > 0; with a few territories only once the plain search stalls short of
            # the limits: there the violations are near their repair, and the field only adds churn (1,000 × 20
            # at ±5 %, whole pipeline in 60 s: 114,342 without it, 121,875 with it until feasible, 135,094 with
            # it throughout); with many it keeps paying (10,000 × 100: 873,191, 914,813 and 837,919–849,180)
            # the push once the least V stalls; after the first feasible answer that least V no longer moves, so
            # on large maps every infeasible pass of the oscillation is pushed (measured better: 10,000 × 100 in
            # 60 s, 855,806 so, 874,963 with the push only before the first feasible answer)
            stalled = passes - t_viol > STALL
            on = viol > FEAS_TOL and (J >= FLOW_MIN_TERRITORIES or (best_feas is None and stalled))
            pcost = d.cost + d.w @ _flow_prices(a, sizes, d, lam, PUSH if stalled else 0.0, src) if on else d.cost
            if on:
                clock.charge(flow_cost)
        k, stamp, ops = _pass(a, sizes, moved, pcost, d.allowed, d.w, d.lo, d.hi, d.scale, lw, d.free, d.indptr,
                         d.indices, d.graph, d.near, d.cur, d.dw, d.dlim, d.dscale, ld, order, swaps, mark,
                         target, queue, stamp)
        passes += 1
        total += k
        clock.charge(visit + OP_WORK * ops)
        viol = _violation(sizes, d.lo, d.hi, d.scale, moved, d.dlim, d.dscale)
        if viol <= FEAS_TOL:
            cost = _total_cost(a, d.cost)
            if best_feas is None or cost < best_feas[0] - EPS * max(1.0, abs(cost)):
                best_feas, stale, restarts = (cost, a.copy()), 0, 0
                t_gain = span.used()
                t_feas = t_gain if t_feas is None else t_feas
            else:
                stale += 1
            lam = max(lam / 1.2, lam_min)
        else:
            if viol < best_viol[0] - EPS:
                if viol < best_viol[0] * (1 - 1e-3):
                    t_viol = passes
                best_viol = (viol, _total_cost(a, d.cost), a.copy())
            # without contiguity, not while V still falls fast: a price that keeps rising while the repair is
            # working ends with a tiny V priced so high that any cost buys it off (50,000 × 500 from the LP's
            # rounded start: feasible at 1.235 M with λ/λ0 438, where the moves alone reached V = 0.0001 at
            # 1.044 M). With contiguity the flow prices and the push rely on the steady rise.
            if d.graph or viol >= prev_viol * (1 - VIOL_DROP):
                lam = min(lam * 1.5, lam_max)
        prev_viol = viol
        lw.fill(lam)
        ld.fill(lam)
        if progress is not None and span.used() >= t_say:
            t_say += every
            progress(f"penalty search {span.used():.0f} work units: {passes:,} passes, "
                     + (f"best feasible {best_feas[0]:,.6g}" if best_feas is not None else
                        f"least violation {best_viol[0]:.4g} tolerances (now {viol:.4g}, λ/λ0 {lam / lam0:.3g})"))
        if patience is not None and best_feas is not None:
            now = span.used()
            if patience_from_feasible:
                if now - t_gain > patience * (t_gain - t_feas) + max(0.1, 0.03 * work):
                    break
            elif now > (1 + patience) * t_gain + 0.1:
                break
        if best_feas is None and passes - t_viol > max(STALL_STOP, 100 * n):
            break  # no feasible answer and the least violation has not fallen for that long: give up the budget
        if k == 0 and (viol <= FEAS_TOL or lam >= lam_max):  # a local minimum: kick (iterated local search)
            if viol <= FEAS_TOL and stop_when_feasible:
                break
            if best_feas is not None and stale > 30:  # the kicks stopped paying: go back to the best
                restarts += 1
                if restarts > max_restarts:
                    break
                a = best_feas[1].copy()
                sizes, moved = _sizes(a, d)
                stale = 0
            stamp = _kick(a, sizes, moved, d.allowed, d.w, d.free, d.indptr, d.indices, d.graph, d.near, d.cur,
                          d.dw, movable, max(1, int(kick * len(movable))), int(rng.integers(2**31 - 1)), mark,
                          target, queue, stamp)
    secs = span.used()
    if best_feas is not None:
        return SearchResult(best_feas[1], True, best_feas[0], 0.0, passes, total, secs)
    return SearchResult(best_viol[2], False, best_viol[1], best_viol[0], passes, total, secs)
