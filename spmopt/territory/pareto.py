"""Distance–disruption trade-off: the epsilon-constraint frontier.

Reviewers choose among alignments, so :func:`disruption_frontier` solves the alignment for a ladder of limits
on the share of a measure moved away from the current alignment, from the least disruption any alignment
meeting the other limits needs (found with the elastic model; with contiguity, whose elastic model rarely closes
on a map, by the search with a heavy price on moving) up to the disruption of the unconstrained optimum.
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

from spmopt.errors import InputError
from spmopt.solver import SolveOptions
from spmopt.territory.evaluate import evaluate
from spmopt.territory.problem import AlignmentProblem
from spmopt.territory.solve import priced_moves, solve_elastic, solve_problem


@dataclass(frozen=True)
class Frontier:
    """``table``: one row per point (limit, disruption, distance, objective, gap, status, units moved);
    ``alignments``: the matching :class:`~spmopt.territory.solve.Alignment` objects; ``least_from``: how the
    least disruption (the tightest point) was found."""

    measure: str
    table: pd.DataFrame
    alignments: list
    least_from: str = "elastic model"  # how the tightest point was found: 'elastic model' or 'search' (not proved)


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
    # the least disruption: with the elastic model (proved when the time allows, else the best found); with
    # contiguity its separator cuts in rounds rarely close on a map in the time (North-East with New York City
    # split: no answer), so the least is searched for instead, as the alignment with a price on moving that
    # outweighs any distance (started from the answer above, so there always is one)
    got = None
    if p.contiguity is None:
        zero = free.replace(max_disruption={**free.max_disruption, m: 0.0})
        got = solve_elastic(zero, [f"disruption:{m}"], dataclasses.replace(opts, mip_gap=1e-6), [],
                            with_assignment=True, accept_feasible=True)
    how = "elastic model"
    if got is None:
        known = [top] if solved is None or solved is top else [top, solved]  # (answers of free: fewer limits)
        got, how = _least_searched(free, opts, m, min(known, key=lambda r: r.metrics.disruption[m])), "search"
        say(f"frontier: least disruption found by search, {got[0][f'disruption:{m}']:.1%} of {m} moved")
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
    return Frontier(measure=m, table=pd.DataFrame(rows), alignments=results, least_from=how)


#: the price on moving in the least-disruption search: moving all of the measure costs this many times the
#: distance of the start, so one point of it moved outweighs a tenth of that (North-East with contiguity, 12 work
#: units: 41.5 % of potential, against 48-50 % with 2×; the line in tests/test_heuristics_pareto.py needs more than
#: 3× to prefer the 30 % split to the 50 % one)
LEAST_PRICE = 10.0


def _least_searched(free: AlignmentProblem, opts: SolveOptions, m: str, start) -> tuple[dict, pd.Series]:
    """The least disruption on ``m`` the search finds: ``free`` solved with a price on moving ``m`` that
    outweighs the distance saved, from ``start`` (an answer of ``free``, kept if nothing moves less). Not proved
    least."""
    q = priced_moves(free, [m], scale=start.objective, price=LEAST_PRICE)
    r = solve_problem(q, opts, warm_start=start.assignment)
    a = min((r.assignment, start.assignment), key=lambda x: evaluate(free, x).disruption[m])
    return {f"disruption:{m}": evaluate(free, a).disruption[m]}, a
