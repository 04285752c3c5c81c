"""The quota model (Pyomo, solved by HiGHS through :mod:`spmopt.solver`).

Holders i with baseline b_i, spread point p_i (the baseline method's own spread of the total within the bounds,
see :mod:`spmopt.quota.methods`) and bounds lo_i ≤ q_i ≤ hi_i; fixed holders F keep their quota::

    stage 1   min  D = Σ_i w_i (d⁺_i + d⁻_i)           w_i = 1 (deviation "l1")  or  1/b_i ("relative")
              s.t. q_i − b_i = d⁺_i − d⁻_i,  Σ_i q_i = total,  lo_i ≤ q_i ≤ hi_i,
                   q_i = unit·k_i, k_i integer          (when rounding to ``unit``)
    stage 2   min  Σ_i (e⁺_i + e⁻_i)/b_i               (closest to the spread point)
              s.t. q_i − p_i = e⁺_i − e⁻_i,  D ≤ D* (1 + 1e-9) + tol,  and the stage-1 constraints

Stage 1 is "as close as possible to the baseline". L1 alone has many optima when a bound pushes quota onto
the others (any split of the excess costs the same), so stage 2 picks, among them, the one nearest the
proportional spread — everyone not held by a bound moves by the same percentage — which is also what the
rounding remainder follows. Money is scaled by the mean quota inside the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from spmopt.errors import SolverError
from spmopt.solver import SolveOptions, SolveOutcome, solve


@dataclass(frozen=True)
class Fit:
    quota: np.ndarray
    deviation: float          # stage-1 objective D*, in money (l1) or summed fractions (relative)
    stage1: SolveOutcome
    stage2: SolveOutcome
    build_seconds: float


def fit(b: np.ndarray, p: np.ndarray, lo: np.ndarray, hi: np.ndarray, fixed: np.ndarray, total: float, *,
        deviation: str = "l1", unit: float | None = None, options: SolveOptions | None = None) -> Fit:
    """Solve the two-stage model. ``fixed`` holds NaN for free holders. Bounds must be feasible (see
    :func:`spmopt.quota.bounds.diagnose`)."""
    import time

    t0 = time.perf_counter()
    n = len(b)
    isfix = ~np.isnan(fixed)
    free = np.flatnonzero(~isfix)
    scale = max(total / max(n, 1), 1e-9)
    B, P = b / scale, p / scale
    floor_w = 1e-3 * max(float(np.mean(B[B > 0])) if (B > 0).any() else 1.0, 1e-9)
    w_rel = 1.0 / np.maximum(B, floor_w)
    w1 = np.ones(n) if deviation == "l1" else w_rel
    rest = (total - float(fixed[isfix].sum())) / scale
    U = None if not unit else unit / scale

    m = pyo.ConcreteModel(name="quotas")
    m.I = pyo.Set(initialize=free.tolist(), ordered=True)
    lo_s, hi_s = lo / scale, hi / scale
    if U is None:
        m.q = pyo.Var(m.I, bounds=lambda _m, i: (float(lo_s[i]), float(hi_s[i]) if np.isfinite(hi_s[i]) else None))
        qexpr = {i: m.q[i] for i in free}
    else:
        klo = np.ceil(lo / unit - 1e-9)
        khi = np.floor(hi / unit + 1e-9)
        m.k = pyo.Var(m.I, domain=pyo.Integers,
                      bounds=lambda _m, i: (float(klo[i]), float(khi[i]) if np.isfinite(khi[i]) else None))
        qexpr = {i: U * m.k[i] for i in free}
    m.dp = pyo.Var(m.I, domain=pyo.NonNegativeReals)
    m.dm = pyo.Var(m.I, domain=pyo.NonNegativeReals)
    m.ep = pyo.Var(m.I, domain=pyo.NonNegativeReals)
    m.em = pyo.Var(m.I, domain=pyo.NonNegativeReals)
    m.dev = pyo.Constraint(m.I, rule=lambda _m, i: qexpr[i] - float(B[i]) == _m.dp[i] - _m.dm[i])
    m.near = pyo.Constraint(m.I, rule=lambda _m, i: qexpr[i] - float(P[i]) == _m.ep[i] - _m.em[i])
    if U is None:
        m.total = pyo.Constraint(expr=sum(qexpr[i] for i in free) == rest)
    else:
        m.total = pyo.Constraint(expr=sum(m.k[i] for i in free) == round(rest * scale / unit))
    D = sum(float(w1[i]) * (m.dp[i] + m.dm[i]) for i in free)
    m.stage1 = pyo.Objective(expr=D, sense=pyo.minimize)
    build = time.perf_counter() - t0

    opts = options or SolveOptions(time_limit=60.0, mip_gap=1e-9)
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
    if U is None:
        q[free] = [pyo.value(m.q[i]) * scale for i in free]
        q[free] = np.clip(q[free], lo[free], hi[free])
        _exact_sum(q, free, lo, hi, total)
    else:
        q[free] = [round(pyo.value(m.k[i])) * unit for i in free]
    dev = float(np.sum(w1[free] * np.abs(q[free] - b[free]))) * (1.0 if deviation == "l1" else scale)
    if deviation == "relative":
        dev = float(np.sum(np.abs(q[free] - b[free]) / np.maximum(b[free], floor_w * scale)))
    return Fit(quota=q, deviation=dev, stage1=o1, stage2=o2, build_seconds=build)


def _exact_sum(q: np.ndarray, free: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: float) -> None:
    """Put the solver's round-off residual (≈1e-9 of the total) on the free holders with room, largest first."""
    for _ in range(3):
        r = total - math.fsum(q)
        if r == 0:
            return
        room = (hi[free] - q[free]) if r > 0 else (q[free] - lo[free])
        order = free[np.argsort(-room)]
        for i in order:
            r = total - math.fsum(q)
            step = min(abs(r), (hi[i] - q[i]) if r > 0 else (q[i] - lo[i]))
            q[i] += math.copysign(step, r)
            if total == math.fsum(q):
                return
