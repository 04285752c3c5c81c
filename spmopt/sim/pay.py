"""How a plan reads a simulated year: months → plan periods, quotas per period, spiff windows — then the one
payout engine (:func:`spmopt.plans.payout`) does the paying.

The simulator models one measure, the plan's revenue measure (:attr:`Plan.primary_measure`). A plan that also
reads other measures (an NPS gate, say) takes them from the reps file's column of that name, as the value in
every period; without such a column the measure has no reading (NaN): gates on it stay open and bonuses on it pay
nothing (the engine's rule), and the run's notes say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spmopt.plans.engine import payout
from spmopt.plans.model import Plan, PlanError
from spmopt.sim.inputs import Reps
from spmopt.sim.market import Calendar


@dataclass(frozen=True)
class SpiffRule:
    name: str
    lo: float            # first day (inclusive), days from 1 January
    hi: float            # last day + 1 (exclusive)
    min_value: float


@dataclass(frozen=True)
class PlanContext:
    """A plan bound to the reps and calendar of a simulation."""

    plan: Plan
    measure: str
    quota_per_period: np.ndarray              # (R, 1) revenue quota of one plan period
    period_of_month: np.ndarray               # (12,)
    other_credited: dict[str, np.ndarray]     # measure → (R, 1) value per period
    other_quotas: dict[str, np.ndarray]
    spiffs: tuple[SpiffRule, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def periods(self) -> int:
        return self.plan.periods_per_year

    def to_periods(self, monthly: np.ndarray) -> np.ndarray:
        """Sum months (last axis, 12) into plan periods."""
        m = np.asarray(monthly, dtype=float)
        return m.reshape(*m.shape[:-1], self.periods, 12 // self.periods).sum(axis=-1)

    def pay(self, monthly: np.ndarray, spiff_counts: dict[str, np.ndarray] | None = None):
        """The :class:`~spmopt.plans.engine.Payout` for monthly revenue of shape (…, R, 12); spiff counts by
        month likewise (default none). Periods on the last axis of the result."""
        per = self.to_periods(monthly)
        deals = {k: self.to_periods(c) for k, c in (spiff_counts or {}).items()}
        return self.pay_periods(per, deals)

    def pay_periods(self, per: np.ndarray, deals: dict[str, np.ndarray] | None = None):
        """As :meth:`pay`, for revenue already summed into plan periods (…, R, periods)."""
        credited = {self.measure: per}
        shape = per.shape
        for m, v in self.other_credited.items():
            credited[m] = np.broadcast_to(v, shape)
        quotas = {self.measure: self.quota_per_period, **self.other_quotas}
        quotas = {m: q for m, q in quotas.items() if m in self.plan.quota_measures()}
        spiff_deals = {}
        for s in self.spiffs:
            c = None if deals is None else deals.get(s.name)
            spiff_deals[s.name] = np.zeros(shape) if c is None else c
        return payout(self.plan, credited, quotas, deals=spiff_deals)

    def pay_total(self, monthly: np.ndarray, spiff_counts=None) -> np.ndarray:
        """Total incentive pay over the year, shape (…, R)."""
        return self.pay(monthly, spiff_counts).total.sum(axis=-1)

    def reference_rate(self) -> np.ndarray:
        """Pay per unit of revenue for a rep exactly on quota in every period (R,): the plan's target rate."""
        on_quota = np.repeat(self.quota_per_period / (12 // self.periods), 12, axis=-1)
        annual = self.quota_per_period[:, 0] * self.periods
        return self.pay_total(on_quota) / annual

    def threshold(self) -> float | None:
        """The annual attainment below which the plan pays nothing on revenue: the lowest attainment at which a
        quota bonus's curve or an attainment-based commission starts to pay (``None`` when some component pays
        from the first sale, or none pays on attainment)."""
        cands = []
        for c in self.plan.components:
            if getattr(c, "measure", None) != self.measure:
                continue
            if c.type == "quota_bonus":
                pts = list(c.curve)
                first = next((k for k, (_, y) in enumerate(pts) if y > 0), None)
                if first is not None:  # pays from the point before the first positive one (linear between)
                    cands.append(pts[first - 1][0] if first > 0 else pts[0][0])
            elif c.type == "commission":
                lo, _, rate = c.bounds()
                first = next((lk for lk, rk in zip(lo, rate, strict=True) if rk > 0), None)
                if first is None:
                    continue
                cands.append(first if c.on == "attainment" else (0.0 if first == 0 else np.nan))
        cands = [x for x in cands if not np.isnan(x)]
        return min(cands) if cands and min(cands) > 0 else None


def plan_context(plan: Plan, reps: Reps, cal: Calendar) -> PlanContext:
    """Bind ``plan`` to a simulation: checks that the simulator can feed every measure the plan reads."""
    src = plan.source or plan.name
    measure = plan.primary_measure
    if measure is None:
        raise PlanError("the simulator needs a revenue measure: set 'revenue_measure' or give the plan a quota "
                        "bonus or commission", source=src, key="revenue_measure")
    if plan.aggregate(measure) != "sum":
        raise PlanError(f"the simulated revenue measure '{measure}' must add up over periods (aggregate: sum)",
                        source=src, key=f"measures.{measure}")
    ppy = plan.periods_per_year
    notes = []
    other_credited, other_quotas = {}, {}
    direct = {c.measure for c in plan.components if c.type in ("quota_bonus", "commission", "gate")}
    for m in plan.used_measures():
        if m == measure or m not in direct:
            continue
        if m in reps.measures:
            other_credited[m] = reps.measures[m][:, None]
        else:
            other_credited[m] = np.full((len(reps), 1), np.nan)
            notes.append(f"plan '{plan.name}' reads '{m}', which is not simulated and not a column of the reps "
                         f"file: no reading, so gates on it stay open and bonuses on it pay 0")
        if m in plan.quota_measures():
            col = f"{m}_quota"
            if m not in reps.measures:  # no reading: the quota is never used
                other_quotas[m] = np.ones((len(reps), 1))
                continue
            if col not in reps.measures:
                raise PlanError(f"plan reads '{m}' as attainment: give its quota per period in a '{col}' column "
                                f"of the reps file ({reps.source})", source=src, key="components")
            q = reps.measures[col]
            bad = np.flatnonzero(~(q > 0))
            if bad.size:
                from spmopt.errors import InputError

                raise InputError(f"quota of '{m}' must be > 0 (plan '{plan.name}' reads it as attainment), got "
                                 f"{q[bad[0]]:g}", source=reps.source, row=reps.row(int(bad[0])), column=col)
            other_quotas[m] = q[:, None]
    spiffs = []
    for s in plan.of_type("spiff"):
        if plan.spiff_measure(s) != measure:
            raise PlanError(f"spiff '{s.name}' counts deals of '{plan.spiff_measure(s)}'; the simulator makes deals "
                            f"of '{measure}' only", source=src, key="components")
        lo, hi = 0.0, float(cal.days)
        if s.window is not None:
            lo, hi = cal.offset(s.window.start), cal.offset(s.window.end) + 1
            if hi <= 0 or lo >= cal.days:
                notes.append(f"spiff '{s.name}': its window {s.window.start}–{s.window.end} is outside the "
                             f"simulated year {cal.year}, so it pays nothing (choose the year with --year)")
            elif lo < 0 or hi > cal.days:
                notes.append(f"spiff '{s.name}': only the part of its window {s.window.start}–{s.window.end} "
                             f"inside the simulated year {cal.year} is simulated")
            lo, hi = max(lo, 0.0), min(hi, float(cal.days))
        if s.product or s.segment:
            notes.append(f"spiff '{s.name}': simulated deals carry no product or segment, so every deal in the "
                         "window counts (an upper bound on its cost)")
        spiffs.append(SpiffRule(s.name, lo, max(hi, lo), -np.inf if s.min_value is None else s.min_value))
    return PlanContext(plan=plan, measure=measure, quota_per_period=(reps.quota / ppy)[:, None],
                       period_of_month=np.arange(12) // (12 // ppy), other_credited=other_credited,
                       other_quotas=other_quotas, spiffs=tuple(spiffs), notes=tuple(notes))
