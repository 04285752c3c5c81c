"""Chosen centres (``k``): the Lagrangian bound of the p-median, a swap search seeded by it, and reduced-cost
fixing of centres and pairs, so the exact model left over is small (Beasley 1993, *Lagrangean heuristics for
location problems*, EJOR 65; the fast swap evaluation after Whitaker 1983 and Resende & Werneck 2004).

**Bound.** Relax "each unit assigned once" with multipliers λ_i. For an open centre column j the subproblem picks
every unit with c_ij < λ_i (and its own centre unit, which an open centre serves):

    ρ_j(λ) = max(0, c_{o(j) j} − λ_{o(j)}) + Σ_i min(0, c_ij − λ_i),     L(λ) = Σ_i λ_i + Σ_{j ∈ O(λ)} ρ_j(λ),

where O(λ) is the ``k`` columns with the smallest ρ (columns that must open always in it, closed ones never).
Every L(λ) is a lower bound for the request — also with balance, capacity or disruption limits, which only remove
answers. The ascent is projected subgradient with Polyak steps towards the best known answer, halving the step
after ``STALL`` steps without a better bound; it is counted in work (one pass over the |I|×|J| costs per step).

**Answers.** The swap search (fast interchange) starts from the centres of the best L(λ) and swaps one open centre
for a closed one while that lowers Σ_i min_{j open} c_ij. One pass evaluates every swap in O(|I|·|J|): with d1,
d2 each unit's nearest and second-nearest open cost and φ its nearest open column,

    gain of opening j: A_j = Σ_i min(0, c_ij − d1_i),   extra cost of then closing r: B_rj = Σ_{i: φ_i = r}
    [min(c_ij, d2_i) − min(c_ij, d1_i)],

and the best swap is the smallest A_j + B_rj.

**Fixing.** With an answer of cost U and the best multipliers: a column j not in O(λ) forced open costs at least
L + ρ_j − ρ_(k) (ρ_(k) the largest free ρ in O(λ)); a pair (i, j) at least L + max(0, c_ij − λ_i), plus
max(0, ρ_j − ρ_(k)) when j is not in O(λ). Whatever costs at least U cannot beat the answer in hand, so those
columns and pairs leave the exact model, and the bound for all pairs is max(L, min(bound of the restricted model,
U)).
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spmopt import work as wk
from spmopt.territory.pricing import ASCENT_STEP, ASCENT_WORK
from spmopt.territory.problem import AlignmentProblem

STALL = 30          # steps without a better bound before the step halves
MIN_THETA = 1e-4    # the ascent ends when the step factor falls below this
SWAP_PASS = 6.0     # a swap pass costs about this many ascent steps (its temporaries)
MAX_PAIRS = 40_000_000   # above this many unit-centre pairs the stage is skipped (its |I|×|J| arrays: 320 MB each)


@dataclass
class PMedian:
    """The Lagrangian stage's result: ``bound`` (valid for every pair), the multipliers, the answer of the swap
    search (``assignment``, ``objective``; None when no column set is feasible), and the counts it fixed."""

    bound: float
    costs: np.ndarray           # c_ij with inf where not allowed
    state: np.ndarray           # open state per column
    k: int
    grain: float                # 1 when every cost is a whole number (a better answer then costs ≤ U − 1), else 0
    lam: np.ndarray
    rho: np.ndarray
    open_cols: np.ndarray
    assignment: pd.Series | None
    objective: float
    steps: int
    swaps: int
    seconds: float

    def fixing(self, upper: float) -> tuple[np.ndarray, np.ndarray]:
        """(columns that can still open, pairs that can still be used) for answers below ``upper``."""
        return reduced_cost_fixing(self.costs, self.state, self.lam, self.rho, self.open_cols, self.bound,
                                   self.cutoff(upper), self.k)

    def cutoff(self, upper: float) -> float:
        """What an answer must cost less than to beat ``upper``: ``upper`` itself, or with whole-number costs
        ``upper − 1`` plus a hair (a better answer costs at most upper − 1)."""
        return upper - self.grain + 1e-6 * self.grain

    def proved(self, bound: float, upper: float) -> bool:
        """Does ``bound`` prove that nothing beats ``upper``?"""
        return bound >= self.cutoff(upper) - 1e-9 * max(1.0, abs(upper))


def _costs(p: AlignmentProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(C with inf on pairs not allowed, each column's centre unit, open state per column)."""
    C = p.cost()
    C = np.where(p.allowed(), C, np.inf)
    return C, p.centre_index(), p.open_state()


def _rho(C: np.ndarray, lam: np.ndarray, own: np.ndarray) -> np.ndarray:
    cols = np.arange(C.shape[1])
    d = C[own, cols] - lam[own]
    red = np.subtract(C, lam[:, None])
    np.minimum(red, 0.0, out=red)           # one |I|×|J| temporary
    return red.sum(axis=0) + np.maximum(d, 0.0)


def _choose(rho: np.ndarray, state: np.ndarray, k: int) -> np.ndarray:
    """The k columns of smallest ρ (must-open first, closed never); boolean mask."""
    key = np.where(state == 1, -np.inf, np.where(state == -1, np.inf, rho))
    pick = np.argpartition(key, k - 1)[:k] if k < len(key) else np.arange(len(key))
    out = np.zeros(len(rho), dtype=bool)
    out[pick] = True
    return out


def assign_to(C: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, float]:
    """Each unit's nearest column among ``cols`` (indices) and the total cost."""
    sub = C[:, cols]
    a = np.argmin(sub, axis=1)
    cost = sub[np.arange(len(a)), a]
    return cols[a], float(cost.sum())


def swap_search(C: np.ndarray, state: np.ndarray, start: np.ndarray, *, span: wk.Span | None = None,
                max_swaps: int = 100_000) -> tuple[np.ndarray, float, int]:
    """Fast interchange from the open columns ``start`` (indices): the best single swap per pass while it lowers
    the cost. Returns (open columns, cost, swaps made)."""
    n_i, n_j = C.shape
    S = np.array(sorted(start))
    if len(S) < 2 or len(S) >= n_j:
        return S, assign_to(C, S)[1], 0
    movable = state == 0
    swaps = 0
    pass_work = SWAP_PASS * (ASCENT_STEP + ASCENT_WORK * C.size)
    rows = np.arange(n_i)
    while swaps < max_swaps:
        sub = C[:, S]
        order2 = np.argpartition(sub, 1, axis=1)[:, :2]
        c2 = sub[rows[:, None], order2]
        first = np.argmin(c2, axis=1)
        phi = order2[rows, first]                       # position in S of the nearest open column
        d1 = c2[rows, first]
        d2 = c2[rows, 1 - first]
        if not np.isfinite(d1).all():
            return S, np.inf, swaps
        A = np.minimum(C - d1[:, None], 0.0).sum(axis=0)
        M = np.minimum(C, d2[:, None]) - np.minimum(C, d1[:, None])
        M[~np.isfinite(M)] = np.inf                     # units some column cannot serve
        order = np.argsort(phi, kind="stable")
        counts = np.bincount(phi, minlength=len(S))
        B = np.zeros((len(S), n_j))
        nz = counts > 0
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[nz]
        B[nz] = np.add.reduceat(M[order], starts, axis=0)
        delta = A[None, :] + B
        delta[:, ~movable] = np.inf                     # only free columns open
        delta[:, S] = np.inf
        delta[~movable[S], :] = np.inf                  # must-open columns never close
        if span is not None:
            span.clock.charge(pass_work)
        r, j = np.unravel_index(np.argmin(delta), delta.shape)
        best = delta[r, j]
        if not np.isfinite(best) or best >= -1e-9 * max(1.0, float(d1.sum())):
            break
        S = np.sort(np.concatenate([np.delete(S, r), [j]]))
        swaps += 1
        if span is not None and span.done("swap search"):
            break
    return S, assign_to(C, S)[1], swaps


@dataclass
class _Ascent:
    L: float
    lam: np.ndarray
    rho: np.ndarray
    opened: np.ndarray
    ub: float
    ub_cols: np.ndarray | None
    steps: int


def _ascent(C: np.ndarray, own: np.ndarray, state: np.ndarray, k: int, lam: np.ndarray, ub: float,
            ub_cols: np.ndarray | None, *, steps: int, span: wk.Span, theta: float = 2.0,
            answers_every: int = 25) -> _Ascent:
    """Projected subgradient ascent of L(λ) from ``lam`` (see the module doc), taking an answer from the
    relaxation's centres every ``answers_every`` steps; stops when L reaches ``ub``, the step factor falls below
    MIN_THETA, after ``steps`` steps or when ``span`` is spent."""
    step_work = ASCENT_STEP + ASCENT_WORK * C.size
    best = None
    stall, it = 0, 0
    for it in range(1, steps + 1):
        rho = _rho(C, lam, own)
        opened = _choose(rho, state, k)
        L = float(lam.sum() + rho[opened].sum())
        span.clock.charge(step_work)
        if best is None or L > best[0] + 1e-12 * max(1.0, abs(L)):
            best, stall = (L, lam.copy(), rho, opened), 0
        else:
            stall += 1
            if stall >= STALL:
                theta, stall = theta / 2, 0
        if it == 1 or it % answers_every == 0:   # an answer from the relaxation's centres
            cols = np.flatnonzero(opened)
            cost = assign_to(C, cols)[1]
            if cost < ub:
                ub, ub_cols = cost, cols
        if ub - best[0] <= 1e-9 * max(1.0, abs(ub)) or theta < MIN_THETA or span.done("lagrangian"):
            break
        # subgradient: 1 − (the number of open columns that take unit i)
        oc = np.flatnonzero(opened)
        red = C[:, oc] - lam[:, None]
        take = (red < 0).sum(axis=1)
        served = own[oc]
        take[served] += red[served, np.arange(len(oc))] >= 0     # an open centre serves its own unit
        g = 1.0 - take
        norm = float(g @ g)
        if norm == 0:
            break
        target = ub if np.isfinite(ub) else best[0] + 0.05 * max(abs(best[0]), 1.0)
        lam = lam + theta * (target - L) / norm * g
    return _Ascent(L=best[0], lam=best[1], rho=best[2], opened=best[3], ub=ub, ub_cols=ub_cols, steps=it)


def lagrangian_bound(p: AlignmentProblem, *, work: float, upper: float | None = None,
                     iterations: int = 3000) -> PMedian:
    """The ascent and the swap search on ``p`` (chosen centres), within ``work`` units (see the module doc)."""
    t0 = time.perf_counter()
    span = wk.span(work)
    C, own, state = _costs(p)
    k = p.n_territories
    finite = np.where(np.isfinite(C), C, np.nan)
    ub, ub_cols = np.inf, None
    # start: a swap search from the k columns that are cheapest on average; each unit's multiplier starts at its
    # cost in that answer (at those λ the relaxation already prices the answer's centres near its cost)
    movable = np.flatnonzero(state == 0)
    must = np.flatnonzero(state == 1)
    mean_cost = np.where(np.isfinite(C), C, np.nanmax(finite) * 10).mean(axis=0)
    seed = np.concatenate([must, movable[np.argsort(mean_cost[movable], kind="stable")[:max(0, k - len(must))]]])
    cols, cost, _ = swap_search(C, state, seed, span=span)
    if np.isfinite(cost):
        ub, ub_cols = cost, cols
        lam = C[:, cols].min(axis=1)
    else:
        srt = np.sort(np.where(np.isfinite(C), C, np.inf), axis=1)
        lam = srt[:, min(1, srt.shape[1] - 1)].copy()
        lam[~np.isfinite(lam)] = np.nanmax(finite) if np.isfinite(np.nanmax(finite)) else 0.0
    if upper is not None and upper < ub:
        ub = float(upper)
    asc = _ascent(C, own, state, k, lam, ub, ub_cols, steps=iterations, span=span)
    ub, ub_cols = asc.ub, asc.ub_cols
    # the swap search from the best relaxation's centres (and from the best answer seen, if different)
    starts = [np.flatnonzero(asc.opened)]
    if ub_cols is not None and not np.array_equal(np.sort(ub_cols), starts[0]):
        starts.append(np.sort(ub_cols))
    best_cols, best_cost, swaps = None, np.inf, 0
    for s0 in starts:
        cols, cost, n = swap_search(C, state, s0, span=span)
        swaps += n
        if cost < best_cost:
            best_cols, best_cost = cols, cost
    assignment = None
    if best_cols is not None and np.isfinite(best_cost):
        a, _ = assign_to(C, best_cols)
        tids = np.asarray(p.territory_ids, dtype=object)
        assignment = pd.Series(tids[a], index=p.unit_ids)
    fin = C[np.isfinite(C)]
    grain = 1.0 if fin.size and np.all(fin == np.round(fin)) else 0.0
    return PMedian(bound=asc.L, costs=C, state=state, k=k, grain=grain, lam=asc.lam, rho=asc.rho, open_cols=asc.opened,
                   assignment=assignment, objective=best_cost, steps=asc.steps, swaps=swaps,
                   seconds=time.perf_counter() - t0)


@dataclass
class Branched:
    """The branch-and-bound's answer: its open columns, cost, the bound it proved (the smallest bound of the
    nodes it did not close; the cost itself when it closed them all) and its node count."""

    cols: np.ndarray
    cost: float
    bound: float
    nodes: int
    complete: bool


def branch_and_bound(pm: PMedian, own: np.ndarray, cols: np.ndarray, cost: float, *, work: float,
                     node_steps: int = 150) -> Branched:
    """Lagrangian branch-and-bound on the centres (Beasley 1993) for the plain p-median (no limits besides
    locks and closed centres): each node a warm-started ascent with its centres fixed open or
    closed and reduced-cost fixing; the child that opens the relaxation's most used centre first. Stops when
    every node is closed (the answer is optimal) or ``work`` is spent (the bound is the smallest open node's).
    Nodes are taken best first (smallest parent bound), so a stop by work leaves the best bound it can."""
    span = wk.span(work)
    k, tol = pm.k, 1e-9 * max(1.0, abs(cost))
    # only the centres that can still beat the answer (root fixing), and the answer's own
    keep, _ = pm.fixing(cost)
    keep[cols] = True
    keep = np.flatnonzero(keep)
    C, own, root = pm.costs[:, keep], own[keep], pm.state[keep]
    pos = {int(c): i for i, c in enumerate(keep)}
    ub, ub_cols = cost, np.sort([pos[int(c)] for c in cols])
    heap = [(pm.bound, 0, root.copy(), pm.lam.copy())]   # best first: the smallest bound is the proved one
    made = 1
    nodes = 0

    def result(bound: float, complete: bool) -> Branched:
        return Branched(keep[np.sort(ub_cols)], ub, bound, nodes, complete)

    while heap:
        if span.done("branch and bound"):
            left = heap[0][0]
            return result(ub if pm.proved(left, ub) else min(ub, left), pm.proved(left, ub))
        parent_bound, _, state, lam = heapq.heappop(heap)
        if pm.proved(parent_bound, ub):
            break                               # every node left is at least as bad
        nodes += 1
        if (state == 1).sum() > k or (state != -1).sum() < k:
            continue
        asc = _ascent(C, own, state, k, lam, ub, ub_cols, steps=node_steps, span=span, theta=1.0,
                      answers_every=10)
        if asc.ub < ub:
            better, c2, _ = swap_search(C, root, asc.ub_cols, span=span)
            ub, ub_cols = (c2, better) if c2 < asc.ub else (asc.ub, asc.ub_cols)
        L = asc.L
        if pm.proved(L, ub):
            continue
        # fixing at the node: columns that cannot beat ub close, those whose closing cannot beat it open
        cut = pm.cutoff(ub)
        cols_ok, _ = reduced_cost_fixing(C, state, asc.lam, asc.rho, asc.opened, L, cut, k)
        state = state.copy()
        state[(state == 0) & ~cols_ok] = -1
        free_open = asc.opened & (state == 0)
        closed_rho = asc.rho[(~asc.opened) & (state == 0)]
        nxt = float(closed_rho.min()) if closed_rho.size else np.inf
        state[free_open & (L + nxt - asc.rho >= cut - tol)] = 1
        free = np.flatnonzero(asc.opened & (state == 0))
        if not free.size:   # the relaxation's centres are all fixed open: its answer is this node's optimum
            opened = np.flatnonzero(state == 1)
            if len(opened) == k:
                c = assign_to(C, opened)[1]
                if c < ub:
                    ub, ub_cols = c, opened
                continue
            free = np.flatnonzero(state == 0)
            if not free.size:
                continue
        # branch on the open centre that serves the most (its relaxation column takes the most units)
        red = C[:, free] - asc.lam[:, None]
        j = int(free[np.argmax((red < 0).sum(axis=0))])
        closed, opened = state.copy(), state.copy()
        closed[j], opened[j] = -1, 1
        for child in (opened, closed):
            heapq.heappush(heap, (L, made, child, asc.lam))
            made += 1
    return result(ub, True)


def reduced_cost_fixing(C: np.ndarray, state: np.ndarray, lam: np.ndarray, rho: np.ndarray, opened: np.ndarray,
                        L: float, upper: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns and pairs that an answer costing less than ``upper`` may use (see the module doc)."""
    tol = 1e-9 * max(1.0, abs(upper))
    free_open = opened & (state == 0)
    rho_k = float(rho[free_open].max()) if free_open.any() else np.inf
    extra = np.where(opened, 0.0, np.maximum(rho - rho_k, 0.0))     # forcing column j into the open set
    cols_ok = (state != -1) & (L + extra < upper - tol)
    red = np.maximum(C - lam[:, None], 0.0)
    pairs_ok = np.isfinite(C) & (L + red + extra[None, :] < upper - tol) & cols_ok[None, :]
    return cols_ok, pairs_ok
