"""Seeded synthetic sales history for back-tests: credited deals and quarterly quotas of a sales team.

Each rep has a skill multiplier (lognormal, σ = 0.25); deals arrive as a Poisson process over the year (rate
``deals_per_year`` × skill) with a mild end-of-quarter bunching; deal sizes are lognormal (mean
``deal_size_mean``, CV 0.8); products and segments are drawn with fixed shares. About one deal in five is a new
logo (a ``new_logos`` row of value 1 on the same date). Each rep has a monthly customer NPS reading
(``nps`` rows, Normal(40, 15), clipped to [−100, 100]). Quarterly quotas are the team's expected revenue per rep
(not the rep's own: quotas are set before skill shows) × a growth uplift, with ±10 % noise; new-logo quotas are
2 per quarter.

Every draw comes from ``numpy.random.default_rng(seed)``: the same arguments give the same tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PRODUCTS = (("Core", 0.6), ("Analytics", 0.25), ("Services", 0.15))
SEGMENTS = (("SMB", 0.5), ("Mid-Market", 0.3), ("Enterprise", 0.2))


def sales_history(n_reps: int = 25, year: int = 2025, seed: int = 7, *, deals_per_year: float = 40.0,
                  deal_size_mean: float = 30000.0, uplift: float = 1.05) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(actuals, quotas)``: ``rep_id,date,measure,value,product,segment`` and ``rep_id,period,measure,quota``."""
    rng = np.random.default_rng(seed)
    reps = [f"R{i:03d}" for i in range(1, n_reps + 1)]
    skill = rng.lognormal(0.0, 0.25, n_reps)
    cv = 0.8
    sigma = np.sqrt(np.log(1 + cv**2))
    mu = np.log(deal_size_mean) - sigma**2 / 2
    start = pd.Timestamp(year=year, month=1, day=1)
    days = 365 + int(pd.Timestamp(year=year, month=12, day=31).is_leap_year)
    rows = []
    for r, s in zip(reps, skill, strict=True):
        n = rng.poisson(deals_per_year * s)
        # end-of-quarter bunching: a third of deals land in the last 3 weeks of a quarter
        late = rng.random(n) < 1 / 3
        day = rng.integers(0, days, n)
        q_end = np.array([90, 181, 273, days]) - 1
        day[late] = q_end[rng.integers(0, 4, late.sum())] - rng.integers(0, 21, late.sum())
        size = rng.lognormal(mu, sigma, n).round(2)
        prod = rng.choice([p for p, _ in PRODUCTS], n, p=[w for _, w in PRODUCTS])
        seg = rng.choice([g for g, _ in SEGMENTS], n, p=[w for _, w in SEGMENTS])
        logo = rng.random(n) < 0.2
        for d, v, p, g, lg in zip(day, size, prod, seg, logo, strict=True):
            date = (start + pd.Timedelta(days=int(d))).date().isoformat()
            rows.append((r, date, "revenue", v, p, g))
            if lg:
                rows.append((r, date, "new_logos", 1.0, p, g))
        for m in range(1, 13):
            nps = float(np.clip(rng.normal(40, 15), -100, 100).round(0))
            rows.append((r, f"{year}-{m:02d}-28", "nps", nps, None, None))
    actuals = pd.DataFrame(rows, columns=["rep_id", "date", "measure", "value", "product", "segment"])
    actuals = actuals.sort_values(["date", "rep_id", "measure"], kind="stable").reset_index(drop=True)
    expected_q = deals_per_year * deal_size_mean * uplift / 4
    quotas = []
    for r in reps:
        for q in range(1, 5):
            quotas.append((r, f"{year}-Q{q}", "revenue", float(round(expected_q * rng.uniform(0.9, 1.1), -3))))
            quotas.append((r, f"{year}-Q{q}", "new_logos", 2.0))
    return actuals, pd.DataFrame(quotas, columns=["rep_id", "period", "measure", "quota"])


def sim_reps(n_reps: int = 25, seed: int = 11, *, quota_uplift: float = 1.05) -> pd.DataFrame:
    """A seeded reps file for the simulator (``scenarios/sim/reps.csv``): ``rep_id,quota,opportunities_per_year,
    win_rate,deal_size_mean,deal_size_cv,cycle_days,skill,nps``. Territories differ in opportunity flow and deal
    size; quotas are the territory's expected revenue × ``quota_uplift`` with ±10 % negotiation noise, rounded to
    1,000 — so some reps are set up to beat quota and some to miss, as in a real sales force."""
    rng = np.random.default_rng(seed)
    opp = rng.uniform(60, 140, n_reps).round(0)
    win = rng.uniform(0.18, 0.35, n_reps).round(3)
    size = (rng.lognormal(np.log(30000), 0.35, n_reps) / 500).round(0) * 500
    cv = rng.uniform(0.5, 1.2, n_reps).round(2)
    cycle = rng.choice([30, 45, 60, 90, 120], n_reps)
    skill = np.clip(rng.normal(1.0, 0.1, n_reps), 0.7, 1.3).round(2)
    expected = opp * np.clip(win * skill, 0, 1) * size
    quota = (expected * quota_uplift * rng.uniform(0.9, 1.1, n_reps)).round(-3)
    nps = rng.normal(42, 8, n_reps).round(0)
    return pd.DataFrame({"rep_id": [f"R{i:03d}" for i in range(1, n_reps + 1)], "quota": quota,
                         "opportunities_per_year": opp, "win_rate": win, "deal_size_mean": size,
                         "deal_size_cv": cv, "cycle_days": cycle, "skill": skill, "nps": nps})


def quota_reps(n_reps: int = 20, seed: int = 23) -> pd.DataFrame:
    """A seeded reps file for quota setting (``scenarios/quota/reps.csv``): ``rep_id,potential,history,
    last_quota,opportunities_per_year,win_rate,deal_size_mean,deal_size_cv,cycle_days``.

    Expected sales E are 0.8–1.6 M a year, but the reps sell very differently: from about 5 large, uneven deals
    a year (deal-size CV up to 1.6) to about 70 small, even ones — so the year-to-year variability of their
    sales ranges from about 15 % to 80 %. ``potential`` is the territory's market potential (E ÷ a penetration
    of 40–60 %), ``history`` last year's sales (E with that variability, log-normal), ``last_quota`` last
    year's quota (E × 0.95–1.15, rounded to 1,000)."""
    rng = np.random.default_rng(seed)
    expected = rng.uniform(0.8e6, 1.6e6, n_reps)
    won = np.exp(rng.uniform(np.log(5.0), np.log(70.0), n_reps))
    cv = np.clip(1.55 - 0.016 * won + rng.normal(0, 0.1, n_reps), 0.3, 1.6).round(2)
    win = rng.uniform(0.2, 0.35, n_reps).round(3)
    opp = np.maximum((won / win).round(0), 1.0)
    size = (expected / (opp * win) / 100).round(0) * 100
    cycle = rng.choice([30, 45, 60, 90, 120], n_reps)
    e = opp * win * size
    potential = (e / rng.uniform(0.4, 0.6, n_reps)).round(-3)
    sales_cv = np.sqrt((1 + cv ** 2) / (opp * win))
    s2 = np.log1p(sales_cv ** 2)
    history = (e * rng.lognormal(-s2 / 2, np.sqrt(s2))).round(-2)
    last_quota = (e * rng.uniform(0.95, 1.15, n_reps)).round(-3)
    return pd.DataFrame({"rep_id": [f"R{i:03d}" for i in range(1, n_reps + 1)], "potential": potential,
                         "history": history, "last_quota": last_quota, "opportunities_per_year": opp,
                         "win_rate": win, "deal_size_mean": size, "deal_size_cv": cv, "cycle_days": cycle})
