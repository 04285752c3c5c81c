"""The reps file of a simulation, validated into arrays.

``rep_id,quota,opportunities_per_year,win_rate,deal_size_mean,deal_size_cv[,cycle_days,skill]`` — one row per
rep. ``quota`` is the annual quota of the plan's revenue measure (or comes from a separate quotas file
``rep_id,quota``). ``opportunities_per_year`` may be left out where a ``potential`` column gives the territory's
expected annual revenue: then opportunities = potential / (win_rate × deal_size_mean). ``cycle_days`` (mean sales
cycle, default 60) and ``skill`` (multiplies the win rate, default 1) are optional. Any other numeric column
named like a plan measure (``nps``, say) is that measure's value in every period, for plans that read measures
the simulator does not model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from spmopt.data.validate import _ids, _is_missing, _rows, _source, parse_numeric
from spmopt.errors import InputError

REQUIRED = ("rep_id", "win_rate", "deal_size_mean", "deal_size_cv")
DEFAULT_CYCLE_DAYS = 60.0
KNOWN = {"rep_id", "quota", "opportunities_per_year", "potential", "win_rate", "deal_size_mean", "deal_size_cv",
         "cycle_days", "skill", "name", "territory_id"}


@dataclass(frozen=True)
class Reps:
    """Validated reps (arrays aligned with ``ids``)."""

    ids: tuple[str, ...]
    quota: np.ndarray
    opportunities: np.ndarray     # per year, at effort 1
    win_rate: np.ndarray
    deal_size_mean: np.ndarray
    deal_size_cv: np.ndarray
    cycle_days: np.ndarray
    skill: np.ndarray
    measures: dict[str, np.ndarray] = field(default_factory=dict)  # other measures, constant per period
    source: str = "<reps>"
    rows: tuple[int, ...] = ()    # spreadsheet row of each rep in the source file (header = row 1)

    def row(self, i: int) -> int:
        return self.rows[i] if self.rows else i + 2

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def win_probability(self) -> np.ndarray:
        return np.clip(self.win_rate * self.skill, 0.0, 1.0)

    @property
    def expected_revenue(self) -> np.ndarray:
        """Expected annual revenue at effort 1 in a flat market (opportunities × win probability × mean size)."""
        return self.opportunities * self.win_probability * self.deal_size_mean

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"rep_id": self.ids, "quota": self.quota, "opportunities_per_year": self.opportunities,
                             "win_rate": self.win_rate, "deal_size_mean": self.deal_size_mean,
                             "deal_size_cv": self.deal_size_cv, "cycle_days": self.cycle_days,
                             "skill": self.skill, **self.measures})


def _column(df, col, source, *, default=None, nonneg=True, what="value"):
    if col not in df.columns or all(_is_missing(v) for v in df[col]):
        if default is None:
            raise InputError(f"required column '{col}' is missing (columns found: {', '.join(df.columns)})",
                             source=source)
        return np.full(len(df), float(default))
    return parse_numeric(df, col, source, allow_missing=default is not None, nonnegative=nonneg, what=what)


def _check(df, values, col, source, ok, rule):
    for r, v in zip(_rows(df), values, strict=True):
        if not np.isnan(v) and not ok(v):
            raise InputError(f"{rule}, got {v:g}", source=source, row=int(r), column=col, value=v)


def read_reps(df: pd.DataFrame, quotas: pd.DataFrame | None = None, *, source: str | None = None) -> Reps:
    """Validate a reps table (strings, as :func:`spmopt.data.io.read_table` gives, or typed) and an optional
    quotas table ``rep_id,quota``. Errors name file, row and column."""
    source = source or _source(df, "<reps>")
    if len(df) == 0:
        raise InputError("the reps file has no rows", source=source)
    for c in REQUIRED:
        if c not in df.columns:
            raise InputError(f"required column '{c}' is missing (columns found: {', '.join(map(str, df.columns))})",
                             source=source)
    ids = _ids(df, "rep_id", source)
    win = _column(df, "win_rate", source, what="win rate")
    _check(df, win, "win_rate", source, lambda v: v <= 1, "win rate must be between 0 and 1")
    size = _column(df, "deal_size_mean", source, what="mean deal size")
    _check(df, size, "deal_size_mean", source, lambda v: v > 0, "mean deal size must be > 0")
    cv = _column(df, "deal_size_cv", source, what="deal size CV")
    cycle = _column(df, "cycle_days", source, default=DEFAULT_CYCLE_DAYS, what="cycle days")
    cycle = np.where(np.isnan(cycle), DEFAULT_CYCLE_DAYS, cycle)
    _check(df, cycle, "cycle_days", source, lambda v: v > 0, "cycle days must be > 0")
    skill = _column(df, "skill", source, default=1.0, what="skill")
    skill = np.where(np.isnan(skill), 1.0, skill)

    # opportunities: explicit, or from potential
    opp = np.full(len(df), np.nan)
    if "opportunities_per_year" in df.columns:
        opp = parse_numeric(df, "opportunities_per_year", source, allow_missing=True, nonnegative=True,
                            what="opportunities per year")
    if np.isnan(opp).any():
        if "potential" not in df.columns:
            r = int(_rows(df)[np.isnan(opp)][0])
            raise InputError("missing opportunities per year (give opportunities_per_year, or a potential column "
                             "to derive it from)", source=source, row=r, column="opportunities_per_year")
        pot = parse_numeric(df, "potential", source, allow_missing=True, nonnegative=True, what="potential")
        for r, o, p, w in zip(_rows(df), opp, pot, win, strict=True):
            if np.isnan(o) and (np.isnan(p) or w == 0):
                raise InputError("missing opportunities per year, and no potential with a positive win rate to "
                                 "derive it from", source=source, row=int(r), column="opportunities_per_year")
        opp = np.where(np.isnan(opp), pot / np.where(win > 0, win * size, 1.0), opp)

    # quotas
    if quotas is not None:
        qsrc = _source(quotas, "<quotas>")
        for c in ("rep_id", "quota"):
            if c not in quotas.columns:
                raise InputError(f"required column '{c}' is missing (columns found: {', '.join(quotas.columns)})",
                                 source=qsrc)
        qids = _ids(quotas, "rep_id", qsrc)
        qv = parse_numeric(quotas, "quota", qsrc, what="quota")
        _check(quotas, qv, "quota", qsrc, lambda v: v > 0, "quota must be > 0")
        known = set(ids)
        for r, i in zip(_rows(quotas), qids, strict=True):
            if i not in known:
                raise InputError(f"rep '{i}' is not in the reps file {source}", source=qsrc, row=int(r),
                                 column="rep_id", value=i)
        by_id = dict(zip(qids, qv, strict=True))
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise InputError(f"no quota for rep(s) {', '.join(missing[:8])}" + (" …" if len(missing) > 8 else ""),
                             source=qsrc, column="quota")
        quota = np.array([by_id[i] for i in ids], dtype=float)
    else:
        if "quota" not in df.columns:
            raise InputError("required column 'quota' is missing (or give a quotas file rep_id,quota)",
                             source=source)
        quota = parse_numeric(df, "quota", source, what="quota")
        _check(df, quota, "quota", source, lambda v: v > 0, "quota must be > 0")

    measures = {}
    for c in df.columns:
        if c in KNOWN:
            continue
        vals = pd.to_numeric(pd.Series(df[c]), errors="coerce")
        if vals.notna().any():
            measures[c] = parse_numeric(df, c, source, allow_missing=True, nonnegative=False)
    return Reps(ids=tuple(ids), quota=quota, opportunities=opp, win_rate=win, deal_size_mean=size,
                deal_size_cv=cv, cycle_days=cycle, skill=skill, measures=measures, source=source,
                rows=tuple(int(r) for r in _rows(df)))


def with_quota(reps: Reps, quota: np.ndarray) -> Reps:
    """A copy of ``reps`` with other annual quotas (the quota methods use this)."""
    q = np.asarray(quota, dtype=float)
    if q.shape != (len(reps),) or not (q > 0).all():
        raise ValueError(f"need one positive quota per rep ({len(reps)}), got shape {q.shape}")
    return replace(reps, quota=q)


def subset(reps: Reps, idx) -> Reps:
    """The reps at positions ``idx``, in that order."""
    idx = np.asarray(idx, dtype=np.intp)
    return replace(reps, ids=tuple(reps.ids[i] for i in idx), quota=reps.quota[idx],
                   opportunities=reps.opportunities[idx], win_rate=reps.win_rate[idx],
                   deal_size_mean=reps.deal_size_mean[idx], deal_size_cv=reps.deal_size_cv[idx],
                   cycle_days=reps.cycle_days[idx], skill=reps.skill[idx],
                   measures={k: v[idx] for k, v in reps.measures.items()},
                   rows=tuple(reps.rows[i] for i in idx) if reps.rows else tuple(int(i) + 2 for i in idx))
