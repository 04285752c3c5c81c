"""spmopt: sales performance management research — territory design, quotas and comp-plan simulation."""

from spmopt.data.io import read_table
from spmopt.errors import AlignmentCheckError, InfeasibleError, InputError, SolverError, SpmoptError
from spmopt.plans import Payout, Plan, PlanError, load_plan, payout
from spmopt.quota import Bounds, Quotas, Relief, quota_relief, set_quotas
from spmopt.scenario import Scenario, load_scenario, run_scenario
from spmopt.sim import Behaviour, SimResult, StressCase, simulate
from spmopt.solver import SolveOptions
from spmopt.territory import Alignment, AlignmentProblem, align, check_alignment, evaluate, make_problem

__version__ = "0.1.0"

__all__ = ["Alignment", "AlignmentCheckError", "AlignmentProblem", "Behaviour", "Bounds", "InfeasibleError",
           "InputError", "Payout", "Plan", "PlanError", "Quotas", "Relief", "Scenario", "SimResult", "SolveOptions",
           "SolverError", "SpmoptError", "StressCase", "align", "check_alignment", "evaluate", "load_plan",
           "load_scenario", "make_problem", "payout", "quota_relief", "read_table", "run_scenario", "set_quotas",
           "simulate"]
