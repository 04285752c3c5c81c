"""``align``: pre-check → build → solve → extract → independent check → :class:`Alignment`.

An infeasible request is diagnosed with the elastic form of the model (:func:`diagnose`): each family of limits
is relaxed on its own, and the smallest relaxation that restores feasibility is reported (for balance: the
tightest feasible tolerance), so the message says what to change rather than just "infeasible".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from spmopt.errors import InfeasibleError, SolverError
from spmopt.solver import SolveOptions, relative_gap, solve
from spmopt.territory.evaluate import AlignmentMetrics, check_alignment, evaluate, violations
from spmopt.territory.mip import build_model
from spmopt.territory.problem import AlignmentProblem, make_problem, precheck


@dataclass(frozen=True)
class Alignment:
    """The answer to an :class:`AlignmentProblem`: the assignment, its metrics and how good it is proved to be.

    ``status`` is ``optimal`` (within the requested gap) or ``feasible`` (a limit stopped the solver; ``gap``
    says how far from optimal it may be). ``objective`` is the model's objective, ``bound`` the best proved lower
    bound, ``gap`` = (objective − bound)/objective. ``stage`` names what produced the answer (``mip``).
    ``before`` holds the metrics of the current alignment when one was given.
    """

    problem: AlignmentProblem
    assignment: pd.Series
    status: str
    objective: float
    bound: float | None
    gap: float | None
    solve_seconds: float
    build_seconds: float
    solver: str
    stage: str
    metrics: AlignmentMetrics
    before: AlignmentMetrics | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def centres(self) -> list[str]:
        """Territory ids in the answer (with chosen centres: the centre units)."""
        return list(self.metrics.table["territory_id"])

    def assignment_frame(self) -> pd.DataFrame:
        """``unit_id, territory_id`` as a DataFrame (the ``assignment.csv`` contract)."""
        return self.assignment.rename("territory_id").rename_axis("unit_id").reset_index()

    def territory_table(self) -> pd.DataFrame:
        """Per territory: centre, units, each measure's total and % deviation from the mean, distance, moved."""
        return self.metrics.table

    def summary(self) -> dict[str, Any]:
        """Machine-readable summary (the ``summary.json`` contract)."""
        p, m = self.problem, self.metrics
        out: dict[str, Any] = {
            "status": self.status,
            "stage": self.stage,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "solve_seconds": round(self.solve_seconds, 3),
            "build_seconds": round(self.build_seconds, 3),
            "solver": self.solver,
            "n_units": p.n_units,
            "n_territories": p.n_territories,
            "distance": m.distance,
            "distance_unit": p.distance_unit,
            "max_balance_deviation": m.max_balance_deviation,
            "disruption": m.disruption,
            "units_moved": m.units_moved,
            "request": {
                "balance": dict(p.balance), "capacity": dict(p.capacity), "weight": p.weight, "k": p.k,
                "max_disruption": dict(p.max_disruption), "disruption_price": dict(p.disruption_price),
                "territory_limits": sorted(f"{b}_{mm}" for (b, mm) in p.limits),
            },
            "options": self.options,
        }
        if self.before is not None:
            b = self.before
            out["current"] = {"objective": b.objective, "distance": b.distance,
                              "max_balance_deviation": b.max_balance_deviation, "disruption": b.disruption,
                              "units_moved": b.units_moved}
        return out


def align(
    units: pd.DataFrame | AlignmentProblem,
    territories: pd.DataFrame | None = None,
    distances: pd.DataFrame | None = None,
    *,
    k: int | None = None,
    balance: dict[str, float] | None = None,
    capacity: dict[str, float] | None = None,
    weight: str | None = None,
    max_disruption: dict[str, float] | None = None,
    disruption_price: dict[str, float] | None = None,
    time_limit: float | None = 60.0,
    mip_gap: float = 1e-4,
    options: SolveOptions | None = None,
    warm_start: pd.Series | None = None,
) -> Alignment:
    """Assign every unit to one territory, minimising total (weighted) distance to the territory centre.

    Pass raw tables (see docs/file-formats.md) and the request, or an :class:`AlignmentProblem`.
    ``balance={'potential': 0.05}`` keeps each territory within ±5 % of the mean potential; ``capacity``
    caps a measure per territory; ``max_disruption={'potential': 0.2}`` lets at most 20 % of potential move
    away from its current territory; ``disruption_price`` adds price × moved measure to the objective;
    ``k`` chooses k centres among the units instead of fixed territories. ``time_limit`` (s) and ``mip_gap``
    stop the solver; the answer then carries its proved gap. ``warm_start`` is an assignment to start from.

    Raises :class:`~spmopt.errors.InfeasibleError` (saying which family of limits fails and the smallest
    relaxation that works), :class:`~spmopt.errors.InputError` for bad data, and
    :class:`~spmopt.errors.SolverError` when a limit stops the solver before any feasible alignment is found.
    """
    if isinstance(units, AlignmentProblem):
        p = units
    else:
        p = make_problem(units, territories, distances, k=k, balance=balance, capacity=capacity, weight=weight,
                         max_disruption=max_disruption, disruption_price=disruption_price)
    opts = options or SolveOptions(time_limit=time_limit, mip_gap=mip_gap)
    return solve_problem(p, opts, warm_start=warm_start)


def solve_problem(p: AlignmentProblem, opts: SolveOptions, *, warm_start: pd.Series | None = None) -> Alignment:
    """Solve a built :class:`AlignmentProblem` (see :func:`align`)."""
    precheck(p)
    t0 = time.perf_counter()
    am = build_model(p)
    build_s = time.perf_counter() - t0
    cur = p.current()
    if warm_start is None and cur is not None and cur.notna().all() and not violations(p, cur):
        warm_start = cur  # the current alignment meets every limit: a time limit can never return less
    start = am.warm_start(warm_start) if warm_start is not None else None
    out = solve(am.model, opts, warm_start=start)
    if out.status == "infeasible":
        raise diagnose(p, opts)
    if not out.has_solution:
        raise SolverError(f"no feasible alignment found before the solver stopped ({out.termination}, "
                          f"{out.seconds:.1f} s); raise --time-limit or loosen the limits")
    assignment = am.assignment()
    check_alignment(p, assignment)
    metrics = evaluate(p, assignment)
    before = evaluate(p, cur) if cur is not None and cur.notna().all() else None
    objective = metrics.objective
    bound = max(out.bound if out.bound is not None else -np.inf, trivial_bound(p))
    if out.status == "optimal":
        bound = min(bound, objective)
    return Alignment(problem=p, assignment=assignment, status=out.status, objective=objective, bound=bound,
                     gap=relative_gap(objective, bound), solve_seconds=out.seconds, build_seconds=build_s,
                     solver=out.solver, stage="mip", metrics=metrics, before=before,
                     options={"time_limit": opts.time_limit, "mip_gap": opts.mip_gap})


def trivial_bound(p: AlignmentProblem) -> float:
    """Σ_i min_j c_ij: every unit at its nearest allowed centre. A valid lower bound on (0) (disruption prices are
    ≥ 0), used when the solver stops before proving a better one."""
    c = np.where(p.allowed(), p.cost(), np.inf)
    return float(c.min(axis=1).sum())


def _families(p: AlignmentProblem) -> list[str]:
    fams = [f"balance:{m}" for m in p.balance]
    for m in p.limited_measures():
        fams.append(f"capacity:{m}")
        if (p.limit_vector("min", m) > 0).any():
            fams.append(f"minimum:{m}")
    fams += [f"disruption:{m}" for m in p.max_disruption]
    return fams


def diagnose(p: AlignmentProblem, opts: SolveOptions) -> InfeasibleError:
    """Explain why ``p`` is infeasible: relax each family of limits alone (elastic model) and report the
    smallest relaxation that works; if none works alone, relax all together and report the combination."""
    fams = _families(p)
    limit = SolveOptions(time_limit=opts.time_limit, mip_gap=1e-6, threads=opts.threads)
    singles: dict[str, float] = {}
    for f in fams:
        am = build_model(p, relax=[f])
        out = solve(am.model, limit)
        if out.status == "optimal":
            singles[f] = float(am.relaxed[f].value or 0.0)
    if singles:
        best = min(singles, key=singles.get)
        parts = [_describe(p, f, r) for f, r in sorted(singles.items(), key=lambda kv: kv[1])]
        fam = best.split(":")[0]
        return InfeasibleError(
            f"no alignment meets all limits; the {fam} limits on '{best.split(':')[1]}' are the easiest to relax. "
            f"Any one of these works: " + "; ".join(parts),
            family=fam, suggestion=_suggest(p, singles))
    if fams:
        am = build_model(p, relax=fams)
        out = solve(am.model, limit)
        if out.status == "optimal":
            rel = {f: float(am.relaxed[f].value or 0.0) for f in fams}
            rel = {f: r for f, r in rel.items() if r > 1e-9}
            parts = [_describe(p, f, r) for f, r in rel.items()]
            fam = "+".join(sorted({f.split(':')[0] for f in rel}))
            return InfeasibleError("no alignment meets all limits and no single family can be relaxed alone; "
                                   "relaxing together works: " + "; ".join(parts), family=fam,
                                   suggestion=_suggest(p, rel))
    return InfeasibleError("no alignment meets the locks and allowed pairs (distance table) even with every "
                           "balance, capacity and disruption limit relaxed; check locked_territory and the "
                           "distance table", family="assignment")


def _describe(p: AlignmentProblem, f: str, r: float) -> str:
    fam, m = f.split(":", 1)
    if fam == "balance":
        return f"balance tolerance on '{m}' of ±{p.balance[m] + r:.2%} (asked ±{p.balance[m]:.2%})"
    if fam == "capacity":
        return f"maxima on '{m}' raised by {r:.2%}"
    if fam == "minimum":
        return f"minima on '{m}' lowered by {r:.2%}"
    return f"max disruption on '{m}' of {p.max_disruption[m] + r:.2%} (asked {p.max_disruption[m]:.2%})"


def _suggest(p: AlignmentProblem, rel: dict[str, float]) -> dict:
    s: dict[str, dict[str, float]] = {}
    for f, r in rel.items():
        fam, m = f.split(":", 1)
        if fam == "balance":
            s.setdefault("balance", {})[m] = p.balance[m] + r
        elif fam == "capacity":
            s.setdefault("capacity_increase", {})[m] = r
        elif fam == "minimum":
            s.setdefault("minimum_decrease", {})[m] = r
        else:
            s.setdefault("max_disruption", {})[m] = p.max_disruption[m] + r
    return s
