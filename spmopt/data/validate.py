"""Validation of input tables into typed, immutable-by-convention DataFrames.

Every function takes a raw table (from :func:`spmopt.data.read_table`, or a DataFrame built in a notebook) and
returns a typed copy, or raises :class:`spmopt.errors.InputError` naming the file, the row (header = row 1, as a
spreadsheet shows it), the column and the bad value. Nothing is dropped and nothing is coerced silently: a cell
that cannot be read as a number is an error, not a NaN.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spmopt.data.io import ROW_INDEX
from spmopt.errors import InputError

UNIT_RESERVED = ("unit_id", "lat", "lon", "x", "y", "current_territory", "locked_territory")
TERRITORY_RESERVED = ("territory_id", "center_unit", "lat", "lon", "x", "y")
COUNT_MEASURE = "count"  # pseudo-measure: 1 per unit, unless the units file has a column of that name


@dataclass(frozen=True)
class Table:
    """A validated table and where it came from (``source`` is a file name or a label such as ``<units>``)."""

    frame: pd.DataFrame
    source: str


def _source(df: pd.DataFrame, default: str) -> str:
    return str(df.attrs.get("source") or default)


def spreadsheet_rows(df: pd.DataFrame) -> np.ndarray:
    """Spreadsheet row number of each record: the header is row 1, the first record row 2. A frame from
    :func:`spmopt.data.read_table` carries them in its index (blank rows skipped keep their numbers out)."""
    if df.index.name == ROW_INDEX:
        return df.index.to_numpy(dtype=np.int64)
    return np.arange(len(df)) + 2


_rows = spreadsheet_rows


def _records(df: pd.DataFrame) -> pd.DataFrame:
    """The table with a plain index for positional work, keeping :func:`read_table`'s row numbers."""
    return df if df.index.name == ROW_INDEX else df.reset_index(drop=True)


class RowMap(dict):
    """Record id → spreadsheet row, kept in a validated table's ``attrs['rows']`` for error messages. Read-only
    by convention, so a copy of the table shares it: pandas deep-copies ``attrs`` on every column access, and
    copying a dict of 50,000 rows each time cost seconds per solve stage on national cases."""

    def __deepcopy__(self, memo) -> RowMap:
        return self


def spelling_key(v: object) -> str:
    """A category's value with case and spacing folded: ``' Revenue  '`` and ``'revenue'`` share one key."""
    return " ".join(str(v).split()).casefold()


def check_spellings(values, rows, *, source: str, column: str, other=None, other_source: str | None = None) -> None:
    """Refuse category values that differ only in case or spacing (``Revenue`` and ``revenue``): they would be
    matched as different things and rows dropped from sums without a word. With ``other`` (the same category in
    another file), a value spelt differently there is refused too."""
    first: dict[str, tuple[str, int]] = {}
    for v, r in zip(values, rows, strict=True):
        if v is None:
            continue
        k = spelling_key(v)
        seen = first.setdefault(k, (v, int(r)))
        if seen[0] != v:
            raise InputError(f"'{v}' and '{seen[0]}' (row {seen[1]}) differ only in case or spacing; spell them "
                             "the same way (values are matched exactly)", source=source, row=int(r), column=column,
                             value=v)
    if other is not None:
        theirs = {spelling_key(v): v for v in other if v is not None}
        for k, (v, r) in first.items():
            if k in theirs and theirs[k] != v:
                raise InputError(f"'{v}' is spelt '{theirs[k]}' in {other_source}; spell them the same way (values "
                                 "are matched exactly)", source=source, row=r, column=column, value=v)


def _is_missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or (isinstance(v, str) and not v)


def _ids(df: pd.DataFrame, col: str, source: str) -> pd.Series:
    """The id column as text, refusing missing and duplicate ids."""
    if col not in df.columns:
        raise InputError(f"required column '{col}' is missing (columns found: {', '.join(map(str, df.columns))})",
                         source=source)
    rows = _rows(df)
    ids = []
    for r, v in zip(rows, df[col], strict=True):
        if _is_missing(v):
            raise InputError("missing id", source=source, row=int(r), column=col)
        ids.append(_id_text(v))
    s = pd.Series(ids, index=df.index, dtype=object)
    dup = s.duplicated(keep=False)
    if dup.any():
        first = s[dup].iloc[0]
        where = [int(r) for r, d in zip(rows, s == first, strict=True) if d]
        raise InputError(f"duplicate id '{first}' (rows {', '.join(map(str, where))})", source=source,
                         row=where[1], column=col, value=first)
    return s


def _id_text(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def parse_numeric(df: pd.DataFrame, col: str, source: str, *, allow_missing: bool = False,
                  nonnegative: bool = False, what: str = "value") -> np.ndarray:
    """Parse one column as float, naming the first bad cell (non-number, missing, infinite or negative)."""
    raw = df[col]
    parsed = pd.to_numeric(raw, errors="coerce").astype(float).to_numpy()
    rows = _rows(df)
    for r, v, p in zip(rows, raw, parsed, strict=True):
        if _is_missing(v):
            if not allow_missing:
                raise InputError(f"missing {what}", source=source, row=int(r), column=col)
        elif np.isnan(p):
            raise InputError(f"'{v}' is not a number", source=source, row=int(r), column=col, value=v)
        elif not np.isfinite(p):
            raise InputError(f"{what} must be finite, got {v}", source=source, row=int(r), column=col, value=v)
        elif nonnegative and p < 0:
            raise InputError(f"{what} must be >= 0, got {v}", source=source, row=int(r), column=col, value=v)
    return parsed


def _is_numeric_column(s: pd.Series) -> bool:
    present = s[[not _is_missing(v) for v in s]]
    if present.empty:
        return False
    return bool(pd.to_numeric(present, errors="coerce").notna().all())


def _refuse_stray_text(df: pd.DataFrame, col: str, source: str) -> None:
    """A column of numbers with a few text cells (``oops`` in a workload column) would be read as a label column
    and the measure would vanish from every table without a word: refuse it, naming the first text cell. A
    column counts as numbers when at least half of its filled cells (and two or more) are numbers."""
    present = [(r, v) for r, v in zip(_rows(df), df[col], strict=True) if not _is_missing(v)]
    parsed = pd.to_numeric(pd.Series([v for _, v in present], dtype=object), errors="coerce")
    n_num = int(parsed.notna().sum())
    if n_num >= 2 and 2 * n_num >= len(present):
        r, v = present[int(np.flatnonzero(parsed.isna().to_numpy())[0])]
        raise InputError(f"'{v}' is not a number, but {n_num} of the column's {len(present)} filled cells are: fix "
                         "the cell (a measure), or write the column as text throughout (a label)", source=source,
                         row=int(r), column=col, value=v)


def coordinate_system(df: pd.DataFrame, source: str) -> str | None:
    """``'latlon'``, ``'xy'`` or ``None`` from the columns present; half a pair is an error."""
    has = {c: c in df.columns for c in ("lat", "lon", "x", "y")}
    for a, b in (("lat", "lon"), ("x", "y")):
        if has[a] != has[b]:
            missing = b if has[a] else a
            raise InputError(f"column '{a if has[a] else b}' given without '{missing}'", source=source)
    if has["lat"]:
        return "latlon"
    if has["x"]:
        return "xy"
    return None


def _coordinates(df: pd.DataFrame, source: str, system: str | None, need: np.ndarray | None) -> dict:
    """Parse the coordinate pair; ``need`` marks rows that must have coordinates."""
    out: dict[str, np.ndarray] = {}
    if system is None:
        return out
    cols = ("lat", "lon") if system == "latlon" else ("x", "y")
    for c in cols:
        out[c] = parse_numeric(df, c, source, allow_missing=True, what="coordinate")
    a, b = out[cols[0]], out[cols[1]]
    rows = _rows(df)
    half = np.isnan(a) != np.isnan(b)
    if half.any():
        i = int(np.flatnonzero(half)[0])
        col = cols[0] if np.isnan(a[i]) else cols[1]
        raise InputError("coordinate pair is incomplete", source=source, row=int(rows[i]), column=col)
    if system == "latlon":
        for c, lim in (("lat", 90.0), ("lon", 180.0)):
            bad = np.abs(np.nan_to_num(out[c])) > lim
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InputError(f"{c} must be within ±{lim:g}, got {out[c][i]:g}", source=source,
                                 row=int(rows[i]), column=c, value=out[c][i])
    if need is not None:
        miss = np.isnan(a) & need
        if miss.any():
            i = int(np.flatnonzero(miss)[0])
            raise InputError("no coordinates and no distance row for this unit", source=source,
                             row=int(rows[i]), column=cols[0])
    return out


def validate_units(
    df: pd.DataFrame,
    *,
    source: str | None = None,
    measures: Iterable[str] = (),
    coordinates_required: bool | Iterable[str] = True,
) -> pd.DataFrame:
    """Validate a units table (accounts, ZIPs, bricks).

    Columns: ``unit_id`` (required, unique); ``lat,lon`` (haversine km) or ``x,y`` (Euclidean) coordinates;
    optional ``current_territory`` and ``locked_territory`` (territory ids, may be blank); any number of numeric
    measure columns; any other text columns are kept as labels.

    ``measures`` are the measures the request uses (balance, capacity, weight, disruption): each must be a
    column with a non-negative number in every row. ``coordinates_required`` is ``True`` (every unit needs
    coordinates), ``False``, or the set of unit ids that have no distance row and so need coordinates.

    Returns a DataFrame indexed by ``unit_id`` with numeric measures as float, ``attrs['measures']`` (numeric
    columns), ``attrs['coords']`` (``'latlon'``, ``'xy'`` or ``None``), ``attrs['rows']`` and ``attrs['source']``.
    """
    source = source or _source(df, "<units>")
    df = _records(df)
    ids = _ids(df, "unit_id", source)
    if not len(df):
        raise InputError("no data rows (only a header): give at least one unit", source=source)
    system = coordinate_system(df, source)
    if coordinates_required is True:
        need = np.ones(len(df), dtype=bool)
    elif coordinates_required is False:
        need = None
    else:
        needed = set(coordinates_required)
        need = ids.isin(needed).to_numpy()
    if system is None and need is not None and need.any():
        i = int(np.flatnonzero(need)[0])
        raise InputError("units have no coordinates (give 'lat,lon' or 'x,y' columns) and no distance table row",
                         source=source, row=int(_rows(df)[i]), column="unit_id", value=ids.iloc[i])
    out = pd.DataFrame(index=pd.Index(ids.to_numpy(), name="unit_id"))
    for c, v in _coordinates(df, source, system, need).items():
        out[c] = v
    for c in ("current_territory", "locked_territory"):
        if c in df.columns:
            out[c] = pd.Series([None if _is_missing(v) else _id_text(v) for v in df[c]], index=out.index,
                               dtype=object)
    measures = list(dict.fromkeys(measures))
    numeric: list[str] = []
    for c in df.columns:
        if c in UNIT_RESERVED:
            continue
        if c in measures:
            out[c] = parse_numeric(df, c, source, nonnegative=True, what="measure")
            numeric.append(c)
        elif _is_numeric_column(df[c]):
            out[c] = pd.to_numeric(df[c], errors="coerce").astype(float).to_numpy()
            numeric.append(c)
        else:
            _refuse_stray_text(df, c, source)
            out[c] = df[c].to_numpy()
    for m in measures:
        if m not in df.columns and m != COUNT_MEASURE:
            raise InputError(f"measure '{m}' is not a column (numeric columns: {', '.join(numeric) or 'none'}; "
                             f"'{COUNT_MEASURE}' counts units)", source=source, column=m)
    out.attrs.update(source=source, coords=system, measures=numeric, rows=RowMap(zip(ids, _rows(df), strict=True)))
    return out


def validate_territories(
    df: pd.DataFrame,
    units: pd.DataFrame,
    *,
    source: str | None = None,
    centres_required: bool = True,
) -> pd.DataFrame:
    """Validate a territories table: ``territory_id`` (unique) and a centre: ``center_unit`` (a unit id) or
    coordinates in the same system as the units. Optional per-territory limits are columns
    ``max_<measure>`` / ``min_<measure>`` (blank = no limit). Other columns are kept as labels.

    Returns a DataFrame indexed by ``territory_id`` with the centre coordinates filled in (from the centre unit
    where ``center_unit`` is used) and ``attrs['limits']`` = ``{(bound, measure): column}``.
    """
    source = source or _source(df, "<territories>")
    df = _records(df)
    ids = _ids(df, "territory_id", source)
    if not len(df):
        raise InputError("no data rows (only a header): give at least one territory", source=source)
    rows = _rows(df)
    out = pd.DataFrame(index=pd.Index(ids.to_numpy(), name="territory_id"))
    usys = units.attrs.get("coords")
    tsys = coordinate_system(df, source)
    centre = [None] * len(df)
    if "center_unit" in df.columns:
        for i, v in enumerate(df["center_unit"]):
            if _is_missing(v):
                continue
            u = _id_text(v)
            if u not in units.index:
                raise InputError(f"center_unit '{u}' is not a unit id", source=source, row=int(rows[i]),
                                 column="center_unit", value=u)
            centre[i] = u
    out["center_unit"] = centre
    cols = ("lat", "lon") if usys == "latlon" else ("x", "y")
    if tsys is not None and usys is not None and tsys != usys:
        raise InputError(f"territory centres use {tsys} coordinates but units use {usys}", source=source)
    coords = _coordinates(df, source, tsys, None) if tsys is not None else {}
    if usys is not None:
        has = np.array([u is not None for u in centre], dtype=bool)
        at = units.index.get_indexer([u for u in centre if u is not None])
        for k, c in enumerate(cols):
            vals = np.full(len(df), np.nan)
            if c in coords:
                vals = coords[c].copy()
            # one vectorised lookup: ``units.at`` per territory deep-copies the units' attrs (their row map) each
            # time, O(territories × units) — 52 s of make_problem on 50,000 × 500
            vals[has] = units[c].to_numpy(dtype=float)[at]
            out[c] = vals
            if centres_required and k == 0:
                miss = np.isnan(vals)
                if miss.any():
                    i = int(np.flatnonzero(miss)[0])
                    raise InputError("territory has no centre (give center_unit, or centre coordinates)",
                                     source=source, row=int(rows[i]), column="center_unit", value=ids.iloc[i])
    elif centres_required:
        raise InputError("units have no coordinates, so territories need a distance table", source=source)
    limits: dict[tuple[str, str], str] = {}
    for c in df.columns:
        if c in TERRITORY_RESERVED:
            continue
        bound, _, measure = c.partition("_")
        if bound in ("max", "min") and measure:
            if measure not in units.attrs.get("measures", []) and measure != COUNT_MEASURE:
                raise InputError(f"limit column '{c}' refers to unknown measure '{measure}'", source=source,
                                 column=c)
            out[c] = parse_numeric(df, c, source, allow_missing=True, nonnegative=True, what="limit")
            limits[(bound, measure)] = c
        else:
            out[c] = df[c].to_numpy()
    for (bound, measure), c in limits.items():
        hi = limits.get(("max", measure))
        if bound != "min" or hi is None:
            continue
        over = np.flatnonzero(out[c].to_numpy() > out[hi].to_numpy())   # NaN (no limit) compares False
        if len(over):
            i = int(over[0])
            raise InputError(f"territory '{ids.iloc[i]}' has {c} = {out[c].iloc[i]:,.6g} above its {hi} = "
                             f"{out[hi].iloc[i]:,.6g}: a minimum cannot exceed the maximum", source=source,
                             row=int(rows[i]), column=c, value=df[c].iloc[i])
    out.attrs.update(source=source, limits=limits, rows=RowMap(zip(ids, rows, strict=True)))
    return out


def require_coordinates(units: pd.DataFrame, unit_ids: Iterable[str]) -> None:
    """Raise for the first of ``unit_ids`` that has no coordinates (it has no distance row either)."""
    need = units.index.isin(list(unit_ids))
    system = units.attrs.get("coords")
    col = {"latlon": "lat", "xy": "x"}.get(system)
    missing = need if col is None else need & units[col].isna().to_numpy()
    if missing.any():
        uid = units.index[int(np.flatnonzero(missing)[0])]
        msg = ("units have no coordinates (give 'lat,lon' or 'x,y' columns) and no distance table row"
               if col is None else "no coordinates and no distance row for this unit")
        raise InputError(msg, source=units.attrs.get("source"), row=units.attrs["rows"].get(uid),
                         column=col or "unit_id", value=uid)


def check_territory_refs(units: pd.DataFrame, territory_ids: Iterable[str]) -> None:
    """Every ``current_territory`` / ``locked_territory`` of a unit must be a known territory id."""
    known = set(territory_ids)
    rows = units.attrs.get("rows", {})
    for c in ("current_territory", "locked_territory"):
        if c not in units.columns:
            continue
        for uid, t in units[c].items():
            if not _is_missing(t) and t not in known:
                raise InputError(f"unknown territory id '{t}' (known: {_preview(known)})",
                                 source=units.attrs.get("source"), row=rows.get(uid), column=c, value=t)


def _preview(ids: Iterable[str], n: int = 8) -> str:
    ids = sorted(ids)
    return ", ".join(ids[:n]) + (f", … ({len(ids)} in all)" if len(ids) > n else "")


def validate_distances(
    df: pd.DataFrame, unit_ids: Iterable[str], territory_ids: Iterable[str], *, source: str | None = None
) -> pd.DataFrame:
    """Validate a distance table ``unit_id,territory_id,distance`` (one row per allowed pair).

    Unknown ids, repeated pairs and missing, non-numeric or negative distances are errors.
    """
    source = source or _source(df, "<distances>")
    df = _records(df)
    for c in ("unit_id", "territory_id", "distance"):
        if c not in df.columns:
            raise InputError(f"required column '{c}' is missing", source=source)
    rows = _rows(df)
    known_u, known_t = set(unit_ids), set(territory_ids)
    u = [_id_text(v) if not _is_missing(v) else None for v in df["unit_id"]]
    t = [_id_text(v) if not _is_missing(v) else None for v in df["territory_id"]]
    for i in range(len(df)):
        if u[i] is None or u[i] not in known_u:
            raise InputError(f"unknown unit id '{u[i]}'", source=source, row=int(rows[i]), column="unit_id",
                             value=u[i])
        if t[i] is None or t[i] not in known_t:
            raise InputError(f"unknown territory id '{t[i]}'", source=source, row=int(rows[i]),
                             column="territory_id", value=t[i])
    d = parse_numeric(df, "distance", source, nonnegative=True, what="distance")
    out = pd.DataFrame({"unit_id": u, "territory_id": t, "distance": d})
    dup = out.duplicated(["unit_id", "territory_id"], keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(f"pair ({u[i]}, {t[i]}) appears more than once", source=source, row=int(rows[i]),
                         column="unit_id")
    out.attrs["source"] = source
    return out


def validate_adjacency(df: pd.DataFrame, unit_ids: Iterable[str], *, source: str | None = None) -> pd.DataFrame:
    """Validate an adjacency table ``unit_a,unit_b`` (undirected). Unknown ids and self-pairs are errors;
    a pair listed in both directions is one edge."""
    source = source or _source(df, "<adjacency>")
    df = _records(df)
    for c in ("unit_a", "unit_b"):
        if c not in df.columns:
            raise InputError(f"required column '{c}' is missing", source=source)
    known = set(unit_ids)
    rows = _rows(df)
    pairs = []
    for i, (a, b) in enumerate(zip(df["unit_a"], df["unit_b"], strict=True)):
        for c, v in (("unit_a", a), ("unit_b", b)):
            if _is_missing(v) or _id_text(v) not in known:
                raise InputError(f"unknown unit id '{v}'", source=source, row=int(rows[i]), column=c, value=v)
        a, b = _id_text(a), _id_text(b)
        if a == b:
            raise InputError(f"unit '{a}' is paired with itself", source=source, row=int(rows[i]), column="unit_b")
        pairs.append((min(a, b), max(a, b)))
    out = pd.DataFrame(pairs, columns=["unit_a", "unit_b"]).drop_duplicates(ignore_index=True)
    out.attrs["source"] = source
    return out
