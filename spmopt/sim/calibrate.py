"""Calibration: the behavioural parameters and the reps from monthly sales history, by simulated method of moments.

Given a history of credited deals (``rep_id, date, measure, value``), the reps' quarterly quotas and the plan they
were paid under, estimate

- the rep parameters, in closed form: each rep's mean deal size (the mean of its deal values), one pooled
  deal-size CV (log-normal: ``cv = sqrt(exp(s²) − 1)``, ``s²`` the pooled within-rep variance of log deal
  values), and each rep's deal rate at effort 1, ``λ_r`` (won deals a year; ``opportunities = λ_r / win_rate``
  with the win rate fixed), set so that the simulated mean annual revenue of the rep equals its expected revenue
  ``E_r`` — the rep's mean annual revenue, shrunk towards the team's (empirical Bayes on the log scale, eq. 3);
- the behavioural parameters ``θ = (ψ, τ)`` — the effort curvature ``ψ`` (effort elasticity to the pay rate
  ``1/ψ``) and one timing cost ``τ = push_loss = pull_loss`` (the share of a held-back or pulled deal that is
  lost) — by matching moments of the monthly revenue profile between history and the model.

Formulation (``i`` a rep-year of the history, ``N`` of them; ``x_{i,t}`` revenue in month ``t``; ``Q_i`` the
annual quota, split into equal plan periods; ``m̂`` data moments, ``m_S(θ)`` the same statistics over ``S``
simulated years per rep-year, common random numbers: the seed is the same at every ``θ``)::

    (1) θ̂ = argmin_θ  g(θ)ᵀ W g(θ),   g(θ) = m_S(θ; λ(θ̂)) − m̂,   W = diag(1 / ((1 + 1/S) σ̂_k²))
    (2) λ_r ← λ_r · E_r / M_r(θ; λ)        (at the start point, then at the estimate, at most twice more, until the
                                           root mean square of E_r / M_r − 1 is within 2 % of simulation noise)
    (3) log E_r = ℓ̄ + w_r (log Ȳ_r − ℓ̄),  w_r = v / (v + (1 + cv²) / n_r),
        v = max(0, Var_r(log Ȳ_r) − mean_r((1 + cv²) / n_r))
    (4) V(θ̂) = (1 + 1/S) (GᵀWG)⁻¹ GᵀW Ω W G (GᵀWG)⁻¹,   G = ∂m_S/∂θ at θ̂ (central differences)

``M_r`` is the rep's simulated mean annual revenue; ``Ȳ_r`` its mean annual revenue in the history and ``n_r``
its number of deals; ``Ω`` the covariance of ``m̂`` from a bootstrap over reps (all of a rep's years move
together); ``σ̂_k² = Ω_kk``. Confidence intervals are ``θ̂ ± 1.96 se`` on the optimiser's scale — ``log ψ``
(so the interval for ψ is ``ψ̂ · exp(± 1.96 se)``) and ``τ`` — mapped back. The first-step estimates (sizes,
``λ``) are treated as known in (4).

Moments (each from per-rep-year sums, averaged over rep-years; ``a = x / Q``):

====================  =================================================================  ====================
``share_month1``      Σ first months of quarters / Σ year                                 τ (held-back deals)
``share_month3``      Σ third months of quarters / Σ year                                 τ (pulled deals)
``share_q4``          Σ Q4 / Σ year                                                       ψ, τ (the true-up)
``share_december``    Σ December / Σ year                                                 τ (year end)
``cv_month``          √mean(within-year variance of monthly a) / mean(monthly a)          ψ (effort moves)
``cv_quarter``        as ``cv_month``, quarters                                           ψ, τ
``slope_month3``      within-year slope of month-3 revenue on quarter-to-date attainment  ψ, τ (state response)
``slope_pay``         within-year slope of monthly revenue on the plan's marginal pay     ψ (1/ψ elasticity)
====================  =================================================================  ====================

The marginal pay of month ``t`` is what one more dollar in the current quarter adds to the year's pay (the payout
engine, true-up included) when the months before ``t`` are as booked and the months from ``t`` on run at the
rep-year's average, relative to the plan's pay rate on quota. Docs: ``docs/calibration.md``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from spmopt.errors import InputError
from spmopt.plans.model import Plan
from spmopt.sim.behaviour import Behaviour
from spmopt.sim.inputs import DEFAULT_CYCLE_DAYS, Reps
from spmopt.sim.market import Calendar
from spmopt.sim.pay import plan_context

DEFAULT_WIN_RATE = 0.25       # fixed: only opportunities × win rate (the deal rate) is identified
MIN_REP_YEARS = 8             # fewer rep-years cannot support a bootstrap over reps or eight moments
MIN_DEALS = 10                # pooled deal-size CV needs a few deals
LEVEL_TOL = 0.02              # fixed point (2): simulated revenue within 2 % of E_r (root mean square over reps,
                              # on top of the simulation noise of the reps' means)
LEVEL_ROUNDS = 2              # at most this many deal-rate updates after the first search
BOOTSTRAP = 300               # bootstrap replications of the data moments
FD_STEP = (0.2, 0.04)         # central-difference steps for G: in log ψ and in τ
BOUNDS = ((math.log(0.5), math.log(20.0)), (0.0, 0.8))
PARAMS = ("effort_curvature", "timing_cost")
MOMENTS = ("share_month1", "share_month3", "share_q4", "share_december", "cv_month", "cv_quarter",
           "slope_month3", "slope_pay")
WEAK = 0.25                   # ‖W^½ G_j‖ below this: the moments hardly move with parameter j (not identified)


class CalibrationError(InputError):
    """A history that cannot identify what calibration estimates (too few rep-years, no quarter structure …)."""


# ------------------------------------------------------------------------------------------------------- history
@dataclass(frozen=True)
class History:
    """Monthly revenue of the history's complete rep-years, with the deals behind it.

    ``rep_ids[i]``/``years[i]`` name rep-year ``i``; ``monthly`` (N, 12) its revenue by month; ``quota`` (N,) its
    annual quota (the sum of its plan-period quotas); ``deals`` each rep's positive deal values (all years)."""

    rep_ids: tuple[str, ...]
    years: np.ndarray
    monthly: np.ndarray
    quota: np.ndarray
    deals: dict[str, np.ndarray]
    measure: str
    source: str
    aggregated: bool = False        # one row per rep and month: deal sizes cannot be read from it
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.rep_ids)

    @property
    def reps(self) -> list[str]:
        return list(dict.fromkeys(self.rep_ids))


def read_history(actuals: pd.DataFrame, quotas: pd.DataFrame, plan: Plan) -> History:
    """Validate a history for calibration. ``actuals``/``quotas`` are raw tables (as
    :func:`spmopt.data.io.read_table` gives; read here with the back-test's readers) or already read by
    :func:`spmopt.plans.backtest.read_actuals`/:func:`~spmopt.plans.backtest.read_quotas`."""
    from spmopt.data.validate import check_spellings
    from spmopt.plans.backtest import plan_quotas, read_actuals, read_quotas

    a = actuals if "row" in actuals.columns else read_actuals(actuals)
    q = quotas if "grain" in quotas.columns else read_quotas(quotas)
    a_src, q_src = a.attrs.get("source", "<actuals>"), q.attrs.get("source", "<quotas>")
    for col in ("rep_id", "measure"):
        check_spellings(a[col], a["row"], source=a_src, column=col, other=q[col], other_source=q_src)
    plan_src = plan.source or plan.name
    if plan.period != "quarter":
        raise CalibrationError(f"the plan pays per {plan.period}: calibration reads the timing cost from "
                               "quarter-end bunching and needs a quarterly plan (period: quarter)", source=plan_src)
    measure = plan.primary_measure
    known = sorted(a["measure"].unique())
    if not len(a):
        raise InputError("no credited rows (the file has a header only)", source=a_src)
    if measure not in known:
        raise InputError(f"the plan's revenue measure '{measure}' is not a measure of this file (measures there: "
                         f"{', '.join(known)})", source=a_src, column="measure")
    pq, notes = plan_quotas(q, "Q", {measure: "sum"})
    pq = pq[pq["measure"] == measure]
    if not len(pq):
        raise InputError(f"no quotas for the measure '{measure}'", source=q_src, column="measure")
    pq = pq.assign(year=[p.year for p in pq["period"]], quarter=[p.quarter for p in pq["period"]])
    notes = list(notes)
    units, dropped = [], []
    for (rep, year), g in pq.groupby(["rep_id", "year"], sort=True):
        if set(g["quarter"]) == {1, 2, 3, 4}:
            units.append((rep, int(year), float(g["quota"].sum())))
        else:
            dropped.append(f"{rep} {year} ({len(set(g['quarter']))} of 4 quarters)")
    if dropped:
        notes.append(f"{len(dropped)} rep-year(s) without a quota for every quarter left out: "
                     + ", ".join(dropped[:5]) + (" …" if len(dropped) > 5 else ""))
    rev = a[a["measure"] == measure]
    key = {(r, y): i for i, (r, y, _) in enumerate(units)}
    yrs = rev["date"].dt.year.to_numpy()
    idx = np.array([key.get((r, int(y)), -1) for r, y in zip(rev["rep_id"], yrs, strict=True)], dtype=int)
    outside = int((idx < 0).sum())
    if outside:
        notes.append(f"{outside} revenue row(s) of {a_src} outside the rep-years with quotas left out")
    ok = idx >= 0
    monthly = np.zeros((len(units), 12))
    np.add.at(monthly, (idx[ok], rev["date"].dt.month.to_numpy()[ok] - 1), rev["value"].to_numpy()[ok])
    n = len(units)
    if n < MIN_REP_YEARS:
        raise CalibrationError(f"{n} complete rep-year(s) (a rep's year with quotas for all four quarters): at "
                               f"least {MIN_REP_YEARS} are needed to estimate the behaviour (the standard errors "
                               "come from a bootstrap over reps)", source=a_src)
    kept = rev[ok]
    per_q = monthly.reshape(n, 4, 3)
    months_used = (per_q > 0).sum(axis=-1)
    if (months_used[per_q.sum(axis=-1) > 0] <= 1).all():
        raise CalibrationError("every quarter's revenue is booked in a single month (quarterly totals?): the "
                               "monthly profile within quarters, which identifies the timing cost, is not there",
                               source=a_src)
    cell = kept.assign(m=kept["date"].dt.month).groupby(["rep_id", kept["date"].dt.year, "m"]).size()
    aggregated = bool(len(cell) and (cell == 1).all() and len(cell) >= 0.9 * 12 * n)
    deals = {r: g["value"].to_numpy(float)[g["value"].to_numpy(float) > 0]
             for r, g in kept.groupby("rep_id", sort=False)}
    rep_ids = tuple(u[0] for u in units)
    for r in dict.fromkeys(rep_ids):
        deals.setdefault(r, np.zeros(0))
    return History(rep_ids=rep_ids, years=np.array([u[1] for u in units]), monthly=monthly,
                   quota=np.array([u[2] for u in units]), deals=deals, measure=measure, source=a_src,
                   aggregated=aggregated, notes=tuple(notes))


def read_sizes(df: pd.DataFrame) -> pd.DataFrame:
    """Validate a deal-size table ``rep_id, deal_size_mean, deal_size_cv`` (a reps file will do; other columns are
    ignored). Errors name file, row and column."""
    from spmopt.data.validate import _ids, _rows, _source, parse_numeric

    source = _source(df, "<reps>")
    for c in ("rep_id", "deal_size_mean", "deal_size_cv"):
        if c not in df.columns:
            raise InputError(f"required column '{c}' is missing (columns found: {', '.join(map(str, df.columns))})",
                             source=source)
    ids = _ids(df, "rep_id", source)
    mean = parse_numeric(df, "deal_size_mean", source, nonnegative=True, what="mean deal size")
    cv = parse_numeric(df, "deal_size_cv", source, nonnegative=True, what="deal size CV")
    for r, v in zip(_rows(df), mean, strict=True):
        if not v > 0:
            raise InputError(f"mean deal size must be > 0, got {v:g}", source=source, row=int(r),
                             column="deal_size_mean", value=v)
    out = pd.DataFrame({"rep_id": ids, "deal_size_mean": mean, "deal_size_cv": cv})
    out.attrs["source"] = source
    return out


# ---------------------------------------------------------------------------------- rep parameters (closed form)
@dataclass(frozen=True)
class RepEstimates:
    """Closed-form rep parameters (per rep, in the order of :attr:`History.reps`)."""

    rep_ids: tuple[str, ...]
    deal_size_mean: np.ndarray
    deal_size_cv: float
    deals: np.ndarray               # deals in the history
    years: np.ndarray               # complete years in the history
    revenue: np.ndarray             # mean annual revenue Ȳ_r
    expected: np.ndarray            # E_r (eq. 3)
    shrinkage: np.ndarray           # w_r


def deal_sizes(history: History) -> tuple[np.ndarray, float]:
    """Mean deal size per rep (the mean of its deal values; the team's mean for a rep without deals) and the pooled
    log-normal CV ``sqrt(exp(s²) − 1)``, ``s²`` the pooled within-rep variance of log deal values."""
    reps = history.reps
    all_deals = np.concatenate([history.deals[r] for r in reps])
    if len(all_deals) < MIN_DEALS:
        raise CalibrationError(f"{len(all_deals)} deal(s) with a positive value: at least {MIN_DEALS} are needed "
                               "to estimate deal sizes", source=history.source)
    mean = np.array([history.deals[r].mean() if len(history.deals[r]) else all_deals.mean() for r in reps])
    ss, dof = 0.0, 0
    for r in reps:
        lv = np.log(history.deals[r])
        if len(lv) > 1:
            ss += float(((lv - lv.mean()) ** 2).sum())
            dof += len(lv) - 1
    if dof < 2:
        raise CalibrationError("no rep has two deals: the deal-size CV cannot be estimated", source=history.source)
    return mean, float(np.sqrt(np.expm1(ss / dof)))


def rep_estimates(history: History, sizes: pd.DataFrame | None = None) -> RepEstimates:
    """The closed-form rep parameters. ``sizes`` (``rep_id, deal_size_mean, deal_size_cv``) fixes the deal sizes
    instead of estimating them (a history of monthly totals, or known values)."""
    reps = history.reps
    ids = np.array(history.rep_ids)
    years = np.array([(ids == r).sum() for r in reps])
    revenue = np.array([history.monthly[ids == r].sum() for r in reps]) / years
    if sizes is not None:
        by = sizes.set_index("rep_id")
        missing = [r for r in reps if r not in by.index]
        if missing:
            raise InputError(f"no deal sizes for rep(s) {', '.join(missing[:8])}",
                             source=str(sizes.attrs.get("source", "<reps>")), column="rep_id")
        mean = by.loc[reps, "deal_size_mean"].to_numpy(float)
        cv = float(np.mean(by.loc[reps, "deal_size_cv"].to_numpy(float)))
    elif history.aggregated:
        raise CalibrationError("the history has one revenue row per rep and month (monthly totals): deal sizes "
                               "cannot be read from it; give the reps' deal sizes (--reps)", source=history.source)
    else:
        mean, cv = deal_sizes(history)
    n_deals = revenue * years / mean                       # deals booked (a revenue-equivalent count)
    noise = (1 + cv * cv) / np.maximum(n_deals, 1.0)       # variance of log Ȳ_r around log E_r
    logy = np.log(np.maximum(revenue, 0.5 * mean))
    between = max(float(np.var(logy)) - float(noise.mean()), 0.0) if len(reps) > 1 else 0.0
    w = between / (between + noise) if between > 0 else np.zeros(len(reps))
    expected = np.exp(logy.mean() + w * (logy - logy.mean()))
    return RepEstimates(rep_ids=tuple(reps), deal_size_mean=mean, deal_size_cv=cv, deals=n_deals, years=years,
                        revenue=revenue, expected=expected, shrinkage=w)


# ------------------------------------------------------------------------------------------------------- moments
def _within_slope(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per rep-year (leading axes): Σ x̃ỹ and Σ x̃² over the last axis, x̃ and ỹ demeaned within the rep-year."""
    xd = x - x.mean(axis=-1, keepdims=True)
    yd = y - y.mean(axis=-1, keepdims=True)
    return (xd * yd).sum(axis=-1), (xd * xd).sum(axis=-1)


def marginal_pay(monthly: np.ndarray, ctx) -> np.ndarray:
    """(…, R, 12): what one more dollar booked in month ``t``'s quarter adds to the year's pay when the months
    before ``t`` are as booked and the rest run at the rep-year's average month, over the plan's rate on quota."""
    P = ctx.periods
    L = 12 // P
    avg = monthly.sum(axis=-1, keepdims=True) / 12
    q = ctx.quota_per_period[:, 0]
    bump = 0.05 * q
    out = np.zeros(monthly.shape)
    for t in range(12):
        proj = monthly.copy()
        proj[..., t:] = avg
        per = ctx.to_periods(proj)
        base = ctx.pay_periods(per).total.sum(axis=-1)
        per[..., t // L] += bump
        out[..., t] = (ctx.pay_periods(per).total.sum(axis=-1) - base) / bump
    return out / ctx.reference_rate()[:, None]


def contributions(monthly: np.ndarray, ctx) -> np.ndarray:
    """Per rep-year sums (…, R, C) the moments are ratios of means of (see :func:`moments_from`)."""
    q = ctx.quota_per_period[:, 0] * ctx.periods                    # (R,) annual quota
    a = monthly / q[:, None]
    quarters = a.reshape(*a.shape[:-1], 4, 3)
    qt = quarters.sum(axis=-1)
    sxy3, sxx3 = _within_slope(quarters[..., :2].sum(axis=-1) * 4, quarters[..., 2] * 4)
    sxyp, sxxp = _within_slope(marginal_pay(monthly, ctx), a * 12)
    cols = [a.sum(axis=-1), quarters[..., 0].sum(axis=-1), quarters[..., 2].sum(axis=-1), qt[..., 3], a[..., 11],
            a.var(axis=-1), qt.var(axis=-1), sxy3, sxx3, sxyp, sxxp]
    return np.stack(cols, axis=-1)


def moments_from(mean_contrib: np.ndarray) -> np.ndarray:
    """The moment vector (…, K) from mean contributions (…, C) (order: :data:`MOMENTS`)."""
    c = np.moveaxis(mean_contrib, -1, 0)
    tot, m1, m3, q4, dec, vm, vq, sxy3, sxx3, sxyp, sxxp = c
    with np.errstate(divide="ignore", invalid="ignore"):
        out = [m1 / tot, m3 / tot, q4 / tot, dec / tot, np.sqrt(vm) / (tot / 12), np.sqrt(vq) / (tot / 4),
               sxy3 / sxx3, sxyp / sxxp]
    return np.nan_to_num(np.stack(out, axis=-1), nan=0.0, posinf=0.0, neginf=0.0)


def bootstrap_cov(contrib: np.ndarray, rep_of: np.ndarray, *, seed: int, n: int = BOOTSTRAP) -> np.ndarray:
    """Covariance Ω of the data moments: ``n`` resamples of whole reps (all their years), with replacement."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(991,)))
    reps = np.unique(rep_of)
    per_rep = np.stack([contrib[rep_of == r].sum(axis=0) for r in reps])
    years = np.array([(rep_of == r).sum() for r in reps], dtype=float)
    pick = rng.integers(0, len(reps), (n, len(reps)))
    mean = per_rep[pick].sum(axis=1) / years[pick].sum(axis=1)[:, None]
    return np.atleast_2d(np.cov(moments_from(mean), rowvar=False))


# --------------------------------------------------------------------------------------------------- simulation
def single_threaded_blas():
    """BLAS on one thread while the rep programmes are solved: their matrix products are small, and threads only
    contend (with two busy cores a solve is three times slower with threads than without)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def simulate_units(units: Reps, plan: Plan, behaviour: Behaviour, *, trials: int, seed: int,
                   year: int) -> np.ndarray:
    """Monthly revenue (trials, units, 12) of one simulated year per trial, every unit's policy solved first."""
    from spmopt.sim.engine import prepare
    from spmopt.sim.vector import BehaviourModel

    spec = prepare(units, [plan], None, seed=seed, behaviour=behaviour, engine="vector", year=year,
                   marginal=False).spec
    ctx = plan_context(plan, units, spec.cal)
    keys = tuple((f"0:{s.name}", s) for s in ctx.spiffs)
    model = BehaviourModel(spec.reps, spec.cases[0], spec.cal, behaviour, spec.policies[(0, 0)], keys,
                           ctx.periods, 1, spec.quota_rule)
    return model.run(seed, range(trials))[0].revenue


def behaviour_at(theta: np.ndarray, base: Behaviour) -> Behaviour:
    """The :class:`Behaviour` at optimiser coordinates ``(log ψ, τ)``."""
    tau = float(np.clip(theta[1], 0.0, 0.99))
    return base.model_copy(update={"effort_curvature": float(np.exp(theta[0])), "push_loss": tau,
                                   "pull_loss": tau})


# ------------------------------------------------------------------------------------------------------- result
@dataclass
class Calibration:
    """The calibration's answer: parameters with standard errors and 95 % intervals, the moments with their
    fitted values, the fitted behaviour and reps, and the fit report's tables."""

    status: str                         # converged | budget (evaluation budget used up)
    objective: float                    # g'Wg at the estimate
    parameters: pd.DataFrame            # parameter, estimate, se, ci_low, ci_high, identified, at_bound
    moments: pd.DataFrame               # moment, observed, fitted, sd, t
    behaviour: Behaviour
    reps: pd.DataFrame                  # the fitted reps file (spmopt simulate)
    profile: pd.DataFrame               # month, observed, fitted (share of the year's revenue)
    attainment: pd.DataFrame            # quantile, observed, fitted (quarterly attainment)
    evaluations: int
    seconds: float
    trials: int
    seed: int
    rep_years: int
    plan: str
    method: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    quarterly_observed: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    quarterly_fitted: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    def estimate(self, name: str) -> float:
        return float(self.parameters.set_index("parameter").loc[name, "estimate"])

    def summary(self) -> dict:
        def num(v):
            return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v

        return {
            "status": self.status, "objective": num(float(self.objective)), "evaluations": self.evaluations,
            "seconds": round(self.seconds, 2), "trials": self.trials, "seed": self.seed, "plan": self.plan,
            "rep_years": self.rep_years, "reps": len(self.reps),
            "parameters": [{k: num(v) if isinstance(v, float) else v for k, v in r.items()}
                           for r in self.parameters.to_dict("records")],
            "moments": [{k: num(v) if isinstance(v, float) else v for k, v in r.items()}
                        for r in self.moments.to_dict("records")],
            "behaviour": self.behaviour.model_dump(), "method": self.method, "notes": self.notes,
        }


class _Budget(Exception):
    """The evaluation budget is used up."""


# ------------------------------------------------------------------------------------------------------ the fit
@dataclass
class _Problem:
    """Everything an evaluation needs (the build step's output)."""

    history: History
    plan: Plan
    base: Behaviour
    est: RepEstimates
    units: Reps                  # one unit per (rep, annual quota)
    unit_rep: np.ndarray         # (U,) index into est.rep_ids
    weight: np.ndarray           # (U,) rep-years of the unit / N
    ctx_units: object
    observed: np.ndarray         # (K,)
    omega: np.ndarray            # (K, K)
    trials: int
    seed: int
    year: int
    win_rate: float
    cycle_days: float


def build(history: History, plan: Plan, *, trials: int, seed: int, sizes: pd.DataFrame | None = None,
          behaviour: Behaviour | None = None, win_rate: float = DEFAULT_WIN_RATE,
          cycle_days: float = DEFAULT_CYCLE_DAYS) -> _Problem:
    """Closed-form rep parameters, simulation units, data moments and their bootstrap covariance."""
    est = rep_estimates(history, sizes)
    base = (behaviour or Behaviour(grid=41, effort_steps=12)).model_copy(update={"mode": "full"})
    rep_ix = {r: i for i, r in enumerate(est.rep_ids)}
    pairs = list(dict.fromkeys((r, float(q)) for r, q in zip(history.rep_ids, history.quota, strict=True)))
    unit_rep = np.array([rep_ix[r] for r, _ in pairs])
    count = np.array([sum(1 for r, q in zip(history.rep_ids, history.quota, strict=True) if (r, float(q)) == p)
                      for p in pairs], dtype=float)
    lam = est.expected / est.deal_size_mean                         # effort 1: deals a year
    units = Reps(ids=tuple(f"{r}#{k}" for k, (r, _) in enumerate(pairs)), quota=np.array([q for _, q in pairs]),
                 opportunities=lam[unit_rep] / win_rate, win_rate=np.full(len(pairs), win_rate),
                 deal_size_mean=est.deal_size_mean[unit_rep], deal_size_cv=np.full(len(pairs), est.deal_size_cv),
                 cycle_days=np.full(len(pairs), float(cycle_days)), skill=np.ones(len(pairs)), source="<calibration>")
    year = int(history.years.min())
    cal = Calendar(year)
    data_reps = replace(units, ids=tuple(f"{r}/{y}" for r, y in zip(history.rep_ids, history.years, strict=True)),
                        quota=history.quota, opportunities=np.ones(len(history)), win_rate=np.full(len(history), .5),
                        deal_size_mean=np.ones(len(history)), deal_size_cv=np.ones(len(history)),
                        cycle_days=np.ones(len(history)), skill=np.ones(len(history)))
    ctx_data = plan_context(plan, data_reps, cal)
    contrib = contributions(history.monthly[None], ctx_data)[0]     # (N, C)
    observed = moments_from(contrib.mean(axis=0))
    rep_of = np.array([rep_ix[r] for r in history.rep_ids])
    omega = bootstrap_cov(contrib, rep_of, seed=seed)
    return _Problem(history=history, plan=plan, base=base, est=est, units=units, unit_rep=unit_rep,
                    weight=count / len(history), ctx_units=plan_context(plan, units, cal), observed=observed,
                    omega=omega, trials=int(trials), seed=int(seed), year=year, win_rate=win_rate,
                    cycle_days=float(cycle_days))


class _Evaluator:
    """Simulated moments at θ for the current deal rates, cached and counted against the budget."""

    def __init__(self, prob: _Problem, budget: int, progress: Callable[[int, int, str], None] | None) -> None:
        self.prob, self.budget, self.progress = prob, budget, progress
        self.count = 0
        self.cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self.lam_key = 0
        self.best: tuple[float, np.ndarray] | None = None
        sd = np.sqrt(np.diag(prob.omega) * (1 + 1 / prob.trials))
        self.scale = np.where(sd > 0, sd, np.inf)

    def simulate(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(moments (K,), monthly revenue (T, U, 12)) at θ."""
        key = (self.lam_key, *np.round(theta, 10))
        if key in self.cache:
            return self.cache[key]
        if self.count >= self.budget:
            raise _Budget
        p = self.prob
        monthly = simulate_units(p.units, p.plan, behaviour_at(theta, p.base), trials=p.trials, seed=p.seed,
                                 year=p.year)
        self.count += 1
        contrib = contributions(monthly, p.ctx_units)                         # (T, U, C)
        mean = np.tensordot(contrib.mean(axis=0), p.weight, axes=([0], [0]))   # weights sum to 1
        m = moments_from(mean)
        self.cache[key] = (m, monthly)
        obj = float(self.residual(m) @ self.residual(m))
        if self.best is None or obj < self.best[0]:
            self.best = (obj, np.array(theta, dtype=float))
        if self.progress:
            self.progress(self.count, self.budget, f"ψ {np.exp(theta[0]):.2f}, τ {theta[1]:.3f}: objective {obj:.2f}")
        return m, monthly

    def residual(self, m: np.ndarray) -> np.ndarray:
        return (m - self.prob.observed) / self.scale

    def jacobian(self, theta: np.ndarray, *, central: bool = True) -> np.ndarray:
        """G = ∂m/∂θ (K, 2) by central differences (forward ones while searching; one-sided at a bound)."""
        cols = []
        for j, h in enumerate(FD_STEP):
            lo, hi = BOUNDS[j]
            up, dn = theta.copy(), theta.copy()
            if central:
                up[j], dn[j] = min(theta[j] + h, hi), max(theta[j] - h, lo)
            elif theta[j] + h <= hi:
                up[j] = theta[j] + h
            else:
                dn[j] = theta[j] - h
            cols.append((self.simulate(up)[0] - self.simulate(dn)[0]) / (up[j] - dn[j]))
        return np.stack(cols, axis=1)


def _level_noise(prob: _Problem) -> float:
    """Root mean square simulation noise of the reps' simulated mean revenue (compound Poisson: a rep with ``n``
    deals a year over ``S`` years has a relative standard error of ``sqrt((1 + cv²) / (n·S))``)."""
    R = len(prob.est.rep_ids)
    w = np.bincount(prob.unit_rep, prob.weight, R)
    sims = np.bincount(prob.unit_rep, minlength=R) * prob.trials
    n = prob.est.expected / prob.est.deal_size_mean
    var = (1 + prob.est.deal_size_cv ** 2) / np.maximum(n * sims, 1.0)
    return float(np.sqrt(np.sum(w * var) / np.sum(w)))


def _update_rates(prob: _Problem, monthly: np.ndarray) -> tuple[_Problem, float]:
    """Fixed point (2): scale each rep's deal rate by E_r / M_r; returns the new problem and the root mean square
    of E_r/M_r − 1 over the history's rep-years (each rep's simulated mean carries simulation noise, so a largest
    gap would never get small)."""
    annual = monthly.sum(axis=-1).mean(axis=0)                       # (U,)
    R = len(prob.est.rep_ids)
    w = np.bincount(prob.unit_rep, prob.weight, R)
    sim = np.bincount(prob.unit_rep, prob.weight * annual, R) / np.where(w > 0, w, 1)
    ratio = np.where(sim > 0, prob.est.expected / np.where(sim > 0, sim, 1), 2.0)
    ratio = np.clip(ratio, 0.5, 2.0)
    units = replace(prob.units, opportunities=prob.units.opportunities * ratio[prob.unit_rep])
    return replace(prob, units=units), float(np.sqrt(np.sum(w * (ratio - 1) ** 2) / np.sum(w)))


def calibrate(history: pd.DataFrame | History, plan: Plan, quotas: pd.DataFrame | None = None, *,
              trials: int = 100, seed: int = 0, evaluations: int = 60, sizes: pd.DataFrame | None = None,
              behaviour: Behaviour | None = None, start: tuple[float, float] | None = None, coarse: bool = True,
              progress: Callable[[int, int, str], None] | None = None) -> Calibration:
    """Estimate ψ and the timing cost τ (and the reps' deal rates and sizes) from history by simulated method of
    moments (module docstring; ``docs/calibration.md``).

    Parameters
    ----------
    history : the actuals table ``rep_id,date,measure,value`` (with ``quotas``), or a :class:`History`.
    plan : the plan the history was paid under (quarterly).
    trials : simulated years per rep-year of history (``S``); the standard errors carry the factor ``1 + 1/S``.
    seed : the common random numbers: the same seed at every evaluation.
    evaluations : budget of simulations (each solves every rep's programme once); on reaching it the best point so
        far is returned with status ``budget``.
    sizes : ``rep_id, deal_size_mean, deal_size_cv`` to use instead of the closed-form deal sizes.
    behaviour : the other behaviour settings (grid, effort range, discounts; default grid 41, 12 effort steps).
    start : ``(ψ, τ)`` to start from (default: the behaviour's, 3 and 0.1) — with ``coarse`` a 2×2 grid around
        it is tried too and the best point starts the search.
    progress : called as ``progress(evaluations_done, budget, message)``.
    """
    from scipy.optimize import least_squares

    t0 = time.perf_counter()
    if trials < 2:
        raise InputError(f"trials must be at least 2, got {trials}")
    if evaluations < 8:
        raise InputError(f"evaluations must be at least 8 (a start, a search and the Jacobian), got {evaluations}")
    if not isinstance(history, History):
        if quotas is None:
            raise InputError("give the quotas of the history (rep_id,period,measure,quota)")
        history = read_history(history, quotas, plan)
    prob = build(history, plan, trials=trials, seed=seed, sizes=sizes, behaviour=behaviour)
    base = prob.base
    x0 = np.array([math.log(start[0] if start else base.effort_curvature), start[1] if start else base.push_loss])
    x0 = np.clip(x0, [b[0] for b in BOUNDS], [b[1] for b in BOUNDS])
    ev = _Evaluator(prob, evaluations, progress)
    tol = math.hypot(LEVEL_TOL, _level_noise(prob))      # what simulation noise alone leaves
    notes = list(history.notes)
    status = "converged"
    level_gap = float("nan")
    x = x0.copy()
    with single_threaded_blas():
        try:
            # deal rates at effort 1 assumed, then one fixed-point step at the start point
            _, monthly = ev.simulate(x)
            ev.prob, level_gap = _update_rates(ev.prob, monthly)
            ev.lam_key += 1
            ev.best = None
            if coarse:
                grid = [x] + [np.array([x[0] + dx, np.clip(x[1] + dt, *BOUNDS[1])])
                              for dx in (-0.7, 0.7) for dt in (-0.08, 0.15)]
                x = min(grid, key=lambda g: float(np.sum(ev.residual(ev.simulate(g)[0]) ** 2)))
            for rnd in range(LEVEL_ROUNDS + 1):
                fit = least_squares(lambda th: ev.residual(ev.simulate(th)[0]), x,
                                    jac=lambda th: ev.jacobian(th, central=False) / ev.scale[:, None],
                                    bounds=([b[0] for b in BOUNDS], [b[1] for b in BOUNDS]),
                                    x_scale=np.array(FD_STEP), xtol=0.02, ftol=1e-3,
                                    max_nfev=None if rnd == 0 else 4)
                x = fit.x
                _, monthly = ev.simulate(x)
                new, level_gap = _update_rates(ev.prob, monthly)
                if level_gap < tol or rnd == LEVEL_ROUNDS:
                    break
                ev.prob = new
                ev.lam_key += 1
                ev.best = None
        except _Budget:
            status = "budget"
            if ev.best is not None:
                x = ev.best[1]
    prob = ev.prob
    # the standard errors (4): Jacobian at the estimate (may exceed the budget by its four evaluations)
    ev.budget = max(ev.budget, ev.count + 2 * len(FD_STEP) + 1)
    with single_threaded_blas():
        m_hat, monthly = ev.simulate(x)
        G = ev.jacobian(x)
    _, level_gap = _update_rates(prob, monthly)
    if level_gap >= tol:
        notes.append(f"deal rates: the reps' simulated revenue is off their target by {100 * level_gap:.1f} % "
                     f"(root mean square; simulation noise alone: {100 * _level_noise(prob):.1f} %)")
    params, W = _standard_errors(G, prob.omega, ev.scale, x, prob.trials, notes)
    r = ev.residual(m_hat)
    bad = [f"{k} (t = {t:+.1f})" for k, t in zip(MOMENTS, r, strict=True) if abs(t) > 3]
    if bad:
        notes.append("the fitted model misses " + ", ".join(bad) + ": the history shows what the model cannot "
                     "produce at any parameter value tried (read the estimates as the closest the model gets)")
    moments = pd.DataFrame({"moment": MOMENTS, "observed": prob.observed, "fitted": m_hat,
                            "sd": np.sqrt(np.diag(prob.omega)), "t": r})
    bh = behaviour_at(x, base)
    reps_frame = _reps_frame(prob)
    profile, attainment, q_obs, q_fit = _fit_tables(prob, monthly)
    return Calibration(status=status, objective=float(r @ r), parameters=params, moments=moments, behaviour=bh,
                       reps=reps_frame, profile=profile, attainment=attainment, evaluations=ev.count,
                       seconds=time.perf_counter() - t0, trials=prob.trials, seed=prob.seed, rep_years=len(history),
                       plan=plan.name, notes=notes, quarterly_observed=q_obs, quarterly_fitted=q_fit,
                       method={"estimator": "simulated method of moments", "weighting": "diag(1/((1+1/S) Ω_kk))",
                               "standard_errors": "sandwich (4): central-difference G, Ω from a bootstrap over reps "
                                                  f"({BOOTSTRAP} resamples), × (1 + 1/S)",
                               "optimiser": "2×2 start grid, then trust-region least squares (scipy)",
                               "fd_steps": {"log_effort_curvature": FD_STEP[0], "timing_cost": FD_STEP[1]},
                               "win_rate": prob.win_rate, "cycle_days": prob.cycle_days,
                               "deal_size_cv": prob.est.deal_size_cv, "year": prob.year,
                               "revenue_gap_rms": round(level_gap, 4),
                               "revenue_noise_rms": round(_level_noise(prob), 4)})


def _standard_errors(G: np.ndarray, omega: np.ndarray, scale: np.ndarray, x: np.ndarray, S: int,
                     notes: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """Parameters table with the sandwich standard errors (4) and 95 % intervals (``log ψ`` scale for ψ)."""
    W = np.diag(1 / scale ** 2)
    strength = np.sqrt(np.diag(G.T @ W @ G))               # ‖W^½ G_j‖: moment movement per unit of θ_j, in sds
    ok = strength >= WEAK
    se = np.full(2, np.nan)
    if ok.any():
        Gk = G[:, ok]
        A = np.linalg.pinv(Gk.T @ W @ Gk)
        V = (1 + 1 / S) * A @ Gk.T @ W @ omega @ W @ Gk @ A
        se[ok] = np.sqrt(np.maximum(np.diag(V), 0))
    rows = []
    for j, name in enumerate(PARAMS):
        at_bound = bool(min(abs(x[j] - BOUNDS[j][0]), abs(x[j] - BOUNDS[j][1])) < 0.01)
        lo_x, hi_x = x[j] - 1.96 * se[j], x[j] + 1.96 * se[j]
        if j == 0:
            est, lo, hi, se_nat = math.exp(x[0]), math.exp(lo_x), math.exp(hi_x), math.exp(x[0]) * se[0]
        else:
            est, lo, hi, se_nat = x[1], max(lo_x, 0.0), min(hi_x, 0.99), se[1]
        if at_bound:
            notes.append(f"{name} is at the edge of its search range ({est:.3g})")
        if ok[j] and j == 0 and hi / lo > 20:
            notes.append(f"{name} is weakly identified by this history: its 95 % interval spans a factor "
                         f"{hi / lo:.0f}")
        if not ok[j]:
            notes.append(f"{name} is not identified by this history: the moments move by less than {WEAK} of their "
                         f"standard deviation per unit of it (no interval reported)")
            lo = hi = se_nat = float("nan")
        rows.append({"parameter": name, "estimate": float(est), "se": float(se_nat), "ci_low": float(lo),
                     "ci_high": float(hi), "scale": "log" if j == 0 else "linear",
                     "se_on_scale": float(se[j]), "identified": bool(ok[j]), "at_bound": at_bound})
    return pd.DataFrame(rows), W


def _reps_frame(prob: _Problem) -> pd.DataFrame:
    """The fitted reps file: one row per rep, its latest annual quota."""
    est, h = prob.est, prob.history
    ids = np.array(h.rep_ids)
    last_q = [float(h.quota[ids == r][np.argmax(h.years[ids == r])]) for r in est.rep_ids]
    opp = np.array([prob.units.opportunities[prob.unit_rep == i][0] for i in range(len(est.rep_ids))])
    return pd.DataFrame({"rep_id": est.rep_ids, "quota": last_q, "opportunities_per_year": np.round(opp, 3),
                         "win_rate": prob.win_rate, "deal_size_mean": np.round(est.deal_size_mean, 2),
                         "deal_size_cv": round(est.deal_size_cv, 4), "cycle_days": prob.cycle_days, "skill": 1.0})


def _fit_tables(prob: _Problem, monthly: np.ndarray):
    """Monthly profile (share of the year's revenue per month) and quarterly attainment quantiles, observed and
    fitted (simulated rep-years weighted like the history's)."""
    h = prob.history
    obs_share = h.monthly.sum(axis=0) / h.monthly.sum()
    w = prob.weight[None, :, None]
    sim_share = (monthly * w / prob.units.quota[None, :, None]).sum(axis=(0, 1))
    obs_share_q = (h.monthly / h.quota[:, None]).sum(axis=0)
    profile = pd.DataFrame({"month": np.arange(1, 13), "observed": obs_share,
                            "observed_quota_weighted": obs_share_q / obs_share_q.sum(),
                            "fitted": sim_share / sim_share.sum()})
    q_obs = (h.monthly.reshape(-1, 4, 3).sum(axis=-1) / (h.quota[:, None] / 4)).ravel()
    T, U, _ = monthly.shape
    per_unit = monthly.reshape(T, U, 4, 3).sum(axis=-1) / (prob.units.quota[None, :, None] / 4)
    reps_w = np.repeat(np.round(prob.weight * len(h)).astype(int), 4)
    q_fit = np.repeat(per_unit.transpose(1, 2, 0).reshape(U * 4, T), reps_w, axis=0).ravel()
    qs = np.array([0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95])
    attainment = pd.DataFrame({"quantile": qs, "observed": np.quantile(q_obs, qs), "fitted": np.quantile(q_fit, qs)})
    return profile, attainment, q_obs, q_fit


# ------------------------------------------------------------------------------------------ synthetic histories
def synthetic_history(reps: Reps, plan: Plan, behaviour: Behaviour, *, years: int, seed: int,
                      first_year: int = 2025) -> tuple[pd.DataFrame, pd.DataFrame]:
    """History drawn from the model itself (what calibration should recover): ``years`` independent simulated
    years of every rep under ``plan`` with ``behaviour`` (vector engine), as an actuals table of one revenue row
    per rep and month (dated the 15th) and a quotas table (the rep's annual quota in equal quarters). The vector
    engine books months, not deals: give calibration the reps' deal sizes (``sizes=``)."""
    with single_threaded_blas():
        monthly = simulate_units(reps, plan, behaviour, trials=years, seed=seed, year=first_year)
    rows, qrows = [], []
    for k in range(years):
        y = first_year + k
        for r, rid in enumerate(reps.ids):
            for m in range(12):
                rows.append((rid, f"{y}-{m + 1:02d}-15", plan.primary_measure, round(float(monthly[k, r, m]), 2)))
            for qn in range(1, 5):
                qrows.append((rid, f"{y}-Q{qn}", plan.primary_measure, float(reps.quota[r]) / 4))
    actuals = pd.DataFrame(rows, columns=["rep_id", "date", "measure", "value"])
    quotas = pd.DataFrame(qrows, columns=["rep_id", "period", "measure", "quota"])
    return actuals, quotas


# ---------------------------------------------------------------------------------------------- report (edges)
def plot_fit(cal: Calibration, axes=None):
    """The fit report's figure: observed vs fitted monthly profile, and quarterly attainment distributions.
    Returns the two axes."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax1, ax2 = axes
    p = cal.profile
    ax1.bar(p["month"] - 0.2, p["observed"], width=0.4, label="history", color="#4c72b0")
    ax1.bar(p["month"] + 0.2, p["fitted"], width=0.4, label="fitted model", color="#dd8452")
    ax1.set_xticks(range(1, 13))
    ax1.set_xlabel("month")
    ax1.set_ylabel("share of the year's revenue")
    ax1.set_title("Monthly profile")
    ax1.legend(frameon=False)
    hi = float(np.quantile(np.concatenate([cal.quarterly_observed, cal.quarterly_fitted]), 0.99)) if len(
        cal.quarterly_observed) else 2.0
    bins = np.linspace(0, max(hi, 1.6), 33)
    ax2.hist(cal.quarterly_fitted, bins=bins, density=True, alpha=0.5, label="fitted model", color="#dd8452")
    ax2.hist(cal.quarterly_observed, bins=bins, density=True, histtype="step", lw=2, label="history",
             color="#4c72b0")
    ax2.set_xlabel("quarterly attainment")
    ax2.set_ylabel("density")
    ax2.set_title("Attainment per rep-quarter")
    ax2.legend(frameon=False)
    psi, tau = cal.parameters.iloc[0], cal.parameters.iloc[1]
    ax1.figure.suptitle(f"{cal.plan}: ψ = {psi.estimate:.2f} [{psi.ci_low:.2f}, {psi.ci_high:.2f}], "
                        f"timing cost = {tau.estimate:.3f} [{tau.ci_low:.3f}, {tau.ci_high:.3f}]")
    ax1.figure.tight_layout()
    return axes


def fit_table(cal: Calibration) -> pd.DataFrame:
    """``fit.csv``: one row per moment, month of the profile and attainment quantile (section, item, observed,
    fitted, sd)."""
    m = cal.moments.assign(section="moment").rename(columns={"moment": "item"})[
        ["section", "item", "observed", "fitted", "sd"]]
    p = cal.profile.assign(section="monthly_share", item=cal.profile["month"].astype(str), sd=np.nan)[
        ["section", "item", "observed", "fitted", "sd"]]
    a = cal.attainment.assign(section="quarterly_attainment", item=[f"p{round(100 * q)}" for q in
                                                                    cal.attainment["quantile"]], sd=np.nan)[
        ["section", "item", "observed", "fitted", "sd"]]
    return pd.concat([m, p, a], ignore_index=True)


def write_calibration(cal: Calibration, folder, *, plot: bool = True, inputs: dict | None = None) -> dict:
    """Write ``calibration.json``, ``fit.csv``, ``behaviour.yaml``, ``reps.csv`` (and ``fit.png``) to ``folder``."""
    import json
    from pathlib import Path

    import yaml

    from spmopt.data.io import _json_default

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    doc = {**cal.summary(), "inputs": inputs or {}}
    (out / "calibration.json").write_text(json.dumps(doc, indent=2, default=_json_default))
    fit_table(cal).to_csv(out / "fit.csv", index=False, float_format="%.6g")
    cal.reps.to_csv(out / "reps.csv", index=False, float_format="%.10g")
    text = ("# fitted by spmopt calibrate: use as a scenario's simulate.behaviour mapping, or pass to\n"
            "# spmopt.sim.simulate(behaviour=...)\n" + yaml.safe_dump(cal.behaviour.model_dump(), sort_keys=False))
    (out / "behaviour.yaml").write_text(text)
    for name in ("calibration.json", "fit.csv", "reps.csv", "behaviour.yaml"):
        paths[name] = out / name
    if plot:
        import matplotlib.pyplot as plt

        axes = plot_fit(cal)
        axes[0].figure.savefig(out / "fit.png", dpi=110)
        plt.close(axes[0].figure)
        paths["fit.png"] = out / "fit.png"
    return paths
