"""The one place that talks to a MIP solver.

Callers pass a Pyomo model and one :class:`SolveOptions`; they get back a :class:`SolveOutcome` with the status,
incumbent objective, best bound, relative gap, wall time and the work it was charged. HiGHS (through Pyomo's
``contrib.solver`` HiGHS interface, which drives ``highspy`` in-process) is the default and, for now, the only
solver.

Work, not time, decides where a MIP stops (see :mod:`spmopt.work`): HiGHS calls back at fixed points of its
search (root cut rounds, nodes), the same points on every run, and each call is a *tick*; the solve is
interrupted once its ticks reach the work it was given, and charged for the ticks it used. A tick costs
``TICK_PER_NONZERO`` work units per nonzero of the model (measured on the county-districting models, 15,000–56,000
nonzeros: 0.05–0.18 s a tick). HiGHS is deterministic for a given model and options, so the same work gives the
same answer. The wall clock is only the guard: HiGHS's own time limit, and the callback stops the search too once
the guard has passed (HiGHS was once seen to ignore its time limit after a restart).
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager as _contextmanager
from dataclasses import dataclass, field
from typing import Any

import pyomo.environ as pyo

from spmopt import work as _work

SOLVERS = ("highs",)
AUTO_PAIRS = 250_000  # above this many unit–territory pairs, the alignment MIP is restricted to candidates
AUTO_CANDIDATES = 2
LP_CANDIDATES = 5  # pairs per unit (smallest Lagrangian reduced cost) in the pricing LP
AUTO_REGION_SIZE = 4
#: without contiguity: pairs of territories first, growing to triples once the pairs stop paying (see
#: spmopt.territory.decompose; 50,000 × 500 at ±5 % in 600 s: 2.38 % above the bound, 3.26 % with triples
#: throughout; 10,000 × 100 in 60 s: 0.98 %, 1.01–1.05 % with triples)
AUTO_REGION_SIZE_FREE = 2
AUTO_MIP_UNITS = 5_000  # from this many units and a feasible start, the restricted MIP gets 5 % of the time left
AUTO_FLOW_VARS = 40_000  # contiguity by the flow form up to this many flow variables, by cuts in rounds above
#: ... and only when its root (LP and HiGHS's cut rounds, which call back rarely, so the work budget cannot stop
#: them) fits in half the solve's work: work units per flow variable. North-East with New York City split, from
#: a feasible start: 16,360 flow variables (±10 % potential) took 70 units and 27,080 (±5 %) 39 before the first
#: interrupt, for no better answer and a bound no better than the cut form's; the county districting models
#: (≤ 2,500 flow variables) prove their optima with it in a few units
FLOW_ROOT_WORK = 5e-3
#: work units per HiGHS callback tick and model nonzero (s/tick ÷ nonzeros on the reference machine: 3.3e-6 ±50 %
#: over five county-districting models)
TICK_PER_NONZERO = 3.3e-6
#: work units per model nonzero for building the model and handing it to HiGHS (Pyomo: 80,000 binaries, about
#: 400,000 nonzeros, 1.4 s to build and 2.5 s to load)
LOAD_PER_NONZERO = 1e-5
#: work units per simplex iteration and row of the model (a MIP solve's LP work, counted after it)
ITERATION_PER_ROW = 2e-8


@dataclass(frozen=True)
class SolveOptions:
    """Solver settings. ``time_limit`` in seconds (None = no limit) is the wall-clock guard; ``work`` the work
    budget in units (about a second each on the reference machine, see :mod:`spmopt.work`) that decides where the
    search stops, so that the answer is the same under any load: None = ``WORK_SHARE`` × ``time_limit``;
    ``mip_gap`` the relative gap at which
    the solver may stop; ``threads`` (None = solver default); ``log`` echoes the solver log to stdout;
    ``heuristic`` runs the alignment heuristic first when no feasible start is known;
    ``candidates`` is how many territories per unit the alignment MIP may consider (the ones with the smallest
    Lagrangian reduced cost, see :mod:`spmopt.territory.pricing`; the bound stays valid for all pairs):
    None = automatic (all pairs up to ``AUTO_PAIRS`` pairs, else ``AUTO_CANDIDATES``), 0 = always all pairs;
    ``regions`` is the number of territories per region in the decomposition stage (after the MIP has had its
    share of the time, regions of neighbouring territories are re-solved exactly one at a time, see
    :mod:`spmopt.territory.decompose`): None = automatic (``AUTO_REGION_SIZE``, or ``AUTO_REGION_SIZE_FREE``
    without contiguity, when the MIP is restricted to candidates), 0 = off;
    ``contiguity_flow`` chooses how contiguity enters the MIP: True = the flow form, exact in one solve (needs
    every territory rooted); False = separator cuts in rounds; None = automatic (flow when rooted and it adds at
    most ``AUTO_FLOW_VARS`` flow variables and its root fits in half the work, ``FLOW_ROOT_WORK`` per flow
    variable, as for the regions of the decomposition);
    ``spc`` runs the shortest-path contiguity model (a restriction whose answers are always contiguous, see
    :func:`spmopt.territory.mip.add_spc_contiguity`) for a first contiguous incumbent when neither the start nor
    the heuristic gives a feasible one: None = automatic (contiguity with every territory rooted), False = off;
    ``extra`` passes raw solver options (HiGHS option names)."""

    solver: str = "highs"
    time_limit: float | None = 60.0
    work: float | None = None
    mip_gap: float = 1e-4
    threads: int | None = None
    log: bool = False
    heuristic: bool = True
    candidates: int | None = None
    regions: int | None = None
    contiguity_flow: bool | None = None
    spc: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.solver not in SOLVERS:
            raise ValueError(f"unknown solver '{self.solver}' (available: {', '.join(SOLVERS)})")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"time limit must be > 0 seconds, got {self.time_limit}")
        if self.work is not None and not self.work > 0:
            raise ValueError(f"work budget must be > 0 units, got {self.work}")
        if self.candidates is not None and (int(self.candidates) != self.candidates or self.candidates < 0):
            raise ValueError(f"candidates must be a whole number >= 0, got {self.candidates}")
        if self.regions is not None and (int(self.regions) != self.regions or self.regions < 0
                                         or self.regions == 1):
            raise ValueError(f"regions must be 0 (off) or a whole number >= 2, got {self.regions}")
        if not 0 <= self.mip_gap < 1:
            raise ValueError(f"mip gap must be in [0, 1), got {self.mip_gap}")


@dataclass(frozen=True)
class SolveOutcome:
    """``status`` is one of ``optimal`` (proved within the gap tolerance), ``feasible`` (stopped by a limit
    with an incumbent), ``infeasible``, ``no_solution`` (stopped by a limit with none) or ``error``.
    ``work`` is what the solve was charged (units), ``ticks`` HiGHS's callback count, ``guard_hit`` whether the
    wall-clock guard stopped it (then, and only then, the answer may depend on the machine's speed)."""

    status: str
    objective: float | None
    bound: float | None
    seconds: float
    termination: str
    solver: str
    log: str = ""
    work: float = 0.0
    ticks: int = 0
    guard_hit: bool = False

    @property
    def has_solution(self) -> bool:
        return self.status in ("optimal", "feasible")

    @property
    def gap(self) -> float | None:
        return relative_gap(self.objective, self.bound)


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|objective − bound| / max(|objective|, 1e-9): the share of the objective the bound leaves open."""
    if objective is None or bound is None or not math.isfinite(objective) or not math.isfinite(bound):
        return None
    return max(0.0, objective - bound) / max(abs(objective), 1e-9)


def solve(model: pyo.ConcreteModel, options: SolveOptions = SolveOptions(),
          warm_start: list[tuple] | None = None) -> SolveOutcome:
    """Solve ``model`` (minimisation) and load the incumbent into its variables when there is one.

    ``warm_start`` lists (Pyomo variable, value) pairs of a feasible solution handed to the solver as its first
    incumbent. The work allowed is ``options.work`` (None = ``WORK_SHARE`` × ``options.time_limit``), never more
    than the active work clock has left; the ticks used are charged to that clock. The wall-clock guard is the
    active clock's (when it has one), else ``options.time_limit``.
    """
    from pyomo.contrib.solver.common.results import TerminationCondition as TC
    from pyomo.contrib.solver.solvers.highs import Highs

    clock = _work.current()
    allowed = options.work if options.work is not None else _work.default_budget(options.time_limit)
    allowed = min(math.inf if allowed is None else allowed, clock.left())
    guard = clock.guard_left() if clock.guard is not None else options.time_limit
    count = {"ticks": 0, "limit": None, "guard": False}
    t0 = time.perf_counter()

    def on_tick(e) -> None:
        count["ticks"] += 1
        if count["limit"] is not None and count["ticks"] >= count["limit"]:
            e.interrupt()
        elif guard is not None and time.perf_counter() - t0 > guard + 1.0:
            count["guard"] = True  # HiGHS's own time limit should have stopped it a second ago
            e.interrupt()

    class _Highs(Highs):
        """Pyomo's HiGHS interface, handing HiGHS a first incumbent right before it runs (any earlier and
        the model updates Pyomo makes on ``solve`` discard it) and counting its ticks against the work."""

        def _solve(self):
            h = self._solver_model
            if warm_start:
                _set_solution(self, h, warm_start)
            count["tick"] = TICK_PER_NONZERO * max(1, h.getNumNz())
            count["load"] = LOAD_PER_NONZERO * h.getNumNz()
            if math.isfinite(allowed):
                count["limit"] = max(1, int((allowed - count["load"]) / count["tick"]))
            h.cbMipInterrupt.subscribe(on_tick)
            try:
                return super()._solve()
            finally:
                h.cbMipInterrupt.unsubscribe(on_tick)
                count["status"] = h.getModelStatus()
                info = h.getInfo()
                count["iterations"] = max(0, int(info.simplex_iteration_count))
                count["rows"] = h.getNumRow()

    opt = _Highs()
    kwargs: dict[str, Any] = dict(load_solutions=False, raise_exception_on_nonoptimal_result=False,
                                  rel_gap=options.mip_gap, solver_options=dict(options.extra))
    if guard is not None:
        kwargs["time_limit"] = float(max(0.1, guard))
    if options.threads is not None:
        kwargs["threads"] = options.threads
    if options.log:
        import sys

        kwargs["tee"] = [sys.stdout]
    with _quiet_interrupt():
        res = opt.solve(model, **kwargs)
    secs = time.perf_counter() - t0
    tc = res.termination_condition
    has = res.incumbent_objective is not None
    import highspy

    interrupted = count.get("status") == highspy.HighsModelStatus.kInterrupt
    guard_hit = count["guard"] or tc == TC.maxTimeLimit
    # charged for its ticks or, where HiGHS calls back rarely (a long root presolve or probing), for its simplex
    # iterations × rows, whichever is more: the charge is deterministic either way and keeps the clock near the
    # wall time that follows (five county and North-East models: 0.6-1.7 s per unit charged)
    used = max(count["ticks"] * count.get("tick", 0.0),
               ITERATION_PER_ROW * count.get("iterations", 0) * count.get("rows", 0)) + count.get("load", 0.0)
    clock.charge(used)
    if guard_hit:
        clock.mark_guard("solver")
    if interrupted:
        tc = TC.iterationLimit if not count["guard"] else TC.maxTimeLimit
    if tc == TC.convergenceCriteriaSatisfied:
        status = "optimal"
    elif tc in (TC.provenInfeasible, TC.locallyInfeasible, TC.infeasibleOrUnbounded):
        status = "infeasible"
    elif tc in (TC.maxTimeLimit, TC.iterationLimit, TC.interrupted, TC.objectiveLimit, TC.unknown):
        status = "feasible" if has else "no_solution"
    else:
        status = "error"
    if has:
        res.solution_loader.load_vars()
    bound = res.objective_bound
    if status == "optimal" and bound is None:
        bound = res.incumbent_objective
    return SolveOutcome(status=status, objective=res.incumbent_objective if has else None,
                        bound=None if bound is None or not math.isfinite(bound) else float(bound),
                        seconds=secs, termination=str(tc.name), solver=f"highs {'.'.join(map(str, opt.version()))}",
                        log=res.solver_log or "", work=used, ticks=count["ticks"], guard_hit=guard_hit)


class _InterruptFilter:
    """Pyomo's HiGHS interface warns of HiGHS's 'interrupted' status, which is how a work budget stops it."""

    def filter(self, record) -> bool:
        return "kInterrupt" not in record.getMessage()


@_contextmanager
def _quiet_interrupt():
    import logging

    log = logging.getLogger("pyomo.contrib.solver.solvers.highs")
    f = _InterruptFilter()
    log.addFilter(f)
    try:
        yield
    finally:
        log.removeFilter(f)


def _set_solution(opt, h, values: list[tuple]) -> None:
    import highspy
    import numpy as np

    index = opt._pyomo_var_to_solver_var_map
    idx, val = [], []
    for v, x in values:
        k = index.get(id(v))
        if k is not None:
            idx.append(k)
            val.append(float(x))
    if not idx:
        return
    sol = highspy.HighsSolution()
    n = h.getNumCol()
    col = np.zeros(n)
    col[np.asarray(idx)] = val
    sol.col_value = list(col)
    sol.value_valid = True
    h.setSolution(sol)
