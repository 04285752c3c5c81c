"""Territory design: problem definition, MIP model, solve orchestration and independent evaluation.

The modules are laid out in floors, each importing only public names and only from its own floor or those below
(without a cycle; ``tests/test_layering.py`` holds the table and checks it):

0. ``problem``, ``contiguity`` (adjacency graph utilities), ``evaluate`` (the independent checker);
1. ``state``: an assignment's bookkeeping (``State``), the unit graph (``Graph``), the moves and connectivity
   checks;
2. ``balance`` (transfer chains), ``treepart`` (spanning-tree splits), ``search`` (penalty search), ``mip``
   (the model), ``pricing`` (Lagrangian and LP bounds);
3. ``heuristics`` (chains the floor-2 searches), ``decompose`` (regions), ``whatif`` (centre-set screen); the
   last two get ``solve.solve_problem`` from their caller;
4. ``solve``: ``align``, ``solve_problem``, ``diagnose``;
5. ``pareto``: the distance–disruption frontier.
"""

from spmopt.territory.evaluate import AlignmentMetrics, check_alignment, evaluate, violations
from spmopt.territory.problem import AlignmentProblem, make_problem, precheck
from spmopt.territory.solve import Alignment, align, diagnose

__all__ = ["Alignment", "AlignmentMetrics", "AlignmentProblem", "align", "check_alignment", "diagnose",
           "evaluate", "make_problem", "precheck", "violations"]
