"""Back-test plans on history: what each rep would have been paid under each plan.

Inputs (validated here, errors name file, row and column):

- actuals: one row per credited deal or per rep-period, ``rep_id, date, measure, value[, product, segment]``;
- quotas: ``rep_id, period, measure, quota`` with periods written ``2025``, ``2025-Q1`` or ``2025-01``.

Quotas are brought to the plan's period: finer quotas are summed (all months of a quarter must be given), a
coarser quota is split evenly over its plan periods (noted in the summary). A rep-period is *active* when the rep
has a quota for every measure the plan reads as attainment; only active rep-periods are paid. Actuals that fall
outside active rep-periods are not paid and are counted in the summary (``excluded_actuals``), never dropped
silently. Credited values are aggregated per plan period with each measure's rule (``sum`` unless the plan's
``measures`` declare ``mean``/``max``/``min``/``last``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from spmopt.data.dates import parse_date_column
from spmopt.data.validate import _is_missing, _rows, check_spellings, parse_numeric
from spmopt.errors import InputError
from spmopt.plans.engine import Payout, payout
from spmopt.plans.model import Plan, PlanError

FREQ = {"month": "M", "quarter": "Q", "year": "Y"}
GRAIN = {"M": 0, "Q": 1, "Y": 2}
_PERIOD = [(re.compile(r"^(\d{4})$"), "Y"), (re.compile(r"^(\d{4})-?[Qq]([1-4])$"), "Q"),
           (re.compile(r"^(\d{4})-(\d{1,2})$"), "M")]


def parse_period(text: str) -> pd.Period | None:
    """``'2025'`` → year, ``'2025-Q1'`` (or ``2025Q1``) → quarter, ``'2025-01'`` → month; None if none fits."""
    s = str(text).strip()
    if s.endswith(".0"):
        s = s[:-2]
    for rx, freq in _PERIOD:
        m = rx.match(s)
        if not m:
            continue
        year = int(m.group(1))
        if freq == "Y":
            return pd.Period(year=year, freq="Y")
        if freq == "Q":
            return pd.Period(year=year, quarter=int(m.group(2)), freq="Q")
        month = int(m.group(2))
        if 1 <= month <= 12:
            return pd.Period(year=year, month=month, freq="M")
    return None


def period_label(p: pd.Period) -> str:
    """The label written in outputs: ``2025``, ``2025-Q1`` or ``2025-01`` (the input spelling)."""
    f = p.freqstr[0]
    if f == "Y" or f == "A":
        return f"{p.year}"
    if f == "Q":
        return f"{p.year}-Q{p.quarter}"
    return f"{p.year}-{p.month:02d}"


def _grain(p: pd.Period) -> str:
    f = p.freqstr[0]
    return "Y" if f in "YA" else f


def _require(df: pd.DataFrame, cols: list[str], source: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(f"required column(s) {', '.join(repr(c) for c in missing)} missing (columns found: "
                         f"{', '.join(map(str, df.columns))})", source=source)


def _text(df: pd.DataFrame, col: str, source: str) -> list[str]:
    out = []
    for r, v in zip(_rows(df), df[col], strict=True):
        if _is_missing(v):
            raise InputError(f"missing {col}", source=source, row=int(r), column=col)
        out.append(str(v).strip())
    return out


def read_actuals(df: pd.DataFrame, source: str | None = None) -> pd.DataFrame:
    """Validate an actuals table: returns ``rep_id, date, measure, value, product, segment, row``."""
    source = source or str(df.attrs.get("source") or "<actuals>")
    _require(df, ["rep_id", "date", "measure", "value"], source)
    out = pd.DataFrame({"rep_id": _text(df, "rep_id", source), "measure": _text(df, "measure", source)})
    out["date"] = parse_date_column(df["date"], _rows(df), source=source, column="date")
    for col in ("rep_id", "measure"):
        check_spellings(out[col], _rows(df), source=source, column=col)
    out["value"] = parse_numeric(df, "value", source)
    for col in ("product", "segment"):
        out[col] = [None if _is_missing(v) else str(v) for v in df[col]] if col in df.columns else None
    out["row"] = _rows(df)
    out.attrs["source"] = source
    return out


def read_quotas(df: pd.DataFrame, source: str | None = None) -> pd.DataFrame:
    """Validate a quotas table: returns ``rep_id, period (pd.Period), grain, measure, quota, row``."""
    source = source or str(df.attrs.get("source") or "<quotas>")
    _require(df, ["rep_id", "period", "measure", "quota"], source)
    out = pd.DataFrame({"rep_id": _text(df, "rep_id", source), "measure": _text(df, "measure", source)})
    for col in ("rep_id", "measure"):
        check_spellings(out[col], _rows(df), source=source, column=col)
    periods = []
    for r, v in zip(_rows(df), df["period"], strict=True):
        p = None if _is_missing(v) else parse_period(v)
        if p is None:
            raise InputError(f"'{v}' is not a period (write 2025, 2025-Q1 or 2025-01)", source=source, row=int(r),
                             column="period", value=v)
        periods.append(p)
    out["period"] = periods
    out["grain"] = [_grain(p) for p in periods]
    out["quota"] = parse_numeric(df, "quota", source, what="quota")
    rows = _rows(df)
    bad = np.flatnonzero(~(out["quota"].to_numpy() > 0))
    if len(bad):
        i = int(bad[0])
        raise InputError(f"quota must be > 0, got {out['quota'].iloc[i]:g}", source=source, row=int(rows[i]),
                         column="quota", value=out["quota"].iloc[i])
    out["row"] = rows
    key = pd.Series([f"{r}\x00{m}\x00{period_label(p)}" for r, m, p in zip(out["rep_id"], out["measure"], periods,
                                                                            strict=True)], dtype=object)
    dup = key.duplicated(keep=False).to_numpy()
    if dup.any():
        where = out.loc[dup, "row"].tolist()
        first = out.loc[dup].iloc[0]
        raise InputError(f"quota for rep '{first.rep_id}', measure '{first.measure}', period "
                         f"{period_label(first.period)} given twice (rows {', '.join(map(str, where[:4]))})",
                         source=source, row=int(where[1]), column="period")
    out.attrs["source"] = source
    return out


def plan_quotas(quotas: pd.DataFrame, freq: str, measures: dict[str, str]) -> tuple[pd.DataFrame, list[str]]:
    """Quotas of ``measures`` (name → aggregate rule) in plan periods of frequency ``freq``:
    ``rep_id, measure, period, quota``. Quotas combine like their measure: a summed measure's quotas are summed
    (finer → plan period) or split evenly (coarser); other measures' quotas are averaged/maxed/… or repeated."""
    source = quotas.attrs.get("source", "<quotas>")
    notes: list[str] = []
    parts = []
    q = quotas[quotas["measure"].isin(measures)]
    for (rep, m), g in q.groupby(["rep_id", "measure"], sort=False):
        grains = set(g["grain"])
        if len(grains) > 1:
            raise InputError(f"quotas for rep '{rep}', measure '{m}' mix period types "
                             f"({', '.join(sorted(grains))}); use one", source=source, row=int(g["row"].iloc[0]),
                             column="period")
        grain = grains.pop()
        if GRAIN[grain] < GRAIN[freq]:  # finer: sum, and insist on completeness
            per = [p.asfreq(freq) for p in g["period"]]
            need = {"Q": 3, "Y": 12 if grain == "M" else 4}[freq]
            summed = g.assign(target=per).sort_values("period").groupby("target", sort=True)["quota"].agg(
                [measures[m], "count"]).rename(columns={measures[m]: "sum"})
            short = summed[summed["count"] < need]
            if len(short):
                t = short.index[0]
                raise InputError(f"quotas for rep '{rep}', measure '{m}' cover {short['count'].iloc[0]} of the "
                                 f"{need} {'months' if grain == 'M' else 'quarters'} of {period_label(t)}: give them "
                                 f"all, or one quota for {period_label(t)}", source=source, column="period")
            parts.append(pd.DataFrame({"rep_id": rep, "measure": m, "period": summed.index,
                                       "quota": summed["sum"].to_numpy()}))
        elif GRAIN[grain] > GRAIN[freq]:  # coarser: split evenly
            rows = []
            for p, val in zip(g["period"], g["quota"], strict=True):
                subs = pd.period_range(p.start_time, p.end_time, freq=freq)
                share = len(subs) if measures[m] == "sum" else 1
                rows += [(rep, m, s, val / share) for s in subs]
            parts.append(pd.DataFrame(rows, columns=["rep_id", "measure", "period", "quota"]))
            note = f"quotas for '{m}' given per {'year' if grain == 'Y' else 'quarter'} were " \
                   f"{'split evenly over' if measures[m] == 'sum' else 'repeated in'} the " \
                   f"plan's {'quarters' if freq == 'Q' else 'months'}"
            if note not in notes:
                notes.append(note)
        else:
            parts.append(g[["rep_id", "measure", "period", "quota"]])
    if not parts:
        return pd.DataFrame(columns=["rep_id", "measure", "period", "quota"]), notes
    return pd.concat(parts, ignore_index=True), notes


@dataclass
class PlanBacktest:
    """One plan's back-test: its payout arrays (reps × periods), the inputs it saw, and its summary."""

    plan: Plan
    reps: list[str]
    periods: list[pd.Period]
    result: Payout
    credited: dict[str, np.ndarray]
    quotas: dict[str, np.ndarray]
    active: np.ndarray
    summary: dict = field(default_factory=dict)

    def payouts_frame(self) -> pd.DataFrame:
        f = self.result.frame(self.reps, [period_label(p) for p in self.periods])
        act = np.broadcast_to(self.active, self.result.shape).reshape(-1)
        f = f[np.tile(act, len(self.result.amounts))]  # inactive rep-periods are not part of the plan
        f.insert(0, "plan", self.plan.name)
        return f.reset_index(drop=True)


def _measure_error(plan: Plan, m: str, actuals_source: str, known: list[str]) -> PlanError:
    return PlanError(f"unknown measure '{m}': not in {actuals_source} (measures there: {', '.join(known) or 'none'})",
                     source=plan.source or plan.name, key=_key_of(plan, m, default="revenue_measure"))


def backtest_plan(plan: Plan, actuals: pd.DataFrame, quotas: pd.DataFrame, *,
                  revenue_measure: str | None = None) -> PlanBacktest:
    """Pay history under one plan. ``actuals``/``quotas`` come from :func:`read_actuals`/:func:`read_quotas`."""
    a_src = actuals.attrs.get("source", "<actuals>")
    q_src = quotas.attrs.get("source", "<quotas>")
    if actuals.empty:
        raise InputError("no credited rows (the file has a header only)", source=a_src)
    known = sorted(actuals["measure"].unique())
    rev = revenue_measure or plan.primary_measure
    if revenue_measure is not None and revenue_measure not in known:   # given by the caller, not the plan
        raise InputError(f"revenue measure '{revenue_measure}' (--revenue-measure) is not a measure of {a_src} "
                         f"(measures there: {', '.join(known) or 'none'})")
    direct = {c.measure for c in plan.components if c.type in ("quota_bonus", "commission", "gate")}
    for m in [*plan.used_measures(), *([rev] if rev else [])]:
        if m not in known:
            raise _measure_error(plan, m, a_src, known)
    freq = FREQ[plan.period]
    qmeasures = plan.quota_measures()
    quota_ms = qmeasures or ([rev] if rev in set(quotas["measure"]) else [])
    wanted = list(dict.fromkeys([*quota_ms, *([rev] if rev else [])]))
    pq, notes = plan_quotas(quotas, freq, {m: plan.aggregate(m) for m in wanted})
    for m in qmeasures:
        if not (pq["measure"] == m).any():
            raise PlanError(f"measure '{m}' is read as attainment but {q_src} has no quotas for it",
                            source=plan.source or plan.name, key=_key_of(plan, m))
    act_rows = pq[pq["measure"].isin(quota_ms)]
    if len(act_rows):
        periods = sorted(set(act_rows["period"]))
    else:  # no quotas needed or given: the periods the actuals span
        periods = sorted(set(pd.PeriodIndex(actuals["date"], freq=freq)))
    reps = sorted(set(quotas["rep_id"]) | set(actuals["rep_id"]))
    r_ix = {r: i for i, r in enumerate(reps)}
    p_ix = {p: j for j, p in enumerate(periods)}
    R, P = len(reps), len(periods)

    def grid(frame: pd.DataFrame, col: str) -> np.ndarray:
        out = np.full((R, P), np.nan)
        frame = frame[frame["rep_id"].isin(r_ix) & frame["period"].isin(p_ix)]  # periods outside the plan's: unused
        if len(frame):
            out[frame["rep_id"].map(r_ix).to_numpy(), frame["period"].map(p_ix).to_numpy()] = frame[col].to_numpy()
        return out

    qarr = {m: grid(pq[pq["measure"] == m], "quota") for m in set(pq["measure"])}
    if qmeasures:
        active = np.all([~np.isnan(qarr[m]) for m in qmeasures], axis=0)
    else:  # the plan reads no attainment: every rep-period is paid
        active = np.ones((R, P), dtype=bool)

    # credited values per plan period
    a = actuals.assign(period=pd.PeriodIndex(actuals["date"], freq=freq)).sort_values(["date", "row"])
    in_plan = a["period"].isin(p_ix)
    ri = a["rep_id"].map(r_ix).to_numpy()
    pj = a["period"].map(p_ix).to_numpy()
    ok = in_plan.to_numpy().copy()
    ok[ok] = active[ri[ok], pj[ok].astype(int)]
    read = set(plan.used_measures()) | ({rev} if rev else set())
    excl = a[~ok & a["measure"].isin(read)]
    credited = {}
    for m in sorted(direct | ({rev} if rev else set())):
        g = a[ok & (a["measure"] == m)].groupby(["rep_id", "period"], sort=False)["value"].agg(plan.aggregate(m))
        cell = grid(g.rename("v").reset_index(), "v")
        # no rows: nothing credited for a summed measure; no reading (NaN) for an index (gates stay open)
        credited[m] = np.nan_to_num(cell, nan=0.0) if plan.aggregate(m) == "sum" else cell
    deals = {}
    for s in plan.of_type("spiff"):
        m = plan.spiff_measure(s)
        sel = ok & (a["measure"] == m).to_numpy()
        if s.window is not None:
            d = a["date"].dt.date
            sel &= ((d >= s.window.start) & (d <= s.window.end)).to_numpy()
        for col, allowed in (("product", s.product), ("segment", s.segment)):
            if allowed is not None:
                if a[col].isna().all():
                    raise PlanError(f"filters on {col}, but {a_src} has no '{col}' column",
                                    source=plan.source or plan.name, key=f"{_key_of(plan, s.name, by='name')}.{col}")
                sel &= a[col].isin(allowed).to_numpy()
        # a deal qualifies with a positive value (a reversal row is not a deal), and at least min_value
        sel &= (a["value"] >= s.min_value).to_numpy() if s.min_value is not None else (a["value"] > 0).to_numpy()
        cnt = a[sel].groupby(["rep_id", "period"]).size().rename("n").reset_index()
        deals[s.name] = np.nan_to_num(grid(cnt, "n"), nan=0.0)
    quotas_in = {m: np.where(active, np.nan_to_num(qarr[m], nan=1.0), 1.0) for m in qmeasures}
    year = np.array([p.year for p in periods])
    res = payout(plan, credited, quotas_in, deals=deals, active=active, year=year)
    bt = PlanBacktest(plan=plan, reps=reps, periods=periods, result=res, credited=credited,
                      quotas={m: qarr[m] for m in qarr}, active=active)
    bt.summary = _summary(bt, rev, excl, notes)
    return bt


def _key_of(plan: Plan, value: str, by: str = "measure", default: str = "components") -> str:
    """The plan-file key of the first component whose ``by`` attribute is ``value``."""
    for i, c in enumerate(plan.components):
        if getattr(c, by, None) == value:
            return f"components[{i}]" + (".measure" if by == "measure" else "")
    return default


def _pct(x: np.ndarray, qs=(10, 25, 50, 75, 90)) -> dict:
    if len(x) == 0:
        return {}
    out = {f"p{q}": float(np.percentile(x, q)) for q in qs}
    out["mean"] = float(np.mean(x))
    out["max"] = float(np.max(x))
    return out


def _summary(bt: PlanBacktest, rev: str | None, excl: pd.DataFrame, notes: list[str]) -> dict:
    plan, res, act = bt.plan, bt.result, bt.active
    total = res.total
    per_rep = total.sum(axis=1)
    paid_reps = act.any(axis=1)
    cost = float(total.sum())
    n_act = act.sum(axis=1)
    revenue = float(bt.credited[rev].sum()) if rev in bt.credited else None
    att = None
    if rev and rev in bt.quotas:
        q = np.where(act, np.nan_to_num(bt.quotas[rev], nan=0.0), 0.0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            att = np.where(q > 0, bt.credited[rev].sum(axis=1) / q, np.nan)
    ti = float(plan.target_incentive * n_act.sum() / plan.periods_per_year)
    corr = None
    if att is not None:
        ok = paid_reps & np.isfinite(att)
        if ok.sum() >= 3 and np.std(att[ok]) > 0 and np.std(per_rep[ok]) > 0:
            corr = float(np.corrcoef(att[ok], per_rep[ok])[0, 1])
    excluded = {m: float(v) for m, v in excl.groupby("measure")["value"].sum().items()}
    out = {
        "plan": plan.name,
        "file": plan.source,
        "currency": plan.currency,
        "period": plan.period,
        "periods": [period_label(p) for p in bt.periods],
        "reps": int(paid_reps.sum()),
        "active_rep_periods": int(act.sum()),
        "revenue_measure": rev,
        "revenue": revenue,
        "total_cost": cost,
        "cost_by_component": {k: float(v.sum()) for k, v in res.amounts.items()},
        "cost_of_sales": (cost / revenue) if revenue else None,
        "target_incentive": ti,
        "payout_to_target": (cost / ti) if ti > 0 else None,
        "base_salary_cost": float(plan.base_salary * n_act.sum() / plan.periods_per_year),
        "reps_at_or_above_quota": None if att is None else int(np.sum(att[paid_reps] >= 1.0 - 1e-12)),
        "share_at_or_above_quota": None if att is None or not paid_reps.any()
        else float(np.mean(att[paid_reps] >= 1.0 - 1e-12)),
        "attainment": {} if att is None else _pct(att[paid_reps & np.isfinite(att)]),
        "payout_per_rep": _pct(per_rep[paid_reps]),
        "pay_performance_correlation": corr,
        "excluded_actuals": {"rows": len(excl),
                             "value_by_measure": excluded,
                             "examples": [{"row": int(r.row), "rep_id": r.rep_id, "date": str(r.date.date()),
                                           "measure": r.measure, "value": float(r.value)}
                                          for r in excl.sort_values("row").head(5).itertuples()],
                             "reason": "dated outside the plan's periods, or in a rep-period without quota"},
        "notes": notes + list(plan.warnings),
    }
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}


def backtest(plans: list[Plan], actuals: pd.DataFrame, quotas: pd.DataFrame, *,
             revenue_measure: str | None = None) -> list[PlanBacktest]:
    """Back-test every plan on the same history (``actuals``/``quotas`` as read by :func:`read_actuals` and
    :func:`read_quotas`, or raw tables, which are validated here)."""
    if "row" not in actuals.columns:
        actuals = read_actuals(actuals)
    if "grain" not in quotas.columns:
        quotas = read_quotas(quotas)
    for col in ("rep_id", "measure"):   # 'R01' in one file and 'r01' in the other would never meet
        check_spellings(actuals[col], actuals["row"], source=actuals.attrs.get("source", "<actuals>"), column=col,
                        other=quotas[col], other_source=quotas.attrs.get("source", "<quotas>"))
    names = [p.name for p in plans]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"two plans are called '{dup[0]}'; plan names label the outputs and must differ")
    return [backtest_plan(p, actuals, quotas, revenue_measure=revenue_measure) for p in plans]
