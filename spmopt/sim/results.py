"""The result of a simulation run and the metrics finance and sales ops compare plans on.

Definitions (per plan × stress case, over ``N`` trials of ``R`` reps):

- revenue / cost: the company's total booked revenue / total incentive pay (base salary excluded) in a trial;
  mean and P50/P90/P95/P99 over trials; ``cost_cvar95`` is the mean cost of the worst 5 % of trials;
- ``cost_of_sales`` = mean cost / mean revenue;
- ``share_at_or_above_quota``: rep-trials with annual attainment ≥ 100 %; ``share_below_threshold``: below the
  plan's threshold attainment (empty when the plan pays from the first sale); ``share_at_cap``: at or above quota
  where 10 % more revenue would pay nothing more;
- ``marginal_pay_rate_mean``: mean over rep-periods of the extra pay for an extra 1 % of the period's quota,
  per unit of revenue (e.g. 0.04 = 4 cents per dollar); ``share_zero_marginal_pay``: rep-periods where it is 0;
- ``pay_performance_correlation``: Pearson correlation of annual attainment and pay over rep-trials;
- ``revenue_uplift``: mean revenue relative to the first plan's under the same stress case, minus 1;
- ``effort_mean``: mean effort (1 = the reps file's rates); ``pulled_mean`` / ``pushed_mean``: revenue moved
  across period ends per trial by the timing behaviour;
- ``coaching_cost``: the cost of the plan's coaching programme per trial (all reps; not in ``cost_*``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from spmopt.sim.engine import Cell, Chunk, SimSpec
from spmopt.sim.pay import plan_context


def _stack(chunks: list[Chunk], key: tuple[int, int, int]) -> Cell:
    cells = [ch.cells[key] for ch in chunks]
    return Cell(**{f: np.concatenate([getattr(c, f) for c in cells]) for f in Cell.__dataclass_fields__})


@dataclass
class SimResult:
    """Simulated years of every plan under every stress case. Arrays are trial-major; DataFrames on demand."""

    spec: SimSpec
    trials: int
    cells: dict[tuple[int, int], Cell]
    events: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    by_year: dict[tuple[int, int, int], Cell] = field(default_factory=dict)   # (plan, case, year) → cell

    @classmethod
    def from_chunks(cls, spec: SimSpec, chunks: list[Chunk], *, seconds: float = 0.0, notes=None) -> SimResult:
        keys = list(chunks[0].cells)
        by_year = {k: _stack(chunks, k) for k in keys}
        return cls(spec=spec, trials=sum(len(c.trials) for c in chunks),
                   cells={(i, c): v for (i, c, y), v in by_year.items() if y == 0}, by_year=by_year,
                   events=sum(c.events for c in chunks), seconds=seconds, notes=list(notes or []))

    @property
    def years(self) -> int:
        return self.spec.years

    # ------------------------------------------------------------------ names and lookups
    @property
    def plans(self) -> list[str]:
        return [p.name for p in self.spec.plans]

    @property
    def stress_cases(self) -> list[str]:
        return [c.name for c in self.spec.cases]

    @property
    def rep_ids(self) -> list[str]:
        return list(self.spec.reps.ids)

    def cell(self, plan: str | int = 0, stress: str | int = 0) -> Cell:
        i = plan if isinstance(plan, int) else self.plans.index(plan)
        c = stress if isinstance(stress, int) else self.stress_cases.index(stress)
        return self.cells[(i, c)]

    def attainment(self, plan: str | int = 0, stress: str | int = 0) -> np.ndarray:
        """Annual attainment (trials × reps)."""
        cell = self.cell(plan, stress)
        return cell.revenue / cell.quota

    def cost(self, plan: str | int = 0, stress: str | int = 0) -> np.ndarray:
        """Total incentive cost per trial."""
        return self.cell(plan, stress).payout.sum(axis=1)

    def revenue(self, plan: str | int = 0, stress: str | int = 0) -> np.ndarray:
        """Total revenue per trial."""
        return self.cell(plan, stress).revenue.sum(axis=1)

    # ------------------------------------------------------------------ tables
    def rep_trials(self) -> pd.DataFrame:
        """One row per plan × stress case × trial × rep: ``plan, stress, trial, rep_id, revenue, attainment,
        payout``."""
        frames = []
        R = len(self.rep_ids)
        for (i, c), cell in self.cells.items():
            T = cell.revenue.shape[0]
            frames.append(pd.DataFrame({
                "plan": self.plans[i], "stress": self.stress_cases[c],
                "trial": np.repeat(np.arange(T), R), "rep_id": np.tile(np.array(self.rep_ids, dtype=object), T),
                "revenue": cell.revenue.ravel(), "attainment": (cell.revenue / cell.quota).ravel(),
                "payout": cell.payout.ravel()}))
        out = pd.concat(frames, ignore_index=True)
        out["plan"] = pd.Categorical(out["plan"], categories=self.plans)
        out["stress"] = pd.Categorical(out["stress"], categories=self.stress_cases)
        return out

    def monthly(self) -> pd.DataFrame:
        """``plan, stress, month, revenue_mean, payout_mean``: mean over trials of the company's revenue booked in
        the month and incentive pay falling due in it (a period's pay falls due in its last month)."""
        rows = []
        for (i, c, y), cell in self.by_year.items():
            rev, pay = cell.monthly_revenue.mean(axis=0), cell.monthly_payout.mean(axis=0)
            for m in range(12):
                rows.append({"plan": self.plans[i], "stress": self.stress_cases[c],
                             **({"year": y + 1} if self.years > 1 else {}), "month": m + 1,
                             "revenue_mean": rev[m], "payout_mean": pay[m]})
        out = pd.DataFrame(rows)
        if self.years > 1:
            out = out.sort_values(["year"], kind="stable").reset_index(drop=True)
        return out

    def summary(self) -> pd.DataFrame:
        """One row per plan × stress case (definitions in the module docstring)."""
        rows = []
        for yr, c, stress in [(y, c, s) for y in range(self.years) for c, s in enumerate(self.stress_cases)]:
            first_rev = None
            for i, plan in enumerate(self.spec.plans):
                cell = self.by_year[(i, c, yr)]
                ctx = plan_context(plan, self.spec.reps, self.spec.cal)
                rev, cost = cell.revenue.sum(axis=1), cell.payout.sum(axis=1)
                att = cell.revenue / cell.quota
                T, R = att.shape
                thr = ctx.threshold()
                q = np.quantile(cost, [0.5, 0.9, 0.95, 0.99])
                qr = np.quantile(rev, [0.5, 0.9, 0.95, 0.99])
                tail = cost[cost >= q[2]]
                x, y = att.ravel(), cell.payout.ravel()
                corr = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else np.nan
                rev_mean = float(rev.mean())
                if first_rev is None:
                    first_rev = rev_mean
                n_rp = T * R * plan.periods_per_year
                rows.append({
                    "plan": plan.name, "stress": stress, **({"year": yr + 1} if self.years > 1 else {}),
                    "trials": T, "reps": R,
                    "revenue_mean": rev_mean, "revenue_p50": qr[0], "revenue_p90": qr[1], "revenue_p95": qr[2],
                    "revenue_p99": qr[3],
                    "cost_mean": float(cost.mean()), "cost_p50": q[0], "cost_p90": q[1], "cost_p95": q[2],
                    "cost_p99": q[3], "cost_cvar95": float(tail.mean()),
                    "cost_of_sales": float(cost.mean() / rev_mean) if rev_mean > 0 else np.nan,
                    "share_at_or_above_quota": float((att >= 1).mean()),
                    "share_below_threshold": float((att < thr).mean()) if thr is not None else np.nan,
                    "share_at_cap": float(cell.at_cap.mean()),
                    "marginal_pay_rate_mean": (float(cell.marginal_sum.sum() / n_rp) if self.spec.marginal
                                               else np.nan),
                    "share_zero_marginal_pay": (float(cell.marginal_zero.sum() / n_rp) if self.spec.marginal
                                                else np.nan),
                    "pay_performance_correlation": corr,
                    "revenue_uplift": rev_mean / first_rev - 1 if first_rev else np.nan,
                    "coaching_cost": float(cell.coaching.mean()),
                    "effort_mean": float(cell.effort.mean()),
                    "pulled_mean": float(cell.pulled.mean()), "pushed_mean": float(cell.pushed.mean()),
                })
        return pd.DataFrame(rows)
