"""A catalogue of bad and unusual inputs, each run through the real command line in a subprocess.

Every case asserts the README's contract: the exit code (0 success, 2 bad input, 3 infeasible, 4 no answer in
time), no traceback, the error on ONE line of stderr (the first line starting with ``input error:``,
``infeasible:`` …; progress lines may come before it, nothing may follow it), and that line names the
offending file, and the row / column / key / option where there is one. Commands that write an output folder
get ``--out out`` pre-filled with the files of an earlier successful run of the same command; the whole case
folder (that ``out/``, any ``.out.partial-*`` sibling, every input) must be byte-for-byte unchanged afterwards.

Each subprocess costs start-up time, so the inputs are tiny (the 7-unit line case of conftest.py, 20 simulated
trials on one worker) and the pure extra cases are marked ``slow``.

Three hypothesis properties at the end check the same rules in-process over random inputs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spmopt.data import read_table
from spmopt.data.yamlfile import read_yaml
from spmopt.errors import InputError
from spmopt.plans import load_plan
from spmopt.plans.backtest import read_actuals

SPMOPT = Path(sys.executable).parent / "spmopt"
SCEN = Path(__file__).resolve().parents[1] / "scenarios"
ERROR_PREFIXES = ("input error:", "infeasible:", "solver:", "internal error:", "error:", "warning:")

# The 7-unit line case of conftest.py (`line_units`, `line_territories`) as files.
UNITS = """unit_id,x,y,potential,workload,current_territory
u1,0,0,10,3,A
u2,1,0,30,1,A
u3,2,0,20,2,A
u4,4,0,15,2,A
u5,6,0,5,4,B
u6,9,0,10,3,B
u7,10,0,10,1,B
"""
TERRITORIES = "territory_id,x,y\nA,0,0\nB,10,0\n"
AFTER = "unit_id,territory_id\nu1,A\nu2,A\nu3,A\nu4,B\nu5,B\nu6,B\nu7,B\n"
TERRITORY_QUOTAS = "territory_id,quota\nA,750\nB,250\n"
SCENARIO = """name: tiny
data:
  units: u.csv
  territories: t.csv
align:
  balance: {potential: 0.9}
  time_limit: 5
quota:
  target: 1000
  method: potential
"""
ALIGN = ["align", "--units", "u.csv", "--territories", "t.csv", "--time-limit", "5", "--no-plot", "--no-contiguity"]
SIM = ["simulate", "--reps", "reps.csv", "--plan", "minimal.yaml", "--trials", "20", "--workers", "1", "--no-plot"]
BT = ["backtest", "--plan", "minimal.yaml", "--actuals", "actuals.csv", "--quotas", "quotas.csv", "--no-plot"]
QUOTA = ["quota", "--reps", "qreps.csv", "--no-simulate", "--no-plot"]
RELIEF = ["quota-relief", "--units", "u.csv", "--quotas", "tq.csv", "--after", "after.csv", "--no-plot"]


# ------------------------------------------------------------------------------------------- file builders
def write(tmp: Path, name: str, text: str | bytes) -> str:
    p = tmp / name
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return name


def lines_edit(text: str, edit: Callable[[list[str]], list[str]] | None) -> str:
    lines = text.splitlines()
    return "\n".join(edit(lines) if edit else lines) + "\n"


def set_line(i: int, new: str) -> Callable[[list[str]], list[str]]:
    """Replace line ``i`` (0 = header)."""
    return lambda ls: ls[:i] + [new] + ls[i + 1:]


def replace_in_line(i: int, old: str, new: str) -> Callable[[list[str]], list[str]]:
    def edit(ls):
        assert old in ls[i], (old, ls[i])
        return ls[:i] + [ls[i].replace(old, new, 1)] + ls[i + 1:]
    return edit


def units(tmp: Path, edit=None, name: str = "u.csv") -> str:
    return write(tmp, name, lines_edit(UNITS, edit))


def align_files(tmp: Path, units_edit=None, terr: str = TERRITORIES) -> None:
    units(tmp, units_edit)
    write(tmp, "t.csv", terr)


def copy_shipped(tmp: Path, rel: str, name: str | None = None, edit=None) -> str:
    name = name or Path(rel).name
    text = (SCEN / rel).read_text(encoding="utf-8")
    return write(tmp, name, lines_edit(text, edit) if edit else text)


def sim_files(tmp: Path) -> None:
    copy_shipped(tmp, "sim/reps.csv")
    copy_shipped(tmp, "plans/minimal.yaml")


def bt_files(tmp: Path, actuals_edit=None, quotas_edit=None) -> None:
    copy_shipped(tmp, "plans/minimal.yaml")
    copy_shipped(tmp, "history/actuals.csv", edit=actuals_edit)
    copy_shipped(tmp, "history/quotas.csv", edit=quotas_edit)


def quota_files(tmp: Path) -> None:
    copy_shipped(tmp, "quota/reps.csv", "qreps.csv")


def relief_files(tmp: Path, after: str = AFTER, tq: str = TERRITORY_QUOTAS) -> None:
    units(tmp)
    write(tmp, "after.csv", after)
    write(tmp, "tq.csv", tq)


def scenario_files(tmp: Path, text: str = SCENARIO, name: str = "s.yaml") -> str:
    align_files(tmp)
    return write(tmp, name, text)


def xlsx(tmp: Path, name: str, rows: list[list]) -> str:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    wb.save(tmp / name)
    return name


def zip_of_text(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("units.csv", UNITS)


def xlsx_units_rows() -> list[list]:
    return [line.split(",") for line in UNITS.splitlines()]


# ------------------------------------------------------------------------------------- running the command
def run_cli(args: list[str], cwd: Path, timeout: float = 180) -> tuple[subprocess.CompletedProcess, float]:
    env = dict(os.environ, MPLBACKEND="Agg")
    for k in ("COLUMNS", "LINES", "FORCE_COLOR"):
        env.pop(k, None)   # the default (non-terminal, 80 columns) console: a long error must still be one line
    t0 = time.perf_counter()
    proc = subprocess.run([str(SPMOPT), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    return proc, time.perf_counter() - t0


def snapshot(folder: Path) -> dict[str, str | None]:
    """Every file (hashed) and folder under ``folder``, hidden ones included."""
    snap: dict[str, str | None] = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        snap[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
    return snap


# Output folders of earlier successful runs, made once per session (lazily, per command) and copied into each case.
PREFILL: dict[str, tuple[list[str], Callable[[Path], None]]] = {
    "align": (ALIGN + ["--balance", "potential=0.9", "--out", "out"], lambda t: align_files(t)),
    "simulate": (SIM + ["--out", "out"], sim_files),
    "backtest": (BT + ["--out", "out"], lambda t: bt_files(t)),
    "quota": (QUOTA + ["--target", "21000000", "--out", "out"], quota_files),
    "quota-relief": (RELIEF + ["--effective", "2026-07-01", "--out", "out"], lambda t: relief_files(t)),
    "run": (["run", "s.yaml", "--out", "out", "--no-store"], lambda t: scenario_files(t)),
}


@pytest.fixture(scope="session")
def prefilled(tmp_path_factory):
    made: dict[str, Path] = {}

    def get(command: str) -> Path:
        if command not in made:
            args, build = PREFILL[command]
            d = tmp_path_factory.mktemp(f"prefill-{command}")
            build(d)
            proc, _ = run_cli(args, d)
            assert proc.returncode == 0, f"prefill run of {command} failed:\n{proc.stdout}\n{proc.stderr}"
            assert (d / "out" / ".spmopt-output.json").is_file() or (d / "out" / "run.json").is_file()
            made[command] = d / "out"
        return made[command]
    return get


# ------------------------------------------------------------------------------------------------ the cases
@dataclass
class Case:
    id: str
    build: Callable[[Path], list[str]]        # writes the inputs into the case folder, returns the arguments
    code: int
    expect: tuple[str, ...] = ()              # all in the error line
    any_of: tuple[str, ...] = ()              # at least one in the error line
    prefill: str | None = None                # command whose earlier output is put in ./out first
    max_wall: float | None = None
    slow: bool = False
    kind: str | None = None                   # the error line's prefix; default from the exit code
    marks: list = field(default_factory=list)


def C(id, build, code, *expect, **kw) -> Case:  # noqa: N802 — a short table constructor
    return Case(id, build, code, tuple(expect), **kw)


def _align(extra: list[str], units_edit=None, terr: str = TERRITORIES, out: str = "out"):
    def build(tmp):
        align_files(tmp, units_edit, terr)
        base = [a for a in ALIGN if a != "--no-contiguity"] if "--contiguity" in extra else ALIGN
        return base + extra + ["--out", out]
    return build


def _align_units(name: str, make: Callable[[Path], object], extra=("--balance", "potential=0.9")):
    def build(tmp):
        write(tmp, "t.csv", TERRITORIES)
        make(tmp)
        return ["align", "--units", name, "--territories", "t.csv", "--time-limit", "5", "--no-plot", *extra,
                "--out", "out", "--no-contiguity"]
    return build


def _sim(extra: list[str], setup: Callable[[Path], object] | None = None):
    def build(tmp):
        sim_files(tmp)
        if setup:
            setup(tmp)
        return SIM + extra + ["--out", "out"]
    return build


def _bt(actuals_edit=None, quotas_edit=None, extra=(), out="out"):
    def build(tmp):
        bt_files(tmp, actuals_edit, quotas_edit)
        return BT + list(extra) + ["--out", out]
    return build


def _quota(extra: list[str]):
    def build(tmp):
        quota_files(tmp)
        return QUOTA + extra + ["--out", "out"]
    return build


def _relief(extra: list[str], after: str = AFTER, tq: str = TERRITORY_QUOTAS):
    def build(tmp):
        relief_files(tmp, after, tq)
        return RELIEF + extra + ["--out", "out"]
    return build


def _plan(text: str, extra=(), name: str = "p.yaml"):
    def build(tmp):
        write(tmp, name, text)
        return ["plan", "check", name, *extra]
    return build


def _validate(text: str, extra=(), command: str = "validate"):
    def build(tmp):
        name = scenario_files(tmp, text)
        return [command, name, *extra] + (["--out", "out", "--no-store"] if command == "run" else [])
    return build


def _stress(text: str):
    return _sim(["--stress", "stress.yaml"], lambda t: write(t, "stress.yaml", text))


def _reps_edit(i: int, col: int, value: str):
    def edit(ls):
        f = ls[i].split(",")
        f[col] = value
        return ls[:i] + [",".join(f)] + ls[i + 1:]
    return edit


def _northeast(tmp: Path) -> list[str]:
    for f in ("units.csv", "territories.csv", "adjacency.csv"):
        copy_shipped(tmp, f"northeast/{f}", f"ne_{f}")
    return ["align", "--units", "ne_units.csv", "--territories", "ne_territories.csv", "--contiguity",
            "ne_adjacency.csv", "--balance", "potential=0.02", "--balance", "workload=0.02", "--time-limit", "600",
            "--no-plot"]


def _fail_fast(out: str):
    def build(tmp):
        write(tmp, "somefile.txt", "not a folder\n")
        return _northeast(tmp) + ["--out", out]
    return build


def after(base: Callable[[Path], list[str]], *setups: Callable[[Path], object]):
    """``base`` writes the usual inputs and gives the arguments; ``setups`` then add or overwrite files."""
    def build(tmp):
        args = base(tmp)
        for setup in setups:
            setup(tmp)
        return args
    return build


def fixed(args: list[str], *setups: Callable[[Path], object]):
    """Fixed arguments after ``setups`` wrote the inputs."""
    def build(tmp):
        for setup in setups:
            setup(tmp)
        return list(args)
    return build


def _out_to(base: Callable[[Path], list[str]], target: str, *setups: Callable[[Path], object]):
    """``base`` with its ``--out`` replaced by ``target``."""
    def build(tmp):
        args = base(tmp)
        for setup in setups:
            setup(tmp)
        i = args.index("--out")
        return args[:i] + ["--out", target] + args[i + 2:]
    return build


def _foreign(base: Callable[[Path], list[str]]):
    """``--out foreign``: a folder of someone else's files."""
    def build(tmp):
        args = base(tmp)
        write(tmp, "foreign/keep.txt", "mine, not spmopt's\n")
        return args[:args.index("--out")] + ["--out", "foreign"] + args[args.index("--out") + 2:]
    return build


def _under_file(base: Callable[[Path], list[str]], option: str = "--out", target: str = "somefile.txt/sub"):
    def build(tmp):
        args = base(tmp)
        write(tmp, "somefile.txt", "a file\n")
        i = args.index(option)
        return args[:i] + [option, target] + args[i + 2:]
    return build


PLAN_OK = "name: P\ntarget_incentive: 10000\ncomponents:\n  - quota_bonus: {measure: revenue, curve: [[1.0, 1.0]]}\n"
LATIN1 = (b"unit_id,x,y,potential,workload,current_territory\nu1,0,0,10,3,A\n"
          b"u\xe92,1,0,30,1,A\nu3,2,0,20,2,B\n")

CASES: list[Case] = [
    # ---- the shared table reader (through `align --units`) -------------------------------------------
    C("csv-duplicate-header", _align([], lambda ls: [ls[0].replace("workload", "x")] + ls[1:]), 2,
      "u.csv", "column 'x'", "duplicate", prefill="align"),
    C("csv-values-under-blank-header", _align([], lambda ls: [ls[0].replace("workload", "")] + ls[1:]), 2,
      "u.csv", "column 5 (E)", "no header", prefill="align"),
    C("csv-header-only", _align([], lambda ls: ls[:1]), 2, "u.csv", "no data rows", prefill="align"),
    C("csv-empty-0-bytes", _align_units("u.csv", lambda t: write(t, "u.csv", "")), 2, "u.csv", "empty",
      prefill="align"),
    C("csv-ragged-row", _align([], lambda ls: ls + ["u8,1,2,3,4,A,extra"]), 2, "u.csv", "row 9", "7 fields",
      prefill="align"),
    C("xlsx-truncated", _align_units("u.xlsx", lambda t: write(
        t, "u.xlsx", (t / xlsx(t, "full.xlsx", xlsx_units_rows())).read_bytes()[:1500])), 2,
      "u.xlsx", "not an Excel .xlsx workbook", prefill="align"),
    C("xlsx-that-is-a-csv", _align_units("u.xlsx", lambda t: write(t, "u.xlsx", UNITS)), 2,
      "u.xlsx", "not an Excel .xlsx workbook", prefill="align", slow=True),
    C("xlsx-that-is-another-zip", _align_units("u.xlsx", lambda t: zip_of_text(t / "u.xlsx")), 2,
      "u.xlsx", "not an Excel .xlsx workbook", prefill="align", slow=True),
    C("xls-legacy-refused", _align_units("u.xls", lambda t: write(t, "u.xls", UNITS)), 2, "u.xls", ".xls",
      prefill="align"),
    C("csv-latin1-bytes", _align_units("latin.csv", lambda t: write(t, "latin.csv", LATIN1)), 2,
      "latin.csv", "not UTF-8", prefill="align"),
    C("csv-latin1-bytes-where", _align_units("latin.csv", lambda t: write(t, "latin.csv", LATIN1)), 2,
      "latin.csv", any_of=("row 3", "byte 64"), prefill="align", slow=True),
    C("unknown-extension", _align_units("u.dat", lambda t: write(t, "u.dat", UNITS)), 2, "u.dat", "'.dat'",
      prefill="align"),
    C("folder-given-as-file", _align_units("adir.csv", lambda t: (t / "adir.csv").mkdir()), 2, "adir.csv",
      "folder", prefill="align"),
    C("missing-file", _align_units("nowhere.csv", lambda t: None), 2, "nowhere.csv", "not found",
      prefill="align"),
    C("bad-cell-after-blank-line-is-row-7", _align(
        ["--balance", "potential=0.9"], lambda ls: ls[:4] + [""] + ls[4:5] + ["u5,6,0,abc,4,B"] + ls[6:]), 2,
      "u.csv", "row 7", "column 'potential'", "'abc'", prefill="align"),
    C("bad-cell-after-two-blank-lines", _align(
        ["--balance", "potential=0.9"], lambda ls: ls[:4] + ["", ""] + ls[4:6] + ["u6,9,0,xyz,3,B"] + ls[7:]), 2,
      "u.csv", "row 9", "column 'potential'", "'xyz'", prefill="align", slow=True),
    C("measure-infinite", _align(["--balance", "potential=0.9"], replace_in_line(3, ",20,", ",inf,")), 2,
      "u.csv", "row 4", "column 'potential'", "finite", prefill="align", slow=True),
    C("measure-overflows-to-infinity", _align(["--balance", "potential=0.9"], replace_in_line(3, ",20,", ",1e400,")),
      2, "u.csv", "row 4", "column 'potential'", "1e400", prefill="align", slow=True),
    C("measure-negative", _align(["--balance", "potential=0.9"], replace_in_line(4, ",15,", ",-15,")), 2,
      "u.csv", "row 5", "column 'potential'", "-15", prefill="align", slow=True),
    C("measure-nan-text", _align(["--balance", "potential=0.9"], replace_in_line(3, ",20,", ",nan,")), 2,
      "u.csv", "row 4", "column 'potential'", "'nan'", prefill="align", slow=True),
    C("measure-thousands-separator", _align(["--balance", "potential=0.9"],
                                            replace_in_line(3, ",20,", ',"1,000",')), 2,
      "u.csv", "row 4", "column 'potential'", "'1,000'", prefill="align", slow=True),
    C("measure-header-case", _align(["--balance", "potential=0.9"],
                                    lambda ls: [ls[0].replace("potential", "Potential")] + ls[1:]), 2,
      "u.csv", "column 'potential'", "Potential", prefill="align", slow=True),
    C("missing-unit-id", _align([], set_line(2, ",1,0,30,1,A")), 2, "u.csv", "row 3", "column 'unit_id'",
      "missing", prefill="align", slow=True),
    C("duplicate-unit-id", _align([], replace_in_line(5, "u5", "u2")), 2, "u.csv", "row 6", "column 'unit_id'",
      "'u2'", prefill="align", slow=True),
    C("unknown-territory-ref", _align([], replace_in_line(6, ",B", ",Z")), 2, "u.csv", "row 7",
      "column 'current_territory'", "'Z'", prefill="align", slow=True),
    C("lat-out-of-range", _align_units("ll.csv", lambda t: (
        write(t, "ll.csv", "unit_id,lat,lon,potential,current_territory\nu1,40,-74,1,A\nu2,41,-74,1,A\n"
                           "u3,95,-74,1,B\nu4,42,-73,1,B\n"),
        write(t, "t.csv", "territory_id,lat,lon\nA,40,-74\nB,42,-73\n"))), 2,
      "ll.csv", "row 4", "column 'lat'", "95", prefill="align", slow=True),
    C("lon-out-of-range", _align_units("ll.csv", lambda t: (
        write(t, "ll.csv", "unit_id,lat,lon,potential,current_territory\nu1,40,-74,1,A\nu2,41,-74,1,A\n"
                           "u3,42,-200,1,B\nu4,42,-73,1,B\n"),
        write(t, "t.csv", "territory_id,lat,lon\nA,40,-74\nB,42,-73\n"))), 2,
      "ll.csv", "row 4", "column 'lon'", "-200", prefill="align", slow=True),
    C("xlsx-bad-cell-after-blank-rows", _align_units("u.xlsx", lambda t: xlsx(
        t, "u.xlsx", xlsx_units_rows() + [[], [], ["u8", "5", "0", "bad", "1", "A"]])), 2,
      "u.xlsx", "row 11", "column 'potential'", "'bad'", prefill="align", slow=True),
    C("xlsx-duplicate-header", _align_units("u.xlsx", lambda t: xlsx(
        t, "u.xlsx", [["unit_id", "x", "potential", "x"], ["u1", 1, 2, 3]])), 2,
      "u.xlsx", "column 'x'", "duplicate", prefill="align", slow=True),
    C("parquet-that-is-a-csv", _align_units("u.parquet", lambda t: write(t, "u.parquet", UNITS)), 2,
      "u.parquet", "parquet", prefill="align", slow=True),
    C("tsv-with-commas", _align_units("u.tsv", lambda t: write(t, "u.tsv", UNITS)), 2, "u.tsv", "'unit_id'",
      prefill="align", slow=True),
    C("csv-unterminated-quote", _align([], set_line(3, 'u3,2,0,"20,2,A')), 2, "u.csv", "row 4",
      prefill="align", slow=True),
    C("territory-duplicate-id", _align([], terr="territory_id,x,y\nA,0,0\nA,10,0\n"), 2, "t.csv", "row 3",
      "column 'territory_id'", "'A'", prefill="align", slow=True),
    C("territory-non-numeric-x", _align([], terr="territory_id,x,y\nA,0,0\nB,ten,0\n"), 2, "t.csv", "row 3",
      "column 'x'", "'ten'", prefill="align", slow=True),
    C("territory-unknown-center-unit", _align([], terr="territory_id,center_unit\nA,u1\nB,u99\n"), 2, "t.csv",
      "row 3", "column 'center_unit'", "'u99'", prefill="align", slow=True),
    C("territory-min-above-max", _align([], terr="territory_id,x,y,min_potential,max_potential\nA,0,0,10,100\n"
                                                 "B,10,0,60,40\n"), 2,
      "t.csv", "row 3", "'B'", "min_potential", "max_potential", prefill="align", slow=True),
    C("adjacency-unknown-unit", after(_align(["--contiguity", "adj.csv"]),
                                      lambda t: write(t, "adj.csv", "unit_a,unit_b\nu1,u2\nu2,u99\n")), 2,
      "adj.csv", "row 3", "column 'unit_b'", "'u99'", prefill="align", slow=True),
    C("distance-negative", after(_align(["--distances", "d.csv"]),
                                 lambda t: write(t, "d.csv", "unit_id,territory_id,distance\nu1,A,-1\n")), 2,
      "d.csv", "row 2", "column 'distance'", "-1", prefill="align", slow=True),

    # ---- align options, refused at parse time --------------------------------------------------------
    C("opt-time-limit-negative", _align(["--time-limit", "-5"]), 2, "--time-limit", "-5", prefill="align"),
    C("opt-time-limit-nan", _align(["--time-limit", "nan"]), 2, "--time-limit", "nan", prefill="align", slow=True),
    C("opt-mip-gap-negative", _align(["--mip-gap", "-1"]), 2, "--mip-gap", "-1", prefill="align"),
    C("opt-mip-gap-one", _align(["--mip-gap", "1"]), 2, "--mip-gap", prefill="align", slow=True),
    C("opt-balance-not-a-number", _align(["--balance", "potential=abc"]), 2, "--balance", "'abc'",
      prefill="align"),
    C("opt-balance-negative", _align(["--balance", "potential=-0.1"]), 2, "--balance", "-0.1", prefill="align",
      slow=True),
    C("opt-balance-without-value", _align(["--balance", "potential"]), 2, "--balance", "'potential'",
      prefill="align", slow=True),
    C("opt-balance-given-twice", _align(["--balance", "potential=0.1", "--balance", "potential=0.2"]), 2,
      "--balance", "'potential'", "twice", prefill="align"),
    C("opt-balance-unknown-measure", _align(["--balance", "nosuch=0.1"]), 2, "u.csv", "'nosuch'",
      prefill="align", slow=True),
    C("opt-max-disruption-above-one", _align(["--max-disruption", "potential=1.5"]), 2, "--max-disruption",
      "1.5", prefill="align"),
    C("opt-k-zero", fixed(["align", "--units", "u.csv", "--k", "0", "--out", "out", "--no-contiguity"], align_files), 2,
      "--k", prefill="align"),
    C("opt-regions-one", _align(["--regions", "1"]), 2, "--regions", prefill="align"),
    C("opt-candidates-negative", _align(["--candidates", "-1"]), 2, "--candidates", prefill="align", slow=True),
    C("opt-pareto-bogus", _align(["--pareto", "bogus"]), 2, "--pareto", "'bogus'", prefill="align", slow=True),
    C("opt-remove-unknown-territory", _align(["--remove", "ZZ"]), 2, "t.csv", "'ZZ'", prefill="align",
      slow=True),
    C("opt-unknown-option", _align(["--bogus-opt", "3"]), 2, "--bogus-opt", prefill="align"),
    C("opt-missing-out", fixed(ALIGN, align_files), 2, "--out", "required"),
    C("opt-missing-units", fixed(["align", "--territories", "t.csv", "--out", "out",
                                  "--no-contiguity"], align_files), 2,
      "--units", "required", prefill="align", slow=True),

    # ---- output places -------------------------------------------------------------------------------
    C("out-is-a-file-fails-before-solving", _fail_fast("somefile.txt"), 2, "--out", "somefile.txt",
      max_wall=10),
    C("out-under-a-file-fails-before-solving", _fail_fast("somefile.txt/sub"), 2, "--out", "somefile.txt",
      max_wall=10),
    C("out-folder-of-foreign-files", _foreign(_align([])), 2, "--out", "foreign",
      "holds files that spmopt did not write"),
    C("plan-plot-under-a-file", _under_file(_plan(PLAN_OK, ["--plot", "curve.png"]), "--plot",
                                            "somefile.txt/sub/curve.png"), 2, "--plot", "somefile.txt"),
    C("plan-plot-is-a-folder", after(_plan(PLAN_OK, ["--plot", "pics"]), lambda t: (t / "pics").mkdir()), 2,
      "--plot", "pics", "folder", slow=True),
    C("plan-plot-unknown-image-type", _plan(PLAN_OK, ["--plot", "curve.txt"]), 2, "--plot", "curve.txt"),
    C("plan-plot-without-extension", _plan(PLAN_OK, ["--plot", "curve"]), 2, "--plot", "curve", slow=True),
    C("backtest-out-under-a-file", _under_file(_bt()), 2, "--out", "somefile.txt"),
    C("backtest-out-foreign", _foreign(_bt()), 2, "--out", "foreign", "did not write", slow=True),
    C("simulate-out-is-a-file", _out_to(_sim([]), "somefile.txt", lambda t: write(t, "somefile.txt", "x\n")), 2,
      "--out", "somefile.txt", slow=True),
    C("quota-out-under-a-file", _under_file(_quota(["--target", "21000000"])), 2, "--out", "somefile.txt",
      slow=True),
    C("relief-out-foreign", _foreign(_relief(["--effective", "2026-07-01"])), 2, "--out", "foreign",
      slow=True),
    C("run-out-is-a-file", _out_to(_validate(SCENARIO, command="run"), "somefile.txt",
                                   lambda t: write(t, "somefile.txt", "x\n")), 2, "--out", "somefile.txt", slow=True),
    C("run-out-foreign", _foreign(_validate(SCENARIO, command="run")), 2, "foreign", "run.json", slow=True),
    C("run-out-under-a-file", _under_file(_validate(SCENARIO, command="run")), 2, "--out", "somefile.txt", slow=True),
    C("run-store-under-a-file", fixed(["run", "s.yaml", "--out", "newout", "--store", "somefile.txt/runs.duckdb"],
                                      scenario_files, lambda t: write(t, "somefile.txt", "x\n")), 2,
      "--store", "somefile.txt", slow=True),

    # ---- infeasible requests: exit 3 with the number to relax to ---------------------------------------
    C("infeasible-capacity", _align(["--capacity", "workload=1"]), 3, "capacity", "'workload'", "16",
      prefill="align"),
    C("infeasible-territory-max", _align([], terr="territory_id,x,y,max_potential\nA,0,0,30\nB,10,0,30\n"), 3,
      "t.csv", "max_potential", "100", prefill="align", slow=True),
    C("infeasible-no-disruption", _align(["--balance", "potential=0.01", "--max-disruption", "potential=0"]), 3,
      "disruption", "'potential'", "24.50%", prefill="align", slow=True),
    C("infeasible-k-above-units", fixed(["align", "--units", "u.csv", "--k", "9", "--no-plot", "--out", "out",
                                         "--no-contiguity"], align_files), 3, "k = 9", "7",
      prefill="align", slow=True),
    C("infeasible-contiguity-pieces", after(_align(["--contiguity", "adj.csv"]),
                                            lambda t: write(t, "adj.csv", "unit_a,unit_b\nu1,u2\nu3,u4\n")), 3,
      "adj.csv", "5 separate pieces", prefill="align", slow=True),
    C("infeasible-quota-growth", _quota(["--target", "21000000", "--growth", "0:0.01"]), 3, "growth", "-8.93 %",
      prefill="quota", slow=True),
    C("infeasible-validate-capacity", _validate(SCENARIO.replace("balance: {potential: 0.9}",
                                                                 "capacity: {workload: 1}")), 3,
      "capacity", "'workload'", "16", slow=True),

    # ---- YAML: plans, stress files, scenarios -----------------------------------------------------------
    C("plan-duplicate-key", _plan("name: Dup\ntarget_incentive: 10000\ntarget_incentive: 20000\ncomponents:\n"
                                  "  - quota_bonus: {measure: revenue, curve: [[1.0, 1.0]]}\n"), 2,
      "p.yaml", "line 3", "'target_incentive'", "line 2"),
    C("plan-duplicate-key-in-flow-mapping", _plan("name: Dup\ntarget_incentive: 10000\ncomponents:\n"
                                                  "  - type: commission\n    measure: revenue\n    tiers:\n"
                                                  "      - {from: 0, rate: 0.04, rate: 0.05}\n"), 2,
      "p.yaml", "line 7", "'rate'", slow=True),
    C("plan-syntax-error", _plan("name: Bad\ntarget_incentive: 10000\ncomponents:\n"
                                 "  - quota_bonus: {measure: revenue, curve: [[1.0, 1.0]]\n  - foo\n"), 2,
      "p.yaml", "line 5", "not valid YAML"),
    C("plan-tab-indent", _plan("name: Tab\n\ttarget_incentive: 1\n"), 2, "p.yaml", "line 2", slow=True),
    C("plan-commission-rate-300-percent", _plan("name: Rich\ntarget_incentive: 10000\ncomponents:\n"
                                                "  - type: commission\n    measure: revenue\n    tiers:\n"
                                                "      - {from: 0, rate: 3}\n"), 0,
      "p.yaml", "key 'components[0].tiers[0].rate'", "300%", kind="warning:"),
    C("plan-not-a-mapping", _plan("- a\n- b\n"), 2, "p.yaml", "mapping", slow=True),
    C("plan-negative-target-incentive", _plan(PLAN_OK.replace("10000", "-5")), 2, "p.yaml",
      "key 'target_incentive'", "-5", slow=True),
    C("plan-missing-file", fixed(["plan", "check", "nowhere.yaml"]), 2, "nowhere.yaml", "not found",
      slow=True),
    C("plan-check-quota-negative", _plan(PLAN_OK, ["--quota", "-5"]), 2, "--quota", "-5"),
    C("stress-case-defined-twice", _stress("cases:\n  base: {}\n  downturn:\n    demand: 0.85\n  downturn:\n"
                                           "    demand: 0.7\n"), 2,
      "stress.yaml", "line 5", "'downturn'", prefill="simulate", slow=True),
    C("stress-unknown-key", _stress("cases:\n  base: {}\n  crash:\n    demnd: 0.5\n"), 2, "stress.yaml",
      "'cases.crash.demnd'", prefill="simulate", slow=True),
    C("stress-shock-month-13", _stress("cases:\n  crash:\n    shock: {month: 13, demand: 0.5}\n"), 2,
      "stress.yaml", "'cases.crash.shock.month'", "13", prefill="simulate", slow=True),
    C("stress-syntax-error", _stress("cases: [base, boom\n"), 2, "stress.yaml", "line 2", prefill="simulate",
      slow=True),
    C("simulate-plan-duplicate-key", _sim(["--plan", "dup.yaml"], lambda t: write(
        t, "dup.yaml", "name: D\ntarget_incentive: 1\nname: E\ncomponents: []\n")), 2, "dup.yaml", "line 3",
      "'name'", prefill="simulate", slow=True),
    C("scenario-quota-target-twice", _validate(SCENARIO + "  target: 2000\n"), 2, "s.yaml", "line 11", "'target'",
      "line 9"),
    C("scenario-duplicate-key-in-flow-mapping", _validate(SCENARIO.replace("{potential: 0.9}",
                                                                           "{potential: 0.9, potential: 0.5}")), 2,
      "s.yaml", "line 6", "'potential'", slow=True),
    C("scenario-duplicate-top-level-key", _validate("name: a\n" + SCENARIO), 2, "s.yaml", "line 2", "'name'",
      slow=True),
    C("scenario-key-typo", _validate(SCENARIO.replace("balance:", "balanse:")), 2, "s.yaml", "line 6",
      "'align.balanse'", "'balance'", slow=True),
    C("scenario-missing-data-file", _validate(SCENARIO.replace("units: u.csv", "units: nowhere.csv")), 2,
      "s.yaml", "line 3", "'data.units'", "nowhere.csv", slow=True),
    C("scenario-bad-data-file", after(_validate(SCENARIO), lambda t: units(t, replace_in_line(4, ",15,", ",-15,"))),
      2, "u.csv", "row 5", "column 'potential'", slow=True),
    C("scenario-syntax-error", _validate("name: tiny\ndata:\n  units: u.csv\n align:\n"), 2, "s.yaml", "line 4"),
    C("scenario-set-bad-value", _validate(SCENARIO, ["--set", "quota.target=-5"]), 2, "s.yaml",
      "'quota.target'", "--set", slow=True),
    C("scenario-set-duplicate-key", _validate(SCENARIO, ["--set", "align.balance={potential: 0.1, potential: 0.2}"]),
      2, "--set", "align.balance", "'potential'", slow=True),
    C("run-scenario-duplicate-key", _validate(SCENARIO + "  target: 2000\n", command="run"), 2, "s.yaml",
      "line 11", "'target'", prefill="run", slow=True),

    # ---- dates are ISO only ---------------------------------------------------------------------------
    C("actuals-date-day-first", _bt(replace_in_line(4, "2025-01-04", "03/04/2025")), 2, "actuals.csv", "row 5",
      "column 'date'", "'03/04/2025'", prefill="backtest"),
    C("actuals-date-february-30", _bt(replace_in_line(4, "2025-01-04", "2025-02-30")), 2, "actuals.csv",
      "row 5", "column 'date'", "'2025-02-30'", prefill="backtest", slow=True),
    C("actuals-date-missing", _bt(replace_in_line(4, "2025-01-04", "")), 2, "actuals.csv", "row 5",
      "column 'date'", "missing", prefill="backtest", slow=True),
    C("actuals-date-hour-25", _bt(replace_in_line(4, "2025-01-04", "2025-01-04T25:00")), 2, "actuals.csv",
      "row 5", "column 'date'", prefill="backtest", slow=True),
    C("actuals-date-unpadded", _bt(replace_in_line(4, "2025-01-04", "2025-1-4")), 2, "actuals.csv", "row 5",
      "column 'date'", "'2025-1-4'", prefill="backtest", slow=True),
    C("relief-effective-day-first", _relief(["--effective", "01/07/2026"]), 2, "--effective", "'01/07/2026'",
      prefill="quota-relief"),
    C("relief-effective-february-30", _relief(["--effective", "2026-02-30"]), 2, "--effective", "'2026-02-30'",
      prefill="quota-relief", slow=True),
    C("relief-period-reversed", _relief(["--effective", "2026-07-01", "--period-start", "2026-12-31",
                                         "--period-end", "2026-01-01"]), 2, "--period-end", "--period-start",
      prefill="quota-relief", slow=True),
    C("relief-effective-outside-period", _relief(["--effective", "2027-02-01", "--period-start", "2026-01-01",
                                                  "--period-end", "2026-12-31"]), 2, "--effective", "2027-02-01",
      prefill="quota-relief", slow=True),
    C("quota-weight-unknown-part", _quota(["--target", "1e6", "--method", "blend", "--weight", "bogus=1"]), 2,
      "--weight", "'bogus'", prefill="quota", slow=True),
    C("align-territories-and-k", _align(["--k", "2"]), 2, "--territories", "--k", prefill="align", slow=True),
    C("quotas-period-q5", _bt(quotas_edit=replace_in_line(3, "2025-Q2", "2025-Q5")), 2, "quotas.csv", "row 4",
      "column 'period'", "'2025-Q5'", prefill="backtest", slow=True),

    # ---- backtest spellings and values ----------------------------------------------------------------
    C("actuals-measure-Revenue-and-revenue", _bt(replace_in_line(6, ",revenue,", ",Revenue,")), 2, "actuals.csv",
      "row 7", "column 'measure'", "'Revenue'", "'revenue'", prefill="backtest"),
    C("actuals-rep-case-vs-quotas", _bt(lambda ls: [re.sub(r"^R010,", "r010,", x) for x in ls]), 2,
      "actuals.csv", "column 'rep_id'", "'r010'", "'R010'", "quotas.csv", prefill="backtest"),
    C("actuals-rep-case-within-file", _bt(replace_in_line(3, "R011", "r011")), 2, "actuals.csv",
      "column 'rep_id'", "'R011'", "'r011'", prefill="backtest", slow=True),
    C("actuals-value-not-a-number", _bt(_reps_edit(7, 3, "12k")), 2, "actuals.csv", "row 8", "column 'value'",
      "'12k'", prefill="backtest", slow=True),
    C("quotas-duplicate-row", _bt(quotas_edit=lambda ls: ls + [ls[1]]), 2, "quotas.csv", "row 202",
      "column 'period'", "twice", prefill="backtest", slow=True),
    C("quotas-negative", _bt(quotas_edit=replace_in_line(2, ",2.0", ",-2")), 2, "quotas.csv", "row 3",
      "column 'quota'", "-2", prefill="backtest", slow=True),
    C("backtest-revenue-measure-unknown", _bt(extra=["--revenue-measure", "nosuch"]), 2, "--revenue-measure",
      "'nosuch'", prefill="backtest", slow=True),

    # ---- simulate options and files -------------------------------------------------------------------
    C("sim-seed-negative", _sim(["--seed", "-1"]), 2, "--seed", "-1", prefill="simulate", slow=True),
    C("sim-trials-zero", _sim(["--trials", "0"]), 2, "--trials", prefill="simulate"),
    C("sim-workers-zero", _sim(["--workers", "0"]), 2, "--workers", prefill="simulate"),
    C("sim-year-1800", _sim(["--year", "1800"]), 2, "--year", "1800", prefill="simulate"),
    C("sim-year-negative", _sim(["--year", "-5"]), 2, "--year", "-5", prefill="simulate", slow=True),
    C("sim-behaviour-bogus", _sim(["--behaviour", "bogus"]), 2, "--behaviour", "'bogus'", prefill="simulate"),
    C("sim-engine-bogus", _sim(["--engine", "bogus"]), 2, "--engine", "'bogus'", prefill="simulate"),
    C("sim-des-engine-several-years", _sim(["--engine", "des", "--years", "2"]), 2, "des", "--years",
      prefill="simulate", slow=True),
    C("sim-years-zero", _sim(["--years", "0"]), 2, "--years", prefill="simulate"),
    C("sim-quota-rule-bogus", _sim(["--quota-rule", "ratchet:x"]), 2, "quota rule", "'ratchet:x'",
      prefill="simulate"),
    C("sim-chunk-size-zero", _sim(["--chunk-size", "0"]), 2, "--chunk-size", prefill="simulate", slow=True),
    C("sim-reps-win-rate-above-one",
      after(_sim([]), lambda t: copy_shipped(t, "sim/reps.csv", edit=_reps_edit(3, 3, "1.5"))), 2,
      "reps.csv", "row 4", "column 'win_rate'", "1.5", prefill="simulate", slow=True),
    C("sim-reps-missing-column", after(_sim([]), lambda t: copy_shipped(t, "sim/reps.csv", edit=lambda ls: [
        ",".join(x.split(",")[:3] + x.split(",")[4:]) for x in ls])), 2,
      "reps.csv", "'win_rate'", "missing", prefill="simulate", slow=True),
    C("sim-quotas-unknown-rep", _sim(["--quotas", "q.csv"], lambda t: write(
        t, "q.csv", "rep_id,quota\nR001,100000\nR999,5\n")), 2, "q.csv", "row 3", "column 'rep_id'", "'R999'",
      prefill="simulate", slow=True),

    # ---- quota and quota relief ----------------------------------------------------------------------
    C("quota-target-negative", _quota(["--target", "-1"]), 2, "--target", "-1", prefill="quota", slow=True),
    C("quota-target-not-a-number", _quota(["--target", "abc"]), 2, "--target", prefill="quota", slow=True),
    C("quota-method-bogus", _quota(["--target", "1e6", "--method", "bogus"]), 2, "--method", "'bogus'",
      prefill="quota"),
    C("quota-weight-given-twice", _quota(["--target", "1e6", "--method", "blend", "--weight", "potential=0.7",
                                          "--weight", "potential=0.3"]), 2, "--weight", "'potential'", "twice",
      prefill="quota", slow=True),
    C("quota-fix-not-a-number", _quota(["--target", "1e6", "--fix", "R001=abc"]), 2, "--fix", "'abc'",
      prefill="quota", slow=True),
    C("quota-round-zero", _quota(["--target", "1e6", "--round", "0"]), 2, "--round", prefill="quota", slow=True),
    C("quota-growth-reversed", _quota(["--target", "1e6", "--growth", "0.5:-0.2"]), 2, "growth", "0.5", "-0.2",
      prefill="quota", slow=True),
    C("relief-after-unknown-unit", _relief(["--effective", "2026-07-01"], after=AFTER.replace("u7,B", "u9,B")), 2,
      "after.csv", "row 8", "column 'unit_id'", "'u9'", prefill="quota-relief", slow=True),
    C("relief-after-duplicate-unit", _relief(["--effective", "2026-07-01"], after=AFTER + "u7,A\n"), 2,
      "after.csv", "row 9", "column 'unit_id'", "'u7'", prefill="quota-relief", slow=True),
    C("relief-negative-quota", _relief(["--effective", "2026-07-01"], tq="territory_id,quota\nA,750\nB,-250\n"), 2,
      "tq.csv", "row 3", "column 'quota'", "-250", prefill="quota-relief", slow=True),

    # ---- generate ------------------------------------------------------------------------------------
    C("generate-units-zero", fixed(["generate", "--units", "0", "--territories", "2", "--out", "out"]), 2,
      "--units", slow=True),
    C("generate-seed-negative", fixed(["generate", "--units", "20", "--territories", "2", "--seed", "-3",
                                       "--out", "out"]), 2, "--seed", "-3", slow=True),
]


def _params():
    for c in CASES:
        marks = list(c.marks)
        if c.slow:
            marks.append(pytest.mark.slow)
        yield pytest.param(c, id=c.id, marks=marks)


def test_catalogue_is_large_and_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 70
    assert sum(not c.slow for c in CASES) >= 40   # the rest run in CI's slow pass (make test-slow)


@pytest.mark.parametrize("case", list(_params()))
def test_bad_input(case: Case, tmp_path: Path, prefilled):
    args = case.build(tmp_path)
    if case.prefill:
        assert "out" in args, "a pre-filled case must write to ./out"
        shutil.copytree(prefilled(case.prefill), tmp_path / "out")
    before = snapshot(tmp_path)

    proc, wall = run_cli(args, tmp_path)
    both = proc.stdout + proc.stderr
    shown = (f"$ spmopt {' '.join(args)}\n--- exit {proc.returncode}\n--- stdout\n{proc.stdout}\n"
             f"--- stderr\n{proc.stderr}")

    assert proc.returncode == case.code, shown
    assert "Traceback" not in both, shown
    assert "internal error" not in both, shown

    kind = case.kind or {2: "input error:", 3: "infeasible:", 4: "solver:"}.get(case.code)
    err = proc.stderr.splitlines()
    at = next((i for i, line in enumerate(err) if line.startswith(ERROR_PREFIXES)), None)
    assert at is not None, f"no error line on stderr\n{shown}"
    line = err[at]
    assert line.startswith(kind), shown
    assert [x for x in err[at + 1:] if x.strip()] == [], f"the error must be one line, nothing after it\n{shown}"
    for frag in case.expect:
        assert frag in line, f"{frag!r} not in the error line\n{shown}"
    if case.any_of:
        assert any(frag in line for frag in case.any_of), shown
    if case.max_wall is not None:
        assert wall < case.max_wall, f"took {wall:.1f} s: the bad output place must be refused before solving"

    # nothing written, nothing changed: the pre-filled out/, the inputs, no .out.partial-* / .out.old-* left
    after = snapshot(tmp_path)
    assert after == before, (
        f"files changed: added {sorted(set(after) - set(before))}, removed {sorted(set(before) - set(after))}, "
        f"modified {sorted(k for k in set(after) & set(before) if after[k] != before[k])}\n{shown}")


# ------------------------------------------------------------------------------------ hypothesis properties
NAME = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True)
YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}
QUICK = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@QUICK
@given(names=st.lists(NAME, min_size=1, max_size=6, unique=True), data=st.data())
def test_property_duplicate_header_refused(names, data):
    dup = data.draw(st.sampled_from(names), label="duplicated")
    pos = data.draw(st.integers(0, len(names)), label="position")
    header = names[:pos] + [dup] + names[pos:]
    body = ",".join(str(i) for i in range(len(header)))
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "t.csv"
        p.write_text(",".join(header) + "\n" + body + "\n", encoding="utf-8")
        with pytest.raises(InputError) as exc:
            read_table(p)
    msg = str(exc.value)
    assert "t.csv" in msg and f"column '{dup}'" in msg and "duplicate" in msg and "\n" not in msg


DATE_FORMS = {
    "D/M/Y": lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}",
    "M/D/Y": lambda d: f"{d.month}/{d.day}/{d.year}",
    "D.M.Y": lambda d: f"{d.day}.{d.month}.{d.year}",
    "Y/M/D": lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
    "D-M-Y": lambda d: f"{d.day:02d}-{d.month:02d}-{d.year}",
    "YMD": lambda d: f"{d.year}{d.month:02d}{d.day:02d}",
    "Y-M-D unpadded": lambda d: f"{d.year}-{d.month}-{d.day}",
    "Y.M.D": lambda d: f"{d.year}.{d.month:02d}.{d.day:02d}",
}


@QUICK
@given(day=st.dates(dt.date(1950, 1, 1), dt.date(2100, 12, 31)), form=st.sampled_from(sorted(DATE_FORMS)),
       good_before=st.integers(0, 4), blank_lines=st.integers(0, 2))
def test_property_non_iso_date_refused(day, form, good_before, blank_lines):
    text = DATE_FORMS[form](day)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):   # e.g. an unpadded form of 2025-11-12 is ISO after all
        return
    lines = ["rep_id,date,measure,value"]
    lines += [f"R{i},2025-01-0{i + 1},revenue,{100 + i}" for i in range(good_before)]
    lines += [""] * blank_lines
    lines.append(f"R9,{text},revenue,5")
    bad_row = len(lines)                       # header = row 1, blank lines counted
    lines.append("R8,2025-02-01,revenue,7")
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "actuals.csv"
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
        with pytest.raises(InputError) as exc:
            read_actuals(read_table(p))
    msg = str(exc.value)
    assert "actuals.csv" in msg and f"row {bad_row}," in msg and "column 'date'" in msg and f"'{text}'" in msg


@QUICK
@given(path=st.lists(NAME, min_size=0, max_size=2), keys=st.lists(NAME, min_size=1, max_size=4, unique=True),
       data=st.data(), loader=st.sampled_from(["read_yaml", "load_plan"]))
def test_property_duplicate_yaml_key_refused(path, keys, data, loader):
    if YAML_WORDS & {*path, *keys}:
        return
    dup = data.draw(st.sampled_from(keys), label="duplicated")
    at = data.draw(st.integers(0, len(keys)), label="second position")
    lines = ["# a comment line first"] + ([] if "top" in {*path, *keys} else ["top: 1"])
    indent = ""
    for k in path:
        lines.append(f"{indent}{k}:")
        indent += "  "
    entries = [(k, str(i)) for i, k in enumerate(keys)]
    entries.insert(at, (dup, "again"))
    first, second = [len(lines) + j + 1 for j, (k, _) in enumerate(entries) if k == dup]
    lines += [f"{indent}{k}: {v}" for k, v in entries]
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "dup.yaml"
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
        with pytest.raises(InputError) as exc:
            (read_yaml if loader == "read_yaml" else load_plan)(p)
    msg = str(exc.value)
    assert "dup.yaml" in msg and f"duplicate key '{dup}'" in msg, msg
    assert f"line {second}:" in msg and f"line {first}" in msg, (msg, lines)
