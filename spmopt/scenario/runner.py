"""Run a scenario: align → quota → simulate, then the report, ``run.json`` and the run store.

Every stage calls the same functions as its CLI command (:func:`spmopt.territory.solve.solve_problem`,
:func:`spmopt.set_quotas`, :func:`spmopt.simulate`) and writes the same files, into ``DIR/align``,
``DIR/quota`` and ``DIR/simulate``. The run is built in a hidden sibling folder and moved into place only when
every file is written, so a failed or interrupted run leaves no output that looks complete (and an earlier
complete run in ``DIR`` stays as it was).

How the stages connect:

* ``quota`` sets quotas on the new territories when there is an ``align`` stage (``quota.on: aligned``), else on
  the current ones (``current``, the units' ``current_territory``) or on a reps table (``reps``).
* ``simulate`` uses those quotas. Its reps are the rows of a reps file (``simulate.reps`` or ``data.reps``,
  matched on ``rep_id``, or on ``territory_id`` when quotas are per territory) or, with ``rep_defaults``, one rep
  per quota holder whose expected annual revenue is the holder's potential × ``revenue_per_potential`` (potential
  is often market size, of which a rep wins a share; or in other units than the quotas).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spmopt.errors import InputError
from spmopt.scenario.schema import Scenario, ScenarioError

Progress = Callable[[str], None]
VERSION_PACKAGES = ("spmopt", "pyomo", "highspy", "numpy", "pandas", "scipy", "simpy", "networkx", "duckdb")


@dataclass
class Inputs:
    """The scenario's tables, read once."""

    units: pd.DataFrame | None = None
    territories: pd.DataFrame | None = None
    distances: pd.DataFrame | None = None
    reps: pd.DataFrame | None = None
    quotas: pd.DataFrame | None = None
    sim_reps: pd.DataFrame | None = None
    contiguity: Any = None
    geometry: Any = None   # the units' polygons as read (a GeoDataFrame), matched to the units by make_problem
    plans: list = field(default_factory=list)
    stress: list | None = None
    rows: dict[str, int] = field(default_factory=dict)   # dotted key → rows read


@dataclass
class RunResult:
    """What :func:`run_scenario` produced. ``run`` is the content of ``run.json``."""

    run_id: str
    scenario: Scenario
    out: Path
    content_hash: str
    run: dict[str, Any]
    alignment: Any = None
    frontier: Any = None
    quotas: Any = None
    simulation: Any = None
    store: Path | None = None

    @property
    def report(self) -> Path:
        return self.out / "report.html"


# ------------------------------------------------------------------------------------------------ inputs
def _read(scn: Scenario, key: str, path: Path):
    from spmopt.data.io import read_table

    if not path.exists():
        raise scn.fail(key, f"file not found: {path}")
    if path.is_dir():
        raise scn.fail(key, f"{path} is a folder, not a file")
    return read_table(path)


def load_inputs(scn: Scenario) -> Inputs:
    """Read every file the scenario names (errors name the key, its line and the file)."""
    from spmopt.plans import PlanWarning, load_plan
    from spmopt.sim import _stress

    inp = Inputs()
    files = scn.files()
    for name in ("units", "territories", "distances", "reps", "quotas"):
        key = f"data.{name}"
        if key in files:
            df = _read(scn, key, files[key])
            setattr(inp, name, df)
            inp.rows[key] = len(df)
    if "align.contiguity" in files:
        inp.contiguity = _read(scn, "align.contiguity", files["align.contiguity"])
        inp.rows["align.contiguity"] = len(inp.contiguity)
    elif scn.align is not None and scn.align.contiguity is not None:
        inp.contiguity = "auto" if scn.align.contiguity is True or isinstance(scn.align.contiguity, str) else False
    else:
        from spmopt.territory.contiguity import GEOGRAPHY

        inp.contiguity = GEOGRAPHY
    if "align.geometry" in files:
        from spmopt.data.geometry import read_geometry

        path = files["align.geometry"]
        if not path.exists():
            raise scn.fail("align.geometry", f"file not found: {path}")
        inp.geometry = read_geometry(path, id_column=scn.align.geometry_id)
        inp.rows["align.geometry"] = len(inp.geometry)
    if "simulate.reps" in files:
        inp.sim_reps = _read(scn, "simulate.reps", files["simulate.reps"])
        inp.rows["simulate.reps"] = len(inp.sim_reps)
    else:
        inp.sim_reps = inp.reps
    if scn.simulate is not None:
        s = scn.simulate
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PlanWarning)
            for i, _ in enumerate(s.plans):
                key = f"simulate.plans[{i}]"
                if not files[key].is_file():
                    raise scn.fail(key, f"plan file not found: {files[key]}")
                inp.plans.append(load_plan(files[key]))
        names = [p.name for p in inp.plans]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup:
            raise scn.fail("simulate.plans", f"two plans are named '{dup}'; plan names must differ")
        if "simulate.stress" in files and not files["simulate.stress"].is_file():
            raise scn.fail("simulate.stress", f"stress file not found: {files['simulate.stress']}")
        stress = files.get("simulate.stress", s.stress)
        try:
            inp.stress = _stress(stress)
        except InputError as exc:
            if "simulate.stress" in files:
                raise
            raise scn.fail("simulate.stress", f"inline stress cases: {exc}") from None
        if s.stress_cases:
            have = [c.name for c in (inp.stress or [])] or ["base"]
            missing = [c for c in s.stress_cases if c not in have]
            if missing:
                raise scn.fail("simulate.stress_cases", f"no stress case '{missing[0]}'; the cases are "
                                                        f"{', '.join(have)}")
            if inp.stress is not None:
                inp.stress = [c for c in inp.stress if c.name in s.stress_cases]
    return inp


def _quota_on(scn: Scenario) -> str:
    on = scn.quota.on
    if on != "auto":
        return on
    if scn.align is not None:
        return "aligned"
    return "current" if scn.data.units is not None else "reps"


def _problem(scn: Scenario, inp: Inputs):
    from spmopt.territory.problem import make_problem

    a = scn.align
    return make_problem(inp.units, inp.territories, inp.distances, k=a.k, balance=a.balance, capacity=a.capacity,
                        weight=a.weight, max_disruption=a.max_disruption, disruption_price=a.disruption_price,
                        contiguity=inp.contiguity, split=a.split, geometry=inp.geometry, geometry_id=a.geometry_id,
                        adjacency_rule=a.adjacency_rule, adjacency_tolerance=a.adjacency_tolerance)


def _basis(scn: Scenario, inp: Inputs, alignment):
    from spmopt.quota import basis_from_table, basis_from_units
    from spmopt.quota.basis import basis_from_alignment

    q = scn.quota
    cols = dict(potential=q.potential, history=q.history, rollup=q.rollup)
    on = _quota_on(scn)
    if on == "aligned":
        return basis_from_alignment(alignment, inp.territories, **cols)
    if on == "current":
        return basis_from_units(inp.units, None, inp.territories, **cols)
    return basis_from_table(inp.reps, **cols)


def check_scenario(scn: Scenario, progress: Progress | None = None) -> dict[str, Any]:
    """Check a scenario and all its files without solving or simulating: every file is read and validated the
    way its stage will read it, alignment requests go through the pre-solve feasibility checks (the messages
    ``run`` gives), the quota basis is built and its bounds checked against the target (on current territories
    or reps: the checks ``set_quotas`` makes before it solves; on the new territories: the bounds no alignment
    can meet), and the simulator's reps validated. Returns what was checked; raises the first problem found."""
    from spmopt.territory.problem import precheck

    say = progress or (lambda m: None)
    inp = load_inputs(scn)
    checked: dict[str, Any] = {"scenario": scn.name, "stages": scn.stages, "files": {}}
    for key, path in scn.files().items():
        checked["files"][key] = {"path": str(path), "rows": inp.rows.get(key)}
    if scn.align is not None:
        say("checking the alignment request")
        p = _problem(scn, inp)
        precheck(p)
        checked["align"] = {"units": p.n_units, "territories": p.n_territories,
                            "contiguity": None if p.contiguity is None else p.contiguity.describe()["graph"]}
        if scn.align.pareto is not None and scn.align.pareto.measure not in (None, "count"):
            if scn.align.pareto.measure not in inp.units.columns:
                raise scn.fail("align.pareto", f"measure '{scn.align.pareto.measure}' is not a column of the units")
    cases = [c.name for c in inp.stress] if inp.stress else ["base"]
    if scn.quota is not None:
        say("checking the quota basis")
        q = scn.quota
        if _quota_on(scn) == "aligned":     # the holders are the new territories: check the columns only
            holders = p.n_territories
            have = list(inp.units.columns) + ([] if inp.territories is None else list(inp.territories.columns))
            for part in _basis_parts(q):
                col = getattr(q, part)
                if col not in have:
                    raise scn.fail("quota.method", f"method {q.method} needs a '{col}' column in the units "
                                                   f"(or territories) file")
            if q.growth is not None and q.history not in have:
                raise scn.fail("quota.growth", f"growth bounds need last period's sales: a '{q.history}' column in "
                                               "the units (or territories) file")
            if q.method == "equal_chance":
                raise scn.fail("quota.method", "equal_chance needs the simulator's columns per holder (win_rate, "
                                               "deal_size_mean…): use quota.on: reps with a reps file")
            per_territory = inp.territories is not None and \
                bool({"floor", "ceiling", "fixed_quota"} & set(inp.territories.columns))
            if q.growth is None and not q.fixed and not per_territory and \
                    (q.ratio is None or q.potential in inp.units.columns):
                from spmopt.quota import precheck_quotas_any_alignment

                pot = float(pd.to_numeric(inp.units[q.potential], errors="coerce").sum()) \
                    if q.potential in inp.units.columns else float("nan")
                precheck_quotas_any_alignment(holders, pot, q.target, over_assignment=q.over_assignment,
                                              ratio=q.ratio, floor=q.floor, ceiling=q.ceiling, unit=q.round)
        else:
            b = _basis(scn, inp, None)
            holders = len(b)
            for part in _basis_parts(q):
                b.require(part, f"method {q.method}")
            if q.method == "equal_chance" and b.reps is None:
                raise scn.fail("quota.method", "equal_chance needs the simulator's columns (win_rate, "
                                               "deal_size_mean, deal_size_cv…) in the quota holders' table")
            unknown = [h for h in q.fixed if h not in b.ids]
            if unknown:
                raise scn.fail("quota.fixed", f"'{unknown[0]}' is not a quota holder (holders: "
                                              f"{', '.join(b.ids[:8])}{'…' if len(b) > 8 else ''})")
            from spmopt.quota import precheck_quotas

            precheck_quotas(b, q.target, over_assignment=q.over_assignment, growth=q.growth, ratio=q.ratio,
                            floor=q.floor, ceiling=q.ceiling, fixed=q.fixed, unit=q.round)
        if q.stress_case is not None and q.stress_case not in cases:
            raise scn.fail("quota.stress_case", f"no stress case '{q.stress_case}' in the simulate stage's cases "
                                                f"({', '.join(cases)})")
        checked["quota"] = {"holders": holders, "on": _quota_on(scn), "method": q.method}
    if scn.simulate is not None:
        say("checking the simulator's reps")
        if scn.quota is None:
            reps = _sim_reps(scn, inp, None)
        elif inp.sim_reps is not None:   # the quota stage brings the quotas: check the rest of each row
            from spmopt.sim.inputs import read_reps

            reps = read_reps(inp.sim_reps.assign(quota="1") if "quota" not in inp.sim_reps.columns
                             else inp.sim_reps)
        else:
            reps = None
        checked["simulate"] = {"plans": [p.name for p in inp.plans], "stress_cases": cases,
                               "reps": None if reps is None else len(reps)}
    return checked


def _basis_parts(q) -> list[str]:
    """The basis figures a quota method reads (column settings of the quota stage)."""
    if q.method in ("potential", "history", "rollup"):
        return [q.method] if q.method != "rollup" or q.rollup else []
    if q.method == "blend":
        return [k for k, w in (q.weights or {"potential": 0.5, "history": 0.5}).items() if w > 0 and k != "rollup"]
    return []


# ------------------------------------------------------------------------------------------------ reps
def _sim_reps(scn: Scenario, inp: Inputs, quotas):
    """The simulator's reps: a validated :class:`spmopt.sim.Reps`."""
    from spmopt.sim.inputs import read_reps

    s = scn.simulate
    key = "simulate.reps" if s.reps is not None else "data.reps"
    if quotas is None:
        return read_reps(inp.sim_reps, inp.quotas)
    qt = quotas.table
    ids = qt[quotas.id_column].astype(str).to_numpy()
    q = qt["quota"].to_numpy(float)
    if inp.sim_reps is None:
        d = s.rep_defaults
        pot = quotas.basis.potential * s.revenue_per_potential
        if np.isnan(pot).any() or (pot <= 0).any():
            bad = ids[np.isnan(pot) | (pot <= 0)][0]
            raise scn.fail("simulate.rep_defaults", f"reps built from quota holders need each holder's potential "
                                                    f"(> 0) for its expected revenue; '{bad}' has none")
        df = pd.DataFrame({"rep_id": ids, "quota": q, "potential": pot, "win_rate": d.win_rate,
                           "deal_size_mean": d.deal_size_mean, "deal_size_cv": d.deal_size_cv,
                           "cycle_days": d.cycle_days, "skill": d.skill})
        df.attrs["source"] = f"{scn.source} (simulate.rep_defaults)"
        return read_reps(df)
    df = inp.sim_reps.copy()
    src = df.attrs.get("source", key)
    join = quotas.id_column if quotas.id_column in df.columns else "rep_id"
    if join not in df.columns:
        raise InputError(f"the reps file needs a '{quotas.id_column}' or 'rep_id' column to take the quotas of the "
                         f"quota stage", source=src)
    if join == "rep_id" and "rep_id" in qt.columns and quotas.id_column != "rep_id":
        ids = qt["rep_id"].astype(str).str.strip().to_numpy()    # territories carry their rep
    rows = {str(v).strip(): i for i, v in enumerate(df[join])}
    missing = [h for h in ids if h not in rows]
    if missing:
        raise InputError(f"{len(missing)} quota holder(s) have no row in the reps file, e.g. {join} '{missing[0]}'",
                         source=src, column=join)
    extra = sorted(set(rows) - set(ids))
    if extra:
        raise InputError(f"{len(extra)} rep(s) have no quota from the quota stage, e.g. {join} '{extra[0]}'",
                         source=src, column=join)
    df = df.iloc[[rows[h] for h in ids]].reset_index(drop=True)
    df["quota"] = q
    if "rep_id" not in df.columns:
        df["rep_id"] = ids
    if "opportunities_per_year" not in df.columns and "potential" not in df.columns:
        df["potential"] = quotas.basis.potential * s.revenue_per_potential
    df.attrs["source"] = src
    return read_reps(df)


# ------------------------------------------------------------------------------------------------ run
def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for p in VERSION_PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def default_store(out: Path) -> Path:
    """``runs.duckdb`` beside the output folder."""
    return Path(out).resolve().parent / "runs.duckdb"


def _records(df: pd.DataFrame) -> list[dict]:
    return json.loads(df.to_json(orient="records", double_precision=15))


def run_scenario(scn: Scenario, out: str | os.PathLike, *, store: str | os.PathLike | None | bool = True,
                 progress: Progress | None = None, sim_progress: Callable[[int, int], None] | None = None,
                 log: bool = False, workers: int = 1) -> RunResult:
    """Run every stage of ``scn`` and write ``out`` (see the module docstring). ``store`` is the run store
    (``True``: ``runs.duckdb`` beside ``out``; ``None``/``False``: none). ``progress`` gets a message per step,
    ``sim_progress(done, total)`` the simulation's trials. ``workers`` is the simulation's process count when the
    scenario does not set ``simulate.workers`` (default 1, this process: a plain script needs no ``__main__``
    guard; the command line passes all cores). Errors carry the failing stage as ``exc.stage``."""
    from spmopt.data.io import (
        OUTPUT_MARKER,
        is_output_folder,
        output_file,
        swap_into_place,
        writable_folder,
        write_json_atomic,
    )
    from spmopt.report.outputs import write_alignment, write_frontier, write_quotas, write_simulation
    from spmopt.solver import SolveOptions

    say = progress or (lambda m: None)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not is_output_folder(out):
        raise InputError(f"--out {out} holds files that are not a scenario run (no scenario run.json); choose an "
                         "empty or new folder — a run replaces its output folder")
    writable_folder(out.parent, option="--out", target=out)   # before the work: nothing is lost to a bad place
    store_path = default_store(out) if store is True else (Path(store) if store else None)
    if store_path is not None and store_path.resolve().is_relative_to(out.resolve()):
        raise InputError(f"the run store {store_path} is inside the output folder {out}, which each run replaces; "
                         "keep it beside the folder (the default)")
    if store_path is not None and not store_path.is_file():
        output_file(store_path, option="--store")
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    digest = scn.content_hash()
    run_id = f"{started:%Y%m%dT%H%M%S}-{digest[:8]}-{uuid.uuid4().hex[:4]}"   # unique even for twin runs
    out.parent.mkdir(parents=True, exist_ok=True)
    stage_dir = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    stage_dir.mkdir()
    res = RunResult(run_id=run_id, scenario=scn, out=out, content_hash=digest, run={}, store=store_path)
    timings: dict[str, float] = {}
    summaries: dict[str, Any] = {}
    notes: list[str] = []
    stage = "inputs"
    try:
        t = time.perf_counter()
        say(f"reading the inputs of '{scn.name}'")
        inp = load_inputs(scn)
        timings["inputs"] = time.perf_counter() - t

        if scn.align is not None:
            stage = "align"
            from spmopt.territory.pareto import disruption_frontier
            from spmopt.territory.solve import solve_problem
            from spmopt.work import WORK_SHARE

            t = time.perf_counter()
            a = scn.align
            p = _problem(scn, inp)
            opts = SolveOptions(time_limit=a.time_limit, work=a.work, mip_gap=a.mip_gap, log=log,
                                candidates=a.candidates, regions=a.regions)
            say(f"aligning {p.n_units:,} units into {p.n_territories} territories (work budget "
                f"{a.work if a.work is not None else WORK_SHARE * a.time_limit:g} units, time limit "
                f"{a.time_limit:g} s)")
            res.alignment = solve_problem(p, opts, progress=say)
            if a.pareto is not None:
                say(f"tracing the distance-vs-disruption frontier ({a.pareto.points} points)")
                res.frontier = disruption_frontier(p, opts, measure=a.pareto.measure, points=a.pareto.points,
                                                   progress=say, solved=res.alignment)
                better = better_from_frontier(res.alignment, res.frontier, a.mip_gap)
                if better is not None:
                    say(f"a frontier point meets every limit of the request at a lower objective "
                        f"({better.objective:,.6g} < {res.alignment.objective:,.6g}): it becomes the alignment")
                    res.alignment = better
                write_frontier(res.frontier, stage_dir / "align", plot=scn.report.plots)
                summaries["pareto"] = {"measure": res.frontier.measure, "least_from": res.frontier.least_from,
                                       "points": _records(res.frontier.table)}
            write_alignment(res.alignment, stage_dir / "align", plot=scn.report.plots)
            summaries["align"] = res.alignment.summary()
            timings["align"] = time.perf_counter() - t

        if scn.quota is not None:
            stage = "quota"
            from spmopt.quota import QuotaWarning, set_quotas

            t = time.perf_counter()
            q = scn.quota
            basis = _basis(scn, inp, res.alignment)
            say(f"setting {q.method.replace('_', ' ')} quotas for {len(basis)} holders on the "
                f"{_quota_on(scn)} {'reps' if _quota_on(scn) == 'reps' else 'territories'}")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", QuotaWarning)   # in the run's notes, with the others
                res.quotas = set_quotas(basis, q.target, q.method, weights=q.weights, deviation=q.deviation,
                                        over_assignment=q.over_assignment, growth=q.growth, ratio=q.ratio,
                                        floor=q.floor, ceiling=q.ceiling, fixed=q.fixed, unit=q.round,
                                        simulate=q.simulate, trials=q.trials, seed=q.seed, stress=inp.stress,
                                        stress_case=q.stress_case,
                                        options=SolveOptions(time_limit=q.time_limit, mip_gap=1e-9),
                                        progress=say)
            notes += [f"quota: {n}" for n in res.quotas.notes]
            write_quotas(res.quotas, stage_dir / "quota", plot=scn.report.plots)
            summaries["quota"] = res.quotas.summary
            timings["quota"] = time.perf_counter() - t

        if scn.simulate is not None:
            stage = "simulate"
            from spmopt.plans import PlanWarning
            from spmopt.sim import simulate

            t = time.perf_counter()
            s = scn.simulate
            reps = _sim_reps(scn, inp, res.quotas)
            cases = [c.name for c in inp.stress] if inp.stress else ["base"]
            mode = s.behaviour if isinstance(s.behaviour, str) else s.behaviour.get("mode", "none")
            reported = [0]

            def policy_progress(done: int, total: int) -> None:
                if done == 1 or done == total or done - reported[0] >= max(1, total // 4):
                    reported[0] = done
                    say(f"solved the reps' policies (behaviour {mode}): {done}/{total} blocks")

            say(f"simulating {s.trials:,} years of {len(reps)} reps under {len(inp.plans)} plan(s) × "
                f"{len(cases)} stress case(s)")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PlanWarning)
                res.simulation = simulate(reps, inp.plans, inp.stress, trials=s.trials, seed=s.seed,
                                          behaviour=s.behaviour, engine=s.engine, workers=s.workers or workers,
                                          year=s.year, years=s.years, quota_rule=s.quota_rule,
                                          progress=sim_progress, policy_progress=policy_progress)
            notes += [f"simulate: {n}" for n in res.simulation.notes]
            notes += [f"plan {p.name}: {w}" for p in inp.plans for w in p.warnings]
            write_simulation(res.simulation, stage_dir / "simulate", plot=scn.report.plots,
                             inputs={k: str(v) for k, v in scn.files().items()})
            summaries["simulate"] = _records(res.simulation.summary())
            timings["simulate"] = time.perf_counter() - t

        stage = "report"
        timings["total"] = time.perf_counter() - t0
        res.run = {
            "run_id": run_id, "scenario": scn.name, "description": scn.description, "source": scn.source,
            "content_hash": digest, "started": started.isoformat(timespec="seconds"),
            "seconds": {k: round(v, 3) for k, v in timings.items()}, "stages": scn.stages,
            "settings": scn.settings(), "files": {k: str(v) for k, v in scn.files().items()},
            "versions": versions(), "summary": summaries, "notes": notes,
            "store": None if store_path is None else str(store_path),
        }
        if scn.report.html:
            say("writing report.html")
            from spmopt.report.html import write_report

            write_report(res, stage_dir, stage_dir / "report.html")
        res.run["seconds"]["total"] = round(time.perf_counter() - t0, 3)
        write_json_atomic(res.run, stage_dir / "run.json")      # last: its presence marks a complete run
        stage = "finish"
        (stage_dir / OUTPUT_MARKER).write_text(json.dumps({"command": "run"}) + "\n")
        swap_into_place(stage_dir, out)
    except BaseException as exc:
        shutil.rmtree(stage_dir, ignore_errors=True)
        exc.stage = stage  # type: ignore[attr-defined]
        raise
    if store_path is not None:
        from spmopt.report.store import RunStore

        say(f"recording the run in {store_path}")
        try:
            with RunStore(store_path) as st:
                st.add(res)
        except BaseException as exc:
            exc.stage = "store"  # type: ignore[attr-defined]
            exc.add_note(f"the run's files are complete in {out}; only the run store was not updated")
            raise
    say(f"done in {time.perf_counter() - t0:.1f} s")
    return res


def better_from_frontier(alignment, frontier, mip_gap: float):
    """The frontier's best point when it meets every limit of the request (its disruption within the request's
    own limit on that measure) at a lower objective than ``alignment`` — a time-limited solve can leave one
    behind. Its bound stays the request's own (a frontier point's bound holds only for its tighter problem), so
    the gap is honest. None when no point is better."""
    from spmopt.territory.evaluate import evaluate

    p, m = alignment.problem, frontier.measure
    limit = p.max_disruption.get(m)
    best = None
    for r in frontier.alignments:
        if limit is not None and r.metrics.disruption[m] > limit + 1e-9:
            continue
        obj = evaluate(p, r.assignment).objective
        if obj < alignment.objective * (1 - 1e-9) and (best is None or obj < best[1]):
            best = (r, obj)
    if best is None:
        return None
    return alignment.revised(assignment=best[0].assignment, stage=f"{alignment.stage}+frontier", mip_gap=mip_gap)


__all__ = ["Inputs", "RunResult", "ScenarioError", "check_scenario", "default_store", "load_inputs",
           "run_scenario", "versions"]
