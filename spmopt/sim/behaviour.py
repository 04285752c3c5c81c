"""How reps respond to a plan: the behaviour switches and parameters of the structural model.

The model (equations in ``docs/simulation.md``; the solver in :mod:`spmopt.sim.policy`): each month a rep
chooses effort ``e`` — and, in months where a plan period (or a spiff window) ends, whether to hold back a share of
the month's deals into the next period or pull a share of next month's deals forward — to maximise the expected
discounted pay of the plan, as the payout engine pays it, minus a convex cost of effort. The rep's problem is
solved once per rep, plan and stress case by dynamic programming over (month, year-to-date and period-to-date
revenue, share of this month's deals already pulled), and both simulators apply the resulting policy.

- **Effort** multiplies the rate at which the month's due deals close: closings in month ``t`` are Poisson with
  mean ``c_t · e_t`` (``c_t`` from the pipeline at effort 1). Its cost in month ``t`` is
  ``r₀ · μ_t · e^(1+ψ) / (1+ψ)`` with ``μ_t`` the month's expected revenue at effort 1: a rep paid a flat
  commission ``r`` works at ``e = (r / r₀)^(1/ψ)`` (effort and revenue elasticity to the rate ``1/ψ``).
  ``reference_rate`` ``r₀`` is therefore a property of the rep, not of the plan: pay level matters.
- **Timing.** Holding back a share ``π`` (at most ``max_push``: the deals due in the month's last weeks) books
  that share of the month's deals on the first day of the next month (the next period, or next year), losing
  ``push_loss`` of them (a customer kept waiting may walk); pulling a share ``φ`` (at most ``max_pull``) books
  that share of next month's already-open deals now, at a price concession (``pull_discount``), losing
  ``pull_loss`` of them.
- **Horizon.** Pay falls due at each period end, discounted by ``discount`` a month; what is carried past the
  last simulated year is valued at the plan's pay rate on quota (next year's plan taken to be the same).

Defaults (scenario assumptions in the direction the literature documents; fit them to a company's history with
``spmopt calibrate``): ψ = 3 (a 10 % higher commission rate raises effort and revenue by about 3 %; cf. Misra &
Nair 2011, Chung, Steenburgh & Sudhir 2014), r₀ = 4 % of revenue, a 5 % price concession and 10 % lost on pulled
deals (Larkin 2014 finds quarter-end deals sold at larger discounts), 20 % lost on held-back deals (a deal kept
waiting past a period end is exposed longer to the customer's second thoughts and to competitors; with a cost
this size, pull-ins outweigh hold-backs at period ends, as Oyer 1998 and Larkin 2014 observe), monthly discount
0.999 (1.2 % a year).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Mode = Literal["none", "effort", "timing", "full"]


class Behaviour(BaseModel):
    """Behaviour switches and parameters (documented in the module docstring and docs/simulation.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode = "none"
    reference_rate: Annotated[float, Field(gt=0, le=1)] = 0.04
    effort_curvature: Annotated[float, Field(gt=0.2, le=50)] = 3.0
    effort_min: Annotated[float, Field(gt=0, le=1)] = 0.5
    effort_max: Annotated[float, Field(ge=1, le=3)] = 1.6
    effort_steps: Annotated[int, Field(ge=3, le=81)] = 12
    pull_discount: Annotated[float, Field(ge=0, lt=1)] = 0.05
    pull_loss: Annotated[float, Field(ge=0, lt=1)] = 0.10
    push_loss: Annotated[float, Field(ge=0, lt=1)] = 0.20
    max_pull: Annotated[float, Field(ge=0, le=1)] = 0.5
    max_push: Annotated[float, Field(ge=0, le=1)] = 0.5
    discount: Annotated[float, Field(gt=0, le=1)] = 0.999
    grid: Annotated[int, Field(ge=21, le=401)] = 61

    @model_validator(mode="after")
    def _range(self) -> Behaviour:
        if not self.effort_min < 1 < self.effort_max and self.mode in ("effort", "full"):
            raise ValueError(f"effort_min < 1 < effort_max is needed, got {self.effort_min} and {self.effort_max}")
        return self

    @property
    def effort(self) -> bool:
        return self.mode in ("effort", "full")

    @property
    def timing(self) -> bool:
        return self.mode in ("timing", "full")
