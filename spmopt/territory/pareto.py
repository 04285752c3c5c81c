"""Distance–disruption trade-off: the epsilon-constraint frontier.

Reviewers choose among alignments, so :func:`disruption_frontier` solves the alignment for a ladder of limits
on the share of a measure moved away from the current alignment, from the least disruption any alignment
meeting the other limits needs (found with the elastic model) up to the disruption of the unconstrained optimum.
Each point is warm-started with the previous one, which is feasible for it (the limit only grows), and keeps that
answer when its own search (cut by a time limit) ends worse: the frontier is monotone by construction, and a time
limit never loses a point. Bounds travel the other way: a looser point's proved bound holds for every tighter
point, so each point reports the best bound known for it, and its own status and gap.

Built on :mod:`spmopt.territory.solve` (:func:`~spmopt.territory.solve.solve_problem` and the elastic model,
:func:`~spmopt.territory.solve.solve_elastic`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spmopt.errors import InputError, SolverError
from spmopt.solver import SolveOptions
from spmopt.territory.evaluate import evaluate
from spmopt.territory.problem import AlignmentProblem
from spmopt.territory.solve import solve_elastic, solve_problem


@dataclass(frozen=True)
class Frontier:
    """``table``: one row per point (limit, disruption, distance, objective, gap, status, units moved);
    ``alignments``: the matching :class:`~spmopt.territory.solve.Alignment` objects."""

    measure: str
    table: pd.DataFrame
    alignments: list


def disruption_frontier(p: AlignmentProblem, opts: SolveOptions, *, measure: str | None = None, points: int = 8,
                        progress=None, solved=None) -> Frontier:
    """Solve ``p`` for ``points`` disruption limits on ``measure`` (default: the measure of an existing
    max-disruption limit, else the first balance measure, else ``count``) between the least feasible
    disruption and the disruption of the optimum without that limit. ``solved`` is an alignment of ``p``
    already at hand; when ``p`` has no limit on ``measure`` it is that optimum and is not solved again."""
    if p.current() is None or p.current().isna().all():
        raise InputError("the disruption frontier needs a current alignment (current_territory in the units file)")
    if points < 2:
        raise InputError(f"--pareto-points must be at least 2, got {points}")
    m = measure or next(iter(p.max_disruption), None) or next(iter(p.balance), None) or "count"
    try:
        p.measure(m)
    except KeyError:
        raise InputError(f"disruption measure '{m}' is not a column of the units") from None
    free = p.replace(max_disruption={k: v for k, v in p.max_disruption.items() if k != m})
    say = progress or (lambda msg: None)
    top = solved if solved is not None and m not in p.max_disruption else solve_problem(free, opts)
    hi = top.metrics.disruption[m]
    say(f"frontier: without a limit on {m} moved, distance {top.metrics.distance:,.6g}, {hi:.1%} of {m} moved")
    zero = free.replace(max_disruption={**free.max_disruption, m: 0.0})
    # the least disruption: proved when the time allows, else the best found (the frontier then starts there)
    got = solve_elastic(zero, [f"disruption:{m}"], dataclasses.replace(opts, mip_gap=1e-6), [],
                        with_assignment=True, accept_feasible=True)
    if got is None:
        work = opts.work if opts.work is not None else 0.6 * (opts.time_limit or 0)
        limit = "no" if opts.time_limit is None else f"{opts.time_limit:g} s"
        raise SolverError(f"the least-disruption alignment was not found within the work budget ({work:g} units) "
                          f"or the time limit ({limit}); raise --work / --time-limit to trace the frontier")
    rel, least = got
    lo = min(rel[f"disruption:{m}"] + 1e-6, hi)
    levels = np.unique(np.round(np.linspace(lo, hi, points), 9))
    results = []
    prev = least  # the least-disruption alignment: feasible for every point
    for k, lim in enumerate(levels):
        q = free.replace(max_disruption={**free.max_disruption, m: float(lim)})
        if k < len(levels) - 1:
            r = solve_problem(q, opts, warm_start=prev)
        else:  # the limit is the unconstrained optimum's own disruption: that optimum is this point's answer
            r = dataclasses.replace(top, problem=q, metrics=evaluate(q, top.assignment))
        # monotone by construction: the tighter point's answer is feasible here (the limit only grows), so a
        # point never ends worse than its neighbour, whatever a time limit did to its own search
        carried = evaluate(q, prev)
        if carried.objective < r.objective * (1 - 1e-12) - 1e-12:
            r = r.revised(assignment=prev, stage="carried from the tighter point", mip_gap=opts.mip_gap)
        prev = r.assignment
        results.append(r)
        say(f"frontier point {k + 1}/{len(levels)}: at most {lim:.1%} of {m} moved → distance "
            f"{r.metrics.distance:,.6g} ({r.status}, gap {100 * (r.gap or 0):.2f} %)")
    # bounds the other way: a looser point's optimum is at most a tighter one's, so its proved bound holds for
    # every tighter point too (the tightest point, the hardest to prove, gains most)
    for k in range(len(results) - 2, -1, -1):
        nb = results[k + 1].bound
        if nb is not None and (results[k].bound is None or nb > results[k].bound):
            results[k] = results[k].revised(bound=nb, mip_gap=opts.mip_gap)
    rows = [{"point": k + 1, "limit": float(lim), "disruption": r.metrics.disruption[m],
             "distance": r.metrics.distance, "objective": r.objective, "bound": r.bound, "gap": r.gap,
             "status": r.status, "stage": r.stage, "units_moved": r.metrics.units_moved,
             **{f"max_dev_{b}": r.metrics.max_balance_deviation[b] for b in p.balance}}
            for k, (lim, r) in enumerate(zip(levels, results, strict=True))]
    return Frontier(measure=m, table=pd.DataFrame(rows), alignments=results)
