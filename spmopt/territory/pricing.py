"""Candidate restriction with an honest bound: LP column generation, a Lagrangian bound and reduced-cost pricing.

At national scale the full model has |I|·|J| binaries (10,000 × 100 = one million). Almost all of those pairs
cannot be in a good alignment, so the MIP is given only each unit's most promising territories — but the bound
it proves is then a bound for the *restricted* problem. This module makes the bound valid for the full one.

Dualise the side rows of (2)–(4) (balance, limits, disruption: A x ≤ b) with multipliers y ≥ 0 and keep the
assignment rows (1). For any y ≥ 0 the Lagrangian

    L(y) = −y·b + Σ_i min_j r_ij,      r_ij = c_ij + (Aᵀy)_ij                                   (reduced cost)

is a lower bound on every alignment (integer or not), because for x feasible c·x ≥ c·x + y·(Ax − b) =
−y·b + Σ_i r_i,j(i). The same inequality says more: an alignment that uses a pair (i, j) costs at least
L(y) + δ_ij with δ_ij = r_ij − min_j' r_ij'. So if the MIP is solved over a candidate set C and proves bound
B_C, then

    bound = min(B_C, L(y) + min_{(i,j)∉C} δ_ij)

is valid for the full problem (either an alignment stays inside C, or it pays δ for leaving it). Contiguity
only removes alignments, so the same holds with it.

y comes from the LP relaxation, solved by column generation (:func:`lp_bound`): start with the k nearest pairs
of each unit, add every pair with negative LP reduced cost r_ij − u_i, repeat; at the end L(y) equals the full
LP bound. Candidates are then the pairs with the smallest δ (:func:`candidate_mask`), and every pair with
δ_ij ≥ UB − L(y) can be left out with no loss at all (reduced-cost fixing).

Only fixed-centre problems are priced this way; with chosen centres (``k``) the restriction is not used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from spmopt import work as wk
from spmopt.territory.problem import AlignmentProblem

#: artificial slack at or below this counts as none (the restricted LP met every limit with real pairs)
SLACK_TOL = 1e-6
#: work units per (unit × territory) pair of a subgradient step, per simplex iteration and row of the pricing LP,
#: and per interior-point iteration and nonzero (reference machine)
ASCENT_WORK = 2.5e-9
ASCENT_STEP = 2e-4
SIMPLEX_WORK = 4e-8
IPM_WORK = 4e-7


@dataclass
class SideRows:
    """The dualised rows of one problem, per territory family and for disruption.

    Territory rows: ``sign[r]·Σ_i w[i, meas[r]] x_i,terr[r] ≤ rhs[r]``. Disruption rows:
    ``−Σ_(i∈has) w_im x_i,cur(i) ≤ rhs`` for each measure in ``dis_meas``."""

    W: np.ndarray            # n × M measure values
    meas: np.ndarray         # per territory row: column of W
    terr: np.ndarray         # per territory row: territory index
    sign: np.ndarray         # +1 (upper limit) or −1 (lower limit)
    rhs: np.ndarray
    cur: np.ndarray          # per unit: index of its current territory, or −1
    dis_meas: np.ndarray     # per disruption row: column of W
    dis_rhs: np.ndarray
    cost: np.ndarray         # n × J objective coefficients c'_ij (inf where not allowed)
    constant: float          # objective constant (disruption price × all measure)

    @property
    def n_rows(self) -> int:
        return len(self.rhs) + len(self.dis_rhs)


def side_rows(p: AlignmentProblem) -> SideRows:
    """Collect (2)–(4) and the objective (0) of ``p`` as arrays (see :class:`SideRows`)."""
    ms = list(dict.fromkeys([*p.balance, *p.limited_measures(), *p.max_disruption, *p.disruption_price]))
    W = np.column_stack([p.measure(m) for m in ms]) if ms else np.zeros((p.n_units, 0))
    col = {m: k for k, m in enumerate(ms)}
    J = len(p.territory_ids)
    meas, terr, sign, rhs = [], [], [], []

    def add(m: str, s: float, bound: np.ndarray) -> None:
        keep = np.flatnonzero(np.isfinite(bound))
        meas.append(np.full(len(keep), col[m]))
        terr.append(keep)
        sign.append(np.full(len(keep), s))
        rhs.append(s * bound[keep])

    for m, tau in p.balance.items():
        mu = p.mean(m)
        add(m, 1.0, np.full(J, (1 + tau) * mu))
        add(m, -1.0, np.full(J, (1 - tau) * mu))
    for m in p.limited_measures():
        add(m, 1.0, p.limit_vector("max", m))
        lo = p.limit_vector("min", m)
        add(m, -1.0, np.where(lo > 0, lo, np.inf))
    cur = np.full(p.n_units, -1)
    c = np.where(p.allowed(), p.cost(), np.inf)
    constant = 0.0
    dis_meas, dis_rhs = [], []
    cs = p.current()
    if cs is not None:
        cur = pd.Index(p.territory_ids).get_indexer(cs.fillna("").to_numpy())
        has = np.flatnonzero(cur >= 0)
        for m, frac in p.max_disruption.items():
            w = W[has, col[m]]
            dis_meas.append(col[m])
            dis_rhs.append(frac * w.sum() - w.sum())
        for m, price in p.disruption_price.items():
            # price · Σ_has w (1 − x_i,cur): constant price·Σw, and −price·w on the current pair
            w = W[has, col[m]]
            constant += price * float(w.sum())
            c[has, cur[has]] -= price * w
    def cat(xs, dt):
        return np.concatenate(xs).astype(dt) if xs else np.zeros(0, dtype=dt)

    return SideRows(W=W, meas=cat(meas, int), terr=cat(terr, int), sign=cat(sign, float), rhs=cat(rhs, float),
                    cur=cur, dis_meas=np.asarray(dis_meas, dtype=int), dis_rhs=np.asarray(dis_rhs, dtype=float),
                    cost=c, constant=constant)


def reduced_costs(rows: SideRows, y: np.ndarray) -> np.ndarray:
    """r_ij = c'_ij + (Aᵀy)_ij for every pair (inf where not allowed); ``y`` ≥ 0 over territory rows then
    disruption rows."""
    nt = len(rows.rhs)
    yt, yd = y[:nt], y[nt:]
    J = rows.cost.shape[1]
    Y = np.zeros((rows.W.shape[1], J))
    np.add.at(Y, (rows.meas, rows.terr), rows.sign * yt)
    r = rows.cost + rows.W @ Y
    if len(yd):
        has = np.flatnonzero(rows.cur >= 0)
        r[has, rows.cur[has]] -= rows.W[has][:, rows.dis_meas] @ yd
    return r


def lagrangian(rows: SideRows, y: np.ndarray) -> tuple[float, np.ndarray]:
    """(L(y), r): the Lagrangian bound and the reduced costs it was computed from."""
    r = reduced_costs(rows, y)
    b = np.concatenate([rows.rhs, rows.dis_rhs])
    return float(r.min(axis=1).sum() - y @ b + rows.constant), r


@dataclass
class LPBound:
    """The LP relaxation by column generation. ``value`` = L(y) (valid for the full problem at any stage);
    ``lp_value`` the restricted LP's optimum (equal to ``value`` once no column prices out, ``complete``);
    ``x`` the LP solution as an n × J array (dense; zeros outside the columns used)."""

    value: float
    lp_value: float
    y: np.ndarray
    reduced: np.ndarray
    x: np.ndarray
    columns: int
    rounds: int
    complete: bool
    seconds: float
    slack: float = 0.0  # artificial slack the last restricted LP used (> 0: its pairs cannot meet the limits)

    @property
    def usable(self) -> bool:
        """The restricted LP met every limit without its artificial slacks, so its duals are more than the
        price of the slacks."""
        return self.slack <= SLACK_TOL

    def assignment(self, p: AlignmentProblem) -> pd.Series:
        """Each unit in the territory with its largest x (the Lagrangian or LP answer, rounded)."""
        a = np.argmax(self.x, axis=1)
        return pd.Series(np.asarray(p.territory_ids, dtype=object)[a], index=p.unit_ids, name="territory_id")

    def delta(self) -> np.ndarray:
        """δ_ij = r_ij − min_j' r_ij' ≥ 0: the least extra cost of putting unit i in territory j."""
        return self.reduced - self.reduced.min(axis=1, keepdims=True)


def nearest_mask(cost: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of each row's k smallest finite entries."""
    n, J = cost.shape
    k = min(k, J)
    idx = np.argpartition(cost, k - 1, axis=1)[:, :k] if k < J else np.tile(np.arange(J), (n, 1))
    mask = np.zeros_like(cost, dtype=bool)
    mask[np.arange(n)[:, None], idx] = True
    return mask & np.isfinite(cost)


@wk.metered
def lp_bound(p: AlignmentProblem, *, start: np.ndarray | None = None, k: int = 8, work: float | None = 60.0,
             per_unit: int = 4, tol: float = 1e-7, method: str = "simplex",
             max_rounds: int | None = None, until_usable: bool = False) -> LPBound | None:
    """Solve the LP relaxation of ``p`` by column generation from ``start`` (a mask of pairs; default each
    unit's ``k`` cheapest), warm-starting HiGHS's simplex from the previous basis after each batch of columns.
    ``method='ipm'`` solves each restricted LP by the interior point method with crossover (far quicker on
    10,000 units and more, and no basis to reuse anyway after few rounds); ``max_rounds`` stops the pricing
    early — L(y) of the last duals is still a bound for the full problem, only not the LP's; ``until_usable``
    stops at the first restricted LP that meets every limit without its artificial slacks (its solution is
    then a start worth rounding).

    Each side row has an artificial slack with a high price, so every restricted LP is feasible; the duals then
    price in the columns that remove the shortfall. Returns None when the ``work`` (units; HiGHS's iterations
    are counted and charged) runs out before a first LP is solved. ``complete`` is False when the work ran out
    first (``value`` is then still a valid bound, only weaker) or when an artificial slack is still used with
    every pair priced (the problem is infeasible)."""
    t0 = time.perf_counter()
    span = wk.span(work)
    rows = side_rows(p)
    c = rows.cost
    allowed = np.isfinite(c)
    cols = nearest_mask(c, k) if start is None else (start & allowed)
    cols[np.arange(p.n_units), np.argmin(c, axis=1)] = True
    if (rows.cur >= 0).any():
        has = np.flatnonzero(rows.cur >= 0)
        cols[has, rows.cur[has]] |= allowed[has, rows.cur[has]]
    lp = _ColumnLP(rows, p.n_units)
    lp.h.setOptionValue("solver", method)
    ai, aj = np.nonzero(cols)
    lp.add(ai, aj)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    rounds, lp_val, complete = 0, np.nan, False
    while True:
        if span.done("pricing LP"):
            break
        out = lp.solve(span.left())
        rounds += 1
        if out is None:
            break
        lp_val, y, u = out
        L, r = lagrangian(rows, y)
        if best is None or L > best[0]:
            best = (L, y, r)
        if (max_rounds is not None and rounds >= max_rounds) or (until_usable and lp.artificial_used() <= SLACK_TOL):
            break
        price = r - u[:, None]
        price[cols] = np.inf
        neg = price < -tol * max(1.0, abs(lp_val) / max(p.n_units, 1))
        if not neg.any():
            complete = lp.artificial_used() <= 1e-7
            best = (max(L, best[0]), y, r)  # no column prices out: L(y) equals the LP value
            break
        pr = np.where(neg, price, np.inf)
        kk = min(per_unit, pr.shape[1])
        idx = np.argpartition(pr, kk - 1, axis=1)[:, :kk]
        sel = (np.take_along_axis(pr, idx, axis=1) < np.inf).ravel()
        ii = np.repeat(np.arange(p.n_units), kk)[sel]
        jj = idx.ravel()[sel]
        cols[ii, jj] = True
        lp.add(ii, jj)
    if best is None:
        return None
    return LPBound(value=best[0], lp_value=lp_val, y=best[1], reduced=best[2], x=lp.x(c.shape),
                   columns=int(cols.sum()), rounds=rounds, complete=complete,
                   seconds=time.perf_counter() - t0, slack=lp.artificial_used())


class _ColumnLP:
    """The restricted LP in a live HiGHS instance: rows fixed, columns added in batches, re-solved from the
    previous basis."""

    def __init__(self, rows: SideRows, n: int):
        import highspy
        from pyomo.common.tee import capture_output

        self.rows, self.n = rows, n
        with capture_output(capture_fd=True):  # HiGHS prints its banner on creation, before any option is set
            self.h = h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        inf = highspy.kHighsInf
        nt = len(rows.rhs)
        b = np.concatenate([rows.rhs, rows.dis_rhs])
        lo = np.concatenate([np.ones(n), np.full(len(b), -inf)])
        hi = np.concatenate([np.ones(n), b])
        h.addRows(len(lo), lo, hi, 0, np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(0))
        # artificial slack per side row: A x − s ≤ b, priced so that using it never pays while columns can help
        finite = rows.cost[np.isfinite(rows.cost)]
        cmax = float(finite.max()) if finite.size else 1.0
        W = rows.W
        meas = np.concatenate([rows.meas, rows.dis_meas])
        unit_val = np.array([max(W[:, m].sum() / max(n, 1), 1e-12) for m in meas]) if len(meas) else np.zeros(0)
        price = 10.0 * max(cmax, 1.0) / unit_val
        na = len(b)
        self.n_art = na
        if na:
            h.addCols(na, price, np.zeros(na), np.full(na, inf), na, np.arange(na, dtype=np.int32),
                      (n + np.arange(na)).astype(np.int32), -np.ones(na))
        self.ai = np.zeros(0, dtype=int)
        self.aj = np.zeros(0, dtype=int)
        self.nt = nt
        order = np.argsort(rows.terr, kind="stable")
        J = rows.cost.shape[1]
        self.rows_of = np.split(order, np.searchsorted(rows.terr[order], np.arange(1, J)))

    def add(self, ai: np.ndarray, aj: np.ndarray) -> None:
        rows, n = self.rows, self.n
        na = len(ai)
        if not na:
            return
        col = np.arange(na)
        ri, ci, vals = [ai], [col], [np.ones(na)]
        by_j = np.argsort(aj, kind="stable")
        bounds = np.searchsorted(aj[by_j], np.arange(len(self.rows_of) + 1))
        for j, rs in enumerate(self.rows_of):
            arcs = by_j[bounds[j]:bounds[j + 1]]
            if not len(arcs):
                continue
            for r in rs:
                ri.append(np.full(len(arcs), n + r))
                ci.append(arcs)
                vals.append(rows.sign[r] * rows.W[ai[arcs], rows.meas[r]])
        if len(rows.dis_rhs):
            on_cur = np.flatnonzero(rows.cur[ai] == aj)
            for d, mcol in enumerate(rows.dis_meas):
                ri.append(np.full(len(on_cur), n + self.nt + d))
                ci.append(on_cur)
                vals.append(-rows.W[ai[on_cur], mcol])
        A = sp.csc_matrix((np.concatenate(vals), (np.concatenate(ri), np.concatenate(ci))),
                          shape=(n + rows.n_rows, na))
        self.h.addCols(na, rows.cost[ai, aj], np.zeros(na), np.full(na, np.inf), A.nnz,
                       A.indptr[:-1].astype(np.int32), A.indices.astype(np.int32), A.data)
        self.ai = np.concatenate([self.ai, ai])
        self.aj = np.concatenate([self.aj, aj])

    def solve(self, work: float):
        """(LP value incl. constant, y ≥ 0 on the side rows, u on the assignment rows), or None on a limit.
        ``work`` (units) becomes HiGHS's iteration limits; the iterations done are charged to the work clock."""
        import highspy

        h = self.h
        clock = wk.current()
        per_simplex = SIMPLEX_WORK * max(1, h.getNumRow())
        per_ipm = IPM_WORK * max(1, h.getNumNz())
        big = 2**31 - 1
        h.setOptionValue("simplex_iteration_limit", int(min(big, max(1, work / per_simplex))) if np.isfinite(work)
                         else big)
        h.setOptionValue("ipm_iteration_limit", int(min(big, max(1, work / per_ipm))) if np.isfinite(work) else big)
        guard = clock.guard_left()
        h.setOptionValue("time_limit", float(max(0.1, guard)) if guard is not None else highspy.kHighsInf)
        h.run()
        info = h.getInfo()
        clock.charge(per_simplex * (max(0, info.simplex_iteration_count) + max(0, info.crossover_iteration_count))
                     + per_ipm * max(0, info.ipm_iteration_count))
        if h.getModelStatus() == highspy.HighsModelStatus.kTimeLimit:
            clock.mark_guard("pricing LP")
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        sol = h.getSolution()
        dual = np.asarray(sol.row_dual)
        self._col = np.asarray(sol.col_value)
        y = np.maximum(-dual[self.n:], 0.0)
        return float(h.getInfo().objective_function_value) + self.rows.constant, y, dual[:self.n]

    def artificial_used(self) -> float:
        return float(self._col[:self.n_art].sum()) if self.n_art else 0.0

    def x(self, shape) -> np.ndarray:
        x = np.zeros(shape)
        m = len(self._col) - self.n_art  # columns added after the last solve have no value yet
        x[self.ai[:m], self.aj[:m]] = self._col[self.n_art:]
        return x


def candidate_mask(lp: LPBound, k: int, *, must: np.ndarray | None = None, cutoff: float | None = None) -> np.ndarray:
    """Pairs for the MIP: each unit's ``k`` smallest δ, every pair the LP uses, and ``must`` (e.g. the warm
    start). With ``cutoff`` = UB − L(y), pairs with δ ≥ cutoff are dropped — they cannot be in an alignment
    better than UB (reduced-cost fixing) — unless in ``must``."""
    d = lp.delta()
    mask = nearest_mask(d, k) | (lp.x > 1e-9)
    if cutoff is not None:
        mask &= d < cutoff
    if must is not None:
        mask |= must
    return mask & np.isfinite(lp.reduced)


def full_bound(restricted_bound: float | None, lp: LPBound, mask: np.ndarray) -> tuple[float, float]:
    """(bound valid for the full problem, L(y) + min δ over the pairs left out) — see the module docstring."""
    d = lp.delta()
    out = np.isfinite(d) & ~mask
    outside = lp.value + float(d[out].min()) if out.any() else np.inf
    rb = restricted_bound if restricted_bound is not None else -np.inf
    return max(lp.value, min(rb, outside)), outside


def _subgradient_parts(rows: SideRows, a: np.ndarray) -> np.ndarray:
    """A·x − b for the assignment ``a`` (unit → territory), over territory rows then disruption rows."""
    J = rows.cost.shape[1]
    M = rows.W.shape[1]
    size = np.zeros((M, J))
    for m in range(M):
        size[m] = np.bincount(a, weights=rows.W[:, m], minlength=J)
    g = rows.sign * size[rows.meas, rows.terr] - rows.rhs
    if len(rows.dis_rhs):
        on = rows.cur == a
        gd = -rows.W[on][:, rows.dis_meas].sum(axis=0) - rows.dis_rhs
        g = np.concatenate([g, gd])
    return g


@wk.metered
def lagrangian_ascent(p: AlignmentProblem, *, work: float = 10.0, upper: float | None = None,
                      iterations: int = 2000, y0: np.ndarray | None = None, rows: SideRows | None = None,
                      progress=None) -> LPBound:
    """Maximise L(y) by projected subgradient steps (Polyak step towards ``upper``, or towards a target a little
    above the best L when no upper bound is known; the step shrinks when L stalls). Each step costs one pass over
    the |I|×|J| reduced costs, so it scales where the LP does not. Every L(y) is a valid bound; the best is kept.
    The limit of the ascent is the LP bound (the subproblem has the integrality property). Each step is charged
    to the work clock; the ascent stops when its ``work`` (units) is spent."""
    t0 = time.perf_counter()
    span = wk.span(work)
    rows = rows or side_rows(p)
    scale = np.concatenate([np.maximum(np.abs(rows.rhs), 1e-9), np.maximum(np.abs(rows.dis_rhs), 1e-9)])
    y = np.zeros(rows.n_rows) if y0 is None else y0.copy()
    best = None
    theta, stall = 1.0, 0
    n = p.n_units
    it = 0
    step_work = ASCENT_STEP + ASCENT_WORK * rows.cost.size
    for it in range(1, iterations + 1):
        L, r = lagrangian(rows, y)
        span.clock.charge(step_work)
        a = np.argmin(r, axis=1)
        if best is None or L > best[0] + 1e-9 * max(1.0, abs(L)):
            best = (L, y.copy(), r, a)
            stall = 0
        else:
            stall += 1
            if stall >= 25:
                theta, stall = theta / 2, 0
        if span.done("pricing") or theta < 1e-4:
            break
        g = _subgradient_parts(rows, a)
        gs = g / scale  # rows in relative units, so one step moves all measures alike
        gs[(y <= 0) & (gs < 0)] = 0.0  # projection: y stays ≥ 0
        norm = float(gs @ gs)
        if norm <= 1e-18:  # x(y) meets every side row: L(y) is optimal for the LP and x(y) is feasible
            break
        target = upper if upper is not None and upper > best[0] else best[0] + 0.01 * max(abs(best[0]), 1.0)
        step = theta * (target - L) / norm
        y = np.maximum(y + step * gs / scale, 0.0)
        if progress is not None and it % 200 == 0:
            progress(f"lagrangian: iteration {it}, bound {best[0]:,.6g}")
    L, y, r, a = best
    x = np.zeros(r.shape)
    x[np.arange(n), a] = 1.0
    return LPBound(value=L, lp_value=np.nan, y=y, reduced=r, x=x, columns=0, rounds=it, complete=False,
                   seconds=time.perf_counter() - t0)
