"""Decomposition for very large alignments: solve regions of neighbouring territories exactly, one at a time.

A *region* is a few territories that exchange units (a seed territory and the territories its units would
most cheaply move to). With every other territory held fixed, the region's units are re-assigned among the
region's territories by the exact MIP — balance and limits against the *global* means, disruption against what
is left of the global budget, contiguity on the region's part of the graph — and the answer is kept when it
is better. With contiguity and rooted territories a region is solved in the shortest-path form (a restriction
that is contiguous by construction and quick to improve), so the regions also repair and polish contiguous
alignments that the exact model cannot improve in the time. Sweeping over overlapping regions moves load across
region borders, so the borders are repaired as the sweep goes on. This is a large-neighbourhood search: each
step is exact (or, with contiguity, exact for its restriction), the whole is a heuristic.

The bound for the whole problem does not come from the regions (their bounds hold only with the rest fixed) but
from the Lagrangian of :mod:`spmopt.territory.pricing`, which is valid for the full problem.

The start may break limits: a region that can be made feasible is (answers are ranked by total violation, in
units of each limit's tolerance, first and cost second), the regions around the territories that break their
limits most go first, and a sweep that repairs nothing makes the regions two territories larger.

Once feasible, small regions first: without contiguity the default is pairs of territories (a pair solves in
0.1–0.3 s, a triple in 0.7–1.5 s). A sweep that improves nothing, or gains less than a quarter of what the first
feasible sweep at its size gained (``GROW_BELOW``), makes the regions one territory larger — exchanges round a
cycle of three territories are out of reach of any pair. 50,000 × 500 at ±5 %, 100 s of regions from the same
start gained 2,680 with triples at 3 s a region, 3,920 with triples at 1 s and 9,600 with pairs at 0.5 s; in the
full run three sweeps of pairs took the answer from 1,034,960 to 1,020,840 in 260 s, then triples to 1,019,711
in 165 s. On 10,000 × 100 pairs run out sooner (the second sweep gains a fifth of the first) and triples take
over.

The score of the current answer is kept up to date move by move (the region's moves priced on running sizes),
so a region costs its own solve and nothing in the size of the whole problem.

A region outside the shortest-path form is solved by :func:`spmopt.territory.solve.solve_problem`, which the
caller hands in (``solve_problem=``): this module sits below :mod:`spmopt.territory.solve` and imports nothing
from it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spmopt import work as wk
from spmopt.errors import InfeasibleError, SolverError
from spmopt.solver import SolveOptions, solve
from spmopt.territory.contiguity import Contiguity
from spmopt.territory.evaluate import violations
from spmopt.territory.mip import build_model, flow_ready
from spmopt.territory.problem import AlignmentProblem
from spmopt.territory.state import State

GROW_BELOW = 0.25  # a feasible sweep that gains less than this share of the first at its size grows the regions


@dataclass
class RegionResult:
    assignment: pd.Series
    objective: float
    feasible: bool
    regions_solved: int
    regions_improved: int
    sweeps: int
    work: float
    size: int = 0  # the region size at the end (sweeps that stall make the regions larger)


def region_of(seed: int, size: int, affinity: np.ndarray) -> list[int]:
    """The seed territory and, greedily, the territories with the strongest affinity to those chosen so far."""
    chosen = [seed]
    score = affinity[seed].astype(float).copy()
    score[seed] = -np.inf
    while len(chosen) < size:
        j = int(np.argmax(score))
        if not np.isfinite(score[j]) or score[j] <= 0:
            break
        chosen.append(j)
        score += affinity[j]
        score[chosen] = -np.inf
    return chosen


def territory_affinity(p: AlignmentProblem, a: np.ndarray) -> np.ndarray:
    """affinity[j, k]: how many units of territory j have k among their two cheapest other territories (plus
    the reverse), from the costs only — no coordinates needed. With contiguity, shared graph edges count too."""
    J = len(p.territory_ids)
    c = np.where(p.allowed(), p.cost(), np.inf)
    c[np.arange(p.n_units), a] = np.inf
    k = min(2, J - 1)
    aff = np.zeros((J, J))
    if k >= 1:
        alt = np.argpartition(c, k - 1, axis=1)[:, :k]
        for col in range(k):
            ok = np.isfinite(c[np.arange(p.n_units), alt[:, col]])
            np.add.at(aff, (a[ok], alt[ok, col]), 1.0)
    if p.contiguity is not None:
        pos = p.unit_ids.get_indexer
        e = np.array(list(p.contiguity.graph.edges()), dtype=object)
        if len(e):
            u, v = a[pos(e[:, 0])], a[pos(e[:, 1])]
            diff = u != v
            np.add.at(aff, (u[diff], v[diff]), 1.0)
    return aff + aff.T


def subproblem(p: AlignmentProblem, a: np.ndarray, region: list[int]) -> tuple[AlignmentProblem, np.ndarray]:
    """The problem restricted to the units of ``region``'s territories, with the rest of ``a`` held fixed."""
    rows = np.flatnonzero(np.isin(a, region))
    units = p.units.iloc[rows].copy()
    units.attrs = dict(p.units.attrs)
    tids = tuple(p.territory_ids[j] for j in region)
    limits = {key: np.asarray(v, dtype=float)[region] for key, v in p.limits.items()}
    for m, tau in p.balance.items():  # balance against the global mean, as per-territory limits
        mu = p.mean(m)
        hi = np.full(len(region), (1 + tau) * mu)
        lo = np.full(len(region), (1 - tau) * mu)
        if ("max", m) in limits:
            hi = np.fmin(hi, limits[("max", m)])
        if ("min", m) in limits:
            lo = np.fmax(lo, limits[("min", m)])
        limits[("max", m)], limits[("min", m)] = hi, lo
    max_dis = {}
    cur = p.current()
    if p.max_disruption and cur is not None:
        tid = np.asarray(p.territory_ids, dtype=object)
        outside = np.setdiff1d(np.arange(p.n_units), rows)
        curv = cur.to_numpy()
        for m, frac in p.max_disruption.items():
            w = p.measure(m)
            has = cur.notna().to_numpy()
            base = float(w[has].sum())
            moved_out = float(w[outside][has[outside] & (curv[outside] != tid[a[outside]])].sum())
            base_in = float(w[rows][has[rows]].sum())
            max_dis[m] = 1.0 if base_in <= 0 else float(np.clip((frac * base - moved_out) / base_in, 0.0, 1.0))
    terr = p.territories.iloc[region] if p.territories is not None else None
    contig = None
    if p.contiguity is not None:
        contig = Contiguity(p.contiguity.graph.subgraph(units.index).copy(), p.contiguity.source)
    sub = dataclasses.replace(p, units=units, territory_ids=tids, distance=p.distance[np.ix_(rows, region)].copy(),
                              balance={}, limits=limits, max_disruption=max_dis, territories=terr,
                              contiguity=contig)
    return sub, rows


def _solve_region(sub: AlignmentProblem, start: pd.Series, opts: SolveOptions,
                  solve_problem: Callable) -> pd.Series | None:
    """One region's answer, or None. With contiguity and every territory of the region rooted, the
    shortest-path form (8) of :mod:`spmopt.territory.mip`: compact, contiguous by construction and far quicker
    to improve than the exact forms, which matters here since each region has seconds (it is a restriction, but
    a region's answer only has to beat the start; the bound comes from elsewhere). Otherwise the exact model."""
    if sub.contiguity is not None and flow_ready(sub):
        am = build_model(sub, spc=True)
        out = solve(am.model, opts, warm_start=am.warm_start(start))
        return am.assignment() if out.has_solution else None
    try:
        return solve_problem(sub, opts, warm_start=start, explain=False).assignment
    except (InfeasibleError, SolverError):
        return None


@wk.metered
def improve_by_regions(p: AlignmentProblem, start: pd.Series, *, work: float = 60.0, size: int = 6,
                       region_work: float = 10.0, mip_gap: float = 1e-4, progress=None,
                       solve_problem: Callable) -> RegionResult:
    """Sweep over regions of ``size`` territories, re-solving each exactly with the rest fixed (see the module
    docstring), until a sweep over regions of every territory improves nothing or the ``work`` (units) is spent.
    ``start`` may break limits; regions that can be made feasible are, and later regions absorb what is left
    where they can. ``region_work`` is each region's work (half of it for a pair of territories). ``solve_problem`` is
    :func:`spmopt.territory.solve.solve_problem`, which solves a region outside the shortest-path form; the caller
    hands it in, as this module sits below :mod:`spmopt.territory.solve`."""
    span = wk.span(work)
    tids = pd.Index(p.territory_ids)
    a = tids.get_indexer(start.reindex(p.unit_ids).to_numpy())
    J = len(tids)
    solved = improved = sweeps = 0

    # the score of the current answer is kept up to date move by move (a fresh evaluation builds the n × J cost
    # matrix: 0.3 s a region at 50,000 × 500, a sixth of the regions' time)
    st = State(p, a)

    def feasible_by_checker(arr: np.ndarray) -> bool:  # the checker has the last word on feasibility
        return not violations(p, pd.Series(np.asarray(p.territory_ids, dtype=object)[arr], index=p.unit_ids))

    def violation(state: State) -> float:
        v = state.violation()
        return 0.0 if v <= 1e-7 else v

    score = (violation(st), float(st.objective()))
    if score[0] == 0.0 and not feasible_by_checker(a):
        score = (1e-6, score[1])
    changed = True
    grow_to = 2 * size
    first_gain = None  # what the first feasible sweep at this size gained
    gain = 0.0
    while not span.done("regions"):
        repairing = score[0] > 0
        fading = not repairing and first_gain is not None and gain < GROW_BELOW * first_gain
        if sweeps and (not changed or fading):
            # a sweep that changed nothing, or (feasible) gained under GROW_BELOW of the first at its size: larger
            # regions have more slack (two territories more while the limits are broken) and make exchanges the
            # smaller ones cannot (one more, up to twice the size asked for: a region is a model of its size)
            cap = J if repairing else min(J, grow_to)
            if size < cap:
                size, first_gain = min(cap, size + (2 if repairing else 1)), None
            elif not changed:
                break
        changed = False
        sweeps += 1
        before = score
        affinity = territory_affinity(p, a)
        seeds = np.random.default_rng(sweeps).permutation(J)
        if score[0] > 0:  # repair first: start from the territories that break their limits most
            tv = st.viol(st.sizes, st.lo, st.hi, st.scale[:, None]).sum(axis=0)
            seeds = seeds[np.argsort(-tv[seeds], kind="stable")]
        covered = np.zeros(J, dtype=bool)
        out_of_time = False
        for seed in seeds:
            left = span.left()
            if left <= 0.5 or span.done("regions"):
                out_of_time = True
                break
            if covered[seed]:
                continue
            region = region_of(int(seed), size, affinity)
            covered[region] = True
            sub, rows = subproblem(p, a, region)
            start_sub = pd.Series(np.asarray(p.territory_ids, dtype=object)[a[rows]], index=sub.unit_ids)
            # a region that breaks limits gets longer: finding any feasible answer is the hard part there
            # (without, a region of two gets half the time of one of three: 50,000 × 500, 100 s of regions from the
            # same start gained 2,680 with 3 s a region of three, 3,920 with 1 s, 9,600 with pairs at 0.5 s)
            rt = region_work if size > 2 else 0.5 * region_work
            rt = rt if score[0] <= 0 else max(rt, 0.25 * left)
            opts = SolveOptions(time_limit=None, work=min(rt, left), mip_gap=mip_gap, candidates=0, heuristic=False)
            answer = _solve_region(sub, start_sub, opts, solve_problem)
            if answer is None:
                continue
            solved += 1
            if progress is not None and solved % 10 == 0:
                progress(f"regions: {solved} solved, {improved} improved, objective {score[1]:,.6g}"
                         f"{'' if score[0] == 0 else f' (violation {score[0]:.3g})'}")
            cols = pd.Index(p.territory_ids).get_indexer(answer.to_numpy())
            moves = [(int(i), int(a[i]), int(t)) for i, t in zip(rows, cols, strict=True) if a[i] != t]
            if not moves:
                continue
            dc = st.delta(moves)[1]
            for i, _, t in moves:
                st.apply(i, t)
            if p.chooses_centres and set(np.unique(st.a)) != set(np.unique(a)):
                st = State(p, st.a)  # a centre opened or closed: the limits apply to other territories now
            cand = (violation(st), score[1] + dc)
            bar = (score[0], score[1] - 1e-9 * max(1.0, abs(score[1])))
            if cand < bar and cand[0] == 0.0 and not feasible_by_checker(st.a):
                cand = (1e-6, cand[1])
            if cand < bar:
                a, score = st.a.copy(), cand
                improved += 1
                changed = True
            else:  # undo
                for i, s0, _ in moves:
                    st.apply(i, s0)
                if p.chooses_centres:
                    st = State(p, a)
        gain = before[1] - score[1] if before[0] == 0 == score[0] else 0.0
        if before[0] == 0 == score[0] and first_gain is None:
            first_gain = gain
        if progress is not None:
            progress(f"regions: sweep {sweeps} (size {size}), {solved} regions solved, {improved} improved, "
                     f"objective {score[1]:,.6g}{'' if score[0] == 0 else f' (violation {score[0]:.3g})'}")
        if out_of_time:  # a sweep cut short says nothing about the region size
            break
    s = pd.Series(np.asarray(p.territory_ids, dtype=object)[a], index=p.unit_ids, name="territory_id")
    return RegionResult(assignment=s, objective=score[1], feasible=not violations(p, s), regions_solved=solved,
                        regions_improved=improved, sweeps=sweeps, work=span.used(),
                        size=size)
