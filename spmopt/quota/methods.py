"""Baselines and the spread of a total within bounds.

* :func:`baseline_shares` — each method's share of the total per quota holder: ``potential``, ``history``,
  ``blend`` (a weighted mix of the shares) and ``rollup`` (account-level expectations summed per territory).
* :func:`proportional_fill` — the quotas ``clip(λ·b, lo, hi)`` that add up to the total: everyone not held by
  a bound moves by the same percentage. It is the minimiser of Σ (q − b)²/b under the bounds, and a minimiser
  of Σ |q − b| (so the MIP's tie-break toward it costs nothing in L1).
* :func:`equal_chance_fill` — the quotas ``clip(Q_i(1 − π), lo, hi)`` that add up to the total, where
  ``Q_i`` is rep i's simulated sales quantile function: everyone not held by a bound has the same chance π of
  reaching quota.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.optimize import brentq

from spmopt.errors import InputError

METHODS = ("potential", "history", "blend", "rollup", "equal_chance")
BLEND_PARTS = ("potential", "history", "rollup")


def normalise_method(method: str) -> str:
    m = str(method).strip().lower().replace("-", "_")
    aliases = {"equal": "equal_chance", "equal_attainment": "equal_chance", "roll_up": "rollup",
               "account": "rollup", "accounts": "rollup"}
    m = aliases.get(m, m)
    if m not in METHODS:
        raise InputError(f"unknown quota method '{method}' (methods: {', '.join(METHODS)})")
    return m


def blend_weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    """Validated blend weights over ``potential``, ``history``, ``rollup`` (normalised to add up to 1)."""
    w = dict(weights or {"potential": 0.5, "history": 0.5})
    bad = [k for k in w if k not in BLEND_PARTS]
    if bad:
        raise InputError(f"blend weight for unknown part '{bad[0]}' (parts: {', '.join(BLEND_PARTS)})")
    if any(not np.isfinite(v) or v < 0 for v in w.values()) or sum(w.values()) <= 0:
        raise InputError(f"blend weights must be >= 0 and not all zero, got {w}")
    s = sum(w.values())
    return {k: float(v) / s for k, v in w.items() if v > 0}


def _share(basis, what: str, why: str) -> np.ndarray:
    v = basis.require(what, why)
    s = v.sum()
    if s <= 0:
        raise InputError(f"{why}: '{basis.columns.get(what, what)}' adds up to 0", source=basis.source,
                         column=basis.columns.get(what, what))
    return v / s


def baseline_shares(basis, method: str, weights: Mapping[str, float] | None = None) -> np.ndarray:
    """Each holder's share of the total under ``method`` (not for ``equal_chance``); adds up to 1."""
    if method in ("potential", "history", "rollup"):
        return _share(basis, method, f"the {method} method")
    if method == "blend":
        w = blend_weights(weights)
        return sum(wk * _share(basis, k, "the blend method") for k, wk in w.items())
    raise ValueError(f"no share baseline for method {method}")


def proportional_fill(b: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: float) -> tuple[np.ndarray, float]:
    """``q = clip(λ·b, lo, hi)`` with Σ q = total; returns (q, λ). Needs lo ≤ hi and Σlo ≤ total ≤ Σhi."""
    b = np.asarray(b, dtype=float)

    def f(lam: float) -> float:
        return float(np.clip(lam * b, lo, hi).sum())

    hi_top = 1.0
    while f(hi_top) < total and hi_top < 1e12:
        hi_top *= 2.0
    if f(hi_top) < total:
        # every holder with a baseline is at its upper bound: the rest goes to the holders without one
        # (b = 0), spread equally within their bounds
        zero = b <= 0
        q = np.where(zero, lo, np.clip(hi_top * b, lo, hi))
        if zero.any():
            qz, _ = proportional_fill(np.ones(int(zero.sum())), lo[zero], hi[zero], total - q[~zero].sum())
            q[zero] = qz
        return q, float("inf")
    if f(0.0) >= total:
        lam = 0.0
    else:
        lam = brentq(lambda x: f(x) - total, 0.0, hi_top, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    # exact on the final linear piece: the free holders take what the clipped ones leave
    q = np.clip(lam * b, lo, hi)
    free = (lam * b > lo) & (lam * b < hi)
    if free.any() and b[free].sum() > 0:
        lam = (total - q[~free].sum()) / b[free].sum()
        q = np.where(free, lam * b, q)
    return q, float(lam)


class SalesQuantiles:
    """Empirical quantile functions of each holder's simulated annual sales (trials × holders), linearly
    interpolated (the chance of reaching a quota is :func:`spmopt.quota.fairness.attainment_chance`)."""

    def __init__(self, samples: np.ndarray) -> None:
        s = np.sort(np.asarray(samples, dtype=float), axis=0)
        self.sorted = s
        self.trials = s.shape[0]
        self.grid = (np.arange(self.trials) + 0.5) / self.trials   # plotting positions (Hazen)

    def quantile(self, u: float) -> np.ndarray:
        """Sales each holder reaches with probability 1 − u (u in [0, 1])."""
        g, s = self.grid, self.sorted
        u = min(max(float(u), g[0]), g[-1])
        k = np.searchsorted(g, u, side="right") - 1
        k = min(max(k, 0), self.trials - 2)
        w = (u - g[k]) / (g[k + 1] - g[k])
        return s[k] * (1 - w) + s[k + 1] * w


def equal_chance_fill(quantiles: SalesQuantiles, lo: np.ndarray, hi: np.ndarray,
                      total: float) -> tuple[np.ndarray, float]:
    """``q = clip(Q(1 − π), lo, hi)`` with Σ q = total; returns (q, π)."""

    def f(pi: float) -> float:
        return float(np.clip(quantiles.quantile(1.0 - pi), lo, hi).sum())

    top, bottom = f(0.0), f(1.0)     # quotas at the largest / smallest simulated sales
    if total > top * (1 + 1e-12):
        raise InputError(f"the total {total:,.0f} is above what the simulated sales reach at any chance "
                         f"(at most {top:,.0f}); equal-chance quotas cannot place it — lower the target or "
                         "raise the reps' opportunities")
    if total < bottom * (1 - 1e-12):
        raise InputError(f"the total {total:,.0f} is below the smallest simulated sales "
                         f"({bottom:,.0f} in all); every rep would attain with certainty")
    pi = brentq(lambda x: f(x) - total, 0.0, 1.0, xtol=1e-13, maxiter=500)
    return np.clip(quantiles.quantile(1.0 - pi), lo, hi), float(pi)
