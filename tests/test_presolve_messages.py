"""Pre-solve checks: exit 3 names the family and the least relaxation (numbers worked out by hand below), bad
limits and empty tables are input errors (exit 2) naming the file and row, and ``spmopt validate`` says exactly
what ``spmopt run`` says."""

import re
import textwrap

import pandas as pd
import pytest
from typer.testing import CliRunner

from spmopt.cli import app
from spmopt.data.validate import validate_territories, validate_units
from spmopt.errors import InfeasibleError, InputError
from spmopt.territory.problem import make_problem, precheck

cli = CliRunner()

# Eight units, four territories (centres at the four corners). Workloads add to 2,361.3:
# 300.5 + 250.2 + 310.1 + 280.0 + 320.3 + 290.4 + 305.6 + 304.2 = 2,361.3.
WORKLOAD = [300.5, 250.2, 310.1, 280.0, 320.3, 290.4, 305.6, 304.2]


@pytest.fixture
def units():
    return pd.DataFrame({"unit_id": [f"U{i}" for i in range(1, 9)],
                         "x": [0.0, 1, 9, 10, 0, 1, 9, 10], "y": [0.0, 1, 0, 1, 9, 10, 9, 10],
                         "workload": WORKLOAD})


@pytest.fixture
def terr():
    return pd.DataFrame({"territory_id": ["T1", "T2", "T3", "T4"], "x": [0.0, 10, 0, 10], "y": [0.0, 0, 10, 10]})


def infeasible(*args, **kw) -> InfeasibleError:
    kw.setdefault("contiguity", False)
    with pytest.raises(InfeasibleError) as e:
        precheck(make_problem(*args, **kw))
    return e.value


# ------------------------------------------------------------------------------------------ capacity / minimums
def test_total_capacity_names_the_total_needed_and_the_capacity_that_holds_it(units, terr):
    # 4 × 100 = 400 held vs 2,361.3 to place; 2,361.3 / 4 = 590.325 each; 2,361.3 / 100 → 24 territories
    e = infeasible(units, terr, capacity={"workload": 100})
    assert e.family == "capacity"
    assert ("total workload = 2,361.3 exceeds total capacity 400 of 4 territories (4 × 100); raise total capacity "
            "on 'workload' from 400 to ≥ 2,361.3: capacity workload=590.325 on each of the 4 territories, or at "
            "least 24 territories at 100 each") in str(e)
    assert e.suggestion == {"capacity": {"workload": pytest.approx(590.325)}}
    # the suggested capacity passes the check; a hair less does not
    precheck(make_problem(units, terr, capacity={"workload": 590.325}, contiguity=False))
    with pytest.raises(InfeasibleError):
        precheck(make_problem(units, terr, capacity={"workload": 590.32}, contiguity=False))


def test_total_capacity_with_per_territory_maxima(units, terr):
    # max_workload 500, blank, 700, blank with capacity 600 → 500 + 600 + 600 + 600 = 2,300 < 2,361.3.
    # A capacity c with the maxima kept holds 500 + 3c (c ≤ 700): c ≥ (2,361.3 − 500) / 3 = 620.4333… → 620.434
    t = terr.assign(max_workload=[500, None, 700, None])
    e = infeasible(units, t, capacity={"workload": 600})
    assert ("exceeds total capacity 2,300 of 4 territories; raise total capacity on 'workload' from 2,300 to "
            "≥ 2,361.3: e.g. capacity workload=620.434 with the max_workload limits of <territories> kept") in str(e)
    precheck(make_problem(units, t, capacity={"workload": 620.434}, contiguity=False))
    # maxima alone (no capacity): 500 + 600 + 700 + 500 = 2,300, short by 61.3 that no capacity can add
    e = infeasible(units, terr.assign(max_workload=[500, 600, 700, 500]))
    assert "the max_workload limits of <territories> raised by 61.3 in all" in str(e)


def test_minimums_above_the_total(units, terr):
    # 4 × 600 = 2,400 > 2,361.3: lower them by 38.7 in all
    e = infeasible(units, terr.assign(min_workload=[600, 600, 600, 600]))
    assert e.family == "minimum"
    assert ("the per-territory minimums add to 2,400, more than the total workload = 2,361.3; lower the "
            "min_workload limits of <territories> by ≥ 38.7 in all") in str(e)


def test_unit_above_every_capacity(units, terr):
    # U5 = 1,000: total 2,361.3 − 320.3 + 1,000 = 3,041 fits 4 × 900 = 3,600, but U5 alone does not fit 900
    big = units.assign(workload=[300.5, 250.2, 310.1, 280.0, 1000.0, 290.4, 305.6, 304.2])
    e = infeasible(big, terr, capacity={"workload": 900})
    assert "unit 'U5' alone has workload = 1,000, above the largest capacity 900" in str(e)
    assert "raise that capacity on 'workload' to ≥ 1,000" in str(e) and e.family == "capacity"


def test_capacity_below_the_balance_lower_limit(units, terr):
    # mean 590.325; ±10 % → lower limit 531.2925; 1 − 500 / 590.325 = 15.30… % → 15.4 %
    e = infeasible(units, terr.assign(max_workload=[None, 500, None, None]), balance={"workload": 0.1})
    assert ("capacity 500 on 'workload' of territory 'T2' is below the balance lower limit (1-0.1)×mean = "
            "531.293; raise that capacity to ≥ 531.293 or the tolerance on 'workload' to at least ±15.4%") in str(e)


# ------------------------------------------------------------------------------------------ balance / locks
def test_balance_unit_and_grain(line_units, line_territories):
    e = infeasible(line_units.assign(potential=[10, 80, 2, 2, 2, 2, 2]), line_territories,
                   balance={"potential": 0.1})   # 80 / 50 − 1 = 60 %
    assert "raise the tolerance on 'potential' to at least ±60.0%" in str(e) and e.suggestion == {
        "balance": {"potential": 0.6}}
    # 7 units into 3 territories: sizes 2 and 3 around the mean 7/3; 3 needs +28.57… % → ±28.6 %
    three = pd.DataFrame({"territory_id": ["A", "B", "C"], "x": [0.0, 5, 10], "y": 0.0})
    e = infeasible(line_units, three, balance={"count": 0.2})
    assert "needs sizes of both 2 and 3" in str(e) and "at least ±28.6%" in str(e)
    precheck(make_problem(line_units, three, balance={"count": 0.286}, contiguity=False))


def test_locked_units_over_the_limit(line_units, line_territories):
    # u1 + u2 + u3 = 60 locked to A; upper limit 1.1 × 50 = 55; 60 / 50 − 1 = 20 %
    e = infeasible(line_units.assign(locked_territory=["A", "A", "A", None, None, None, None]), line_territories,
                   balance={"potential": 0.1})
    assert e.family == "locks"
    assert ("units locked to territory 'A' have potential = 60, above its upper limit 55; raise the tolerance on "
            "'potential' to at least ±20.0%, or unlock some of them") in str(e)


def test_zero_disruption_with_unbalanced_current_territories(line_units, line_territories):
    # current A = 10+30+20+15 = 75, B = 25; ±10 % of 50 → 45…55: 20 of 100 must move; kept as is, ±50 %
    e = infeasible(line_units, line_territories, balance={"potential": 0.1}, max_disruption={"potential": 0})
    assert e.family == "disruption"
    assert ("('A' has 75 above its upper limit 55; 'B' has 25 below its lower limit 45) moves at least 20.00% of "
            "potential away from its current territory, above the limit 0.00%; raise max_disruption on "
            "'potential' to at least 20.00% (or the tolerance on 'potential' to ±50.00%") in str(e)
    # a positive limit is left to the solver's diagnosis, which compares the families
    precheck(make_problem(line_units, line_territories, balance={"potential": 0.1},
                          max_disruption={"potential": 0.2}, contiguity=False))


def test_contiguity_pieces_to_join(line_units):
    terr = pd.DataFrame({"territory_id": ["A", "B"], "center_unit": ["u1", "u7"]})
    pairs = pd.DataFrame([("u1", "u2"), ("u3", "u4"), ("u6", "u7")], columns=["unit_a", "unit_b"])
    e = infeasible(line_units, terr, contiguity=pairs)
    # pieces {u1,u2} {u3,u4} {u5} {u6,u7}: 4 pieces, 2 territories → join at least 2
    assert "falls in 4 separate pieces" in str(e) and "joining at least 2 of the pieces" in str(e)
    assert e.suggestion == {"pieces_to_join": 2}


# ------------------------------------------------------------------------------------------ bad input (exit 2)
def test_minimum_above_maximum_is_bad_input_naming_file_and_row(units, terr, tmp_path):
    units.to_csv(tmp_path / "units.csv", index=False)
    terr.assign(min_workload=[None, 700, None, None], max_workload=[None, 600, None, None]).to_csv(
        tmp_path / "territories.csv", index=False)
    r = cli.invoke(app, ["align", "--units", str(tmp_path / "units.csv"), "--territories",
                         str(tmp_path / "territories.csv"), "--out", str(tmp_path / "o"), "--no-contiguity"])
    assert r.exit_code == 2, r.output
    assert (f"{tmp_path / 'territories.csv'}, row 3, column 'min_workload': territory 'T2' has min_workload = 700 "
            "above its max_workload = 600") in r.output
    # a capacity for every territory below one territory's minimum: the same mistake
    terr.assign(min_workload=[None, None, 650, None]).to_csv(tmp_path / "territories.csv", index=False)
    r = cli.invoke(app, ["align", "--units", str(tmp_path / "units.csv"), "--territories",
                         str(tmp_path / "territories.csv"), "--capacity", "workload=600", "--out",
                         str(tmp_path / "o"), "--no-contiguity"])
    assert r.exit_code == 2, r.output
    assert "row 4, column 'min_workload': territory 'T3' has min_workload = 650 above the capacity workload=600" \
        in r.output


@pytest.mark.parametrize("extra", [["--territories", "TERR"], ["--k", "2"]])
def test_header_only_units_file_is_bad_input_naming_it(units, terr, tmp_path, extra):
    units.iloc[:0].to_csv(tmp_path / "units.csv", index=False)
    terr.assign(center_unit="U1").drop(columns=["x", "y"]).to_csv(tmp_path / "terr.csv", index=False)
    args = [str(tmp_path / "terr.csv") if a == "TERR" else a for a in extra]
    r = cli.invoke(app, ["align", "--units", str(tmp_path / "units.csv"), *args, "--out", str(tmp_path / "o"),
                         "--no-contiguity"])
    assert r.exit_code == 2, r.output
    assert "units.csv" in r.output and "terr.csv" not in r.output and "center_unit" not in r.output


def test_zero_rows_refused_without_a_file(units, terr):
    with pytest.raises(InputError, match=r"^<units>: no data rows"):
        validate_units(units.iloc[:0])
    with pytest.raises(InputError, match=r"^<units>: no data rows"):
        make_problem(units.iloc[:0], k=2, contiguity=False)
    with pytest.raises(InputError, match=r"^<territories>: no data rows"):
        validate_territories(terr.iloc[:0], validate_units(units))
    with pytest.raises(InputError, match=r"^<units>: no data rows"):
        make_problem(units.iloc[:0], terr, contiguity=False)


# ------------------------------------------------------------------------------------------ validate == run
def _message(output: str) -> str:
    lines = [ln for ln in output.splitlines() if re.match(r"(infeasible|input error):", ln)]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("align, mins, code, expect", [
    # 4 × 100 = 400 against 2,361.3
    ("capacity: {workload: 100}", [None] * 4, 3, "from 400 to ≥ 2,361.3"),
    # current T1 = U1+U2 = 550.7, T2 = 590.1, T3 = 610.7, T4 = 609.8 (mean 590.325); ±5 % → 560.80875…619.84125:
    # T1 is 10.10875 short and no unit may move; 10.10875 / 2,361.3 = 0.4281 % → 0.43 %. Kept as is, T1 is
    # 1 − 550.7 / 590.325 = 6.7123 % below the mean → ±6.72 %.
    ("balance: {workload: 0.05}\n  max_disruption: {workload: 0}", [None] * 4, 3,
     "'T1' has 550.7 below its lower limit 560.809) moves at least 0.43% of workload away from its current "
     "territory, above the limit 0.00%; raise max_disruption on 'workload' to at least 0.43% (or the tolerance on "
     "'workload' to ±6.72%"),
    # T4 (row 5) has a minimum of 650 above the capacity 640 that applies to every territory
    ("capacity: {workload: 640}", [None, None, None, 650], 2,
     "territories.csv, row 5, column 'min_workload': territory 'T4' has min_workload = 650 above the capacity "
     "workload=640"),
])
def test_validate_says_what_run_says(units, terr, tmp_path, align, mins, code, expect):
    units.assign(current_territory=["T1", "T1", "T2", "T2", "T3", "T3", "T4", "T4"]).to_csv(
        tmp_path / "units.csv", index=False)
    terr.assign(min_workload=mins).to_csv(tmp_path / "territories.csv", index=False)
    (tmp_path / "s.yaml").write_text(textwrap.dedent("""\
        name: presolve
        data:
          units: units.csv
          territories: territories.csv
        align:
          time_limit: 10
        """).replace("  time_limit: 10", "  time_limit: 10\n  " + align))
    v = cli.invoke(app, ["validate", str(tmp_path / "s.yaml")])
    r = cli.invoke(app, ["run", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "o"), "--no-store"])
    assert v.exit_code == r.exit_code == code, (v.output, r.output)
    assert _message(v.output) == _message(r.output)
    assert expect in _message(v.output)
    assert not (tmp_path / "o").exists()
