"""The CLI items of issue 28: `runs list` (full ids, overwritten folders), `runs show`, `runs compare --html`,
help text on every option, `plan list` wrapping, `validate` running the cheap feasibility checks of `run`, and
`spmopt demo` solving the demo scenario's align request."""

import json
import re
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from spmopt.cli import app
from spmopt.scenario import load_scenario, run_scenario

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "scenarios" / "plans" / "linear_commission.yaml"
cli = CliRunner()

# the seven-unit line case: current A = u1..u4 (potential 75), B = u5..u7 (25); mean 50, so A is +50 % off
UNITS = pd.DataFrame({"unit_id": ["u1", "u2", "u3", "u4", "u5", "u6", "u7"],
                      "x": [0.0, 1.0, 2.0, 4.0, 6.0, 9.0, 10.0], "y": [0.0] * 7,
                      "potential": [10.0, 30.0, 20.0, 15.0, 5.0, 10.0, 10.0],
                      "workload": [3.0, 1.0, 2.0, 2.0, 4.0, 3.0, 1.0],
                      "current_territory": ["A", "A", "A", "A", "B", "B", "B"]})
TERRITORIES = pd.DataFrame({"territory_id": ["A", "B"], "x": [0.0, 10.0], "y": [0.0, 0.0]})
SCENARIO = f"""\
name: line
data:
  units: units.csv
  territories: territories.csv
align:
  balance: {{potential: 0.1}}
  contiguity: false
  time_limit: 30
quota:
  target: 1000
  method: potential
  round: 1
simulate:
  plans: [{PLAN}]
  rep_defaults: {{win_rate: 0.5, deal_size_mean: 1000, deal_size_cv: 1.0, cycle_days: 30}}
  revenue_per_potential: 1000
  trials: 200
  seed: 3
  workers: 1
"""


def _case(folder: Path, text: str = SCENARIO) -> Path:
    UNITS.to_csv(folder / "units.csv", index=False)
    TERRITORIES.to_csv(folder / "territories.csv", index=False)
    (folder / "s.yaml").write_text(text)
    return folder / "s.yaml"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Three runs: r1 and r2 into the same folder `o` (r2 replaces r1's files), r3 into `p`."""
    d = tmp_path_factory.mktemp("runs")
    p = _case(d)
    r1 = run_scenario(load_scenario(p), d / "o")
    r2 = run_scenario(load_scenario(p, {"quota.target": 1500}), d / "o")
    r3 = run_scenario(load_scenario(p, {"align.balance.potential": 0.2}), d / "p")
    return {"path": d / "runs.duckdb", "dir": d, "r1": r1.run_id, "r2": r2.run_id, "r3": r3.run_id}


def _row(output: str, run_id: str) -> str:
    """The first line of a run's row in the `runs list` table."""
    lines = [ln for ln in output.splitlines() if ln.startswith(f"│ {run_id} ")]
    assert len(lines) == 1, (run_id, output)
    return lines[0]


# ------------------------------------------------------------------------------------------- runs list
@pytest.mark.parametrize("columns", ["60", "200"])
def test_runs_list_full_ids_and_overwritten_folders(store, columns):
    r = cli.invoke(app, ["runs", "list", "--store", str(store["path"])], env={"COLUMNS": columns})
    assert r.exit_code == 0, r.output
    for k in ("r1", "r2", "r3"):
        assert store[k] in r.stdout, (k, r.stdout)   # never cut or folded
    # r1's folder `o` now holds r2: r1 is marked, not pointed at `o` as if its files were there
    assert f"overwritten by {store['r2']}" in _row(r.stdout, store["r1"])
    for k in ("r2", "r3"):
        assert "overwritten" not in _row(r.stdout, store[k]) and "gone" not in _row(r.stdout, store[k])
    assert re.search(r"│\s*\S*/o\s*│", _row(r.stdout, store["r2"])) or str(store["dir"]) not in r.stdout
    assert "1 of 3 run(s) no longer have their files" in r.output


# ------------------------------------------------------------------------------------------- runs show
def test_runs_show_by_unique_prefix(store):
    r = cli.invoke(app, ["runs", "show", store["r1"][:-1], "--store", str(store["path"])])
    assert r.exit_code == 0, r.output
    out = r.stdout
    info = json.loads((store["dir"] / "o" / "run.json").read_text())   # r2's, which replaced r1's
    assert info["run_id"] == store["r2"]
    assert f"run {store['r1']} of scenario 'line'" in out
    assert f"overwritten by run {store['r2']}" in out
    assert re.search(r"inputs hash\s+[0-9a-f]{64}\b", out)
    assert "quota.target = 1000" in out and "align.balance.potential = 0.1" in out
    assert re.search(r"seconds\s+[\d.]+ \(inputs [\d.]+ s, align [\d.]+ s, quota [\d.]+ s, simulate [\d.]+ s\)", out)
    assert re.search(r"quota\s+│\s+│ quotas sum\s+│\s+1,000 │", out), out
    assert re.search(r"align\s+│ potential\s+│ max deviation\s+│\s+10\.00 % │", out), out
    r = cli.invoke(app, ["runs", "show", store["r2"], "--store", str(store["path"])])
    assert "still holds this run" in r.stdout and "quota.target = 1500" in r.stdout
    assert re.search(r"quotas sum\s+│\s+1,500 │", r.stdout)


def test_runs_show_unknown_and_ambiguous_ids(store):
    r = cli.invoke(app, ["runs", "show", "zzz", "--store", str(store["path"])])
    assert r.exit_code == 2 and "no run 'zzz'" in r.output and store["r3"] in r.output
    r = cli.invoke(app, ["runs", "show", "20", "--store", str(store["path"])])
    assert r.exit_code == 2 and "run '20' is ambiguous" in r.output
    assert all(store[k] in r.output for k in ("r1", "r2", "r3"))


# ------------------------------------------------------------------------------------------- compare --html
def test_runs_compare_html(store):
    page = store["dir"] / "cmp" / "a-vs-b.html"
    r = cli.invoke(app, ["runs", "compare", store["r1"], store["r3"], "--store", str(store["path"]),
                         "--html", str(page)])
    assert r.exit_code == 0, r.output
    assert "setting align.balance.potential: 0.1 → 0.2" in r.stdout and f"wrote {page}" in r.stdout
    html = page.read_text()
    assert store["r1"] in html and store["r3"] in html
    assert re.search(r'<td class="key">align\.balance\.potential</td><td class="key">0\.1</td>'
                     r'<td class="key b">0\.2</td>', html)
    assert f"overwritten by run <code>{store['r2']}</code>" in html      # A's folder holds r2 now
    assert "still holds this run" in html                                   # B's folder is r3's
    # the alignment's max deviation on potential: 10 % → 20 %, a highlighted row
    assert re.search(r'<tr class="changed"><td>potential</td><td>max deviation</td><td class="n">0\.1</td>'
                     r'<td class="n b">0\.2</td>', html), html
    assert "<script" not in html and "http" not in html.replace("http-equiv", "")
    r = cli.invoke(app, ["runs", "compare", store["r1"], store["r2"], "--store", str(store["path"]),
                         "--html", str(store["dir"] / "x.txt")])
    assert r.exit_code == 2 and "--html" in r.output and ".html" in r.output


# ------------------------------------------------------------------------------------------- help texts
def test_every_option_of_every_command_has_help():
    import typer.main

    missing = []

    def walk(cmd, path):
        if not (cmd.help or "").strip():
            missing.append(f"{path or 'spmopt'}: command")
        for prm in cmd.params:
            if prm.name != "help" and not (getattr(prm, "help", None) or "").strip():
                missing.append(f"{path} {'/'.join(prm.opts)}")
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}".strip())

    walk(typer.main.get_command(app), "")
    assert not missing, missing
    r = cli.invoke(app, ["align", "--help"], env={"COLUMNS": "200"})
    text = " ".join(r.output.replace("│", " ").split())
    for opt, words in (("--balance", "Balance this measure to within ±TOL"), ("--capacity", "At most MAX"),
                       ("--max-disruption", "Move at most this share"), ("--disruption-price", "Add PRICE")):
        assert re.search(re.escape(opt) + r" COL=\w+ " + re.escape(words), text), (opt, text)


# ------------------------------------------------------------------------------------------- plan list
@pytest.mark.parametrize("columns", [60, 200])
def test_plan_list_never_splits_a_word(columns):
    from spmopt.plans import library

    r = cli.invoke(app, ["plan", "list"], env={"COLUMNS": str(columns)})
    assert r.exit_code == 0, r.output
    assert max(len(ln) for ln in r.stdout.splitlines()) <= min(columns, 120)
    words = set(r.stdout.split())
    for n in library.names():
        p = library.load(n)
        expected = [n, *p.name.split(), *(p.description or "").split()]
        assert len(expected) > 3 or n == "minimal"
        cut = [w for w in expected if w not in words]
        assert not cut, (n, cut)
    if columns == 60:
        assert len(r.stdout.splitlines()) > 2 * len(library.names())   # it did wrap


# ------------------------------------------------------------------------------------------- validate
def _message(output: str) -> str:
    lines = [ln for ln in output.splitlines() if re.match(r"(infeasible|input error):", ln)]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("changes, family, expect", [
    # A has 75 of the potential, B 25 (mean 50, ±10 % → 45…55): with nothing allowed to move, A must shed 20 —
    # at least 20 % of potential
    (["--set", "align.max_disruption={potential: 0}"], "disruption",
     "disruption on 'potential' cannot be met: bringing the current territories within the limits on 'potential'"),
    # quotas on the current territories: floors 2 × 600 = 1,200 above the target 1,000
    (["--set", "quota.on=current", "--set", "quota.floor=600"], "floor", "lowest quotas the bounds allow"),
])
def test_validate_gives_runs_infeasible_message(tmp_path, changes, family, expect):
    p = _case(tmp_path)
    v = cli.invoke(app, ["validate", str(p), *changes])
    r = cli.invoke(app, ["run", str(p), "--out", str(tmp_path / "o"), "--no-store", *changes])
    assert v.exit_code == r.exit_code == 3, (v.output, r.output)
    assert _message(v.output) == _message(r.output)
    assert expect in _message(v.output)
    assert not (tmp_path / "o").exists()


def test_validate_disruption_names_the_least_share(tmp_path):
    p = _case(tmp_path)
    v = cli.invoke(app, ["validate", str(p), "--set", "align.max_disruption={potential: 0}"])
    assert v.exit_code == 3
    assert "raise max_disruption on 'potential' to at least 20.00%" in v.output, v.output


def test_validate_quota_bounds_no_alignment_can_meet(tmp_path):
    """Quotas on the new territories: floors of 600 on 2 territories exceed the target 1,000 whatever the
    alignment; quota/potential ≤ 5 on a total potential of 100 allows at most 500."""
    p = _case(tmp_path)
    for setting, what in (("quota.floor=600", "the lowest quotas the bounds allow add up to 1,200, above the total"),
                          ("quota.ratio=0:5", "the highest quotas the bounds allow add up to 500, below the total"),
                          ("quota.round=300", "not a multiple of the rounding unit 300")):
        v = cli.invoke(app, ["validate", str(p), "--set", setting])
        assert v.exit_code == 3, (setting, v.output)
        assert what in _message(v.output), v.output
    v = cli.invoke(app, ["validate", str(p), "--set", "quota.floor=400"])   # 2 × 400 ≤ 1,000: fine
    assert v.exit_code == 0, v.output


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml")))
def test_shipped_scenarios_validate_on_the_cli(name):
    r = cli.invoke(app, ["validate", str(ROOT / "scenarios" / name)])
    assert r.exit_code == 0, r.output
    assert "is valid" in r.stdout


# ------------------------------------------------------------------------------------------- demo
def test_demo_solves_the_demo_scenarios_align_request():
    from spmopt.data.datasets import DEMO_ALIGN, northeast

    scn = yaml.safe_load((ROOT / "scenarios" / "demo.yaml").read_text())
    a = scn["align"]
    for key in ("balance", "max_disruption", "split", "work", "time_limit", "mip_gap"):
        assert DEMO_ALIGN[key] == a[key], key
    adj = pd.read_csv(ROOT / "scenarios" / a["contiguity"].replace("northeast/", "northeast/"), dtype=str)
    pairs = {frozenset(x) for x in adj.to_numpy().tolist()}
    assert pairs == {frozenset(x) for x in northeast().adjacency.astype(str).to_numpy().tolist()}
    r = cli.invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    text = " ".join(r.output.split())
    assert "scenarios/demo.yaml" in text and "connected territories on the county adjacency" in text
    assert "at most 50 % of potential moved" in text and "New York City's five counties shared" in text
    assert "out/align-demo" in text


@pytest.mark.slow
def test_demo_runs_connected_with_the_split(tmp_path):
    r = cli.invoke(app, ["demo", "--out", str(tmp_path / "d")])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert s["request"]["split"] == ["36005", "36047", "36061", "36081", "36085"]
    assert s["request"]["max_disruption"] == {"potential": 0.5}
    assert s["disruption"]["potential"] <= 0.5 + 1e-9
    assert s["max_balance_deviation"]["potential"] <= 0.05 + 1e-9
    assert "share" in pd.read_csv(tmp_path / "d" / "assignment.csv").columns


def test_scenario_text_is_the_fixture():   # guards the fixture: the line case is what the comments say
    assert textwrap.dedent(SCENARIO) == SCENARIO
    cur = UNITS.groupby("current_territory")["potential"].sum().to_dict()
    assert cur == {"A": 75.0, "B": 25.0}
