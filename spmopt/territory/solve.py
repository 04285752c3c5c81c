"""``align``: pre-check → build → solve → extract → independent check → :class:`Alignment`.

An infeasible request is diagnosed with the elastic form of the model (:func:`diagnose`): each family of limits
is relaxed on its own, and the smallest relaxation that restores feasibility is reported (for balance: the
tightest feasible tolerance), so the message says what to change rather than just "infeasible".

The top floor of :mod:`spmopt.territory` (only :mod:`~spmopt.territory.pareto` builds on it): it chains the
pricing, heuristic, MIP, regions and what-if screen of the floors below, and hands :func:`solve_problem` itself
to the regions and the screen, which solve their sub-problems with it.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from spmopt import work as wk
from spmopt.errors import InfeasibleError, SolverError
from spmopt.solver import (
    AUTO_CANDIDATES,
    AUTO_FLOW_VARS,
    AUTO_MIP_UNITS,
    AUTO_PAIRS,
    AUTO_REGION_SIZE,
    AUTO_REGION_SIZE_FREE,
    FLOW_ROOT_WORK,
    LP_CANDIDATES,
    SolveOptions,
    relative_gap,
    solve,
)
from spmopt.territory.contiguity import GEOGRAPHY, repair, separator_cuts
from spmopt.territory.decompose import improve_by_regions
from spmopt.territory.evaluate import AlignmentMetrics, check_alignment, evaluate, violations
from spmopt.territory.heuristics import heuristic
from spmopt.territory.mip import build_model, flow_ready, flow_size, pairs_of
from spmopt.territory.pmedian import MAX_PAIRS as PM_MAX_PAIRS
from spmopt.territory.pmedian import branch_and_bound, lagrangian_bound
from spmopt.territory.pricing import candidate_mask, full_bound, lagrangian_ascent, lp_bound
from spmopt.territory.problem import AlignmentProblem, make_problem, precheck
from spmopt.territory.search import penalty_search, search_data
from spmopt.territory.split import shares
from spmopt.territory.state import State
from spmopt.territory.treepart import Parts, recombine
from spmopt.territory.whatif import is_what_if, screen


@dataclass(frozen=True)
class Alignment:
    """The answer to an :class:`AlignmentProblem`: the assignment, its metrics and how good it is proved to be.

    ``status`` is ``optimal`` (within the requested gap) or ``feasible`` (a limit stopped the solver; ``gap``
    says how far from optimal it may be). ``objective`` is the model's objective, ``bound`` the best proved lower
    bound, ``gap`` = (objective − bound)/objective. ``stage`` names what produced the answer: ``mip``,
    ``heuristic`` (the solver kept the heuristic start), ``warm start`` (it kept the given / current alignment),
    ``mip+heuristic`` (a contiguity round's answer made contiguous and feasible by the heuristic) or ``spc``
    (the shortest-path contiguity model's answer, kept by the exact model) or ``screen`` (a what-if's best
    screened centre set); ``+regions`` when the decomposition improved it, ``+recombination`` when the
    spanning-tree re-splits of neighbouring territories did (contiguity, time left).
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
        """``unit_id, territory_id`` as a DataFrame (the ``assignment.csv`` contract); with split units, one row per
        (unit, territory) with the ``share`` of the unit the territory holds (1.0 for a whole unit)."""
        if self.problem.pieces:
            return shares(self.assignment, self.problem.pieces)
        return self.assignment.rename("territory_id").rename_axis("unit_id").reset_index()

    def splits(self) -> list[dict]:
        """Per split unit: ``unit_id`` and its ``shares`` by territory (largest first)."""
        if not self.problem.pieces:
            return []
        f = self.assignment_frame()
        split_units = {u for u, _ in self.problem.pieces.values()}
        f = f[f["unit_id"].isin(split_units)]
        return [{"unit_id": u, "shares": dict(zip(g["territory_id"], g["share"].round(6), strict=True))}
                for u, g in f.groupby("unit_id", sort=False)]

    def territory_table(self) -> pd.DataFrame:
        """Per territory: centre, units, each measure's total and % deviation from the mean, distance, moved."""
        return self.metrics.table

    def revised(self, *, problem: AlignmentProblem | None = None, assignment: pd.Series | None = None,
                bound: float | None = None, stage: str | None = None, mip_gap: float = 1e-4) -> Alignment:
        """This answer for ``problem`` (default: its own) with another ``assignment`` (re-evaluated by the
        independent evaluator) and/or a better proved ``bound``; gap and status follow from them. Callers pass
        only what is valid: an assignment feasible for ``problem``, a bound proved for ``problem``."""
        q = problem or self.problem
        a = self.assignment if assignment is None else assignment
        met = evaluate(q, a)
        b = self.bound if bound is None else (bound if self.bound is None else max(bound, self.bound))
        gap = None if b is None else (0.0 if met.objective <= 0 else max(0.0, (met.objective - b) / met.objective))
        status = "optimal" if gap is not None and gap <= mip_gap else "feasible"
        return dataclasses.replace(self, problem=q, assignment=a, objective=met.objective, bound=b, gap=gap,
                                   metrics=met, status=status, stage=stage or self.stage)

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
        if p.pieces:
            out["n_units"] = len({p.pieces[i][0] if i in p.pieces else i for i in p.unit_ids})
            out["splits"] = self.splits()
            out["request"]["split"] = sorted({u for u, _ in p.pieces.values()})
        if p.geometry is not None:
            out["request"]["geometry"] = p.geometry.describe()
        if p.chooses_centres and p.territories is not None:  # add / remove what-if: what changed
            used = set(self.assignment.dropna())
            added = p.territories.get("added", pd.Series(False, index=p.territories.index))
            had = set(p.territories.index[~added.astype(bool)])
            out["what_if"] = {"opened": sorted(used - had), "closed": sorted(had - used),
                              "kept": sorted(used & had)}
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
    contiguity=GEOGRAPHY,
    split=None,
    geometry=None,
    geometry_id: str = "unit_id",
    adjacency_rule: str = "queen",
    adjacency_tolerance: float = 0.0,
    add: int = 0,
    add_candidates=None,
    remove=None,
    time_limit: float | None = 60.0,
    mip_gap: float = 1e-4,
    options: SolveOptions | None = None,
    warm_start: pd.Series | None = None,
    work: float | None = None,
) -> Alignment:
    """Assign every unit to one territory, minimising total (weighted) distance to the territory centre.

    Pass raw tables (see docs/file-formats.md) and the request, or an :class:`AlignmentProblem`.
    ``balance={'potential': 0.05}`` keeps each territory within ±5 % of the mean potential; ``capacity``
    caps a measure per territory; ``max_disruption={'potential': 0.2}`` lets at most 20 % of potential move
    away from its current territory; ``disruption_price`` adds price × moved measure to the objective;
    ``k`` chooses k centres among the units instead of fixed territories; ``contiguity`` keeps every
    territory connected: by default on the units' Delaunay neighbours when they have coordinates (``False`` for
    none; ``'auto'``, an adjacency file or a table of ``unit_a,unit_b`` pairs to name the graph); ``split`` shares
    the named units (or ``'auto'``: those no connected territory can hold whole) between neighbouring territories
    (see :func:`make_problem`; :meth:`Alignment.splits` gives the shares); ``geometry`` gives the units'
    polygons (a GeoPackage / GeoJSON / shapefile / GeoParquet path or a GeoDataFrame, ids in ``geometry_id``):
    the default contiguity is then their shared borders (``adjacency_rule`` ``'queen'`` or ``'rook'``,
    ``adjacency_tolerance`` metres) and the map draws them. ``add`` /
    ``add_candidates`` / ``remove`` are what-ifs on the fixed territories (open new territories with chosen
    centres, close named ones or let the optimisation choose which; see :func:`make_problem`). ``time_limit`` (s)
    is the wall-clock guard and ``mip_gap`` the gap at which to stop; the work budget (``work``, default
    0.6 × the time limit, see :mod:`spmopt.work`) decides where a search stops, so the same request gives the same
    answer on any machine; the answer carries its proved gap.
    ``warm_start`` is an assignment to start from.

    Raises :class:`~spmopt.errors.InfeasibleError` (saying which family of limits fails and the smallest
    relaxation that works), :class:`~spmopt.errors.InputError` for bad data, and
    :class:`~spmopt.errors.SolverError` when a limit stops the solver before any feasible alignment is found.
    """
    if isinstance(units, AlignmentProblem):
        p = units
    else:
        p = make_problem(units, territories, distances, k=k, balance=balance, capacity=capacity, weight=weight,
                         max_disruption=max_disruption, disruption_price=disruption_price,
                         contiguity=contiguity, split=split, add=add, add_candidates=add_candidates,
                         remove=remove, geometry=geometry, geometry_id=geometry_id, adjacency_rule=adjacency_rule,
                         adjacency_tolerance=adjacency_tolerance)
    opts = options or SolveOptions(time_limit=time_limit, work=work, mip_gap=mip_gap)
    return solve_problem(p, opts, warm_start=warm_start)


def solve_problem(p: AlignmentProblem, opts: SolveOptions, *, warm_start: pd.Series | None = None,
                  progress=None, explain: bool = True) -> Alignment:
    """Solve a built :class:`AlignmentProblem` (see :func:`align`). ``progress`` is called with a short message
    at each stage (pricing, heuristic, contiguity rounds, candidate growth). ``explain=False`` raises a bare
    :class:`InfeasibleError` instead of running the diagnosis.

    Stages: pre-check → (large problems) Lagrangian pricing → heuristic start when no feasible one is known →
    MIP over the candidate pairs, in contiguity rounds → if the pairs left out limit the bound, more candidates
    per unit and solve again while time remains."""
    precheck(p)
    budget = opts.work if opts.work is not None else wk.default_budget(opts.time_limit)
    owner = wk.active() is None
    with wk.clock(budget, opts.time_limit) as clk:
        result = _solve_problem(p, opts, clk.span(budget), warm_start=warm_start, progress=progress,
                                explain=explain)
        if owner:
            result.options["work"] = clk.report()
            if clk.guard_hit and progress is not None:
                progress(f"time limit {opts.time_limit:g} s reached (in {clk.guard_stage}) before the work budget "
                         f"{budget:g} was spent: this answer may differ on a faster or quieter machine")
    return result


def _solve_problem(p: AlignmentProblem, opts: SolveOptions, sp: wk.Span, *, warm_start: pd.Series | None,
                   progress, explain: bool) -> Alignment:
    """:func:`solve_problem` within the work span ``sp`` (its stages share the span's work)."""
    t_start = time.perf_counter()
    total = None if sp.end is None else sp.end - sp.start  # the work of this solve (None = no limit)
    say = progress or (lambda _msg: None)
    elapsed = lambda: time.perf_counter() - t_start  # noqa: E731  (wall seconds, for the record only)
    remaining = lambda: None if total is None else max(0.1, sp.left())  # noqa: E731  (work units)
    cur = p.current()
    if warm_start is None and cur is not None and cur.notna().all() and not violations(p, cur):
        warm_start = cur  # the current alignment meets every limit: a time limit can never return less
    elif warm_start is not None and violations(p, warm_start):
        warm_start = None
    k = _candidates_per_unit(p, opts)
    if opts.contiguity_flow and not flow_ready(p):
        raise ValueError("the flow form of contiguity needs contiguity and every territory rooted (a center_unit, "
                         "or chosen centres); use contiguity_flow=False or None")
    # with chosen centres the flow form is a big-M model over every candidate's arcs: on the US county graphs
    # (benchmarks/districting.py) separator cuts in rounds proved OK ±1 % in 25 s where the flow form stopped
    # 8-45 % above the optimum after 60 s, and WV ±5 % in 49 s against an unproved 9 % gap
    use_flow = opts.contiguity_flow if opts.contiguity_flow is not None else \
        flow_ready(p) and not p.chooses_centres and flow_size(p) <= AUTO_FLOW_VARS and \
        (total is None or FLOW_ROOT_WORK * flow_size(p) <= 0.5 * total)
    # contiguity by cuts in rounds rarely finds a contiguous answer on large models: regions finish the job
    by_cuts = p.contiguity is not None and not use_flow
    regions = opts.regions if opts.regions is not None else \
        ((AUTO_REGION_SIZE if p.contiguity is not None else AUTO_REGION_SIZE_FREE)
         if (k is not None or p.contiguity is not None) and not p.chooses_centres else 0)
    regions = min(regions, len(p.territory_ids) - 1) if regions and len(p.territory_ids) > 2 else 0
    priced = lp = None
    if k is not None:
        # 10 % of the limit, at least 10 s, at most 15 % (the ascent stops by itself after 2,000 steps, 5 s on
        # 10,000 × 100): at 50,000 × 500 a step takes 0.06–0.12 s, and 10 s of steps left the LP below over the
        # most promising pairs short of feasible (its artificial slacks used, its duals useless) and its rounded
        # answer 1,276 tolerances off the limits; 30 s gave a usable LP when the machine was idle (450 steps)
        # and none under load (252 steps); 60 s (1,077 steps): usable, bound 995,446, answer 3.2 % above it
        budget = min(max(10.0, 0.1 * total), 0.15 * total) if total else 10.0
        upper = evaluate(p, warm_start).objective if warm_start is not None else None
        priced = lagrangian_ascent(p, work=budget, upper=upper)
        say(f"pricing: Lagrangian bound {priced.value:,.6g} ({priced.rounds} steps, {priced.seconds:.1f} s)")
        # an LP over the Lagrangian's most promising pairs (interior point): its duals give a tighter bound for
        # all pairs and better candidates, and its solution, rounded, the heuristic's start
        lp_budget = min(60.0, 0.15 * total) if total else 60.0
        lp_span = sp.clock.span(lp_budget)
        # (a few rounds of pricing when the first LP needs its artificial slacks: with fewer ascent steps, as
        # on a loaded machine, the most promising pairs may not meet the limits)
        lp = lp_bound(p, start=candidate_mask(priced, LP_CANDIDATES), work=lp_budget, method="ipm",
                      max_rounds=3, until_usable=True)
        if lp is not None and lp.value >= priced.value and lp.usable:
            priced = lp
            say(f"pricing: LP over {lp.columns:,} pairs, bound {lp.value:,.6g} ({lp.seconds:.1f} s)")
        else:
            # no LP in its time, or one that needed its artificial slacks (the pairs cannot meet the limits):
            # the rest of its budget goes to more subgradient steps from the best multipliers so far
            more = lp_span.left()
            why = "no LP in its time" if lp is None else "the LP over the pairs cannot meet the limits"
            if more > 1.0:
                again = lagrangian_ascent(p, work=more, upper=upper, y0=priced.y)
                if again.value > priced.value:
                    priced = again
            say(f"pricing: {why}; Lagrangian bound {priced.value:,.6g}")
    warm_stage = "warm start"
    h = None
    info: dict[str, Any] = {"time_limit": opts.time_limit, "mip_gap": opts.mip_gap}
    pm, pm_proved, pm_global = None, False, -np.inf
    if p.chooses_centres and p.contiguity is None and not is_what_if(p) and opts.heuristic and \
            p.n_units * len(p.territory_ids) <= PM_MAX_PAIRS:
        # chosen centres: the Lagrangian bound of the p-median (valid whatever the limits) and a swap search from
        # its centres; the pairs and centres that cannot beat the answer in hand then leave the exact model
        # (OR-Library pmed1-40: the answer is the optimum and the bound within 1 % before any MIP)
        budget = min(max(5.0, 0.3 * total), 0.5 * total) if total else 60.0
        upper = evaluate(p, warm_start).objective if warm_start is not None else None
        pm = lagrangian_bound(p, work=budget, upper=upper)
        say(f"p-median: Lagrangian bound {pm.bound:,.6g} ({pm.steps} steps), swap search {pm.objective:,.6g} "
            f"({pm.swaps} swaps)")
        info["pmedian"] = {"bound": pm.bound, "steps": pm.steps, "swaps": pm.swaps, "objective": pm.objective,
                           "seconds": round(pm.seconds, 3)}
        if pm.assignment is not None and not violations(p, pm.assignment) and \
                (upper is None or pm.objective < upper):
            warm_start, warm_stage = pm.assignment, "lagrangian+swaps"
        plain = not (p.balance or p.limited_measures() or p.max_disruption or p.disruption_price)
        if plain and warm_start is not None and total is not None and remaining() > 0.5:
            # the plain p-median: a Lagrangian branch-and-bound on the centres proves it (pmed26, 600 units and
            # p = 5, root bound 0.64 % below: 49 nodes, 1 s) where the exact model over the fixed pairs had not
            # in 60 s
            upper = evaluate(p, warm_start).objective
            cols = np.unique(pd.Index(p.territory_ids).get_indexer(warm_start.to_numpy()))
            bb = branch_and_bound(pm, p.centre_index(), cols, upper, work=0.8 * remaining())
            say(f"p-median: branch-and-bound, {bb.nodes:,} nodes, {'proved' if bb.complete else 'bound'} "
                f"{bb.bound:,.6g}, answer {bb.cost:,.6g}")
            info["pmedian"].update({"nodes": bb.nodes, "complete": bb.complete, "bb_bound": bb.bound})
            if bb.cost < upper - 1e-9 * max(1.0, abs(upper)):
                tids = np.asarray(p.territory_ids, dtype=object)
                warm_start = pd.Series(tids[np.asarray(bb.cols)[np.argmin(pm.costs[:, bb.cols], axis=1)]],
                                       index=p.unit_ids)
                warm_stage = "lagrangian+branching"
            # (pm.bound stays the root's L(λ): the reduced-cost fixing below is only valid with it)
            pm_global, pm_proved = max(pm.bound, bb.bound), bb.complete
    screen_opts = opts
    if is_what_if(p) and "presolve_rule_off" not in opts.extra:
        # HiGHS's probing spends most of a what-if's time limit on the y_j ≥ x_ij rows (28 s of 60 on the
        # North-East add-one case, which then solves to 0.1 % with it off)
        opts = dataclasses.replace(opts, extra={**opts.extra, "presolve_rule_off": 32768})
    if warm_start is None and is_what_if(p):
        # add / remove what-if: the best-ranked centre sets solved as fixed-centre problems give the first
        # incumbent; the exact model below proves the gap over every candidate
        contiguous = p.contiguity is not None  # each contiguous set needs longer: fewer sets, more time
        budget = (0.6 if contiguous else 0.4) * total if total else 60.0
        sc = screen(p, screen_opts, work=budget, n_sets=2 if contiguous else 6, progress=say,
                    solve_problem=solve_problem)
        info["what_if"] = {"sets_tried": sc.sets_tried, "sets_feasible": sc.sets_feasible,
                           "screened_best": sc.best_set, "work": round(sc.work, 3)}
        if sc.assignment is not None:
            warm_start, warm_stage = sc.assignment, "screen"
    if warm_start is None and opts.heuristic:
        # heuristic first: a feasible start lets the MIP prune at once and is the fallback if time runs out
        budget = min(5.0, 0.05 * total) if total else 5.0
        if priced is not None:
            # up to 40 % of the limit (it stops on its own once feasible and stalled): the MIP over the
            # candidates rarely finds a good feasible answer itself (10,000 × 100 at ±5 %, 60 s: with 25 % the
            # search ended 0.01–0.05 tolerances short of the limits and the MIP's answer was 4.2 % above the bound;
            # with 40 % it was feasible after 22 s and the answer 1.3 % above)
            # (no cap in seconds: 50,000 × 500 from the rounded LP reaches the limits after 100–125 s, and a run
            # whose search was cut at 120 s a third of a tolerance short ended with no feasible answer)
            budget = 0.4 * total if total else 60.0
        if p.contiguity is not None:  # a contiguous, balanced start is hard for the MIP to find: give it longer
            # (at national scale the restricted MIP and its regions rarely improve it, while the penalty search
            # keeps doing so: 10,000 × 100 at ±5 %, 947,944 after 19 s of it, 917,221 after 30 s; the bound there
            # is the pricing's, and 50,000 × 500 needs 170–200 s of the search alone to reach the limits)
            # with chosen centres on small maps the exact model (cuts, pairs out of reach fixed) does better with
            # the time: US county graphs at 60 s, WV ±1 % proved optimal with 10 %, 6.5-8.3 % above it with 40 %
            share = 0.8 if priced is not None else (0.1 if p.chooses_centres else 0.4)
            budget = share * total if total else 60.0
        if total:
            # a share of the limit, but never past 90 % of what the pricing left (10,000 × 100 contiguous: the
            # pricing may take up to 18 s of 60, and 80 % of the limit on top of that ends past it)
            budget = min(budget, 0.9 * remaining())
        # with contiguity the Lagrangian answer is a poor start (its stray pieces, once repaired, break the
        # balance far more than the compact current / nearest-centre start does)
        h = heuristic(p, work=budget,
                      start=None if priced is None or p.contiguity is not None else _rounded_start(p, priced, lp),
                      progress=say, patience_from_feasible=priced is not None)
        warm_stage = "heuristic"
        say(f"heuristic: {'feasible' if h.feasible else 'not feasible'}, objective {h.objective:,.6g} "
            f"({h.work:.1f} work units)")
        if not h.feasible and p.max_disruption and (total is None or remaining() > 1.0):
            # balance and a disruption limit at once, from a start far off balance (North-East with contiguity:
            # the search met ±5 % / ±15 % but not "at most 50 % of potential moved" in 12 units), the search first
            # looks for the balanced alignment that moves least, with the limits turned into a heavy price
            q = priced_moves(p, list(p.max_disruption), scale=h.objective)
            h2 = heuristic(q, work=min(budget, 0.9 * remaining()) if total else budget, progress=say)
            ok = not violations(p, h2.assignment)
            say(f"heuristic, least moved first: {'feasible' if ok else 'not feasible'}, objective "
                f"{evaluate(p, h2.assignment).objective:,.6g} ({h2.work:.1f} work units)")
            if ok:
                h = dataclasses.replace(h2, feasible=True, objective=evaluate(p, h2.assignment).objective)
        if h.feasible:
            warm_start = h.assignment
        elif priced is not None and regions and p.contiguity is None and (remaining() or 60.0) > 10.0:
            # close but short (at national scale the search often ends a fraction of a tolerance off in a few
            # territories): the regions around the territories that break their limits repair that exactly
            rr = improve_by_regions(p, h.assignment, work=min(60.0, 0.15 * (remaining() or 100.0)),
                                    size=regions, region_work=3.0, mip_gap=max(opts.mip_gap, 1e-3),
                                    progress=progress, solve_problem=solve_problem)
            say(f"regions: repair {'feasible' if rr.feasible else 'not feasible'}, objective {rr.objective:,.6g} "
                f"({rr.work:.1f} work units)")
            if rr.feasible:
                warm_start, warm_stage = rr.assignment, "heuristic+regions"
    if warm_start is None and opts.spc is not False and flow_ready(p):
        # contiguous and balanced is where the exact model and the heuristic both struggle; the shortest-path
        # form is contiguous by construction, so any answer it finds is a feasible start for the exact model
        w_spc = sp.used()
        budget = None if total is None else max(0.1, 0.4 * remaining())
        spc = _spc_incumbent(p, dataclasses.replace(opts, work=budget),
                             mask=None if priced is None else candidate_mask(priced, k))
        if spc is not None:
            spc = _polish(p, spc, work=min(10.0, 0.1 * (remaining() or 100.0)))
            warm_start, warm_stage = spc, "spc"
        found = f"objective {evaluate(p, spc).objective:,.6g}" if spc is not None else "no answer"
        say(f"shortest-path contiguity: {found} ({sp.used() - w_spc:.1f} work units)")
        info["spc"] = {"found": spc is not None, "work": round(sp.used() - w_spc, 3)}
    rough = warm_start if warm_start is not None else (h.assignment if h is not None else None)
    cuts: list = []
    build_s = 0.0
    skip_mip = priced is not None and p.contiguity is not None and warm_start is not None and total is not None \
        and opts.contiguity_flow is None
    fixed_at = None   # with the p-median stage: the answer's cost the pairs left out cannot beat
    while True:
        mask = None
        model_p = p
        if priced is not None:
            upper = evaluate(p, warm_start).objective if warm_start is not None else None
            mask = candidate_mask(priced, k, must=None if warm_start is None else pairs_of(p, warm_start),
                                  cutoff=None if upper is None else upper - priced.value)
            say(f"candidates: {k} per unit, {int(mask.sum()):,} of {int(p.allowed().sum()):,} pairs")
        elif pm is not None and warm_start is not None and not pm_proved:
            fixed_at = evaluate(p, warm_start).objective
            cols_ok, mask = pm.fixing(fixed_at)
            mine = pairs_of(p, warm_start)
            mask |= mine                      # the answer in hand stays a solution of the smaller model
            cols_ok |= mine.any(axis=0)
            model_p = p.replace(closed=p.closed | frozenset(np.asarray(p.territory_ids, dtype=object)[~cols_ok]))
            say(f"p-median: reduced costs leave {int(cols_ok.sum()):,} of {len(p.territory_ids):,} centres and "
                f"{int(mask.sum()):,} of {int(p.allowed().sum()):,} pairs")
        t0 = time.perf_counter()
        w0 = sp.used()
        if pm_proved:
            am = None
            res = _RoundsResult(assignment=warm_start, status="optimal", bound=pm_global, seconds=0.0,
                                termination="proved by the Lagrangian branch-and-bound", solver="none",
                                stage=warm_stage, rounds=0)
            fixed_at = None
        elif skip_mip:
            # priced (national scale), connected, with a feasible answer from the search: the restricted MIP never
            # improved it (10,000 × 100 and 50,000 × 500, every run) and its bound is the pricing's; at 50,000 × 500
            # its root LP ran past the budget (charged 525 and 581 units of 360 in two runs: HiGHS calls back at
            # points inside the simplex that depend on the machine's speed). Its work goes to recombination.
            say("candidates: the restricted MIP is skipped (connected, at this scale it does not improve the "
                "search's answer); the bound is the pricing's")
            am = None
            res = _RoundsResult(assignment=warm_start, status="feasible", bound=None, seconds=0.0,
                                termination="skipped", solver="none", stage=warm_stage, rounds=0)
        else:
            am = build_model(model_p, mask=mask, flow=use_flow)
            am.add_contiguity_cuts(cuts)
            build_s += time.perf_counter() - t0
            mip_time = remaining()
            if regions and mip_time is not None:
                # the rest goes to the regions; from a feasible start on many units the restricted MIP only gets a
                # glance (without contiguity it improved nothing on 10,000 × 100 or 50,000 × 500 in 60 % of the
                # time left, and the regions given that time too took 10,000 × 100 from 1.34 % to 1.17–1.21 %
                # above the bound)
                share_mip = 0.3 if by_cuts else 0.6
                if warm_start is not None and not by_cuts and p.n_units >= AUTO_MIP_UNITS:
                    share_mip = 0.05
                mip_time = max(0.1, share_mip * mip_time)
            res = _solve_in_rounds(am, dataclasses.replace(opts, work=mip_time), warm_start,
                                   progress=progress, warm_stage=warm_stage)
            cuts = am.cut_list
        if res.assignment is not None:
            warm_start, warm_stage = res.assignment, res.stage
        full = mask is None or mask[p.allowed()].all()
        if res.infeasible and full:
            raise diagnose(p, opts, cuts=cuts) if explain else InfeasibleError("infeasible")
        bound = res.bound
        if fixed_at is not None:
            # every answer outside the smaller model costs at least fixed_at; inside, at least its bound
            inside = fixed_at if res.infeasible else (res.bound if res.bound is not None else -np.inf)
            bound = max(pm.bound, pm_global, min(inside, fixed_at))
            full = True
        if priced is not None:
            bound, outside = full_bound(res.bound, priced, mask)
            info["candidates"] = {"per_unit": k, "pairs": int(mask.sum()), "lagrangian_bound": priced.value,
                                  "bound_outside_candidates": outside if np.isfinite(outside) else None,
                                  "pricing_seconds": round(priced.seconds, 3),  # wall, for the record
                                  "duals": "lp" if priced.columns else "subgradient"}
        gap = relative_gap(evaluate(p, res.assignment).objective, bound) if res.assignment is not None else None
        # widen only when the restricted problem is settled (infeasible, or optimal but the pairs left out hold
        # the bound down); a restricted MIP stopped by the time limit would not gain from more pairs
        limited = res.infeasible or (res.status == "optimal" and res.bound is not None
                                     and bound < res.bound - 1e-9 * max(1.0, abs(bound)))
        # a model with twice the pairs takes at least twice as long to get where this one got: widen only when
        # the time left allows three rounds like this one (50,000 × 500 once started an 8-per-unit model with
        # 250 s left, and it ran 230 s past the limit)
        last_round = sp.used() - w0
        time_left = total is None or (remaining() > max(1.0, 3.0 * last_round) and not sp.done("candidates"))
        if full or not limited or not time_left or (gap is not None and gap <= opts.mip_gap):
            break
        k = min(2 * k, len(p.territory_ids))  # the pairs left out hold the bound down: widen and solve again
        say(f"candidates: the pairs left out limit the bound; widening to {k} per unit")
    start = res.assignment if res.assignment is not None else rough
    # with contiguity and rooted territories the regions get half the time left and the recombination + penalty
    # search below the rest; at national scale none once an answer is feasible (a region's shortest-path form
    # rarely takes the search's shapes as a start: 0 of 10 regions solved on 10,000 × 100, where the rounds
    # below took 929,777 to 874,549 in 6 s)
    share = 1.0
    if p.contiguity is not None and flow_ready(p) and not p.chooses_centres:
        share = 0.0 if priced is not None and res.assignment is not None else 0.5
    if regions and share > 0 and start is not None and (gap is None or gap > opts.mip_gap) and \
            (total is None or remaining() > 1.0):
        # decomposition: regions of neighbouring territories re-solved exactly in turn, improving the MIP's
        # answer (or repairing the heuristic's when the MIP found none)
        # (without contiguity at most 1.5 s a triple, 0.75 s a pair: most improving regions answer within it, and
        # more regions in the time pay more than proving each one — 50,000 × 500, 100 s of triples from the same
        # start: 3 s each gained 2,680, 1 s each 3,920)
        rr = improve_by_regions(p, start, work=share * (remaining() or 60.0), size=regions,
                                region_work=min(5.0 if p.contiguity is not None else 1.5,
                                                max(1.0, 0.05 * (remaining() or 60.0))),
                                mip_gap=max(opts.mip_gap, 1e-3), progress=progress, solve_problem=solve_problem)
        info["regions"] = {"size": regions, "final_size": rr.size, "solved": rr.regions_solved,
                           "improved": rr.regions_improved,
                           "sweeps": rr.sweeps, "work": round(rr.work, 3)}
        if rr.feasible and (res.assignment is None or rr.objective < evaluate(p, res.assignment).objective):
            stage = "regions" if res.assignment is None else f"{res.stage}+regions"
            res = dataclasses.replace(res, assignment=rr.assignment, status="feasible", infeasible=False,
                                      stage=stage)
    if p.contiguity is not None and res.assignment is not None and flow_ready(p) and not p.chooses_centres \
            and res.status != "optimal" and (gap is None or gap > opts.mip_gap) \
            and (total is None or remaining() > 1.0):
        # time left with contiguity (the regions stopped early, or a region's shortest-path form cannot start
        # from the heuristic's shapes): recombination of neighbouring pairs, then single moves, on the cost
        res = _recombine_rest(p, res, work=(remaining() - 0.5) if total else 30.0, info=info,
                              say=say)
    if res.assignment is None:
        why = (f"no feasible alignment among the {k} candidate territories per unit; raise --candidates "
               "(0 = all pairs) or --time-limit" if res.infeasible else
               f"no feasible alignment found before the solver stopped ({res.termination}, {sp.used():.1f} work "
               f"units, {elapsed():.1f} s); raise --work / --time-limit or loosen the limits")
        raise SolverError(why)
    assignment = res.assignment
    check_alignment(p, assignment)
    metrics = evaluate(p, assignment)
    before = evaluate(p, cur) if cur is not None and cur.notna().all() else None
    objective = metrics.objective
    bound = max(bound if bound is not None else -np.inf, trivial_bound(p))
    status = res.status
    if status == "optimal":
        bound = min(bound, objective)
    gap = relative_gap(objective, bound)
    if status == "optimal" and gap is not None and gap > max(opts.mip_gap, 1e-9) * (1 + 1e-6) + 1e-9:
        status = "feasible"
    if p.contiguity is not None:
        info["contiguity"] = {**p.contiguity.describe(),
                              "model": "none (search)" if am is None else "flow" if am.flow else "cuts",
                              "rounds": res.rounds, "cuts": 0 if am is None else am.n_cuts}
    return Alignment(problem=p, assignment=assignment, status=status, objective=objective, bound=bound,
                     gap=gap, solve_seconds=elapsed() - build_s, build_seconds=build_s, solver=res.solver,
                     stage=res.stage, metrics=metrics, before=before, options=info)


#: the price on moving in :func:`priced_moves` for a start that meets a disruption limit: moving all of a measure
#: costs this many times the objective scale (North-East, contiguous, ±5 % / ±15 %, 4.8 units of search: 2× moved
#: least, 48.4 % of potential; 0.3×, 1×, 6× and 10× moved 55 %, 51 %, 49 % and 53 %: with a heavier price the search
#: alone gets stuck between price and balance; a whole solve, as for the frontier, takes 10×: see pareto.py)
START_PRICE = 2.0


def priced_moves(p: AlignmentProblem, measures: list[str], *, scale: float, price: float = START_PRICE
                 ) -> AlignmentProblem:
    """``p`` without its disruption limits on ``measures`` and with a price on moving each instead: moving all of
    it costs ``price`` × ``scale`` (a distance objective), so with a heavy price its optimum is the alignment that
    moves least, distance breaking ties. Used to find a start that meets a disruption limit, and the least
    disruption of the frontier."""
    price_share, price = price, dict(p.disruption_price)
    for m in measures:
        total = float(np.sum(p.measure(m)))
        price[m] = price.get(m, 0.0) + price_share * max(abs(scale), 1.0) / max(total, 1e-9)
    return p.replace(max_disruption={k: v for k, v in p.max_disruption.items() if k not in measures},
                     disruption_price=price)


def _recombine_rest(p: AlignmentProblem, res, *, work: float, info: dict, say):
    """Spend ``work`` (units) on rounds of recombination then penalty search from the answer in ``res``; the
    result replaces it (stage ``+recombination``) when the checker accepts it and it is cheaper.

    Alternating pays: the splits reshape pairs of territories where single moves cannot, the search then settles
    the new borders. On 10,000 × 100 at ±5 % from 938,953, 12 s gave 923,842 (splits only), 934,462 (search
    only), 901,503 (6 s each) and 887,828 (four rounds of 1.5 s each); eight rounds of 0.75 s gave 933,817."""
    span = wk.span(work)
    tids = pd.Index(p.territory_ids)
    before = evaluate(p, res.assignment).objective
    a = tids.get_indexer(res.assignment.reindex(p.unit_ids).to_numpy())
    rounds = max(1, min(8, int(work / 3.0)))
    phase = work / (2 * rounds)
    parts, data = Parts(p), search_data(p)
    taken = moves = 0
    for r in range(rounds):
        a, k = recombine(p, a, work=phase, parts=parts, seed=r)
        left = span.left()
        if left <= 0.05 or span.done("recombination"):
            break
        ps = penalty_search(p, a, work=min(phase, left), data=data, seed=r)
        a = ps.assignment if ps.feasible else a
        taken, moves = taken + k, moves + ps.moves
    out = pd.Series(np.asarray(p.territory_ids, dtype=object)[a], index=p.unit_ids, name="territory_id")
    after = evaluate(p, out).objective
    info["recombination"] = {"splits": taken, "moves": moves, "before": before, "after": after,
                             "work": round(span.used(), 3)}
    say(f"recombination: {taken} splits, {moves} moves, objective {before:,.6g} → {after:,.6g}")
    if violations(p, out) or after >= before - 1e-9 * max(1.0, abs(before)):
        return res
    return dataclasses.replace(res, assignment=out, status="feasible", infeasible=False,
                               stage=f"{res.stage}+recombination")


def _spc_incumbent(p: AlignmentProblem, opts: SolveOptions, *, mask=None) -> pd.Series | None:
    """An answer of the shortest-path contiguity model (8) that meets every limit, or None (none in time, or
    the restriction is infeasible — which says nothing about the full problem)."""
    am = build_model(p, mask=mask, spc=True)
    out = solve(am.model, opts)
    if not out.has_solution:
        return None
    a = am.assignment()
    return None if violations(p, a) else a


def _polish(p: AlignmentProblem, a: pd.Series, *, work: float) -> pd.Series:
    """The penalty search of :mod:`spmopt.territory.search` from ``a`` (every territory stays connected); the
    best answer it finds when the checker accepts it and it is cheaper, else ``a``."""
    tids = pd.Index(p.territory_ids)
    ps = penalty_search(p, tids.get_indexer(a.reindex(p.unit_ids).to_numpy()), work=work)
    out = pd.Series(np.asarray(p.territory_ids, dtype=object)[ps.assignment], index=p.unit_ids,
                    name="territory_id")
    if ps.feasible and not violations(p, out) and evaluate(p, out).objective < evaluate(p, a).objective:
        return out
    return a


def _candidates_per_unit(p: AlignmentProblem, opts: SolveOptions) -> int | None:
    """Candidate territories per unit for the MIP, or None for all pairs (small problems, chosen centres)."""
    if p.chooses_centres or opts.candidates == 0:
        return None
    pairs = p.n_units * len(p.territory_ids)
    if opts.candidates is None:
        return AUTO_CANDIDATES if pairs > AUTO_PAIRS else None
    return None if opts.candidates >= len(p.territory_ids) else int(opts.candidates)


@dataclass
class _RoundsResult:
    assignment: pd.Series | None
    status: str
    bound: float | None
    seconds: float
    termination: str
    solver: str
    stage: str
    rounds: int
    infeasible: bool = False


def _rounded_start(p: AlignmentProblem, priced, lp) -> pd.Series:
    """The heuristic's start: the pricing answer, each unit rounded to its largest x, of the ascent or of the
    pricing LP, whichever breaks the limits less. An LP that needed its artificial slacks gives no usable duals,
    but its solution is still balanced wherever the slacks are not (50,000 × 500 after a short ascent: the
    ascent's answer 1,276 tolerances off the limits)."""
    tids = pd.Index(p.territory_ids)
    best, best_v = None, np.inf
    for src in (priced,) if lp is None or lp is priced else (priced, lp):
        a = src.assignment(p)
        v = State(p, tids.get_indexer(a.to_numpy())).violation()
        if v < best_v:
            best, best_v = a, v
    return best


def _solve_in_rounds(am, opts: SolveOptions, warm_start: pd.Series | None, *, progress=None,
                     max_rounds: int = 1000, warm_stage: str = "warm start") -> _RoundsResult:
    """Solve; with contiguity, add separator cuts for every disconnected territory and solve again until the
    answer is contiguous. Each round's model is a relaxation of the contiguous problem, so the best bound over
    the rounds is valid throughout. When the time runs out first, the best contiguous alignment seen (the warm
    start, or a round's answer repaired by moving stray pieces) is returned with that bound."""
    p = am.problem
    t0 = time.perf_counter()
    span = wk.span(opts.work if opts.work is not None else wk.default_budget(opts.time_limit))
    am.add_neighbour_cuts()
    best: tuple[float, pd.Series, str] | None = None

    def consider(a: pd.Series, stage: str) -> None:
        nonlocal best
        if violations(p, a):
            return
        obj = evaluate(p, a).objective
        if best is None or obj < best[0] - 1e-9:
            best = (obj, a, stage)

    if warm_start is not None:
        consider(warm_start.reindex(p.unit_ids), warm_stage)
    bound, rounds, solver, term = None, 0, "highs", "not run"
    while True:
        left = None if span.end is None else span.left()
        if (left is not None and left <= 0.05) or span.done("mip"):
            term = "workLimit" if not span.clock.guard_hit else "maxTimeLimit"
            break
        start = am.warm_start(best[1]) if best is not None else None
        out = solve(am.model, dataclasses.replace(opts, work=left), warm_start=start)
        solver, term = out.solver, out.termination
        if out.status == "infeasible":
            return _RoundsResult(None, "infeasible", bound, time.perf_counter() - t0, term, solver, "mip", rounds,
                                 infeasible=best is None)
        if out.bound is not None:
            bound = out.bound if bound is None else max(bound, out.bound)
        if not out.has_solution:
            break
        a = am.assignment()
        if p.contiguity is None:
            stage = "mip"
            if best is not None and evaluate(p, a).objective >= best[0] - 1e-9 * max(1.0, abs(best[0])):
                stage = best[2]  # the solver kept the start it was given
            return _RoundsResult(a, out.status, bound, time.perf_counter() - t0, term, solver, stage, rounds)
        cuts = separator_cuts(p, p.contiguity.graph, a)
        if not cuts:
            consider(a, "mip")
            if out.status == "optimal":
                return _RoundsResult(a, "optimal", bound, time.perf_counter() - t0, term, solver, "mip", rounds)
            break
        rounds += 1
        added = am.add_contiguity_cuts(cuts)
        fixed = repair(p, p.contiguity.graph, a)
        if violations(p, fixed) and opts.heuristic:  # moving stray pieces broke a limit: search from there
            budget = min(10.0, 0.1 * left) if left is not None else 10.0
            fixed = heuristic(p, work=budget, start=fixed).assignment
        consider(fixed, "mip+heuristic")
        if progress is not None:
            progress(f"contiguity round {rounds}: {added} cuts added ({am.n_cuts} in all), "
                     f"bound {bound if bound is not None else float('nan'):,.6g}")
        if rounds >= max_rounds:
            break
    secs = time.perf_counter() - t0
    if best is None:
        return _RoundsResult(None, "no_solution", bound, secs, term, solver, "none", rounds)
    return _RoundsResult(best[1], "feasible", bound, secs, term, solver, best[2], rounds)


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


def solve_elastic(p: AlignmentProblem, relax: list[str], opts: SolveOptions, cuts, *,
                  with_assignment: bool = False, accept_feasible: bool = False):
    """Smallest relaxation of the families ``relax`` (elastic model); with contiguity, separator cuts are added
    in rounds until the elastic answer is contiguous, so the relaxation reported is one that really works.
    None when even the elastic model is infeasible (or no answer came in time). ``with_assignment`` also
    returns the elastic answer; ``accept_feasible`` takes a time-limited answer (a relaxation that works, not
    proved the smallest)."""
    if any(not f.startswith("disruption") for f in relax):
        p = p.replace(reach_fixing=False)   # the pairs out of reach were judged on the limits being relaxed
    am = build_model(p, relax=relax)
    am.add_neighbour_cuts()
    am.add_contiguity_cuts(cuts)
    budget = opts.work if opts.work is not None else wk.default_budget(opts.time_limit)
    with wk.clock(budget, opts.time_limit) as clk:
        return _elastic_rounds(p, am, opts, clk.span(budget), relax, with_assignment, accept_feasible)


def _elastic_rounds(p: AlignmentProblem, am, opts: SolveOptions, span: wk.Span, relax: list[str],
                    with_assignment: bool, accept_feasible: bool):
    while True:
        left = None if span.end is None else span.left()
        if (left is not None and left <= 0.05) or span.done("diagnosis"):
            return None
        out = solve(am.model, dataclasses.replace(opts, work=left))
        if out.status != "optimal" and not (accept_feasible and out.status == "feasible"):
            return None
        if p.contiguity is None:
            break
        new = separator_cuts(p, p.contiguity.graph, am.assignment())
        if not new:
            break
        am.add_contiguity_cuts(new)
    rel = {f: float(am.relaxed[f].value or 0.0) for f in relax}
    return (rel, am.assignment()) if with_assignment else rel


def diagnose(p: AlignmentProblem, opts: SolveOptions, *, cuts=()) -> InfeasibleError:
    """Explain why ``p`` is infeasible: relax each family of limits alone (elastic model) and report the
    smallest relaxation that works; if none works alone, relax all together and report the combination.
    ``cuts`` are contiguity cuts already found (they hold for every contiguous alignment)."""
    # the whole diagnosis gets the request's work again, shared between the elastic solves, on a clock of its own
    # (the solve that found no answer may have spent its budget) with the request's time limit as its guard
    with wk.clock(opts.work if opts.work is not None else wk.default_budget(opts.time_limit), opts.time_limit,
                  reuse=False) as clk:
        return _diagnose(p, opts, clk, cuts)


def _diagnose(p: AlignmentProblem, opts: SolveOptions, clk: wk.WorkClock, cuts) -> InfeasibleError:
    fams = _families(p)
    share = None if clk.budget is None else max(1.0, clk.budget / (len(fams) + 1))
    limit = SolveOptions(time_limit=None, work=share, mip_gap=1e-6, threads=opts.threads)
    singles: dict[str, float] = {}
    for f in fams:
        rel = solve_elastic(p, [f], limit, cuts, accept_feasible=True)   # one that works, if not proved least
        if rel is not None:
            singles[f] = rel[f]
    if singles:
        best = min(singles, key=singles.get)
        parts = [_describe(p, f, r) for f, r in sorted(singles.items(), key=lambda kv: kv[1])]
        fam = best.split(":")[0]
        return InfeasibleError(
            f"no alignment meets all limits{' with contiguity' if p.contiguity is not None else ''}; the {fam} "
            f"limits on '{best.split(':')[1]}' are the easiest to relax. Any one of these works: "
            + "; ".join(parts), family=fam, suggestion=_suggest(p, singles))
    if fams:
        rel = solve_elastic(p, fams, limit, cuts, accept_feasible=True)
        if rel is not None:
            rel = {f: r for f, r in rel.items() if r > 1e-9}
            parts = [_describe(p, f, r) for f, r in rel.items()]
            fam = "+".join(sorted({f.split(':')[0] for f in rel}))
            return InfeasibleError("no alignment meets all limits and no single family can be relaxed alone; "
                                   "relaxing together works: " + "; ".join(parts), family=fam,
                                   suggestion=_suggest(p, rel))
    if p.contiguity is not None:
        return InfeasibleError("no contiguous alignment exists even with every balance, capacity and disruption "
                               "limit relaxed: the locks, allowed pairs and the adjacency graph "
                               f"({p.contiguity.source}) cannot all hold; check locked_territory, the distance "
                               "table and the adjacency pairs, or drop --contiguity", family="contiguity")
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
