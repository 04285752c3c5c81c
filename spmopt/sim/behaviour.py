"""How reps respond to a plan: effort from the marginal pay of more sales, and the timing of ready deals.

Both decisions read the plan only through the payout engine (:func:`spmopt.plans.payout`), so any plan the engine
can pay, the behaviour model can respond to.

**Projection.** At a decision time ``s`` a rep knows what is booked (month by month), the won deals still to
close (their dates and sizes: the committed pipeline) and the rate at which new business arrives now. New
business from opportunities not yet opened closes in month ``j`` with expectation ``ρ · [H(e_j − s) − H(b_j − s)]``
(ρ: won revenue per day at effort 1, H the integral of the cycle-time CDF; see ``market.cycle_integral``) and
variance ``ρ_n · E[X²] · H(D − s)`` (compound Poisson, ρ_n won deals per day). The rep weighs ``K`` outcomes of the
new business (Gauss–Hermite nodes on a normal around the mean, default K = 5), so a threshold or kink the rep is
near but not sure to pass still counts.

**Effort** (at the start of each month). One more month of full effort brings δ = ρ × (month length) of expected
revenue, closing in later months with the cycle-time distribution (share ``h_j`` in month ``j``; the rest after the
year ends). Its expected marginal pay rate is

    m = Σ_k w_k [pay(path_k + δ·h) − pay(path_k)] / δ  +  m_ref · (1 − Σ_j h_j),

where ``m_ref`` is the plan's own rate for a rep exactly on quota (its pay at 100 % / quota; target incentive /
quota for a plan that pays nothing at quota): revenue that lands next year is valued at next year's plan, taken
to be the same. Effort is

    e = clip(1 + η · (m / m_ref − 1), e_min, e_max),

so a linear commission keeps effort at 1; effort rises where pay is steeper than on average (near a threshold
or above an accelerator's kink) and falls where more sales pay nothing (threshold out of reach, past a cap).
Effort multiplies the arrival rate of new opportunities and raises the win probability by ``e^β``.

**Timing** (at ``max_shift_days`` before the end of each plan period). Won deals due within ``max_shift_days``
either side of the period end may be booked before it (pull-in, at ``pull_in_discount``) or after it (push-out).
The rep takes whichever of natural / pull / push gives the highest expected pay this year plus ``m_ref`` × the
revenue moved into next year, and keeps the natural dates unless the gain is positive.

Defaults and their grounds (modelling choices in the direction the literature documents, not estimates):
Oyer (1998, QJE) finds sales bunch at fiscal year ends under non-linear plans (timing, a few weeks);
Larkin (2014, J. Labor Econ.) finds deals pulled into quarter-ends sold at larger discounts; Misra & Nair
(2011, QME) find effort collapses once a quota ceiling binds and falls when the quota is far away; Chung,
Steenburgh & Sudhir (2014, Marketing Science) find bonuses and overachievement commissions raise effort, and
that the response to incentives is strongest near them. Defaults: η = 0.2 (a rep facing zero marginal pay works
at 0.8, facing twice the usual rate at 1.2; bounds 0.6–1.4), β = 0.25, 21 days of timing room, no pull-in
discount. With them, on the demo sales force (``scenarios/sim/reps.csv``), effort alone lifts revenue over a
linear 4 % commission by 11.5 % under the quarterly threshold-and-accelerator plan and by 19 % under the
progressive commission (whose marginal rate above quota is 2.3 × its average) — more than the 9 % Misra & Nair
measured after a real plan change, so treat behavioural uplifts as scenario assumptions (halve η for a
conservative view).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from spmopt.sim.market import Calendar, cycle_integral
from spmopt.sim.pay import PlanContext

Mode = Literal["none", "effort", "timing", "full"]


class Behaviour(BaseModel):
    """Behaviour switches and parameters (all documented in the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode = "none"
    effort_elasticity: Annotated[float, Field(ge=0)] = 0.2
    effort_min: Annotated[float, Field(gt=0)] = 0.6
    effort_max: Annotated[float, Field(gt=0)] = 1.4
    win_rate_exponent: Annotated[float, Field(ge=0)] = 0.25
    max_shift_days: Annotated[float, Field(ge=0, le=28)] = 21.0
    pull_in_discount: Annotated[float, Field(ge=0, lt=1)] = 0.0
    nodes: Annotated[int, Field(ge=1, le=15)] = 5

    @model_validator(mode="after")
    def _range(self) -> Behaviour:
        if self.effort_min > 1 or self.effort_max < 1:
            raise ValueError(f"effort_min ≤ 1 ≤ effort_max is needed, got {self.effort_min} and {self.effort_max}")
        return self

    @property
    def effort(self) -> bool:
        return self.mode in ("effort", "full")

    @property
    def timing(self) -> bool:
        return self.mode in ("timing", "full")


@dataclass
class Projector:
    """Vectorised decisions for all reps of one trial under one plan."""

    ctx: PlanContext
    cal: Calendar
    behaviour: Behaviour
    cycle_days: np.ndarray     # (R,)
    cycle_shape: float
    size_mean: np.ndarray      # (R,)
    size_cv: np.ndarray        # (R,)

    def __post_init__(self) -> None:
        z, w = np.polynomial.hermite_e.hermegauss(self.behaviour.nodes)
        self.z, self.w = z, w / w.sum()
        on_quota = np.maximum(self.ctx.reference_rate(), 0.0)     # (R,)
        target = self.ctx.plan.target_incentive / (self.ctx.quota_per_period[:, 0] * self.ctx.periods)
        self.m_ref = np.where(on_quota > 0, on_quota, target)     # a plan paying nothing at quota: TI / quota
        self.scale = self.cycle_days[:, None] / self.cycle_shape

    def _h(self, x: np.ndarray) -> np.ndarray:
        return cycle_integral(x, self.cycle_shape, self.scale)

    def _new_business(self, now: float, rate: np.ndarray, rate_n: np.ndarray):
        """Expected new revenue per month (R, 12) from opportunities opened after ``now`` and its s.d. (R,)."""
        b, e = self.cal.starts[:-1], self.cal.starts[1:]
        share = self._h(np.maximum(e - now, 0)[None, :]) - self._h(np.maximum(b - now, 0)[None, :])
        mean = rate[:, None] * share
        second = self.size_mean ** 2 * (1 + self.size_cv ** 2)
        sd = np.sqrt(rate_n * second * self._h(np.array([[self.cal.days - now]]))[:, 0])
        return mean, sd

    def _paths(self, known: np.ndarray, new: np.ndarray, sd: np.ndarray) -> np.ndarray:
        """K outcome paths (K, R, 12): known months plus new business scaled to each node."""
        tot = new.sum(axis=1)
        rel = np.divide(sd, tot, out=np.zeros_like(tot), where=tot > 0)
        scale = np.maximum(1 + self.z[:, None] * rel[None, :], 0.0)     # (K, R)
        return known[None] + new[None] * scale[:, :, None]

    def _expected_pay(self, paths: np.ndarray) -> np.ndarray:
        """Σ_k w_k pay(path_k) for paths (…, K, R, 12) → (…, R)."""
        return np.tensordot(self.ctx.pay_total(paths), self.w, axes=([-2], [0]))

    def effort(self, now: float, month: int, known: np.ndarray, rate: np.ndarray, rate_n: np.ndarray) -> np.ndarray:
        """Effort for the month starting at ``now`` (R,). ``known``: booked + committed revenue by month (R, 12);
        ``rate``/``rate_n``: won revenue / won deals per day from new opportunities at effort 1."""
        bh = self.behaviour
        new, sd = self._new_business(now, rate, rate_n)
        paths = self._paths(known, new, sd)
        length = self.cal.starts[month + 1] - self.cal.starts[month]
        b, e = self.cal.starts[:-1], self.cal.starts[1:]
        h = (self._h(e - now) - self._h(e - now - length) - self._h(b - now) + self._h(b - now - length)) / length
        delta = np.maximum(rate * length, 1e-9)                       # (R,)
        bump = delta[:, None] * h                                     # (R, 12)
        pay = self._expected_pay(np.stack([paths, paths + bump[None]]))   # (2, R)
        m = (pay[1] - pay[0]) / delta + self.m_ref * (1 - h.sum(axis=1))
        ratio = np.divide(m, self.m_ref, out=np.ones_like(m), where=self.m_ref > 0)
        return np.clip(1 + bh.effort_elasticity * (ratio - 1), bh.effort_min, bh.effort_max)

    def timing(self, now: float, boundary: float, known: np.ndarray, before: np.ndarray, after: np.ndarray,
               rate: np.ndarray, rate_n: np.ndarray) -> np.ndarray:
        """0 = keep dates, 1 = pull the deals due just after ``boundary`` before it, 2 = push the deals due just
        before it after it (R,). ``known`` holds booked + committed revenue by month with the window's deals at
        their natural months; ``before``/``after`` (R,) are the window's revenue on either side."""
        cal = self.cal
        new, sd = self._new_business(now, rate, rate_n)
        last = int(cal.month_of(boundary - 1e-9))
        nxt = last + 1
        in_year = boundary < cal.days - 1e-9
        keep = known
        pull = known.copy()
        pull[:, last] += after * (1 - self.behaviour.pull_in_discount)
        push = known.copy()
        push[:, last] -= before
        if in_year:
            pull[:, nxt] -= after
            push[:, nxt] += before
        opts = np.stack([keep, pull, push])                            # (3, R, 12)
        paths = opts[:, None] + self._paths(np.zeros_like(known), new, sd)[None]   # (3, K, R, 12)
        value = self._expected_pay(paths).T                            # (R, 3)
        if not in_year:  # what lands next year is paid at next year's rate
            value = value + self.m_ref[:, None] * np.stack([after, np.zeros_like(after), before + after], axis=1)
        gain = value - value[:, :1]
        best = np.argmax(gain, axis=1)
        tol = 1e-9 * max(self.ctx.plan.target_incentive, 1.0)
        return np.where(gain[np.arange(len(best)), best] > tol, best, 0)
