"""Scenario files, `spmopt run`, the report, the run store, and the CLI reference kept in step with --help."""

import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from spmopt.cli import app
from spmopt.errors import InfeasibleError, InputError
from spmopt.report.store import RunStore, run_metrics, settings_diff
from spmopt.scenario import ScenarioError, check_scenario, load_scenario, run_scenario

ROOT = Path(__file__).resolve().parent.parent
PLANS = ROOT / "scenarios" / "plans"
cli = CliRunner()


@pytest.fixture
def case(tmp_path, line_units, line_territories):
    """The seven-unit line case (two territories, centres at x=0 and x=10) and a scenario over it."""
    line_units.to_csv(tmp_path / "units.csv", index=False)
    line_territories.to_csv(tmp_path / "territories.csv", index=False)
    return tmp_path


def scenario_text(**over) -> str:
    text = f"""\
    name: line
    description: the seven-unit line case
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
      plans: [{PLANS / 'linear_commission.yaml'}, {PLANS / 'quota_bonus_accelerator.yaml'}]
      rep_defaults: {{win_rate: 0.5, deal_size_mean: 1000, deal_size_cv: 1.0, cycle_days: 30}}
      revenue_per_potential: 1000
      trials: 400
      seed: 3
      workers: 1
    """
    text = textwrap.dedent(text)
    for k, v in over.items():
        text = text.replace(k, v)
    return text


def write(folder: Path, text: str, name: str = "s.yaml") -> Path:
    p = folder / name
    p.write_text(text)
    return p


# ---------------------------------------------------------------------------------------------- schema
def test_unknown_key_names_line_and_nearest_key(case):
    p = write(case, scenario_text(**{"  trials: 400": "  trails: 400"}))
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    line = next(i for i, t in enumerate(p.read_text().splitlines(), 1) if "trails" in t)
    assert e.value.key == "simulate.trails" and e.value.line == line
    assert "did you mean 'trials'" in str(e.value) and str(p) in str(e.value)


def test_bad_value_names_key_line_and_value(case):
    p = write(case, scenario_text(**{"workers: 1": "workers: 0"}))
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    assert e.value.key == "simulate.workers" and "got 0" in str(e.value)
    assert e.value.line == next(i for i, t in enumerate(p.read_text().splitlines(), 1) if "workers" in t)
    p = write(case, scenario_text(**{"method: potential": "method: potentail"}))
    with pytest.raises(ScenarioError, match="unknown method 'potentail'"):
        load_scenario(p)
    p = write(case, scenario_text(**{"round: 1": "round: 1\n  growth: '0.3:-0.1'"}))
    with pytest.raises(ScenarioError, match=r"quota.growth.*low 0.3 is above high -0.1"):
        load_scenario(p)


def test_stage_rules_and_yaml_syntax(case):
    with pytest.raises(ScenarioError, match="at least one stage"):
        load_scenario(write(case, "name: x\ndata: {units: units.csv}\n"))
    with pytest.raises(ScenarioError, match="needs simulate.rep_defaults"):
        load_scenario(write(case, scenario_text(**{"  rep_defaults:": "  # rep_defaults:"})))
    with pytest.raises(ScenarioError, match=r"line 3: not valid YAML: mapping values are not allowed"):
        load_scenario(write(case, "name: x\ndata:\n  units: a: b\n"))


def test_missing_file_is_named_with_its_key_and_line(case):
    p = write(case, scenario_text(**{"units: units.csv": "units: nowhere.csv"}))
    s = load_scenario(p)
    with pytest.raises(ScenarioError) as e:
        check_scenario(s)
    assert e.value.key == "data.units" and e.value.line == 4 and "nowhere.csv" in str(e.value)


def test_relative_paths_changes_and_hash(case, tmp_path):
    s = load_scenario(write(case, scenario_text()))
    assert s.path(s.data.units) == case / "units.csv"
    t = s.with_changes({"simulate.trials": 50, "quota.growth": "-0.1:0.2"})
    assert t.simulate.trials == 50 and t.quota.growth == (-0.1, 0.2) and s.simulate.trials == 400
    # the hash follows the settings and the files' bytes, not the file names
    other = tmp_path / "copy"
    other.mkdir()
    for f in ("units.csv", "territories.csv"):
        (other / f"renamed_{f}").write_bytes((case / f).read_bytes())
    s2 = load_scenario(write(other, scenario_text(**{"units: units.csv": "units: renamed_units.csv",
                                                     "territories: territories.csv":
                                                         "territories: renamed_territories.csv"})))
    assert s2.content_hash() == s.content_hash()
    assert t.content_hash() != s.content_hash()
    (other / "renamed_units.csv").write_text((case / "units.csv").read_text().replace("30.0", "31.0"))
    assert s2.content_hash() != s.content_hash()
    assert settings_diff(s.settings(), t.settings()) == [("quota.growth", None, [-0.1, 0.2]),
                                                        ("simulate.trials", 400, 50)]


# ---------------------------------------------------------------------------------------------- running
def test_run_chains_align_quota_simulate(case):
    s = load_scenario(write(case, scenario_text()))
    res = run_scenario(s, case / "out")
    out = case / "out"
    # alignment: the same optimum as `spmopt align` on this case (objective 18, worked out in test_cli)
    assert res.alignment.objective == pytest.approx(18.0)
    a = pd.read_csv(out / "align" / "assignment.csv", dtype=str)
    units = pd.read_csv(case / "units.csv", dtype={"unit_id": str})
    pot = units.merge(a, on="unit_id").groupby("territory_id")["potential"].sum()
    # quotas: the target shared by the new territories' potential, exactly
    q = pd.read_csv(out / "quota" / "quotas.csv", dtype={"territory_id": str}).set_index("territory_id")["quota"]
    assert q.sum() == 1000
    assert np.allclose(q.sort_index(), (1000 * pot / pot.sum()).sort_index(), atol=0.5)
    # simulation: one rep per territory, expected revenue = potential × revenue_per_potential, quota from above
    reps = res.simulation.spec.reps
    assert dict(zip(reps.ids, reps.quota, strict=True)) == pytest.approx(q.to_dict())
    assert dict(zip(reps.ids, reps.expected_revenue, strict=True)) == pytest.approx((pot * 1000).to_dict())
    rev = res.simulation.summary()["revenue_mean"].iloc[0]
    assert rev == pytest.approx(pot.sum() * 1000, rel=0.05)
    # run.json: every stage, the hash, versions, timings
    run = json.loads((out / "run.json").read_text())
    assert run["stages"] == ["align", "quota", "simulate"] and run["content_hash"] == s.content_hash()
    assert run["run_id"].split("-")[1] == run["content_hash"][:8] and run["versions"]["highspy"]
    assert set(run["seconds"]) >= {"align", "quota", "simulate", "total"}
    assert run["summary"]["quota"]["sum"] == 1000 and len(run["summary"]["simulate"]) == 2
    for f in ("align/map.png", "quota/quotas.csv", "simulate/summary.csv", "simulate/cost_cdf.png"):
        assert (out / f).is_file(), f
    assert not list(case.glob(".out.*"))   # no staging folder left behind


def test_report_is_self_contained(case):
    res = run_scenario(load_scenario(write(case, scenario_text())), case / "out", store=False)
    html = res.report.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", html)
    assert "<script" not in html and "<link" not in html
    # the map, quota chart, cost CDF, monthly profile, 1 attainment figure (one stress case), 2 payout curves
    assert html.count("data:image/png;base64,") == 7
    for text in ("Current vs optimised", "Balance by territory", "Quotas", "Plan comparison", "Linear commission",
                 "Quota bonus with accelerator", "Payout curves", "Monthly revenue profile", res.run_id,
                 "highspy"):
        assert text in html, text


def test_store_records_and_compares_runs(case):
    p = write(case, scenario_text())
    r1 = run_scenario(load_scenario(p), case / "out")
    r2 = run_scenario(load_scenario(p, {"quota.target": 2000}), case / "out")
    assert r1.store == case / "runs.duckdb" == r2.store
    with RunStore(r1.store, read_only=True) as st:
        runs = st.runs()
        assert list(runs["run_id"]) == [r2.run_id, r1.run_id]
        assert st.resolve("line") == r2.run_id and st.resolve("line~1") == r1.run_id
        assert st.resolve(r1.run_id[:17]) == r1.run_id or len(runs) == 2
        q = st.table("quotas")
        assert q.groupby("run_id")["quota"].sum().to_dict() == {r1.run_id: 1000, r2.run_id: 2000}
        assert len(st.table("simulation", [r1.run_id])) == 2 and len(st.table("territories")) == 4
        cmp = st.compare("line~1", "line")
        row = cmp[(cmp["stage"] == "quota") & (cmp["metric"] == "sum")].iloc[0]
        assert (row["a"], row["b"], row["change_pct"]) == (1000, 2000, pytest.approx(100.0))
        d = cmp[(cmp["stage"] == "align") & (cmp["metric"] == "distance") & (cmp["item"] == "")].iloc[0]
        assert d["a"] == d["b"] == pytest.approx(r1.alignment.metrics.distance)
        info = st.run_info(r2.run_id)
        assert settings_diff(st.run_info(r1.run_id)["settings"], info["settings"]) == [("quota.target", 1000, 2000)]
        with pytest.raises(InputError, match="no run 'nope'"):
            st.resolve("nope")
    m = run_metrics(r1.run)
    assert set(m["stage"]) == {"align", "quota", "simulate", "run"}


def test_store_adds_columns_a_later_run_brings(tmp_path, case, line_units):
    p = write(case, scenario_text())
    r1 = run_scenario(load_scenario(p), case / "out")
    line_units.assign(accounts=[1, 2, 3, 4, 5, 6, 7]).to_csv(case / "units.csv", index=False)
    r2 = run_scenario(load_scenario(p), case / "out")
    with RunStore(r1.store, read_only=True) as st:
        t = st.table("territories")
    assert t.loc[t["run_id"] == r1.run_id, "accounts"].isna().all()
    assert t.loc[t["run_id"] == r2.run_id, "accounts"].sum() == 28


def test_failed_run_leaves_earlier_output_untouched(case):
    p = write(case, scenario_text())
    first = run_scenario(load_scenario(p), case / "out", store=False)
    bad = load_scenario(p, {"quota.ratio": "0:5"})      # quota/potential ≤ 5 → at most 500 of 1000
    with pytest.raises(InfeasibleError) as e:
        run_scenario(bad, case / "out", store=False)
    assert e.value.stage == "quota"
    assert json.loads((case / "out" / "run.json").read_text())["run_id"] == first.run_id
    with pytest.raises(InfeasibleError):
        run_scenario(bad, case / "fresh", store=False)
    assert not (case / "fresh").exists()
    assert [f.name for f in case.iterdir() if f.name.startswith(".")] == []


def test_interrupted_run_writes_nothing(case):
    def stop(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_scenario(load_scenario(write(case, scenario_text())), case / "out", sim_progress=stop)
    assert not (case / "out").exists() and not (case / "runs.duckdb").exists()
    assert [f.name for f in case.iterdir() if f.name.startswith(".")] == []


def test_refuses_to_replace_a_foreign_folder(case):
    (case / "mine").mkdir()
    (case / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a scenario run"):
        run_scenario(load_scenario(write(case, scenario_text())), case / "mine")
    assert (case / "mine" / "notes.txt").read_text() == "keep me"


def test_quotas_on_reps_feed_the_simulator(tmp_path):
    reps = pd.read_csv(ROOT / "scenarios" / "quota" / "reps.csv").head(4)
    reps.to_csv(tmp_path / "reps.csv", index=False)
    text = textwrap.dedent(f"""\
        name: reps
        data: {{reps: reps.csv}}
        quota: {{target: 4000000, method: history, simulate: false}}
        simulate: {{plans: [{PLANS / 'linear_commission.yaml'}], trials: 50, workers: 1}}
        """)
    res = run_scenario(load_scenario(write(tmp_path, text)), tmp_path / "out", store=False)
    h = reps.set_index("rep_id")["history"]
    expect = 4_000_000 * h / h.sum()
    got = dict(zip(res.simulation.spec.reps.ids, res.simulation.spec.reps.quota, strict=True))
    assert got == pytest.approx(expect.to_dict())
    # a reps file that lacks a quota holder is named
    sim = reps.head(3)
    sim.to_csv(tmp_path / "sim.csv", index=False)
    s = load_scenario(write(tmp_path, text.replace("trials: 50", "trials: 50, reps: sim.csv")))
    with pytest.raises(InputError, match=r"1 quota holder\(s\) have no row in the reps file, e.g. rep_id 'R004'"):
        run_scenario(s, tmp_path / "out2", store=False)


def test_stress_cases_are_filtered_and_checked(case):
    stress = ROOT / "scenarios" / "sim" / "stress.yaml"
    s = load_scenario(write(case, scenario_text(**{"  trials: 400": f"  trials: 100\n  stress: {stress}\n"
                                                                     "  stress_cases: [downturn, boom]"})))
    assert check_scenario(s)["simulate"]["stress_cases"] == ["downturn", "boom"]
    bad = s.with_changes({"simulate.stress_cases": ["slump"]})
    with pytest.raises(ScenarioError, match="no stress case 'slump'; the cases are base, downturn, boom, volatile"):
        check_scenario(bad)


# ---------------------------------------------------------------------------------------------- shipped files
@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml")))
def test_shipped_scenarios_validate(name):
    checked = check_scenario(load_scenario(ROOT / "scenarios" / name))
    assert checked["stages"]


# ---------------------------------------------------------------------------------------------- CLI
def test_cli_validate_run_list_compare(case):
    p = write(case, scenario_text())
    r = cli.invoke(app, ["validate", str(p)])
    assert r.exit_code == 0 and "is valid" in r.output, r.output
    bad = write(case, scenario_text(**{"  trials: 400": "  trails: 400"}), "bad.yaml")
    r = cli.invoke(app, ["validate", str(bad)])
    assert r.exit_code == 2 and "simulate.trails" in r.output and "did you mean 'trials'" in r.output
    out = case / "o"
    for extra in ([], ["--set", "quota.target=1500"]):
        r = cli.invoke(app, ["run", str(p), "--out", str(out), *extra])
        assert r.exit_code == 0, r.output
    assert (out / "report.html").is_file()
    r = cli.invoke(app, ["runs", "list", "--store", str(case / "runs.duckdb")])
    assert r.exit_code == 0 and r.output.count("line") >= 2
    r = cli.invoke(app, ["runs", "compare", "line~1", "line", "--store", str(case / "runs.duckdb"),
                         "--csv", str(case / "cmp.csv")])
    assert r.exit_code == 0, r.output
    assert "quota.target: 1000 → 1500" in r.stdout and "A = " in r.stdout  # on stdout: `> file` keeps them
    assert "result figures differ" in r.stdout
    cmp = pd.read_csv(case / "cmp.csv", keep_default_na=False, na_values=[""])
    row = cmp[(cmp["stage"] == "quota") & (cmp["metric"] == "sum")].iloc[0]
    assert row["change_pct"] == pytest.approx(50.0)
    r = cli.invoke(app, ["run", str(p), "--out", str(case / "x"), "--set", "quota.ratio=0:5"])
    assert r.exit_code == 3 and not (case / "x").exists()


def test_cli_reference_lists_every_command_and_option():
    """docs/cli.md documents every command and option that --help shows."""
    import typer.main

    doc = (ROOT / "docs" / "cli.md").read_text()
    missing = []

    def walk(cmd, prefix):
        for name, sub in getattr(cmd, "commands", {}).items():
            full = f"{prefix} {name}".strip()
            if getattr(sub, "commands", None):
                walk(sub, full)
                continue
            if f"spmopt {full}" not in doc:
                missing.append(f"command 'spmopt {full}'")
            for prm in sub.params:
                for opt in prm.opts:
                    if opt.startswith("--") and opt != "--help" and opt not in doc:
                        missing.append(f"{full} {opt}")

    walk(typer.main.get_command(app), "")
    assert not missing, "undocumented in docs/cli.md: " + ", ".join(missing)


# ---------------------------------------------------------------------------------------------- review findings
def test_yaml_12_booleans_and_internal_keys(case):
    p = write(case, scenario_text(**{"  round: 1": "  round: 1\n  on: current\n  fixed: {NO: 400}"}))
    with pytest.raises(ScenarioError, match="'NO' is not a quota holder"):   # `on`/`NO` are text, not booleans
        check_scenario(load_scenario(p))
    assert load_scenario(p).quota.on == "current"
    for key in ("base: /etc", "lines: {a: 1}", "source: x"):
        with pytest.raises(ScenarioError, match=f"unknown key '{key.split(':')[0]}'"):
            load_scenario(write(case, scenario_text() + key + "\n"))
    with pytest.raises(ScenarioError, match="'name'.*should match pattern"):
        load_scenario(write(case, scenario_text(**{"name: line": "name: ../../escaped"})))
    with pytest.raises(ScenarioError, match="empty"):
        load_scenario(write(case, ""))


def test_keys_named_like_types_and_cli_changes(case):
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(case, scenario_text() + "str: 1\n"))
    assert e.value.key == "str" and "unknown key 'str'" in str(e.value)
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(case, scenario_text()), {"simulate.trials": "abc"})
    assert e.value.key == "simulate.trials" and e.value.line is None and "(from --set)" in str(e.value)


def test_validate_catches_what_run_would_reject(case):
    p = write(case, scenario_text())
    for change, message in [({"simulate.seed": -1}, "greater than or equal to 0"),
                            ({"simulate.behaviour": "sleepy"}, "simulate.behaviour"),
                            ({"simulate.engine": "des", "simulate.years": 3}, "one year"),
                            ({"simulate.quota_rule": "ratchet:x"}, "simulate.quota_rule"),
                            ({"quota.ratio": "nan:0.3"}, "finite"),
                            ({"quota.weights": {"bogus": 0.5}}, "blend weights go on")]:
        with pytest.raises(ScenarioError, match=message):
            load_scenario(p, change)
    for change, key in [({"quota.stress_case": "boom"}, "quota.stress_case"),
                        ({"quota.method": "equal_chance"}, "quota.method"),
                        ({"align.pareto": {"measure": "bogus"}}, "align.pareto")]:
        with pytest.raises(ScenarioError) as e:
            check_scenario(load_scenario(p, change))
        assert e.value.key == key


def test_greenfield_alignment_validates(case, line_units):
    line_units.drop(columns="current_territory").to_csv(case / "units.csv", index=False)
    checked = check_scenario(load_scenario(write(case, scenario_text())))
    assert checked["quota"] == {"holders": 2, "on": "aligned", "method": "potential"}


def test_territory_reps_join_on_rep_id(case, line_territories):
    line_territories.assign(rep_id=["R1", "R2"]).to_csv(case / "territories.csv", index=False)
    pd.DataFrame({"rep_id": ["R2", "R1"], "win_rate": 0.5, "deal_size_mean": 1000.0, "deal_size_cv": 1.0,
                  "potential": [40000.0, 60000.0]}).to_csv(case / "reps.csv", index=False)
    text = scenario_text(**{"  territories: territories.csv": "  territories: territories.csv\n  reps: reps.csv"})
    res = run_scenario(load_scenario(write(case, text)), case / "out", store=False)
    q = res.quotas.table.set_index("rep_id")["quota"]
    reps = res.simulation.spec.reps
    assert dict(zip(reps.ids, reps.quota, strict=True)) == pytest.approx(q.to_dict())


def test_twin_runs_both_recorded_and_store_outside_out(case):
    p = write(case, scenario_text())
    a = run_scenario(load_scenario(p), case / "a")
    b = run_scenario(load_scenario(p), case / "b")
    assert a.content_hash == b.content_hash and a.run_id != b.run_id
    with RunStore(a.store, read_only=True) as st:
        assert len(st.runs()) == 2
    with pytest.raises(InputError, match="inside the output folder"):
        run_scenario(load_scenario(p), case / "c", store=case / "c" / "runs.duckdb")
    (case / "sim").mkdir()
    (case / "sim" / "run.json").write_text('{"trials": 10}')      # another command's run.json
    with pytest.raises(InputError, match="not a scenario run"):
        run_scenario(load_scenario(p), case / "sim")
    (case / "junk.duckdb").write_text("not a database")
    with pytest.raises(InputError, match="not a valid DuckDB database"):
        RunStore(case / "junk.duckdb", read_only=True)
    import duckdb

    duckdb.connect(str(case / "other.duckdb")).close()
    with pytest.raises(InputError, match="not a run store"):
        RunStore(case / "other.duckdb", read_only=True)


def test_a_better_frontier_point_replaces_a_time_limited_alignment(line_units, line_territories):
    """A frontier point that meets every limit of the request at a lower objective becomes the alignment; the
    request's own bound is kept, so the gap is (objective − bound)/objective."""
    import dataclasses

    import spmopt
    from spmopt.scenario.runner import better_from_frontier
    from spmopt.territory.pareto import Frontier

    best = spmopt.align(line_units, line_territories, balance={"potential": 0.1}, contiguity=False)
    assert best.objective == pytest.approx(18.0)
    stuck = dataclasses.replace(best, objective=25.0, bound=15.0, gap=0.4, status="feasible")
    fr = Frontier(measure="potential", table=pd.DataFrame(), alignments=[best])
    got = better_from_frontier(stuck, fr, 1e-4)
    assert got.objective == pytest.approx(18.0) and got.bound == 15.0
    assert got.gap == pytest.approx(3.0 / 18.0) and got.status == "feasible" and got.stage.endswith("+frontier")
    # a point beyond the request's own disruption limit is not taken
    moved = best.metrics.disruption["potential"]
    p = best.problem.replace(max_disruption={"potential": moved / 2})
    assert better_from_frontier(dataclasses.replace(stuck, problem=p), fr, 1e-4) is None
