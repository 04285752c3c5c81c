"""Quota relief after a realignment.

When units (accounts, ZIPs) move between territories during the quota period, each moved unit takes its share
of its old territory's quota for the rest of the period with it::

    share_u   = Q_before(t) × w_u / Σ_{v in t} w_v          (w = the basis column, e.g. potential)
    moved_u   = share_u × f,   f = days from the effective date to the period end (inclusive) / days in period
    Q_after(t) = Q_before(t) − Σ_{u leaving t} moved_u + Σ_{u joining t} moved_u

so the total is unchanged, a territory that loses units is relieved of exactly what it can no longer sell in
the rest of the period, and one that gains units takes that on. A territory created by the realignment starts
from 0; one that disappears keeps only its quota for the days before the move.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from spmopt.data.dates import parse_date
from spmopt.data.validate import _id_text, _ids, _source, parse_numeric
from spmopt.errors import InputError
from spmopt.quota.basis import read_assignment, read_units


@dataclass(frozen=True)
class Relief:
    """``table``: per territory ``territory_id, quota_before, moved_out, moved_in, quota_after, change,
    change_pct, units_out, units_in``; ``moves``: per moved unit ``unit_id, from_territory, to_territory,
    weight, annual_share, moved_quota``; ``summary``: totals, the prorating fraction and notes."""

    table: pd.DataFrame
    moves: pd.DataFrame
    summary: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def _date(v, what: str) -> pd.Timestamp:
    return pd.Timestamp(parse_date(v, what=what))


def _quota_table(quotas) -> pd.Series:
    if hasattr(quotas, "table") and hasattr(quotas, "basis"):      # a Quotas result
        quotas = quotas.table
    src = _source(quotas, "<quotas>")
    ids = _ids(quotas, "territory_id", src)
    if "quota" not in quotas.columns:
        raise InputError(f"required column 'quota' is missing (columns found: {', '.join(quotas.columns)})",
                         source=src)
    q = parse_numeric(quotas, "quota", src, nonnegative=True, what="quota")
    out = pd.Series(q, index=ids.to_numpy())
    out.attrs["source"] = src
    return out


def quota_relief(units: pd.DataFrame, quotas, after: pd.DataFrame | pd.Series, effective, *,
                 before: pd.DataFrame | pd.Series | None = None, basis: str = "potential",
                 period: tuple | None = None) -> Relief:
    """Move quota with the units that change territory on ``effective`` (a date).

    ``units``: ``unit_id`` and the ``basis`` column (``count`` = equal shares per unit) and, without ``before``,
    ``current_territory``. ``quotas``: ``territory_id,quota`` for the period under the old alignment (or a
    :class:`~spmopt.quota.Quotas`). ``after``/``before``: ``unit_id,territory_id`` tables (or Series).
    ``period``: ``(start, end)`` dates of the quota period (default: the calendar year of ``effective``).
    """
    usrc = _source(units, "<units>")
    if basis != "count" and basis not in units.columns:
        raise InputError(f"basis column '{basis}' is not in the units file (columns found: "
                         f"{', '.join(map(str, units.columns))}; or use 'count')", source=usrc, column=basis)
    u = read_units(units, [] if basis == "count" else [basis], source=usrc)
    ids = list(u.index)
    w = np.ones(len(ids)) if basis == "count" else u[basis].to_numpy(dtype=float)

    def assignment(a, what):
        if a is None:
            if "current_territory" not in u.columns or any(t is None for t in u["current_territory"]):
                raise InputError(f"give the {what} assignment, or a current_territory for every unit",
                                 source=usrc, column="current_territory")
            return pd.Series(list(u["current_territory"]), index=ids, dtype=object)
        if isinstance(a, pd.Series):
            s = a.astype(object).reindex(ids)
            if s.isna().any():
                raise InputError(f"unit '{s.index[s.isna()][0]}' has no territory in the {what} assignment")
            return s.map(_id_text)
        return read_assignment(a, ids, units_source=usrc)

    old = assignment(before, "before")
    new = assignment(after, "after")
    q = _quota_table(quotas)
    qsrc = q.attrs.get("source", "<quotas>")
    notes: list[str] = []
    missing = sorted(set(old) - set(q.index))
    if missing:
        raise InputError(f"no quota for territory '{missing[0]}' of the old alignment"
                         + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""), source=qsrc,
                         column="territory_id", value=missing[0])
    empty = sorted(set(q.index) - set(old))
    if empty:
        notes.append(f"{len(empty)} territory(ies) in the quotas have no units before the move and keep their "
                     f"quota: {', '.join(empty[:5])}")

    eff = _date(effective, "effective date")
    if period is None:
        start, end = pd.Timestamp(eff.year, 1, 1), pd.Timestamp(eff.year, 12, 31)
    else:
        start, end = _date(period[0], "period start"), _date(period[1], "period end")
        if end < start:
            raise InputError(f"period end {end.date()} is before its start {start.date()}")
    if not start <= eff <= end:
        raise InputError(f"effective date {eff.date()} is outside the quota period {start.date()} – {end.date()}")
    days = (end - start).days + 1
    f = ((end - eff).days + 1) / days

    wt = pd.Series(w, index=ids).groupby(old).sum()
    share = np.empty(len(ids))
    for k, t in enumerate(old):
        tot = wt[t]
        if tot > 0:
            share[k] = q[t] * w[k] / tot
        else:
            share[k] = q[t] / int((old == t).sum())
    zero = sorted(t for t, v in wt.items() if v <= 0)
    if zero:
        notes.append(f"territory(ies) {', '.join(zero[:5])} have a {basis} of 0; their quota is shared equally "
                     "among their units")
    moved = (old != new).to_numpy()
    mv = pd.DataFrame({"unit_id": np.array(ids, dtype=object)[moved], "from_territory": old.to_numpy()[moved],
                       "to_territory": new.to_numpy()[moved], "weight": w[moved], "annual_share": share[moved],
                       "moved_quota": share[moved] * f})
    terrs = list(dict.fromkeys([*q.index, *sorted(set(new) - set(q.index))]))
    before_q = q.reindex(terrs).fillna(0.0)
    out_q = mv.groupby("from_territory")["moved_quota"].sum().reindex(terrs).fillna(0.0)
    in_q = mv.groupby("to_territory")["moved_quota"].sum().reindex(terrs).fillna(0.0)
    after_q = before_q - out_q + in_q
    table = pd.DataFrame({
        "territory_id": terrs, "quota_before": before_q.to_numpy(), "moved_out": out_q.to_numpy(),
        "moved_in": in_q.to_numpy(), "quota_after": after_q.to_numpy()})
    table["change"] = table["quota_after"] - table["quota_before"]
    with np.errstate(divide="ignore", invalid="ignore"):
        table["change_pct"] = np.where(table["quota_before"] > 0,
                                       100.0 * table["change"] / table["quota_before"], np.nan)
    table["units_out"] = mv.groupby("from_territory").size().reindex(terrs).fillna(0).astype(int).to_numpy()
    table["units_in"] = mv.groupby("to_territory").size().reindex(terrs).fillna(0).astype(int).to_numpy()
    new_terrs = sorted(set(new) - set(q.index))
    if new_terrs:
        notes.append(f"new territory(ies) start from 0 and take on moved quota: {', '.join(new_terrs[:5])}")
    summary = {
        "effective": str(eff.date()), "period": [str(start.date()), str(end.date())], "days_in_period": days,
        "remaining_fraction": f, "basis": basis, "units_moved": int(moved.sum()), "units": len(ids),
        "quota_moved": float(mv["moved_quota"].sum()), "total_before": math.fsum(table["quota_before"]),
        "total_after": math.fsum(table["quota_after"]),
        "territories_changed": int((table["change"].abs() > 1e-9 * max(1.0, q.sum())).sum()),
        "notes": notes, "sources": {"units": usrc, "quotas": qsrc},
    }
    return Relief(table=table, moves=mv.reset_index(drop=True), summary=summary, notes=notes)
