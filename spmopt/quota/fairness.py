"""Fairness measures of a set of quotas, and the simulated sales they are judged against.

* :func:`gini` — the Gini coefficient of non-negative values (0 = all equal).
* :func:`simulated_sales` — annual sales of each rep over ``trials`` simulated years (the simulator's fast path,
  behaviour ``none``: sales do not depend on quota, so one run serves every candidate set of quotas).
* :func:`attainment_chance` — P(sales ≥ quota) per rep from such samples.
"""

from __future__ import annotations

import numpy as np

SALES_PLAN = {"name": "sales only", "target_incentive": 1.0, "period": "year",
              "components": [{"type": "commission", "measure": "revenue", "tiers": [{"from": 0, "rate": 0.0}]}]}


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative values: mean absolute difference / (2 × mean)."""
    v = np.sort(np.asarray(x, dtype=float))
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0 or v.sum() <= 0:
        return 0.0
    k = np.arange(1, n + 1)
    return float((2.0 * np.sum(k * v)) / (n * v.sum()) - (n + 1.0) / n)


def simulated_sales(reps, *, trials: int = 4000, seed: int = 0, stress=None, stress_case: str | None = None,
                    workers: int | None = 1, progress=None) -> np.ndarray:
    """Annual sales (trials × reps) of :class:`~spmopt.sim.Reps` under one stress case (default: the first,
    or a flat market without ``stress``)."""
    from spmopt.plans.model import plan_from_dict
    from spmopt.sim import simulate
    from spmopt.sim.inputs import with_quota

    reps = with_quota(reps, np.where(reps.expected_revenue > 0, reps.expected_revenue, 1.0))
    res = simulate(reps, plan_from_dict(SALES_PLAN), stress, trials=trials, seed=seed, behaviour="none",
                   engine="vector", workers=workers, marginal=False, progress=progress)
    case = 0 if stress_case is None else stress_case
    if stress_case is not None and stress_case not in res.stress_cases:
        from spmopt.errors import InputError

        raise InputError(f"no stress case '{stress_case}' (cases: {', '.join(res.stress_cases)})")
    return res.cell(0, case).revenue


def attainment_chance(samples: np.ndarray, quota: np.ndarray) -> np.ndarray:
    """P(sales ≥ quota) per rep (column of ``samples``)."""
    return (np.asarray(samples) >= np.asarray(quota)[None, :]).mean(axis=0)
