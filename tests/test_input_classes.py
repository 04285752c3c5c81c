"""The classes of wrong input fixed at their root: the shared table reader, the shared YAML loader, ISO dates, the
output folder. Values asserted here were worked out by hand from the files the tests write."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from spmopt.cli import app
from spmopt.data import read_table
from spmopt.data.dates import parse_date
from spmopt.data.io import OutputFolder
from spmopt.data.validate import validate_units
from spmopt.data.yamlfile import read_yaml
from spmopt.errors import InputError
from spmopt.plans import PlanError, load_plan
from spmopt.scenario import ScenarioError, load_scenario
from spmopt.sim.market import StressError, load_stress

runner = CliRunner()


def test_row_numbers_count_blank_lines(tmp_path):
    f = tmp_path / "u.csv"
    # line 1 header, 2 a, 3 b, 4 blank, 5 c, 6 blank, 7 d (bad)
    f.write_text("unit_id,x,y,potential\na,0,0,1\nb,1,0,2\n\nc,2,0,3\n\nd,3,0,oops\n")
    with pytest.raises(InputError, match=r"u\.csv, row 7, column 'potential': 'oops' is not a number"):
        validate_units(read_table(f), measures=["potential"])
    df = read_table(f)
    assert list(df.index) == [2, 3, 5, 7] and list(df["unit_id"]) == ["a", "b", "c", "d"]


def test_duplicate_header_is_refused_not_renamed(tmp_path):
    f = tmp_path / "u.csv"
    f.write_text("unit_id,potential,x,potential\na,1,0,2\n")
    with pytest.raises(InputError, match=r"duplicate column name 'potential' \(columns B and D\)"):
        read_table(f)


def test_header_only_file_names_that_file(tmp_path):
    f = tmp_path / "units.csv"
    f.write_text("unit_id,x,y,potential\n")
    with pytest.raises(InputError, match=r"units\.csv: no data rows"):
        read_table(f)


@pytest.mark.parametrize("content", [b"PK\x03\x04truncated", b"unit_id,x\na,1\n"])
def test_a_broken_workbook_is_an_input_error(tmp_path, content):
    f = tmp_path / "units.xlsx"
    f.write_bytes(content)
    with pytest.raises(InputError, match=r"units\.xlsx: cannot read excel file: not an Excel \.xlsx workbook"):
        read_table(f)


def test_excel_rows_and_typed_dates(tmp_path):
    f = tmp_path / "a.xlsx"
    pd.DataFrame({"rep_id": ["R1", None, "R2"], "date": pd.to_datetime(["2025-03-04", None, "2025-12-31"]),
                  "value": [1.0, None, 2.5]}).to_excel(f, index=False)
    df = read_table(f)   # the all-blank spreadsheet row 3 is skipped, keeping its number out
    assert list(df.index) == [2, 4]
    assert df["date"].tolist() == ["2025-03-04", "2025-12-31"] and df["value"].tolist() == ["1", "2.5"]


@pytest.mark.parametrize(("text", "ok"), [("2025-03-04", True), ("2025-03-04T17:30:00", True),
                                          ("03/04/2025", False), ("13/04/2025", False), ("2025/03/04", False),
                                          ("4 March 2025", False), ("2025-02-30", False), ("20250304", False)])
def test_only_iso_dates(text, ok):
    if ok:
        assert str(parse_date(text)) == "2025-03-04"
    else:
        with pytest.raises(InputError, match="--effective"):
            parse_date(text, what="--effective")


def test_yaml_duplicate_key_names_file_line_and_key(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("name: p\ntarget_incentive: 10000\ncomponents: []\ntarget_incentive: 20000\n")
    with pytest.raises(PlanError, match=r"p\.yaml: line 4: duplicate key 'target_incentive' \(first given on "
                                        r"line 2"):
        load_plan(f)
    # nested, and in the stress and scenario files through the same loader
    s = tmp_path / "s.yaml"
    s.write_text("cases:\n  downturn:\n    demand: 0.8\n  downturn:\n    demand: 0.9\n")
    with pytest.raises(StressError, match=r"line 4: duplicate key 'downturn'"):
        load_stress(s)
    scn = tmp_path / "scn.yaml"
    scn.write_text("name: x\nquota:\n  target: 1000\n  method: potential\n  target: 2000\n")
    with pytest.raises(ScenarioError, match=r"line 5: duplicate key 'target'"):
        load_scenario(scn)


def test_yaml_merge_keys_may_still_be_overridden(tmp_path):
    f = tmp_path / "m.yaml"
    f.write_text("base: &b {demand: 0.8, noise: 0.1}\ncase: {<<: *b, demand: 0.9}\n")
    assert read_yaml(f)["case"] == {"demand": 0.9, "noise": 0.1}


def test_yaml_12_scalars(tmp_path):
    f = tmp_path / "y.yaml"
    f.write_text("a: no\nb: on\nc: 15:17\nd: true\ne: 2026-07-01\n")
    d = read_yaml(f)
    assert d["a"] == "no" and d["b"] == "on" and d["c"] == "15:17" and d["d"] is True and str(d["e"]) == "2026-07-01"


def test_spiff_window_dates_are_iso_only(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("name: p\ntarget_incentive: 1000\ncomponents:\n  - type: spiff\n    measure: revenue\n"
                 "    amount: 100\n    window: {start: 03/01/2025, end: 2025-03-31}\n")
    with pytest.raises(PlanError, match=r"03/01/2025.*not an ISO date"):
        load_plan(f)


def test_commission_rate_above_one_warns(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("name: p\ntarget_incentive: 1000\ncomponents:\n  - type: commission\n    measure: revenue\n"
                 "    tiers: [[0, 3]]\n")
    with pytest.warns(UserWarning, match=r"components\[0\]\.tiers\[0\]\.rate.*300%"):
        p = load_plan(f)
    assert p.components[0].tiers[0].rate == 3
    f.write_text(f.read_text().replace("[[0, 3]]", "[[0, '3%']]"))
    assert load_plan(f).components[0].tiers[0].rate == pytest.approx(0.03)


def _align(files, out, *extra):
    return runner.invoke(app, ["align", "--units", str(files / "units.csv"), "--territories",
                               str(files / "territories.csv"), "--balance", "potential=0.1", "--out", str(out),
                               "--no-plot", *extra, "--no-contiguity"])


def test_an_output_folder_holds_one_run(files):
    out = files / "out"
    r = _align(files, out, "--pareto", "disruption", "--pareto-points", "2")
    assert r.exit_code == 0, r.output
    assert (out / "pareto.csv").exists() and (out / "pareto").is_dir()
    r = _align(files, out)
    assert r.exit_code == 0, r.output
    assert not (out / "pareto.csv").exists() and not (out / "pareto").exists()
    assert json.loads((out / "summary.json").read_text())["objective"] == pytest.approx(18.0)
    assert not [p.name for p in files.iterdir() if ".partial-" in p.name or ".old-" in p.name]


def test_bad_out_is_refused_before_the_work(files):
    (files / "afile").write_text("x")
    r = _align(files, files / "afile")
    assert r.exit_code == 2 and "--out" in r.output and "is a file" in r.output
    r = _align(files, files / "afile" / "sub")
    assert r.exit_code == 2 and "cannot write there" in r.output
    mine = files / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    r = _align(files, mine)
    assert r.exit_code == 2 and "holds files that spmopt did not write" in r.output
    assert (mine / "notes.txt").read_text() == "keep me" and len(list(mine.iterdir())) == 1


def test_a_failed_command_leaves_the_previous_run(files):
    out = files / "out"
    assert _align(files, out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    r = _align(files, out, "--capacity", "potential=40")   # infeasible: total 100 > 2 × 40
    assert r.exit_code == 3
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_output_folder_discards_on_error(tmp_path):
    out = tmp_path / "o"
    with pytest.raises(RuntimeError), OutputFolder(out, command="test") as f:
        (f.path / "half.csv").write_text("a")
        raise RuntimeError("boom")
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "message"), [
    (["simulate", "--reps", "r.csv", "--plan", "p.yaml", "--out", "o", "--seed", "-1"],
     "--seed: must be a non-negative integer, got -1"),
    (["simulate", "--reps", "r.csv", "--plan", "p.yaml", "--out", "o", "--behaviour", "bogus"],
     "--behaviour: must be one of none, effort, timing, full; got 'bogus'"),
    (["simulate", "--reps", "r.csv", "--plan", "p.yaml", "--out", "o", "--year", "1800"],
     "--year: must be a calendar year between 1900 and 2200, got 1800"),
    (["align", "--units", "u.csv", "--out", "o", "--time-limit", "-5", "--no-contiguity"],
     "--time-limit: must be a positive number"),
    (["align", "--units", "u.csv", "--out", "o", "--mip-gap", "-1", "--no-contiguity"],
     "--mip-gap: must be a fraction in [0, 1)"),
    (["plan", "check", "p.yaml", "--quota", "-5"], "--quota: must be a positive number, got -5"),
    (["quota-relief", "--units", "u.csv", "--quotas", "q.csv", "--after", "a.csv", "--out", "o", "--effective",
      "01/07/2026"], "--effective: '01/07/2026' is not an ISO date"),
])
def test_options_are_checked_when_read(args, message):
    r = runner.invoke(app, args)
    assert r.exit_code == 2
    assert message in " ".join(r.output.split()), r.output
