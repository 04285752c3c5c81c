"""The command line: contract outputs and one-line errors with exit codes."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from spmopt.cli import app

runner = CliRunner()


def test_align_writes_contract_files(files):
    out = files / "out"
    res = runner.invoke(app, ["align", "--units", str(files / "units.csv"), "--territories",
                              str(files / "territories.csv"), "--balance", "potential=0.1", "--out", str(out),
                              "--no-contiguity"])
    assert res.exit_code == 0, res.output
    a = pd.read_csv(out / "assignment.csv")
    assert list(a.columns) == ["unit_id", "territory_id"] and len(a) == 7
    t = pd.read_csv(out / "territories.csv")
    for col in ("territory_id", "units", "potential", "potential_dev_pct", "distance", "moved"):
        assert col in t.columns
    s = json.loads((out / "summary.json").read_text())
    assert s["objective"] == pytest.approx(18.0) and s["status"] == "optimal"
    assert s["max_balance_deviation"]["potential"] == pytest.approx(0.1)
    assert s["current"]["objective"] == pytest.approx(12.0)
    assert (out / "map.png").stat().st_size > 10_000


def test_align_with_k(files):
    out = files / "k"
    res = runner.invoke(app, ["align", "--units", str(files / "units.csv"), "--k", "2", "--out", str(out),
                              "--no-plot", "--no-contiguity"])
    assert res.exit_code == 0, res.output
    s = json.loads((out / "summary.json").read_text())
    # by hand: medians u2 (x=1) for {0,1,2,4} → 1+0+1+3 = 5, and u6 (x=9) for {6,9,10} → 3+0+1 = 4
    assert s["objective"] == pytest.approx(9.0) and s["n_territories"] == 2


def test_bad_input_is_one_line_with_exit_code_2(files):
    (files / "bad.csv").write_text("unit_id,x,y,potential\na,0,0,1\nb,1,1,oops\n")
    res = runner.invoke(app, ["align", "--units", str(files / "bad.csv"), "--territories",
                              str(files / "territories.csv"), "--balance", "potential=0.1", "--out",
                              str(files / "o"), "--no-contiguity"])
    assert res.exit_code == 2
    assert "bad.csv, row 3, column 'potential': 'oops' is not a number" in " ".join(res.output.split())
    assert "Traceback" not in res.output


def test_bad_option_syntax(files):
    res = runner.invoke(app, ["align", "--units", str(files / "units.csv"), "--k", "2", "--balance", "potential",
                              "--out", str(files / "o"), "--no-contiguity"])
    assert res.exit_code == 2 and "COLUMN=NUMBER" in res.output


def test_infeasible_exit_code_3(files):
    res = runner.invoke(app, ["align", "--units", str(files / "units.csv"), "--territories",
                              str(files / "territories.csv"), "--capacity", "potential=40", "--out",
                              str(files / "o"), "--no-contiguity"])
    assert res.exit_code == 3 and "capacity" in res.output


def test_generate(tmp_path):
    res = runner.invoke(app, ["generate", "--units", "120", "--territories", "4", "--seed", "5", "--out",
                              str(tmp_path)])
    assert res.exit_code == 0, res.output
    u = pd.read_csv(tmp_path / "units.csv")
    assert len(u) == 120 and {"unit_id", "x", "y", "potential", "workload", "current_territory"} <= set(u.columns)
    assert len(pd.read_csv(tmp_path / "territories.csv")) == 4
    assert list(pd.read_csv(tmp_path / "adjacency.csv").columns) == ["unit_a", "unit_b"]


def test_cli_reference_matches_help():
    """Each command section of docs/cli.md names only options that command has (the other direction — every
    option documented — is tests/test_scenario.py::test_cli_reference_lists_every_command_and_option)."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    sections = re.split(r"^## ", doc, flags=re.M)[1:]
    checked = 0
    for sec in sections:
        heading = sec.splitlines()[0]
        commands = re.findall(r"`spmopt ([a-z -]+?)`", heading)
        if not commands:
            continue
        opts: set[str] = set()
        for c in commands:
            res = runner.invoke(app, [*c.split(), "--help"], env={"COLUMNS": "300"})
            assert res.exit_code == 0, (c, res.output)
            opts |= set(re.findall(r"--[a-z][a-z-]+", res.output))
        body = re.sub(r"```bash.*?```", "", sec, flags=re.S)   # examples may call other commands
        documented = set(re.findall(r"--[a-z][a-z-]+", body)) - {"--help"}
        assert documented <= opts | {"--plot", "--no-plot"}, (heading, documented - opts)
        checked += 1
    assert checked >= 10
