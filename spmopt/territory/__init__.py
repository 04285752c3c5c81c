"""Territory design: problem definition, MIP model, solve orchestration and independent evaluation."""

from spmopt.territory.evaluate import AlignmentMetrics, check_alignment, evaluate, violations
from spmopt.territory.problem import AlignmentProblem, make_problem, precheck
from spmopt.territory.solve import Alignment, align, diagnose

__all__ = ["Alignment", "AlignmentMetrics", "AlignmentProblem", "align", "check_alignment", "diagnose",
           "evaluate", "make_problem", "precheck", "violations"]
