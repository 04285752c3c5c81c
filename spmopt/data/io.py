"""Readers and writers. Tables are read with every cell as text, so that ids keep their leading zeros and no
value is coerced behind the user's back; validation (``spmopt.data.validate``) then parses the columns it needs
and reports any cell it cannot parse by file, row and column."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from spmopt.errors import InputError

READERS = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet",
           ".xlsx": "excel", ".xlsm": "excel", ".xls": "excel"}


def read_table(path: str | os.PathLike, *, sheet: str | int = 0) -> pd.DataFrame:
    """Read a CSV, TSV, Parquet or Excel file into a DataFrame of strings (missing cells are ``NA``).

    Column names are stripped of surrounding white space. The frame's ``attrs['source']`` holds the file name
    so that later errors can name it; row numbers in errors count the header as row 1, as a spreadsheet does.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"file not found: {p}")
    kind = READERS.get(p.suffix.lower())
    if kind is None:
        raise InputError(f"unsupported file type '{p.suffix}' (use .csv, .tsv, .parquet or .xlsx)", source=str(p))
    try:
        if kind in ("csv", "tsv"):
            df = pd.read_csv(p, sep="\t" if kind == "tsv" else ",", dtype=str, keep_default_na=False,
                             na_values=[""], skipinitialspace=True)
        elif kind == "parquet":
            df = pd.read_parquet(p)
        else:
            df = pd.read_excel(p, sheet_name=sheet, dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as exc:
        raise InputError(f"cannot read {kind} file: {exc}".splitlines()[0], source=str(p)) from exc
    df.columns = [str(c).strip() for c in df.columns]
    dupes = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dupes:
        raise InputError(f"duplicate column name(s): {', '.join(dupes)}", source=str(p))
    # Everything as text (or NA): numbers are parsed by validation, which names bad cells.
    df = df.astype(object).where(df.notna(), None)
    df = df.map(lambda v: v.strip() if isinstance(v, str) else (None if v is None else _num_text(v)))
    df = df.map(lambda v: None if v == "" else v)
    df.attrs["source"] = str(p)
    return df


def _num_text(v: Any) -> str:
    """Text of a value that came typed (Parquet/Excel): integers without a trailing '.0'."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)   # mkstemp makes the file private; results are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv_atomic(df: pd.DataFrame, path: str | os.PathLike, *, float_format: str = "%.10g") -> Path:
    """Write ``df`` as CSV through a temporary file, so an interrupted run never leaves half a file."""
    p = Path(path)
    _atomic_write(p, lambda tmp: df.to_csv(tmp, index=False, float_format=float_format))
    return p


def write_json_atomic(obj: Any, path: str | os.PathLike) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    p = Path(path)

    def _w(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=2, default=_json_default)
            fh.write("\n")

    _atomic_write(p, _w)
    return p


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
