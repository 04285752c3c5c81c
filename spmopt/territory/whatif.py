"""Add / remove-territory what-ifs: screen candidate centre sets, then let the exact model prove the gap.

A what-if ("one more rep in the north-east", "which territory could we close?") is a location–allocation
problem with most centres fixed: the current territories stay open (``must_open``), removed ones stay shut
(``closed``) and k of the rest are chosen (see :func:`spmopt.territory.problem.make_problem`). Its exact model
has a weak relaxation (a fractional y_j opens a sliver of a territory), so HiGHS finds good centres slowly; but
the number of centres to choose is small. So before the exact model runs:

1. Candidates are ranked by the distance they would save (greedy add: Σ_i max(0, b_i − c_ij), b_i the cost of
   unit i's nearest open centre) — or, for closing, by the distance a closure would add.
2. The best few complete sets (each top candidate, completed greedily) are solved as ordinary fixed-centre
   problems (every chosen centre open, its own unit locked to it), each with a share of the time.
3. The best answer is the exact model's first incumbent; the exact model then tries the other sets and proves
   the bound, so the reported gap covers every candidate.

:func:`screen` solves the sets with :func:`spmopt.territory.solve.solve_problem`, which the caller hands in
(``solve_problem=``): this module sits below :mod:`spmopt.territory.solve` and imports nothing from it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spmopt import work as wk
from spmopt.errors import InfeasibleError, SolverError
from spmopt.solver import SolveOptions
from spmopt.territory.evaluate import evaluate
from spmopt.territory.problem import AlignmentProblem


@dataclass
class ScreenResult:
    assignment: pd.Series | None
    objective: float | None
    sets_tried: int
    sets_feasible: int
    best_set: list[str]
    work: float


def is_what_if(p: AlignmentProblem) -> bool:
    """A chosen-centres problem with some centres fixed open or shut (an add / remove what-if)."""
    return p.chooses_centres and p.territories is not None


def fixed_problem(p: AlignmentProblem, cols: list[int]) -> AlignmentProblem:
    """The fixed-centre problem with exactly the territory columns ``cols`` open; the centre unit of each new
    territory (and, with contiguity, of every one) is locked to it, as the what-if model requires."""
    tids = [p.territory_ids[j] for j in cols]
    serves, ci = p.serves_itself(), p.centre_index()
    u = p.units
    lock = {p.unit_ids[ci[j]]: p.territory_ids[j] for j in cols if serves[j] and ci[j] >= 0}
    if lock:
        u = u.copy()
        if "locked_territory" not in u.columns:
            u["locked_territory"] = pd.Series(np.nan, index=u.index, dtype=object)
        for uid, t in lock.items():
            u.at[uid, "locked_territory"] = t
        u.attrs.update(p.units.attrs)
    limits = {key: v[cols] for key, v in p.limits.items()}
    t_frame = p.territories.loc[tids] if p.territories is not None else None
    return p.replace(units=u, territory_ids=tuple(tids), distance=p.distance[:, cols].copy(), limits=limits,
                     k=None, territories=t_frame, must_open=frozenset(), closed=frozenset())


def greedy_fill(cost: np.ndarray, chosen: list[int], pool: np.ndarray, k: int) -> list[int]:
    """``chosen`` plus, one at a time, the column of ``pool`` that saves the most cost Σ_i max(0, b_i − c_ij)
    (b_i: unit i's cost at its cheapest chosen column) until there are k."""
    chosen = list(chosen)
    best = cost[:, chosen].min(axis=1) if chosen else np.full(cost.shape[0], np.inf)
    big = np.nanmax(np.where(np.isfinite(cost), cost, np.nan)) * 10
    while len(chosen) < k:
        b = np.where(np.isfinite(best), best, big)
        save = np.maximum(0.0, b[:, None] - np.where(np.isfinite(cost[:, pool]), cost[:, pool], big)).sum(axis=0)
        save[np.isin(pool, chosen)] = -1
        j = int(pool[np.argmax(save)])
        chosen.append(j)
        best = np.minimum(best, cost[:, j])
    return chosen


def candidate_sets(p: AlignmentProblem, n_sets: int) -> list[list[int]]:
    """Up to ``n_sets`` complete sets of k open columns: the fixed-open ones plus, for each of the best-ranked
    candidates in turn, that candidate and a greedy completion."""
    cost = np.where(p.allowed(), p.cost(), np.inf)
    state = p.open_state()
    forced = list(np.flatnonzero(state > 0))
    pool = np.flatnonzero(state == 0)
    need = p.k - len(forced)
    if need <= 0:
        return [forced[:p.k]]
    if len(forced) == 0 and need < len(pool):  # choosing which to keep (closing some): rank by the loss of
        full = cost[:, pool].min(axis=1)  # each closure, least loss first
        loss = []
        for j in pool:
            rest = pool[pool != j]
            loss.append(float(np.where(np.isfinite(full), cost[:, rest].min(axis=1) - full, 0).sum()))
        order = np.argsort(loss, kind="stable")
        sets = []
        for first in order[:n_sets]:
            keep = [int(x) for x in pool if x != pool[first]]
            drop_rank = [int(pool[i]) for i in order if pool[i] != pool[first]]
            while len(keep) > p.k and drop_rank:
                keep.remove(drop_rank.pop(0))
            sets.append(sorted(keep))
        return _unique(sets)
    big = np.nanmax(np.where(np.isfinite(cost), cost, np.nan)) * 10
    best = cost[:, forced].min(axis=1) if forced else np.full(p.n_units, big)
    b = np.where(np.isfinite(best), best, big)
    save = np.maximum(0.0, b[:, None] - np.where(np.isfinite(cost[:, pool]), cost[:, pool], big)).sum(axis=0)
    top = pool[np.argsort(-save, kind="stable")[:n_sets]]
    return _unique([sorted(greedy_fill(cost, [*forced, int(j)], pool, p.k)) for j in top])


def _unique(sets: list[list[int]]) -> list[list[int]]:
    seen, out = set(), []
    for s in sets:
        key = tuple(s)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


@wk.metered
def screen(p: AlignmentProblem, opts: SolveOptions, *, work: float, n_sets: int = 6,
           progress=None, solve_problem: Callable) -> ScreenResult:
    """Solve the best-ranked candidate sets as fixed-centre problems within ``work`` units; keep the best.
    ``solve_problem`` is :func:`spmopt.territory.solve.solve_problem`; the caller hands it in, as this module sits
    below :mod:`spmopt.territory.solve`."""
    span = wk.span(work)
    sets = candidate_sets(p, n_sets)
    best: tuple[float, pd.Series | None, list[str]] = (np.inf, None, [])
    tried = feasible = 0
    for n, cols in enumerate(sets):
        left = span.left()
        if left < 0.5 or span.done("what-if screen"):
            break
        share = left / (len(sets) - n)
        sub = fixed_problem(p, cols)
        tried += 1
        try:
            r = solve_problem(sub, dataclasses.replace(opts, time_limit=None, work=share, log=False), explain=False)
        except (InfeasibleError, SolverError) as exc:
            if progress is not None:
                progress(f"what-if: centre set {n + 1} of {len(sets)} — none found ({type(exc).__name__}, "
                         f"{share:.0f} work units)")
            continue
        feasible += 1
        obj = evaluate(p, r.assignment).objective
        names = [p.territory_ids[j] for j in cols if p.open_state()[j] == 0]
        if progress is not None:
            progress(f"what-if: centres {', '.join(names) or '(current)'} → objective {obj:,.6g} "
                     f"({r.status}, {share:.0f} work units)")
        if obj < best[0]:
            best = (obj, r.assignment, names)
    return ScreenResult(assignment=best[1], objective=None if best[1] is None else best[0], sets_tried=tried,
                        sets_feasible=feasible, best_set=best[2], work=span.used())
