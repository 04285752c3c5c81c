"""The quota model (Pyomo, solved by HiGHS through :mod:`spmopt.solver`).

Holders i with baseline b_i, spread point p_i (the baseline method's own spread of the total within the bounds,
see :mod:`spmopt.quota.methods`) and bounds lo_i ≤ q_i ≤ hi_i; fixed holders F keep their quota::

    stage 1   min  D = Σ_i w_i (d⁺_i + d⁻_i)           w_i = 1 (deviation "l1")  or  1/b_i ("relative")
              s.t. q_i − b_i = d⁺_i − d⁻_i,  Σ_i q_i = total,  lo_i ≤ q_i ≤ hi_i
    stage 2   min  Σ_i (e⁺_i + e⁻_i)/b_i               (closest to the spread point)
              s.t. q_i − p_i = e⁺_i − e⁻_i,  D ≤ D* (1 + 1e-9) + tol,  and the stage-1 constraints

With rounding to ``unit``, a third model rounds the continuous answer q: integer k_i within the rounded bounds
⌈lo_i/unit⌉ ≤ k_i ≤ ⌊hi_i/unit⌋, Σ_i unit·k_i = total − Σ fixed, min Σ_i |unit·k_i − q_i|/b_i (the remainder
lands where it is the smallest share of the quota). The objective is separable and convex with one coupling
sum, so a greedy of single steps is optimal (:func:`greedy_rounding`); it is handed to HiGHS as the first
incumbent, and HiGHS proves it (or improves it, should the greedy ever be wrong) — up to ``ROUNDING_MIP_MAX``
free holders; above that the greedy's answer stands alone (HiGHS needs minutes to prove 50,000 integers).

Stage 1 is "as close as possible to the baseline". L1 alone has many optima when a bound pushes quota onto
the others (any split of the excess costs the same), so stage 2 picks, among them, the one nearest the
proportional spread — everyone not held by a bound moves by the same percentage — which is also what the
rounding remainder follows. Money is scaled by the mean quota inside the model.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
import pyomo.environ as pyo

from spmopt.errors import SolverError
from spmopt.solver import SolveOptions, SolveOutcome, solve

IPM_ABOVE = 2000          # free holders above which the continuous stages use HiGHS's interior point method
ROUNDING_MIP_MAX = 5000   # free holders up to which HiGHS proves the greedy rounding (above: the greedy alone)
ROUNDING_TIME = 30.0      # seconds HiGHS may spend on the rounding model


@dataclass(frozen=True)
class Fit:
    quota: np.ndarray
    deviation: float          # stage-1 objective D*, in money (l1) or summed fractions (relative)
    stage1: SolveOutcome
    stage2: SolveOutcome
    build_seconds: float
    rounding: SolveOutcome | None = None


def fit(b: np.ndarray, p: np.ndarray, lo: np.ndarray, hi: np.ndarray, fixed: np.ndarray, total: float, *,
        deviation: str = "l1", unit: float | None = None, options: SolveOptions | None = None) -> Fit:
    """Solve the model. ``fixed`` holds NaN for free holders. Bounds must be feasible (see
    :func:`spmopt.quota.bounds.diagnose`).

    With ``unit``, the continuous answer is then rounded by the integer model of the module docstring."""
    opts = options or SolveOptions(time_limit=60.0, mip_gap=1e-9)
    if np.isnan(fixed).sum() == 0:      # everyone fixed: nothing to decide (the sum was checked before)
        none = SolveOutcome(status="optimal", objective=0.0, bound=0.0, seconds=0.0, termination="all fixed",
                            solver="none")
        return Fit(quota=fixed.astype(float).copy(), deviation=0.0, stage1=none, stage2=none, build_seconds=0.0)
    lp = opts
    if int(np.isnan(fixed).sum()) > IPM_ABOVE and "solver" not in opts.extra:
        # the continuous stages: dual simplex needs ~2 pivots per holder here (74 s at 50,000 holders), the
        # interior point method with crossover 10 s, to the same vertex optimum
        lp = replace(opts, extra={**opts.extra, "solver": "ipm"})
    cont = _two_stage(b, p, lo, hi, fixed, total, deviation, lp)
    if not unit:
        return cont
    q, outcome = _round(cont.quota, b, lo, hi, fixed, total, float(unit), opts)
    return Fit(quota=q, deviation=_deviation(q, b, fixed, deviation, total), stage1=cont.stage1,
               stage2=cont.stage2, build_seconds=cont.build_seconds, rounding=outcome)


def _floor_weight(b: np.ndarray) -> float:
    return 1e-3 * (float(np.mean(b[b > 0])) if (b > 0).any() else 1.0)


def _deviation(q, b, fixed, deviation, total) -> float:
    free = np.isnan(fixed)
    d = np.abs(q[free] - b[free])
    if deviation == "l1":
        return float(d.sum())
    return float(np.sum(d / np.maximum(b[free], _floor_weight(b))))


def greedy_rounding(q: np.ndarray, w: np.ndarray, klo: np.ndarray, khi: np.ndarray, K: int) -> np.ndarray:
    """Integers k in [klo, khi] with Σ k = K minimising Σ w_i |unit·k_i − q_i| (q in units of ``unit``): start
    from the nearest multiples, then take the cheapest single steps one at a time. The objective is separable
    and convex in each k_i and the only coupling is the sum, so this greedy is optimal (Gross 1956; Ibaraki &
    Katoh 1988, ch. 4)."""
    import heapq

    k = np.clip(np.round(q), klo, khi)
    diff = int(round(K - k.sum()))
    step = 1 if diff > 0 else -1

    def cost(i: int) -> float:        # added cost of one more step of holder i
        nxt = k[i] + step
        if nxt < klo[i] or nxt > khi[i]:
            return np.inf
        return w[i] * (abs(nxt - q[i]) - abs(k[i] - q[i]))

    heap = [(cost(i), i) for i in range(len(k))]
    heapq.heapify(heap)
    for _ in range(abs(diff)):
        c, i = heapq.heappop(heap)
        if not np.isfinite(c):
            raise ValueError("rounding cannot reach the sum within the bounds")
        k[i] += step
        heapq.heappush(heap, (cost(i), i))
    return k


def _round(q, b, lo, hi, fixed, total, unit, opts) -> tuple[np.ndarray, SolveOutcome]:
    free = np.flatnonzero(np.isnan(fixed))
    K = round((total - float(fixed[~np.isnan(fixed)].sum())) / unit)
    klo = np.ceil(lo / unit - 1e-9)
    khi = np.floor(hi / unit + 1e-9)
    w = 1.0 / np.maximum(b, _floor_weight(b))
    t0 = time.perf_counter()
    start = greedy_rounding(q[free] / unit, w[free] * unit, klo[free], khi[free], K)
    if len(free) > ROUNDING_MIP_MAX:
        # the greedy is the exact optimum (separable convex, one sum); HiGHS would spend minutes proving it
        obj = float(np.sum(w[free] * np.abs(start * unit - q[free])))
        out = fixed.astype(float).copy()
        out[free] = start * unit
        return out, SolveOutcome(status="optimal", objective=obj, bound=obj, seconds=time.perf_counter() - t0,
                                 termination="greedy, exact for separable convex rounding", solver="greedy")
    m = pyo.ConcreteModel(name="quota_rounding")
    m.I = pyo.Set(initialize=free.tolist(), ordered=True)
    m.k = pyo.Var(m.I, domain=pyo.Integers,
                  bounds=lambda _m, i: (float(klo[i]), float(khi[i]) if np.isfinite(khi[i]) else None))
    m.up = pyo.Var(m.I, domain=pyo.NonNegativeReals)
    m.dn = pyo.Var(m.I, domain=pyo.NonNegativeReals)
    m.gap = pyo.Constraint(m.I, rule=lambda _m, i: _m.k[i] - float(q[i] / unit) == _m.up[i] - _m.dn[i])
    m.total = pyo.Constraint(expr=sum(m.k[i] for i in free) == K)
    m.obj = pyo.Objective(expr=sum(float(w[i] * unit) * (m.up[i] + m.dn[i]) for i in free), sense=pyo.minimize)
    warm = []
    for i, k in zip(free, start, strict=True):
        d = k - q[i] / unit
        warm += [(m.k[i], k), (m.up[i], max(d, 0.0)), (m.dn[i], max(-d, 0.0))]
    o = solve(m, replace(opts, time_limit=min(opts.time_limit or ROUNDING_TIME, ROUNDING_TIME)), warm_start=warm)
    out = fixed.astype(float).copy()
    if o.has_solution:
        out[free] = [round(pyo.value(m.k[i])) * unit for i in free]
    else:
        out[free] = start * unit
    return out, o


def _two_stage(b, p, lo, hi, fixed, total, deviation, opts) -> Fit:
    t0 = time.perf_counter()
    n = len(b)
    isfix = ~np.isnan(fixed)
    free = np.flatnonzero(~isfix)
    scale = max(total / max(n, 1), 1e-9)
    B, P = b / scale, p / scale
    floor_w = max(_floor_weight(B), 1e-12)
    w_rel = 1.0 / np.maximum(B, floor_w)
    w1 = np.ones(n) if deviation == "l1" else w_rel
    rest = (total - float(fixed[isfix].sum())) / scale

    m = pyo.ConcreteModel(name="quotas")
    m.I = pyo.Set(initialize=free.tolist(), ordered=True)
    lo_s, hi_s = lo / scale, hi / scale
    m.q = pyo.Var(m.I, bounds=lambda _m, i: (float(lo_s[i]), float(hi_s[i]) if np.isfinite(hi_s[i]) else None))
    qexpr = {i: m.q[i] for i in free}
    m.dp = pyo.Var(m.I, domain=pyo.NonNegativeReals)
    m.dm = pyo.Var(m.I, domain=pyo.NonNegativeReals)
    m.ep = pyo.Var(m.I, domain=pyo.NonNegativeReals)
    m.em = pyo.Var(m.I, domain=pyo.NonNegativeReals)
    m.dev = pyo.Constraint(m.I, rule=lambda _m, i: qexpr[i] - float(B[i]) == _m.dp[i] - _m.dm[i])
    m.near = pyo.Constraint(m.I, rule=lambda _m, i: qexpr[i] - float(P[i]) == _m.ep[i] - _m.em[i])
    m.total = pyo.Constraint(expr=sum(qexpr[i] for i in free) == rest)
    D = sum(float(w1[i]) * (m.dp[i] + m.dm[i]) for i in free)
    m.stage1 = pyo.Objective(expr=D, sense=pyo.minimize)
    build = time.perf_counter() - t0

    o1 = solve(m, opts)
    if not o1.has_solution:
        raise SolverError(f"the quota model stopped without a solution ({o1.status}, {o1.termination})")
    d_star = float(pyo.value(D))
    m.stage1.deactivate()
    m.keep = pyo.Constraint(expr=D <= d_star * (1 + 1e-9) + 1e-9 * max(1.0, n))
    m.stage2 = pyo.Objective(expr=sum(float(w_rel[i]) * (m.ep[i] + m.em[i]) for i in free), sense=pyo.minimize)
    o2 = solve(m, opts)
    if not o2.has_solution:  # cannot happen (stage 1's answer is feasible), but never lose it silently
        raise SolverError(f"the quota model's tie-break stopped without a solution ({o2.status})")

    q = fixed.astype(float).copy()
    q[free] = [pyo.value(m.q[i]) * scale for i in free]
    q[free] = np.clip(q[free], lo[free], hi[free])
    _exact_sum(q, free, lo, hi, total)
    return Fit(quota=q, deviation=_deviation(q, b, fixed, deviation, total), stage1=o1, stage2=o2,
               build_seconds=build)


def _exact_sum(q: np.ndarray, free: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: float) -> None:
    """Put the solver's round-off residual (≈1e-9 of the total) on the free holders with most room, one at a
    time (a few passes: float addition may leave a last ulp)."""
    for _ in range(5):
        r = total - math.fsum(q)
        if r == 0:
            return
        room = (hi[free] - q[free]) if r > 0 else (q[free] - lo[free])
        for j in np.argsort(-room)[:3]:
            i = free[j]
            step = min(abs(r), room[j])
            q[i] += math.copysign(step, r)
            r = total - math.fsum(q)
            if r == 0:
                return
