"""What quotas are set on: one row per rep or territory with the figures the methods and bounds read.

Two ways in:

* a **reps table** (``rep_id`` rows): ``potential``, ``history`` (last period's sales), an optional roll-up
  column, ``last_quota``, and per-rep ``floor``, ``ceiling``, ``fixed_quota`` (blank = none). When the table
  also has the simulator's columns (``win_rate, deal_size_mean, deal_size_cv`` and ``opportunities_per_year``
  or ``potential``) it carries :class:`~spmopt.sim.Reps` for equal-chance quotas and P(attain);
* **units and an assignment** (``unit_id`` rows, summed per ``territory_id``): potential, history and the
  roll-up column are summed over each territory's units (the roll-up of account-level expectations); an
  optional territories table adds per-territory ``history``, ``last_quota``, ``floor``, ``ceiling``,
  ``fixed_quota`` and a ``rep_id`` carried to the output. Without an assignment the units' ``current_territory``
  column is the alignment.

Errors name the file, row and column; no row is dropped: a unit missing from the assignment, or assigned but
not in the units file, is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from spmopt.data.validate import RowMap, _id_text, _ids, _is_missing, _rows, _source, parse_numeric
from spmopt.errors import InputError

SIM_COLUMNS = ("win_rate", "deal_size_mean", "deal_size_cv")


@dataclass(frozen=True)
class QuotaBasis:
    """Validated figures per quota holder (arrays aligned with ``ids``; NaN = not given)."""

    ids: tuple[str, ...]
    id_column: str                      # "rep_id" or "territory_id"
    potential: np.ndarray
    history: np.ndarray
    rollup: np.ndarray
    last_quota: np.ndarray
    floor: np.ndarray
    ceiling: np.ndarray
    fixed: np.ndarray
    labels: dict[str, list] = field(default_factory=dict)   # extra text columns carried to the output (rep_id …)
    units: np.ndarray | None = None                         # units per territory (territory basis)
    reps: object | None = None                              # spmopt.sim.Reps when the table has simulator columns
    source: str = "<basis>"
    columns: dict[str, str] = field(default_factory=dict)   # which input column fed potential/history/rollup
    rows: tuple[int, ...] | None = None                     # spreadsheet row of each holder (table input)

    def __len__(self) -> int:
        return len(self.ids)

    def require(self, what: str, why: str) -> np.ndarray:
        v = getattr(self, what)
        col = self.columns.get(what, what)
        if np.isnan(v).all():
            raise InputError(f"{why} needs a '{col}' column", source=self.source, column=col)
        if np.isnan(v).any():
            i = int(np.flatnonzero(np.isnan(v))[0])
            raise InputError(f"{why} needs '{col}' for every {self.id_column[:-3]}; {self.ids[i]} has none",
                             source=self.source, row=self.rows[i] if self.rows else None, column=col,
                             value=self.ids[i])
        return v


def _optional(df: pd.DataFrame, col: str | None, source: str, *, what: str, nonneg: bool = True) -> np.ndarray:
    if col is None or col not in df.columns:
        return np.full(len(df), np.nan)
    return parse_numeric(df, col, source, allow_missing=True, nonnegative=nonneg, what=what)


def _require_column(df: pd.DataFrame, col: str, source: str) -> None:
    if col not in df.columns:
        raise InputError(f"required column '{col}' is missing (columns found: {', '.join(map(str, df.columns))})",
                         source=source)


def basis_from_table(df: pd.DataFrame, *, potential: str = "potential", history: str = "history",
                     rollup: str | None = None, source: str | None = None) -> QuotaBasis:
    """A reps (``rep_id``) or territories (``territory_id``) table, one row per quota holder."""
    source = source or _source(df, "<reps>")
    if len(df) == 0:
        raise InputError("the table has no rows", source=source)
    rollup = rollup or ("rollup" if "rollup" in df.columns else None)
    id_col = "rep_id" if "rep_id" in df.columns else "territory_id"
    _require_column(df, id_col, source)
    ids = _ids(df, id_col, source)
    for col in (c for c in (potential, history, rollup) if c):
        if col not in df.columns and col not in ("potential", "history"):
            raise InputError(f"column '{col}' is not in the table (columns found: {', '.join(map(str, df.columns))})",
                             source=source, column=col)
    reps = None
    if all(c in df.columns for c in SIM_COLUMNS):
        from spmopt.sim.inputs import read_reps

        sim = df if "quota" in df.columns else df.assign(quota="1")
        sim.attrs["source"] = source
        reps = read_reps(sim, source=source)
    labels = {c: [None if _is_missing(v) else _id_text(v) for v in df[c]]
              for c in ("territory_id", "rep_id", "name") if c in df.columns and c != id_col}
    return QuotaBasis(
        ids=tuple(ids), id_column=id_col,
        potential=_optional(df, potential, source, what="potential"),
        history=_optional(df, history, source, what="history"),
        rollup=_optional(df, rollup, source, what="roll-up"),
        last_quota=_optional(df, "last_quota", source, what="last quota"),
        floor=_optional(df, "floor", source, what="floor"),
        ceiling=_optional(df, "ceiling", source, what="ceiling"),
        fixed=_optional(df, "fixed_quota", source, what="fixed quota"),
        labels=labels, reps=reps, source=source, rows=tuple(int(r) for r in _rows(df)),
        columns={"potential": potential, "history": history, "rollup": rollup or "rollup"})


def read_assignment(df: pd.DataFrame, unit_ids: list[str], *, units_source: str,
                    source: str | None = None) -> pd.Series:
    """``unit_id,territory_id`` → Series unit → territory covering exactly the units of the units file."""
    source = source or _source(df, "<assignment>")
    _require_column(df, "territory_id", source)
    ids = _ids(df, "unit_id", source)
    known = set(unit_ids)
    terr = []
    for r, u, t in zip(_rows(df), ids, df["territory_id"], strict=True):
        if u not in known:
            raise InputError(f"unit '{u}' is not in the units file {units_source}", source=source, row=int(r),
                             column="unit_id", value=u)
        if _is_missing(t):
            raise InputError("missing territory", source=source, row=int(r), column="territory_id")
        terr.append(_id_text(t))
    out = pd.Series(terr, index=ids.to_numpy(), dtype=object)
    missing = [u for u in unit_ids if u not in out.index]
    if missing:
        raise InputError(f"{len(missing)} unit(s) of {units_source} have no territory, e.g. "
                         f"{', '.join(missing[:5])}", source=source, column="unit_id")
    return out.reindex(unit_ids)


def read_assignment_shares(df: pd.DataFrame, unit_ids: list[str], *, units_source: str,
                           source: str | None = None) -> tuple[list[str], list[str], np.ndarray]:
    """``unit_id,territory_id[,share]`` → (unit, territory, share) rows covering exactly the units of the units
    file. A unit split between territories (``assignment.csv`` of an alignment with ``split``) has one row per
    territory, with shares in (0, 1] adding up to 1; without a ``share`` column every unit has one row."""
    source = source or _source(df, "<assignment>")
    if "share" not in df.columns:
        terr = read_assignment(df, unit_ids, units_source=units_source, source=source)
        return list(terr.index), list(terr), np.ones(len(terr))
    _require_column(df, "unit_id", source)
    _require_column(df, "territory_id", source)
    for r, v in zip(_rows(df), df["unit_id"], strict=True):
        if _is_missing(v):
            raise InputError("missing unit id", source=source, row=int(r), column="unit_id")
    ids = [_id_text(v) for v in df["unit_id"]]
    shares = parse_numeric(df, "share", source, nonnegative=True, what="share")
    known = set(unit_ids)
    rows = list(_rows(df))
    seen: dict[tuple[str, str], int] = {}
    total: dict[str, float] = {}
    first_row: dict[str, int] = {}
    units, terrs = [], []
    for r, u, t, w in zip(rows, ids, df["territory_id"], shares, strict=True):
        if u not in known:
            raise InputError(f"unit '{u}' is not in the units file {units_source}", source=source, row=int(r),
                             column="unit_id", value=u)
        if _is_missing(t):
            raise InputError("missing territory", source=source, row=int(r), column="territory_id")
        t = _id_text(t)
        if not 0 < w <= 1:
            raise InputError(f"a share must be in (0, 1], got {w:g}", source=source, row=int(r), column="share",
                             value=w)
        if (u, t) in seen:
            raise InputError(f"unit '{u}' is given to territory '{t}' twice (rows {seen[(u, t)]} and {r})",
                             source=source, row=int(r), column="territory_id", value=t)
        seen[(u, t)] = int(r)
        total[u] = total.get(u, 0.0) + float(w)
        first_row.setdefault(u, int(r))
        units.append(u)
        terrs.append(t)
    bad = next((u for u, v in total.items() if abs(v - 1) > 1e-6), None)
    if bad is not None:
        raise InputError(f"the shares of unit '{bad}' add up to {total[bad]:g}, not 1", source=source,
                         row=first_row[bad], column="share", value=bad)
    missing = [u for u in unit_ids if u not in total]
    if missing:
        raise InputError(f"{len(missing)} unit(s) of {units_source} have no territory, e.g. "
                         f"{', '.join(missing[:5])}", source=source, column="unit_id")
    return units, terrs, np.asarray(shares, dtype=float)


def read_units(units: pd.DataFrame, columns: list[str], *, source: str | None = None) -> pd.DataFrame:
    """The units table's ids and the numeric ``columns`` present (non-negative), indexed by ``unit_id``."""
    source = source or _source(units, "<units>")
    ids = _ids(units, "unit_id", source)
    out = pd.DataFrame(index=pd.Index(ids.to_numpy(), name="unit_id"))
    for c in dict.fromkeys(columns):
        if c in units.columns:
            out[c] = parse_numeric(units, c, source, nonnegative=True, what=c)
    if "current_territory" in units.columns:
        out["current_territory"] = [None if _is_missing(v) else _id_text(v) for v in units["current_territory"]]
    out.attrs.update(source=source, rows=RowMap(zip(ids, _rows(units), strict=True)))
    return out


def basis_from_units(units: pd.DataFrame, assignment: pd.DataFrame | pd.Series | None = None,
                     territories: pd.DataFrame | None = None, *, potential: str = "potential",
                     history: str = "history", rollup: str | None = None) -> QuotaBasis:
    """Sum unit figures per territory of ``assignment`` (or of the units' ``current_territory``)."""
    usrc = _source(units, "<units>")
    rollup = rollup or ("rollup" if "rollup" in units.columns else None)
    for col in (c for c in (potential, history, rollup) if c):
        if col not in units.columns and col not in ("potential", "history"):
            raise InputError(f"column '{col}' is not in the units file (columns found: "
                             f"{', '.join(map(str, units.columns))})", source=usrc, column=col)
    u = read_units(units, [c for c in (potential, history, rollup) if c], source=usrc)
    unit_ids = list(u.index)
    if assignment is None:
        if "current_territory" not in u.columns:
            raise InputError("give an assignment (unit_id,territory_id), or a current_territory column",
                             source=usrc, column="current_territory")
        missing = [i for i, t in zip(unit_ids, u["current_territory"], strict=True) if t is None]
        if missing:
            r = u.attrs["rows"][missing[0]]
            raise InputError(f"{len(missing)} unit(s) have no current territory", source=usrc, row=r,
                             column="current_territory", value=missing[0])
        terr = pd.Series(list(u["current_territory"]), index=unit_ids, dtype=object)
    elif isinstance(assignment, pd.Series):
        terr = assignment.astype(object).reindex(unit_ids)
        if terr.isna().any():
            raise InputError(f"unit '{terr.index[terr.isna()][0]}' has no territory in the assignment",
                             source=usrc, column="unit_id")
    if assignment is None or isinstance(assignment, pd.Series):
        row_units, row_terr, row_share = unit_ids, list(terr), np.ones(len(unit_ids))
    else:   # a file: one row per unit, or per unit and territory with a share for split units
        row_units, row_terr, row_share = read_assignment_shares(assignment, unit_ids, units_source=usrc)
    order = list(dict.fromkeys(sorted(row_terr)))
    idx = pd.Index(order)
    code = idx.get_indexer(np.asarray(row_terr, dtype=object))
    upos = pd.Index(unit_ids).get_indexer(np.asarray(row_units, dtype=object))
    n = len(order)

    def total(col: str | None) -> np.ndarray:
        if col is None or col not in u.columns:
            return np.full(n, np.nan)
        return np.bincount(code, weights=u[col].to_numpy(dtype=float)[upos] * row_share, minlength=n)

    b = dict(potential=total(potential), history=total(history), rollup=total(rollup))
    extra = dict(last_quota=np.full(n, np.nan), floor=np.full(n, np.nan), ceiling=np.full(n, np.nan),
                 fixed=np.full(n, np.nan))
    labels: dict[str, list] = {}
    source = usrc
    if territories is not None:
        tsrc = _source(territories, "<territories>")
        tids = _ids(territories, "territory_id", tsrc)
        pos = idx.get_indexer(tids.to_numpy())
        for r, t, p in zip(_rows(territories), tids, pos, strict=True):
            if p < 0:
                raise InputError(f"territory '{t}' has no units in the assignment", source=tsrc, row=int(r),
                                 column="territory_id", value=t)
        for key, col in (("history", history), ("last_quota", "last_quota"), ("floor", "floor"),
                         ("ceiling", "ceiling"), ("fixed", "fixed_quota")):
            if col in territories.columns:
                v = parse_numeric(territories, col, tsrc, allow_missing=True, nonnegative=True, what=col)
                arr = np.full(n, np.nan)
                arr[pos] = v
                if key == "history":   # blank or missing territories keep the units' sum
                    b["history"] = np.where(np.isnan(arr), b["history"], arr)
                else:
                    extra[key] = arr
        for c in ("rep_id", "name"):
            if c in territories.columns:
                vals = [None] * n
                for p, v in zip(pos, territories[c], strict=True):
                    vals[p] = None if _is_missing(v) else _id_text(v)
                labels[c] = vals
        source = f"{usrc} + {tsrc}"
    return QuotaBasis(ids=tuple(order), id_column="territory_id", units=np.bincount(code, minlength=n),
                      labels=labels, source=source,
                      columns={"potential": potential, "history": history, "rollup": rollup or "rollup"},
                      **b, **extra)


def basis_from_alignment(alignment, territories: pd.DataFrame | None = None, *, potential: str = "potential",
                         history: str = "history", rollup: str | None = None) -> QuotaBasis:
    """The territories of an :class:`~spmopt.territory.Alignment` (its units' figures summed)."""
    units = alignment.problem.units.rename_axis("unit_id").reset_index()
    units.attrs["source"] = alignment.problem.units.attrs.get("source", "<units>")
    return basis_from_units(units, alignment.assignment.astype(object), territories, potential=potential,
                            history=history, rollup=rollup)
