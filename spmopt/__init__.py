"""spmopt: sales performance management research — territory design, quotas and comp-plan simulation.

The public names below are imported on first use (PEP 562), so ``import spmopt`` and the command line start in
a fraction of a second; ``from spmopt import align`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_WHERE = {
    "read_table": "spmopt.data.io",
    **dict.fromkeys(("AlignmentCheckError", "InfeasibleError", "InputError", "SolverError", "SpmoptError"),
                    "spmopt.errors"),
    **dict.fromkeys(("Payout", "Plan", "PlanError", "load_plan", "payout"), "spmopt.plans"),
    **dict.fromkeys(("Bounds", "Quotas", "Relief", "quota_relief", "set_quotas"), "spmopt.quota"),
    **dict.fromkeys(("Scenario", "load_scenario", "run_scenario"), "spmopt.scenario"),
    **dict.fromkeys(("Behaviour", "SimResult", "StressCase", "simulate"), "spmopt.sim"),
    "SolveOptions": "spmopt.solver",
    **dict.fromkeys(("Alignment", "AlignmentProblem", "align", "check_alignment", "evaluate", "make_problem"),
                    "spmopt.territory"),
}

__all__ = ["Alignment", "AlignmentCheckError", "AlignmentProblem", "Behaviour", "Bounds", "InfeasibleError",
           "InputError", "Payout", "Plan", "PlanError", "Quotas", "Relief", "Scenario", "SimResult", "SolveOptions",
           "SolverError", "SpmoptError", "StressCase", "align", "check_alignment", "evaluate", "load_plan",
           "load_scenario", "make_problem", "payout", "quota_relief", "read_table", "run_scenario", "set_quotas",
           "simulate"]
assert set(__all__) == set(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value   # once imported, a plain attribute
        return value
    raise AttributeError(f"module 'spmopt' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from spmopt.data.io import read_table
    from spmopt.errors import AlignmentCheckError, InfeasibleError, InputError, SolverError, SpmoptError
    from spmopt.plans import Payout, Plan, PlanError, load_plan, payout
    from spmopt.quota import Bounds, Quotas, Relief, quota_relief, set_quotas
    from spmopt.scenario import Scenario, load_scenario, run_scenario
    from spmopt.sim import Behaviour, SimResult, StressCase, simulate
    from spmopt.solver import SolveOptions
    from spmopt.territory import Alignment, AlignmentProblem, align, check_alignment, evaluate, make_problem
