"""The one place that talks to a MIP solver.

Callers pass a Pyomo model and one :class:`SolveOptions`; they get back a :class:`SolveOutcome` with the status,
incumbent objective, best bound, relative gap and wall time. HiGHS (through Pyomo's ``contrib.solver`` HiGHS
interface, which drives ``highspy`` in-process) is the default and, for now, the only solver.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import pyomo.environ as pyo

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


@dataclass(frozen=True)
class SolveOptions:
    """Solver settings. ``time_limit`` in seconds (None = no limit); ``mip_gap`` the relative gap at which
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
    most ``AUTO_FLOW_VARS`` flow variables, as for the regions of the decomposition);
    ``spc`` runs the shortest-path contiguity model (a restriction whose answers are always contiguous, see
    :func:`spmopt.territory.mip.add_spc_contiguity`) for a first contiguous incumbent when neither the start nor
    the heuristic gives a feasible one: None = automatic (contiguity with every territory rooted), False = off;
    ``extra`` passes raw solver options (HiGHS option names)."""

    solver: str = "highs"
    time_limit: float | None = 60.0
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
    with an incumbent), ``infeasible``, ``no_solution`` (stopped by a limit with none) or ``error``."""

    status: str
    objective: float | None
    bound: float | None
    seconds: float
    termination: str
    solver: str
    log: str = ""

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
    incumbent.
    """
    from pyomo.contrib.solver.common.results import TerminationCondition as TC
    from pyomo.contrib.solver.solvers.highs import Highs

    class _Highs(Highs):
        """Pyomo's HiGHS interface, handing HiGHS a first incumbent right before it runs (any earlier and
        the model updates Pyomo makes on ``solve`` discard it)."""

        def _solve(self):
            if warm_start:
                _set_solution(self, self._solver_model, warm_start)
            return super()._solve()

    opt = _Highs()
    t0 = time.perf_counter()
    kwargs: dict[str, Any] = dict(load_solutions=False, raise_exception_on_nonoptimal_result=False,
                                  rel_gap=options.mip_gap, solver_options=dict(options.extra))
    if options.time_limit is not None:
        kwargs["time_limit"] = float(options.time_limit)
    if options.threads is not None:
        kwargs["threads"] = options.threads
    if options.log:
        import sys

        kwargs["tee"] = [sys.stdout]
    res = opt.solve(model, **kwargs)
    secs = time.perf_counter() - t0
    tc = res.termination_condition
    has = res.incumbent_objective is not None
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
                        log=res.solver_log or "")


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
