"""A plain, loop-by-loop reference implementation of the plan semantics (docs/plans.md), written separately
from the vectorised engine so that the two can be compared. Scalars only; one rep at a time."""

from __future__ import annotations

import math


def curve(a: float, points, extrapolate: bool) -> float:
    if a < points[0][0]:
        return 0.0
    for (a0, p0), (a1, p1) in zip(points, points[1:], strict=False):
        if a0 <= a <= a1:
            return p0 + (p1 - p0) * (a - a0) / (a1 - a0)
    if a >= points[-1][0]:
        if extrapolate and len(points) >= 2:
            (a0, p0), (a1, p1) = points[-2], points[-1]
            return p1 + (p1 - p0) / (a1 - a0) * (a - a1)
        return points[-1][1]
    return points[0][1]  # single point, a == its attainment


def commission(c, v: float, q: float, n: float) -> float:
    s = q if c.on == "attainment" else n
    tiers = c.tiers
    if c.basis == "marginal":
        amt = 0.0
        for k, t in enumerate(tiers):
            lo = t.start * s
            hi = tiers[k + 1].start * s if k + 1 < len(tiers) else (t.to * s if t.to is not None else math.inf)
            if v > lo:
                amt += t.rate * (min(v, hi) - lo)
    else:
        rate = 0.0
        for t in tiers:
            if v >= t.start * s:
                rate = t.rate
        base = max(v, 0.0)
        if tiers[-1].to is not None:
            base = min(base, tiers[-1].to * s)
        amt = rate * base
    if c.cap is not None:
        amt = min(amt, c.cap * n)
    return amt


def earnings(plan, vals: dict, quotas: dict, ti: float, n: float, deals: dict | None) -> dict:
    out = {}
    for c in plan.components:
        if c.type == "quota_bonus":
            m = curve(vals[c.measure] / quotas[c.measure], c.curve, c.extrapolate)
            if c.cap is not None:
                m = min(m, c.cap)
            out[c.name] = c.weight * ti * m
        elif c.type == "commission":
            out[c.name] = commission(c, vals[c.measure], quotas.get(c.measure, 1.0), n)
        elif c.type == "spiff" and deals is not None:
            out[c.name] = c.amount * deals[c.name]
    for g in plan.components:
        if g.type != "gate":
            continue
        if g.on == "attainment":
            ok = vals[g.measure] / quotas[g.measure] >= g.threshold
        else:
            ok = vals[g.measure] >= g.threshold * (n if plan.aggregate(g.measure) == "sum" else 1.0)
        if not ok:
            for name in list(out):
                if g.applies_to == "all" or name in g.applies_to:
                    out[name] *= g.factor
    return out


def rep_payout(plan, vals: dict[str, list], quotas: dict[str, list], deals: dict[str, list] | None = None,
               year: list | None = None) -> dict[str, list]:
    """Payout of one rep over its periods (all active)."""
    P = len(next(iter(vals.values())))
    ppy = plan.periods_per_year
    ti = plan.target_incentive / ppy
    comps: dict[str, list] = {}
    for t in range(P):
        e = earnings(plan, {m: v[t] for m, v in vals.items()}, {m: q[t] for m, q in quotas.items()}, ti, 1.0,
                     {k: d[t] for k, d in (deals or {}).items()})
        for k, x in e.items():
            comps.setdefault(k, [0.0] * P)[t] = x
    if plan.true_up == "year" and ppy > 1:
        year = year or [t // ppy for t in range(P)]
        names = [c.name for c in plan.components if c.type in ("quota_bonus", "commission")]
        tu = {f"{k}:true_up": [0.0] * P for k in names}
        for y in sorted(set(year)):
            idx = [t for t in range(P) if year[t] == y]
            k = float(len(idx))
            agg = {}
            for m, v in vals.items():
                how = plan.aggregate(m)
                xs = [v[t] for t in idx]
                agg[m] = {"sum": sum(xs), "mean": sum(xs) / len(xs), "max": max(xs), "min": min(xs),
                          "last": xs[-1]}[how]
            qa = {m: sum(q[t] for t in idx) for m, q in quotas.items()}
            annual = earnings(plan, agg, qa, plan.target_incentive * k / ppy, k, None)
            for name in names:
                diff = annual[name] - sum(comps[name][t] for t in idx)
                tu[f"{name}:true_up"][idx[-1]] = diff if plan.true_up_clawback else max(diff, 0.0)
        comps.update(tu)
    for d in plan.components:
        if d.type != "draw":
            continue
        bal = 0.0
        paid, rec = [0.0] * P, [0.0] * P
        for t in range(P):
            e = sum(v[t] for v in comps.values())
            paid[t] = max(0.0, d.amount - e)
            if d.recoverable:
                r = min(bal, max(0.0, e - d.amount))
                rec[t] = -r
                bal += paid[t] - r
        comps[d.name] = paid
        if d.recoverable:
            comps[f"{d.name}:recovery"] = rec
    return comps
