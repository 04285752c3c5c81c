"""The payout engine: one vectorised function from credited measures and quotas to pay, by component.

Every caller — the back-test on history, the Monte Carlo simulator, the reports — uses :func:`payout`; there is
no second implementation. Arrays have any leading shape (typically trials × reps) and the plan period on the
last axis; all arithmetic is NumPy broadcasting. The only Python loops run over the plan's structure
(components, tiers, years) and, for a draw, over periods — never over reps or trials.

For one period t, with credited value v, quota q, attainment a = v / q, target incentive per period
TI_p = target_incentive / periods_per_year:

- quota bonus:   w · TI_p · min(cap, f(a)), f piecewise linear through the curve points, 0 below the first
  point, flat beyond the last (or continuing the last slope with ``extrapolate``);
- commission:    marginal Σ_k r_k · clip(v − s·l_k, 0, s·(u_k − l_k)); retroactive r_k* · min(v, s·u_last) with
  k* the highest tier with v ≥ s·l_k; s = q on attainment, 1 on value; then min(cap, ·);
- spiff:         amount × qualifying deals;
- gate:          the components it names × factor where the gate measure (or its attainment) < threshold;
- true-up:       at the last period of each year, the earning components recomputed on the year's totals
  (quota = Σ q, value-based tier bounds and thresholds × the number of active periods, TI × active periods /
  periods_per_year), minus what the periods paid; floored at 0 unless ``true_up_clawback``;
- draw:          D_t = max(0, amount − E_t) on earnings E_t; recoverable: R_t = min(B_{t−1}, max(0, E_t − amount)),
  B_t = B_{t−1} + D_t − R_t (the recovery is reported as a negative component ``<draw>:recovery``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from spmopt.plans.model import Commission, Gate, Plan, QuotaBonus

ArrayLike = np.ndarray | float


@dataclass(frozen=True)
class Payout:
    """Amounts by component, each an array of the input shape (…, periods). ``total`` is their sum: the
    incentive pay (base salary excluded). Components are in plan order; a true-up is ``<name>:true_up``, a draw's
    recovery ``<name>:recovery`` (negative)."""

    plan: Plan
    amounts: dict[str, np.ndarray]
    shape: tuple[int, ...] = field(default=())

    @property
    def components(self) -> list[str]:
        return list(self.amounts)

    @property
    def total(self) -> np.ndarray:
        if not self.amounts:
            return np.zeros(self.shape)
        return np.sum(np.stack(list(self.amounts.values())), axis=0)

    def frame(self, rep_ids, periods, *, drop_zero: bool = False) -> pd.DataFrame:
        """Long table ``[trial,] rep_id, period, component, amount`` for arrays shaped (reps, periods) or
        (trials, reps, periods)."""
        frames = []
        for name, arr in self.amounts.items():
            a = np.broadcast_to(arr, self.shape)
            if a.ndim == 2:
                idx = pd.MultiIndex.from_product([list(rep_ids), list(periods)], names=["rep_id", "period"])
            elif a.ndim == 3:
                idx = pd.MultiIndex.from_product([range(a.shape[0]), list(rep_ids), list(periods)],
                                                 names=["trial", "rep_id", "period"])
            else:
                raise ValueError(f"frame() needs arrays of 2 or 3 dimensions, got shape {a.shape}")
            f = pd.DataFrame({"amount": a.reshape(-1)}, index=idx).reset_index()
            f.insert(len(f.columns) - 1, "component", name)
            frames.append(f)
        out = pd.concat(frames, ignore_index=True)
        if drop_zero:
            out = out[out["amount"] != 0].reset_index(drop=True)
        return out


def curve_value(att: np.ndarray, points, extrapolate: bool) -> np.ndarray:
    """The bonus curve at attainment ``att``: linear between points, 0 below the first, flat (or extrapolated)
    beyond the last."""
    a = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    out = np.interp(att, a, y, left=0.0, right=y[-1])
    if extrapolate and len(a) >= 2:
        slope = (y[-1] - y[-2]) / (a[-1] - a[-2])
        out = np.where(att > a[-1], y[-1] + slope * (att - a[-1]), out)
    return out


def _quota_bonus(c: QuotaBonus, att: np.ndarray, ti: ArrayLike) -> np.ndarray:
    mult = curve_value(att, c.curve, c.extrapolate)
    if c.cap is not None:
        mult = np.minimum(mult, c.cap)
    return c.weight * ti * mult


def _commission(c: Commission, v: np.ndarray, q: np.ndarray, n: ArrayLike) -> np.ndarray:
    """``n`` scales value-based bounds (1 for a period, the number of active periods for a year)."""
    scale = q if c.on == "attainment" else n
    lo, hi, rate = c.bounds()
    if c.basis == "marginal":
        amt = np.zeros(np.broadcast(v, scale).shape)
        for lk, hk, rk in zip(lo, hi, rate, strict=True):
            if rk:
                width = (hk - lk) * scale if np.isfinite(hk) else np.inf
                amt = amt + rk * np.clip(v - lk * scale, 0.0, width)
    else:
        r = np.zeros(np.broadcast(v, scale).shape)
        for lk, rk in zip(lo, rate, strict=True):
            r = np.where(v >= lk * scale, rk, r)
        base = np.maximum(v, 0.0)
        if np.isfinite(hi[-1]):
            base = np.minimum(base, hi[-1] * scale)
        amt = r * base
    if c.cap is not None:
        amt = np.minimum(amt, c.cap * n)
    return amt


def _gate_open(g: Gate, v: np.ndarray, att: np.ndarray | None, n: ArrayLike, additive: bool) -> np.ndarray:
    """Open where the measure reaches the threshold, and where there is no reading (NaN) of it."""
    x = att if g.on == "attainment" else v
    thr = g.threshold if g.on == "attainment" else g.threshold * (n if additive else 1.0)
    return np.isnan(x) | (x >= thr)


def _earnings(plan: Plan, vals: Mapping[str, np.ndarray], quotas: Mapping[str, np.ndarray], ti: ArrayLike,
              n: ArrayLike, deals: Mapping[str, np.ndarray] | None) -> dict[str, np.ndarray]:
    """Gated earning components for one set of (period or annual) values."""
    att = {m: vals[m] / quotas[m] for m in quotas}
    out: dict[str, np.ndarray] = {}
    for c in plan.components:  # no reading (NaN) earns nothing
        if c.type == "quota_bonus":
            out[c.name] = _quota_bonus(c, np.nan_to_num(att[c.measure]), ti)
        elif c.type == "commission":  # value-based bounds and caps scale with the periods only for summed measures
            n_c = n if plan.aggregate(c.measure) == "sum" else 1.0
            out[c.name] = _commission(c, np.nan_to_num(vals[c.measure]), quotas.get(c.measure, 1.0), n_c)
        elif c.type == "spiff" and deals is not None:
            out[c.name] = c.amount * np.asarray(deals[c.name], dtype=float)
    for g in plan.of_type("gate"):
        is_open = _gate_open(g, vals[g.measure], att.get(g.measure), n, plan.aggregate(g.measure) == "sum")
        factor = np.where(is_open, 1.0, g.factor)
        for name in (out if g.applies_to == "all" else g.applies_to):
            if name in out:
                out[name] = out[name] * factor
    return out


def _aggregate(v: np.ndarray, act: np.ndarray, how: str) -> np.ndarray:
    """One year's value of a measure over its active periods with a reading (last axis); NaN if none."""
    act = act & ~np.isnan(v)
    none = ~act.any(axis=-1)
    return np.where(none, np.nan, _aggregate_present(v, act, how))


def _aggregate_present(v: np.ndarray, act: np.ndarray, how: str) -> np.ndarray:
    if how == "sum":
        return np.sum(np.where(act, v, 0.0), axis=-1)
    if how == "mean":
        k = act.sum(axis=-1)
        return np.sum(np.where(act, v, 0.0), axis=-1) / np.maximum(k, 1)
    if how == "max":
        return np.max(np.where(act, v, -np.inf), axis=-1)
    if how == "min":
        return np.min(np.where(act, v, np.inf), axis=-1)
    # last active value
    idx = np.where(act, np.arange(v.shape[-1]), -1).max(axis=-1)
    return np.take_along_axis(v, np.maximum(idx, 0)[..., None], axis=-1)[..., 0]


def payout(plan: Plan, credited: Mapping[str, ArrayLike], quotas: Mapping[str, ArrayLike] | None = None, *,
           deals: Mapping[str, ArrayLike] | None = None, active: ArrayLike | None = None,
           year: ArrayLike | None = None) -> Payout:
    """Pay every rep in every period under ``plan``.

    Parameters
    ----------
    credited : measure → array (…, periods) of credited value per plan period (already aggregated with the
        plan's rule for the measure: sum unless ``measures`` says mean/max/min/last).
    quotas : measure → array broadcastable to the same shape; needed for every measure the plan reads as
        attainment (:meth:`Plan.quota_measures`); must be > 0 where active.
    deals : spiff name → number of qualifying deals per period (needed when the plan has spiffs).
    active : boolean mask, broadcastable; inactive rep-periods (not yet hired, left) earn nothing and draw
        nothing. Default: all active.
    year : length-``periods`` array of the year each period belongs to (for the true-up). Default:
        consecutive groups of ``periods_per_year`` periods.
    """
    quotas = dict(quotas or {})
    deals = dict(deals or {})
    direct = {c.measure for c in plan.components if c.type in ("quota_bonus", "commission", "gate")}
    need = [m for m in plan.used_measures() if m in direct]  # a spiff reads deal counts, not a measure
    missing = [m for m in need if m not in credited]
    if missing:
        raise ValueError(f"plan '{plan.name}' reads measure(s) {', '.join(missing)}, not among the credited "
                         f"measures ({', '.join(credited) or 'none'})")
    qmiss = [m for m in plan.quota_measures() if m not in quotas]
    if qmiss:
        raise ValueError(f"plan '{plan.name}' needs quotas for {', '.join(qmiss)}")
    smiss = [s.name for s in plan.of_type("spiff") if s.name not in deals]
    if smiss:
        raise ValueError(f"plan '{plan.name}': give the qualifying deal counts of spiff(s) {', '.join(smiss)}")

    vals = {m: np.asarray(credited[m], dtype=float) for m in need}
    qs = {m: np.asarray(quotas[m], dtype=float) for m in plan.quota_measures()}
    shape = np.broadcast_shapes(*(a.shape for a in [*vals.values(), *qs.values()]),
                                *(np.shape(d) for d in deals.values()),
                                *(() if active is None else (np.shape(active),)))
    if not shape:
        raise ValueError("credited values need a period axis (the last axis)")
    act = np.ones(shape, dtype=bool) if active is None else np.broadcast_to(np.asarray(active, dtype=bool), shape)
    for m, q in qs.items():
        bad = act & ~(np.broadcast_to(q, shape) > 0)
        if bad.any():
            where = tuple(int(i[0]) for i in np.nonzero(bad))
            raise ValueError(f"quota for '{m}' must be > 0 in every active rep-period (index {where} has "
                             f"{np.broadcast_to(q, shape)[where]!r})")
    vals = {m: np.where(act, v, 0.0) for m, v in vals.items()}  # full shape from here on
    qs = {m: np.where(act, q, 1.0) for m, q in qs.items()}
    sp_deals = {k: np.where(act, np.asarray(d, dtype=float), 0.0) for k, d in deals.items()}

    ppy = plan.periods_per_year
    ti = plan.target_incentive / ppy
    amounts = _earnings(plan, vals, qs, ti, 1.0, sp_deals)
    amounts = {k: np.where(act, a, 0.0) for k, a in amounts.items()}

    n_periods = shape[-1]
    if plan.true_up == "year" and ppy > 1:
        yr = np.arange(n_periods) // ppy if year is None else np.asarray(year)
        if yr.shape != (n_periods,):
            raise ValueError(f"year must have one entry per period ({n_periods}), got shape {yr.shape}")
        trued = {f"{k}:true_up": np.zeros(shape) for k, _ in amounts.items()
                 if plan.component(k).type in ("quota_bonus", "commission")}
        for y in np.unique(yr):
            cols = np.nonzero(yr == y)[0]
            a_y = act[..., cols]
            k_y = a_y.sum(axis=-1).astype(float)
            v_y = {m: _aggregate(v[..., cols], a_y, plan.aggregate(m)) for m, v in vals.items()}
            q_y = {m: np.nan_to_num(_aggregate(q[..., cols], a_y, plan.aggregate(m)), nan=1.0)
                   for m, q in qs.items()}  # quotas combine like their measure: summed, averaged, …
            q_y = {m: np.where(k_y > 0, q, 1.0) for m, q in q_y.items()}
            annual = _earnings(plan, v_y, q_y, plan.target_incentive * k_y / ppy, k_y, None)
            last = cols[-1]
            for k in trued:
                name = k.rsplit(":", 1)[0]
                diff = annual[name] - amounts[name][..., cols].sum(axis=-1)
                if not plan.true_up_clawback:
                    diff = np.maximum(diff, 0.0)
                trued[k][..., last] = np.where(k_y > 0, diff, 0.0)
        amounts.update(trued)

    for d in plan.of_type("draw"):
        earn = sum(amounts.values()) if amounts else np.zeros(shape)
        earn = np.broadcast_to(earn, shape)
        paid = np.zeros(shape)
        rec = np.zeros(shape)
        bal = np.zeros(shape[:-1])
        for t in range(n_periods):
            e, on = earn[..., t], act[..., t]
            dt_ = np.where(on, np.maximum(0.0, d.amount - e), 0.0)
            paid[..., t] = dt_
            if d.recoverable:
                rt = np.where(on, np.minimum(bal, np.maximum(0.0, e - d.amount)), 0.0)
                rec[..., t] = 0.0 - rt
                bal = bal + dt_ - rt
        amounts[d.name] = paid
        if d.recoverable:
            amounts[f"{d.name}:recovery"] = rec
    amounts = {k: np.broadcast_to(a, shape) for k, a in amounts.items()}
    return Payout(plan=plan, amounts=amounts, shape=shape)


__all__ = ["Payout", "curve_value", "payout"]
