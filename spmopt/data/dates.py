"""Dates are ISO 8601 everywhere: ``YYYY-MM-DD`` (a time of day may follow, ``2025-03-31T17:00`` or
``2025-03-31 17:00:00``, and is ignored). Nothing else is read as a date: ``03/04/2025`` is March or April
depending on who wrote it, so it is refused with the file, row, column and value rather than guessed.

Typed cells (an Excel date, a Parquet date or timestamp) are unambiguous and are written as ISO text by
:func:`spmopt.data.read_table`, so they pass through here like typed text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BeforeValidator

from spmopt.errors import InputError

ISO_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})"
                      r"(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?$")
HINT = "write dates as YYYY-MM-DD, e.g. 2026-07-01"


def date_problem(value: Any) -> tuple[dt.date | None, str | None]:
    """``(date, None)`` for an ISO 8601 date (text, ``datetime.date`` or a pandas/NumPy timestamp at any time of
    day), else ``(None, reason)``."""
    if isinstance(value, pd.Timestamp | np.datetime64):
        value = pd.Timestamp(value)
        return (None, "not a date") if pd.isna(value) else (value.date(), None)
    if isinstance(value, dt.datetime):
        return value.date(), None
    if isinstance(value, dt.date):
        return value, None
    if not isinstance(value, str):
        return None, f"'{value}' is not a date ({HINT})"
    text = value.strip()
    m = ISO_DATE.match(text)
    if not m:
        return None, f"'{text}' is not an ISO date ({HINT}; day-first and month-first forms are ambiguous)"
    try:
        d = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError as exc:
        return None, f"'{text}' is not a date ({exc})"
    hh, mm, ss = (int(g) if g else 0 for g in m.group(4, 5, 6))
    if hh > 23 or mm > 59 or ss > 60:
        return None, f"'{text}' is not a date (the time of day {m.group(4)}:{m.group(5)} does not exist)"
    return d, None


def parse_date(value: Any, *, what: str = "date", source: str | None = None, row: int | None = None,
               column: str | None = None) -> dt.date:
    """One ISO date, or :class:`~spmopt.errors.InputError` naming ``what`` (an option such as ``--effective``,
    or a column) and the value."""
    d, problem = date_problem(value)
    if d is None:
        raise InputError(f"{what}: {problem}" if column is None else problem, source=source, row=row,
                         column=column, value=value)
    return d


def parse_date_column(values: Iterable[Any], rows: Iterable[int], *, source: str, column: str) -> np.ndarray:
    """A column of ISO dates as ``datetime64[ns]`` (midnight), naming the first missing or bad cell by its
    spreadsheet row."""
    out = []
    for r, v in zip(rows, values, strict=True):
        if v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip()):
            raise InputError(f"missing {column}", source=source, row=int(r), column=column)
        out.append(parse_date(v, source=source, row=int(r), column=column))
    return np.array(out, dtype="datetime64[D]").astype("datetime64[ns]")


def _iso_date_field(value: Any) -> dt.date:
    d, problem = date_problem(value)
    if d is None or (isinstance(value, dt.datetime | pd.Timestamp) and value != pd.Timestamp(d)):
        raise ValueError(problem or f"'{value}' has a time of day; give a date, {HINT}")
    return d


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date_field)]
"""A date field of a plan, stress or scenario file: ISO text or a YAML date only (no numbers, no other forms)."""
