"""Readers and writers. Tables are read with every cell as text, so that ids keep their leading zeros and no
value is coerced behind the user's back; validation (``spmopt.data.validate``) then parses the columns it needs
and reports any cell it cannot parse by file, row and column."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from spmopt.errors import InputError

READERS = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet",
           ".xlsx": "excel", ".xlsm": "excel", ".xls": "excel"}
ROW_INDEX = "spreadsheet_row"
"""Name of the index :func:`read_table` gives its frames: each record's row as a spreadsheet (or a text editor,
for a CSV) shows it, header = row 1. Blank rows are dropped but keep their numbers out of the count."""


def existing_file(path: str | os.PathLike) -> Path:
    """``path`` as a Path, or an :class:`~spmopt.errors.InputError` when it is missing or a folder."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"file not found: {p}")
    if p.is_dir():
        raise InputError(f"expected a file, got a folder: {p}")
    return p


def read_table(path: str | os.PathLike, *, sheet: str | int = 0, allow_empty: bool = False) -> pd.DataFrame:
    """Read a CSV, TSV, Parquet or Excel file into a DataFrame of strings (missing cells are ``None``).

    Column names are stripped of surrounding white space; a name given twice, or values under a column with no
    name, is an error naming the file and the header. Blank rows are skipped, and the frame's index (named
    ``spreadsheet_row``) holds each record's row as a spreadsheet shows it (header = row 1), so errors name the
    row a person sees even after a blank line. ``attrs['source']`` holds the file name. A file with a header and
    no data rows is an error unless ``allow_empty``. Any failure to read the file (not found, corrupt, a zip
    named ``.xlsx``, not UTF-8, ragged rows …) is an :class:`~spmopt.errors.InputError` naming the file.
    """
    p = existing_file(path)
    kind = READERS.get(p.suffix.lower())
    if kind is None:
        raise InputError(f"unsupported file type '{p.suffix}' (use .csv, .tsv, .parquet or .xlsx)", source=str(p))
    try:
        if kind in ("csv", "tsv"):
            header, rows, records = _read_text(p, "\t" if kind == "tsv" else ",")
        elif kind == "parquet":
            header, rows, records = _read_parquet(p)
        else:
            header, rows, records = _read_excel(p, sheet)
    except InputError as exc:
        if exc.source is None:
            raise InputError(str(exc), source=str(p)) from None
        raise
    except pd.errors.EmptyDataError:
        raise InputError("the file is empty (no header row)", source=str(p)) from None
    except pd.errors.ParserError as exc:
        q = re.search(r"EOF inside string starting at row (\d+)", str(exc))
        if q:   # pandas counts records from 0 with the header as record 0: a spreadsheet row is one more
            raise InputError("a quote (\") opened in this row is never closed", source=str(p),
                             row=int(q.group(1)) + 1) from None
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if m:
            raise InputError(f"row has {m.group(3)} fields but the header {m.group(1)} (a stray separator, or a "
                             "value with a separator that needs quotes)", source=str(p), row=int(m.group(2))) from None
        raise InputError(f"cannot read {kind} file: {_reason(exc)}", source=str(p)) from None
    except UnicodeDecodeError as exc:
        row, bad = _first_non_utf8(p)
        raise InputError(f"not UTF-8 text ({bad or exc.reason}); save the file as UTF-8 (\"CSV UTF-8\" in Excel)",
                         source=str(p), row=row) from None
    except Exception as exc:  # noqa: BLE001 — every reading failure is the file's problem: name it, no traceback
        raise InputError(f"cannot read {kind} file: {_reason(exc)}", source=str(p)) from None
    names = _header(header, records, str(p))
    df = pd.DataFrame(records, columns=range(len(names)), dtype=object) if records else \
        pd.DataFrame(columns=range(len(names)), dtype=object)
    keep = [i for i, n in enumerate(names) if n is not None]
    df = df[keep]
    df.columns = [names[i] for i in keep]
    df.index = pd.Index(rows, name=ROW_INDEX, dtype="int64")
    df = df.map(_cell)
    df = df[df.notna().any(axis=1)] if len(df.columns) else df.iloc[:0]
    if df.empty and not allow_empty:
        raise InputError("no data rows (the file has a header only" + (")" if not records else
                                                                       " and blank rows)"), source=str(p))
    df.attrs["source"] = str(p)
    return df


def _first_non_utf8(p: Path) -> tuple[int | None, str | None]:
    """The first line of ``p`` that is not UTF-8 (its number, header = 1) and the offending byte."""
    with open(p, "rb") as fh:
        for n, line in enumerate(fh, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return n, f"byte 0x{line[exc.start]:02x} at character {exc.start + 1} of the row"
    return None, None


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    if name in ("BadZipFile", "InvalidFileException") or "zip file" in text.lower() or "in the archive" in text:
        return "not an Excel .xlsx workbook (the file is corrupt, truncated or of another type)"
    return f"{name}: {text}" if text else name


def _read_text(p: Path, sep: str) -> tuple[list, list[int], list[list]]:
    raw = pd.read_csv(p, sep=sep, header=None, dtype=str, keep_default_na=False, na_values=[""],
                      skipinitialspace=True, skip_blank_lines=False, encoding="utf-8")
    records = raw.astype(object).where(raw.notna(), None).values.tolist()
    return _split_header(records, list(range(1, len(records) + 1)))


def _split_header(records: list[list], rows: list[int]) -> tuple[list, list[int], list[list]]:
    """The first non-blank record is the header; the rest keep their own row numbers."""
    for k, rec in enumerate(records):
        if any(_cell(v) is not None for v in rec):
            return rec, rows[k + 1:], records[k + 1:]
    raise InputError("the file is empty (no header row)")


def _read_parquet(p: Path) -> tuple[list, list[int], list[list]]:
    import pyarrow.parquet as pq

    table = pq.read_table(p)
    header = list(table.column_names)
    cols = [table.column(i).to_pylist() for i in range(table.num_columns)]
    records = [list(r) for r in zip(*cols, strict=True)] if cols else []
    return header, list(range(2, len(records) + 2)), records


def _read_excel(p: Path, sheet: str | int) -> tuple[list, list[int], list[list]]:
    if p.suffix.lower() == ".xls":
        raise InputError("legacy Excel .xls files are not read; save the sheet as .xlsx or CSV UTF-8", source=str(p))
    import warnings

    import openpyxl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # openpyxl's notes on data validation and styles it does not keep
        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
    try:
        names = wb.sheetnames
        if isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise InputError(f"sheet {sheet} does not exist (the workbook has {len(names)}: {', '.join(names)})",
                                 source=str(p))
            ws = wb[names[sheet]]
        elif sheet not in names:
            raise InputError(f"no sheet named '{sheet}' (sheets: {', '.join(names)})", source=str(p))
        else:
            ws = wb[sheet]
        rows, records = [], []
        for cells in ws.iter_rows(min_row=1):
            vals = [c.value for c in cells]
            rn = next((c.row for c in cells if getattr(c, "row", None) is not None), None)
            if rn is None:
                rn = (rows[-1] + 1) if rows else 1
            rows.append(rn)
            records.append(vals)
    finally:
        wb.close()
    width = max((len(r) for r in records), default=0)
    records = [r + [None] * (width - len(r)) for r in records]
    return _split_header(records, rows)


def _header(header: list, records: list[list], source: str) -> list[str | None]:
    """Column names, refusing a name given twice and values under a blank header cell."""
    names: list[str | None] = []
    for i, h in enumerate(header):
        name = _cell(h)
        if name is None:
            if any(i < len(r) and _cell(r[i]) is not None for r in records):
                raise InputError(f"column {i + 1} ({_letter(i)}) has values but no header", source=source)
        names.append(name)
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        if n is None:
            continue
        if n in seen:
            raise InputError(f"duplicate column name '{n}' (columns {_letter(seen[n])} and {_letter(i)}); each "
                             "column may appear once", source=source, column=n)
        seen[n] = i
    return names


def _letter(i: int) -> str:
    """Spreadsheet column letter of position ``i`` (0 → A, 26 → AA)."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _cell(v: Any) -> str | None:
    """A cell as stripped text (``None`` when blank); typed values (Parquet, Excel) as their plain text."""
    if v is None:
        return None
    if isinstance(v, str):
        v = v.strip()
        return v or None
    if isinstance(v, float) and v != v:
        return None
    return _num_text(v)


def _num_text(v: Any) -> str:
    """Text of a value that came typed (Parquet/Excel): integers without a trailing '.0', dates as ISO
    ``YYYY-MM-DD`` (with the time only when it is not midnight)."""
    import datetime as dt

    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dt.datetime):
        if pd.isna(v):
            return None  # type: ignore[return-value]
        return v.date().isoformat() if v.time() == dt.time(0) else v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
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


def write_text_atomic(text: str, path: str | os.PathLike) -> Path:
    """Write ``text`` (UTF-8), atomically."""
    p = Path(path)
    _atomic_write(p, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
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


OUTPUT_MARKER = ".spmopt-output.json"
"""Written into every output folder a command fills: it marks the folder as one that a later run may replace."""


IMAGE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


def output_file(path: str | os.PathLike, *, option: str = "--out", suffixes: tuple[str, ...] = ()) -> Path:
    """Check, before any work, that a result file can be written at ``path`` (its folder is created if missing)
    and, with ``suffixes``, that its name ends in one of them; raise :class:`~spmopt.errors.InputError` naming
    the option and the path when not."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{option} {p} is a folder; give a file name")
    if suffixes and p.suffix.lower() not in suffixes:
        raise InputError(f"{option} {p}: the name must end in {', '.join(suffixes)} (the format is read from it)")
    writable_folder(p.parent, option=option, target=p)
    return p


def writable_folder(folder: Path, *, option: str, target: Path) -> None:
    """Create ``folder`` if missing and check a file can be made in it; InputError naming ``option`` if not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".spmopt-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"{option} {target}: cannot write there ({exc.strerror or type(exc).__name__}"
                         f"{'' if exc.filename is None else ': ' + str(exc.filename)})") from None


def is_output_folder(folder: Path) -> bool:
    """Was ``folder`` written by spmopt (its marker, or a scenario run's ``run.json``)?"""
    if (folder / OUTPUT_MARKER).is_file():
        return True
    try:
        run = json.loads((folder / "run.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(run, dict) and {"run_id", "content_hash", "stages"} <= set(run)


class OutputFolder:
    """An output folder that holds one run's files only, and never half of them.

    Made before the work starts, it checks that ``out`` can be (re)placed: not a file, not a folder of someone
    else's files (one without spmopt's marker), its parent writable; any problem is an
    :class:`~spmopt.errors.InputError` naming the path, so no finished work is lost to a bad ``--out``. The
    results are written into ``path``, a hidden sibling; :meth:`commit` swaps it in for ``out`` as a whole (the
    previous run's files go with it), :meth:`discard` removes it and leaves ``out`` untouched. As a context
    manager it commits on success and discards on any exception, Ctrl-C included.
    """

    def __init__(self, out: str | os.PathLike, *, command: str, option: str = "--out") -> None:
        self.out, self.command = Path(out), command
        if self.out.exists() and not self.out.is_dir():
            raise InputError(f"{option} {self.out} is a file, not a folder")
        if self.out.is_dir() and any(self.out.iterdir()) and not is_output_folder(self.out):
            raise InputError(f"{option} {self.out} holds files that spmopt did not write; choose an empty or new "
                             "folder (each run replaces its output folder as a whole)")
        writable_folder(self.out.parent, option=option, target=self.out)
        try:
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.partial-", dir=self.out.parent))
        except OSError as exc:
            raise InputError(f"{option} {self.out}: cannot write there ({exc.strerror or exc})") from None

    def commit(self) -> Path:
        """Swap the written folder in for ``out``; returns ``out``."""
        os.chmod(self.path, 0o755)   # mkdtemp makes it private; results are ordinary folders
        (self.path / OUTPUT_MARKER).write_text(json.dumps({"command": self.command}) + "\n")
        swap_into_place(self.path, self.out)
        return self.out

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def final(self, p: str | os.PathLike) -> Path:
        """Where a file written at ``p`` (inside :attr:`path`) will be once committed."""
        return self.out / Path(p).relative_to(self.path)

    def __enter__(self) -> OutputFolder:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()


def swap_into_place(stage_dir: Path, out: Path) -> None:
    """Replace ``out`` by ``stage_dir`` (renames on one file system; the old folder is removed afterwards)."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(out, old)
    try:
        os.replace(stage_dir, out)
    except OSError:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
