"""Same inputs, same answer, on a busy machine: where a solve stops is decided by counted work (spmopt.work),
never by the wall clock.

Each test solves a request whose work budget ends the search before optimality is proved (the status is
``feasible``: a clock-driven engine would stop at a different point when the machine is loaded), once on a quiet
machine and once while other processes keep every core busy, and asserts the answers are identical to the last
digit. The wall-clock guard is generous here and must not be what stopped either run.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from contextlib import contextmanager

import pytest
from typer.testing import CliRunner

from spmopt.cli import app
from spmopt.data.generate import generate
from spmopt.solver import SolveOptions
from spmopt.territory.problem import make_problem
from spmopt.territory.solve import solve_problem
from spmopt.work import WorkClock, clock, span


def _spin(stop) -> None:  # a CPU hog
    x = 0
    while not stop.is_set():
        for _ in range(10_000):
            x += 1


@contextmanager
def busy():
    """Every core kept busy by another process (two per core: the solve competes for each)."""
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    procs = [ctx.Process(target=_spin, args=(stop,), daemon=True) for _ in range(2 * (os.cpu_count() or 2))]
    for p in procs:
        p.start()
    time.sleep(0.5)
    try:
        yield
    finally:
        stop.set()
        for p in procs:
            p.join(5)


def test_work_clock_spans_and_guard():
    """Spans share the budget by work; the guard is only recorded when the wall clock passes it."""
    with clock(10.0, guard=3600) as c:
        s = span(4.0)
        c.charge(1.5)
        assert s.left() == pytest.approx(2.5) and s.fraction() == pytest.approx(1.5 / 4)
        c.charge(3.0)
        assert s.done() and not c.guard_hit
        assert c.left() == pytest.approx(5.5)
        assert span(None).left() == pytest.approx(5.5)   # no share given: up to the budget
    g = WorkClock(None, guard=1e-9)
    time.sleep(0.01)
    assert g.span(5.0).done("here") and g.guard_hit and g.guard_stage == "here"


def test_a_contiguous_alignment_is_identical_under_load():
    g = generate(300, 6, seed=3)
    p = make_problem(g.units, g.territories, balance={"potential": 0.05, "workload": 0.1}, contiguity=g.adjacency)
    opts = SolveOptions(time_limit=600, work=2.0, mip_gap=1e-9)
    quiet = solve_problem(p, opts)
    with busy():
        loaded = solve_problem(p, opts)
    assert quiet.status == "feasible" and quiet.gap > 1e-6  # the budget, not a proof, ended the search
    for r in (quiet, loaded):
        assert not r.options["work"]["guard_hit"]
        assert 1.0 < r.options["work"]["work_used"] <= 2.5   # stages stop on the budget (the MIP's last tick may
        # overrun it a little)
    assert loaded.assignment.equals(quiet.assignment)
    assert (loaded.objective, loaded.bound, loaded.stage) == (quiet.objective, quiet.bound, quiet.stage)
    assert loaded.options["work"]["work_used"] == quiet.options["work"]["work_used"]


@pytest.mark.slow
def test_spmopt_run_gives_identical_figures_under_load(tmp_path):
    """The whole scenario — alignment (contiguous by default), quotas, simulation — run twice, the second
    time on a loaded machine: every figure of the two runs is the same; only wall-clock timings may differ."""
    g = generate(300, 6, seed=5)
    g.units.to_csv(tmp_path / "units.csv", index=False)
    g.territories.to_csv(tmp_path / "territories.csv", index=False)
    plans = os.path.join(os.path.dirname(__file__), "..", "scenarios", "plans", "linear_commission.yaml")
    (tmp_path / "s.yaml").write_text(f"""\
name: busy
data: {{units: units.csv, territories: territories.csv}}
align:
  balance: {{potential: 0.05, workload: 0.1}}
  time_limit: 600
  work: 4
  mip_gap: 0.000001
quota: {{target: 1000000, method: potential, round: 1000}}
simulate:
  plans: [{os.path.abspath(plans)}]
  rep_defaults: {{win_rate: 0.4, deal_size_mean: 5000, deal_size_cv: 1.0, cycle_days: 45}}
  revenue_per_potential: 1000
  trials: 200
  seed: 11
  workers: 1
""")
    runner = CliRunner()

    def run(out):
        r = runner.invoke(app, ["run", str(tmp_path / "s.yaml"), "--out", str(tmp_path / out)])
        assert r.exit_code == 0, r.output
        return json.loads((tmp_path / out / "run.json").read_text())

    a = run("a")
    with busy():
        b = run("b")

    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items()
                    if "seconds" not in k and k not in ("wall_seconds", "run_id", "started", "finished", "out")}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x

    assert a["summary"]["align"]["status"] == "feasible"
    assert not a["summary"]["align"]["options"]["work"]["guard_hit"]
    assert not b["summary"]["align"]["options"]["work"]["guard_hit"]
    assert strip(a["summary"]) == strip(b["summary"])
    cmp = runner.invoke(app, ["runs", "compare", a["run_id"], b["run_id"], "--store",
                              str(tmp_path / "runs.duckdb")])
    assert cmp.exit_code == 0, cmp.output
    assert "result figures are identical" in cmp.output
