"""Running many simulated years: seeds, chunks of trials, executors, and the payout of every plan on them.

Trial ``t`` draws from ``SeedSequence(seed, spawn_key=(t,))`` only, and chunk results are put back together in
trial order, so a run gives bit-identical results for any number of workers, any chunk size and any executor:
in-process, a local process pool (default: all cores), or a Dask distributed cluster (``scheduler="tcp://…"``).
Every plan and every stress case sees the same trial streams (common random numbers), so differences between
plans are not blurred by different luck.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from multiprocessing import get_context

import numpy as np

from spmopt.errors import InputError
from spmopt.plans.model import Plan
from spmopt.sim.behaviour import Behaviour
from spmopt.sim.des import DesModel
from spmopt.sim.horizon import QuotaRule
from spmopt.sim.inputs import Reps
from spmopt.sim.market import Calendar, Case, StressCase, resolve
from spmopt.sim.pay import PlanContext, plan_context
from spmopt.sim.vector import BehaviourModel, VectorModel, Year

MARGINAL_STEP = 0.01   # marginal pay is measured on an extra 1 % of the period's quota
CAP_STEP = 0.10        # "at cap": 10 % more revenue pays nothing more, at or above quota


@dataclass(frozen=True)
class SimSpec:
    """Everything a worker needs to simulate a chunk of trials (picklable)."""

    reps: Reps
    plans: tuple[Plan, ...]
    cases: tuple[Case, ...]
    cal: Calendar
    behaviour: Behaviour
    engine: str
    seed: int
    marginal: bool = True
    years: int = 1
    quota_rule: QuotaRule = QuotaRule()
    policies: dict | None = None       # (plan, case) → per year PolicySet (behaviour on)


@dataclass
class Cell:
    """Results of one plan under one stress case for a block of trials (first axis: trial)."""

    revenue: np.ndarray        # (T, R) annual revenue booked
    payout: np.ndarray         # (T, R) annual incentive pay
    effort: np.ndarray         # (T, R) mean effort over the months
    at_cap: np.ndarray         # (T, R) bool
    monthly_revenue: np.ndarray  # (T, 12) all reps
    monthly_payout: np.ndarray   # (T, 12) all reps, in the month the period's pay falls due (its last month)
    marginal_sum: np.ndarray     # (T,) Σ over rep-periods of the marginal pay rate
    marginal_zero: np.ndarray    # (T,) rep-periods with zero marginal pay
    pulled: np.ndarray           # (T,) revenue pulled in (all reps)
    pushed: np.ndarray           # (T,) revenue pushed out (all reps)
    quota: np.ndarray            # (T, R) the year's annual quota
    coaching: np.ndarray = None  # (T,) cost of the plan's coaching programme (all reps)


@dataclass
class Chunk:
    trials: range
    cells: dict[tuple[int, int], Cell]
    events: int = 0
    seconds: float = 0.0


def _spiff_keys(ctxs: Sequence[PlanContext], only: int | None = None):
    return tuple((f"{i}:{s.name}", s) for i, c in enumerate(ctxs) for s in c.spiffs if only in (None, i))


def _cell(ctx: PlanContext, year: Year, i: int, marginal: bool) -> Cell:
    counts = {k.split(":", 1)[1]: v for k, v in year.spiffs.items() if k.split(":", 1)[0] == str(i)}
    per = ctx.to_periods(year.revenue)                                  # (T, R, P)
    T, R, P = per.shape
    if year.quota is not None:  # the year's own quotas (consecutive years)
        ctx = replace(ctx, quota_per_period=(year.quota / P)[..., None])
    q = np.broadcast_to(ctx.quota_per_period[..., 0], (T, R))
    deals = {k: ctx.to_periods(v) for k, v in counts.items()}
    pay = ctx.pay_periods(per, deals).total                             # (T, R, P)
    annual = pay.sum(axis=-1)
    m_sum, m_zero = np.zeros(T), np.zeros(T)
    if marginal:
        step = MARGINAL_STEP * q                                        # (R,)
        for p in range(P):
            bumped = per.copy()
            bumped[..., p] += step
            rate = (ctx.pay_periods(bumped, deals).total.sum(axis=-1) - annual) / step
            m_sum += rate.sum(axis=-1)
            m_zero += (rate <= 1e-9).sum(axis=-1)
    more = ctx.pay_periods(per * (1 + CAP_STEP), deals).total.sum(axis=-1)
    attainment = per.sum(axis=-1) / (q * P)
    at_cap = (more - annual <= 1e-9 * max(ctx.plan.target_incentive, 1.0)) & (attainment >= 1)
    monthly_pay = np.zeros((T, 12))
    last_month = (np.arange(P) + 1) * (12 // P) - 1
    monthly_pay[:, last_month] = pay.sum(axis=1)
    coach = ctx.plan.coaching
    return Cell(revenue=year.revenue.sum(axis=-1), payout=annual, effort=year.effort.mean(axis=-1),
                quota=np.array(q * P), coaching=np.full(T, 0.0 if coach is None else coach.cost_per_rep * R),
                at_cap=at_cap, monthly_revenue=year.revenue.sum(axis=1), monthly_payout=monthly_pay,
                marginal_sum=m_sum, marginal_zero=m_zero,
                pulled=np.zeros(T) if year.pulled is None else year.pulled.sum(axis=-1),
                pushed=np.zeros(T) if year.pushed is None else year.pushed.sum(axis=-1))


def run_chunk(spec: SimSpec, trials: range) -> Chunk:
    """Simulate ``trials`` (a range of trial indices) for every plan and stress case (and every year). Pure: the
    result depends on ``spec`` and the trial indices only. Cells are keyed (plan, case, year)."""
    t0 = time.perf_counter()
    ctxs = [plan_context(p, spec.reps, spec.cal) for p in spec.plans]
    cells: dict[tuple[int, int, int], Cell] = {}
    events = 0
    bh = spec.behaviour
    for c, case in enumerate(spec.cases):
        coached = any(p.coaching is not None for p in spec.plans)
        if bh.mode == "none" and spec.years == 1 and not coached:  # sales do not depend on the plan: once for all
            keys = _spiff_keys(ctxs)
            model = (VectorModel(spec.reps, case, spec.cal, keys) if spec.engine == "vector"
                     else DesModel(spec.reps, case, spec.cal, spec.behaviour, None, keys))
            year = model.run(spec.seed, trials)
            events += year.events
            for i, ctx in enumerate(ctxs):
                cells[(i, c, 0)] = _cell(ctx, year, i, spec.marginal)
            continue
        for i, ctx in enumerate(ctxs):
            pols = spec.policies[(i, c)] if bh.mode != "none" else None
            keys = _spiff_keys(ctxs, i)
            coach = ctx.plan.coaching
            lift = coach.lift(spec.years + 1) if coach is not None else None
            if spec.engine == "vector":
                years = BehaviourModel(spec.reps, case, spec.cal, bh, pols, keys, ctx.periods, spec.years,
                                       spec.quota_rule, lift).run(spec.seed, trials)
            else:
                years = [DesModel(spec.reps, case, spec.cal, bh, ctx, keys, None if pols is None else pols[0],
                                  None if lift is None else lift[0]).run(spec.seed, trials)]
            for y, year in enumerate(years):
                events += year.events
                cells[(i, c, y)] = _cell(ctx, year, i, spec.marginal)
    return Chunk(trials=trials, cells=cells, events=events, seconds=time.perf_counter() - t0)


def _solve_task(spec: SimSpec, i: int, c: int, idx: np.ndarray):
    """Policies of reps ``idx`` under plan ``i`` and case ``c`` (one task of :func:`solve_all`)."""
    from spmopt.sim.inputs import subset
    from spmopt.sim.policy import solve_policies

    reps = subset(spec.reps, idx)
    ctx = plan_context(spec.plans[i], reps, spec.cal)
    return solve_policies(ctx, reps, spec.cases[c], spec.cal, spec.behaviour, years=spec.years,
                          rule=spec.quota_rule)


def solve_all(spec: SimSpec, workers: int = 1, progress: Callable[[int, int], None] | None = None) -> dict:
    """The reps' policies for every plan and stress case (behaviour on): (plan, case) → one PolicySet per year.
    With ``workers`` > 1 the solves run on a local process pool, in blocks of reps; the policies do not depend
    on the split."""
    from spmopt.sim.policy import PolicySet

    R = len(spec.reps)
    blocks = max(1, min(R, 4 * workers if workers > 1 else 1))
    parts = np.array_split(np.arange(R), blocks)
    todo = [(i, c, idx) for i in range(len(spec.plans)) for c in range(len(spec.cases)) for idx in parts]
    done: dict[int, list] = {}

    def tick(k, res):
        done[k] = res
        if progress:
            progress(len(done), len(todo))

    if workers <= 1 or len(todo) == 1:
        for k, (i, c, idx) in enumerate(todo):
            tick(k, _solve_task(spec, i, c, idx))
    else:
        pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=_pool_context(),
                                   initializer=_leave_interrupts_to_the_parent)
        try:
            futs = {pool.submit(_solve_task, spec, i, c, idx): k for k, (i, c, idx) in enumerate(todo)}
            for fut in as_completed(futs):
                tick(futs[fut], fut.result())
        except BaseException:
            stop_pool(pool)
            raise
        pool.shutdown()
    out = {}
    for i in range(len(spec.plans)):
        for c in range(len(spec.cases)):
            ks = [k for k, (a, b, _) in enumerate(todo) if (a, b) == (i, c)]
            out[(i, c)] = tuple(PolicySet.concat([done[k][y] for k in ks]) for y in range(spec.years))
    return out


# ------------------------------------------------------------------------------------------------- executors
def _chunks(n_trials: int, size: int) -> list[range]:
    return [range(a, min(a + size, n_trials)) for a in range(0, n_trials, size)]


def default_chunk_size(n_reps: int, engine: str, trials: int, workers: int) -> int:
    """Enough chunks to keep every worker busy, each a few seconds of work at most."""
    cap = max(1, (400_000 if engine == "vector" else 1_500) // max(n_reps, 1))
    return int(max(1, min(cap, math.ceil(trials / (4 * max(workers, 1))))))


def execute(spec: SimSpec, trials: int, *, workers: int | None = None, scheduler: str | None = None,
            chunk_size: int | None = None, progress: Callable[[int, int], None] | None = None) -> list[Chunk]:
    """Run ``trials`` trials of ``spec`` in chunks and return the chunks in trial order."""
    if scheduler is None:
        workers = (os.cpu_count() or 1) if workers is None else int(workers)
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
    size = chunk_size or default_chunk_size(len(spec.reps), spec.engine, trials, workers or 4)
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    ranges = _chunks(trials, size)
    done = 0
    out: dict[int, Chunk] = {}

    def tick(k: int, ch: Chunk) -> None:
        nonlocal done
        out[k] = ch
        done += len(ch.trials)
        if progress:
            progress(done, trials)

    if scheduler is not None:
        from distributed import Client
        from distributed import as_completed as dask_completed

        with Client(scheduler, timeout="30s") as client:
            remote = client.scatter(spec, broadcast=True)
            futures = client.map(run_chunk, [remote] * len(ranges), ranges, pure=False)
            index = {f.key: k for k, f in enumerate(futures)}
            try:
                for fut in dask_completed(futures):
                    tick(index[fut.key], fut.result())
            except BaseException:
                client.cancel(futures)
                raise
    elif workers == 1 or len(ranges) == 1:
        for k, r in enumerate(ranges):
            tick(k, run_chunk(spec, r))
    else:
        pool = ProcessPoolExecutor(max_workers=min(workers, len(ranges)), mp_context=_pool_context(),
                                   initializer=_start_worker, initargs=(spec,))
        try:   # the spec (with the reps' policies, possibly large) goes to each worker once, not with each chunk
            futs = {pool.submit(_run_in_worker, r): k for k, r in enumerate(ranges)}
            for fut in as_completed(futs):
                tick(futs[fut], fut.result())
        except BaseException:  # Ctrl-C or a failed chunk: the chunks still running are of no use
            stop_pool(pool)
            raise
        pool.shutdown()
    return [out[k] for k in range(len(ranges))]


def _pool_context():
    """The forkserver start method, its server preloaded with this module: each worker is then a fork of an
    interpreter that has already imported NumPy, SimPy and the plan model, and starts in milliseconds rather
    than seconds (the preload only applies if this process has not started its fork server yet)."""
    ctx = get_context("forkserver")
    ctx.set_forkserver_preload(["__main__", __name__])
    return ctx


_WORKER_SPEC: SimSpec | None = None


def _start_worker(spec: SimSpec) -> None:
    global _WORKER_SPEC
    _leave_interrupts_to_the_parent()
    _WORKER_SPEC = spec


def _run_in_worker(trials: range) -> Chunk:
    return run_chunk(_WORKER_SPEC, trials)


def _leave_interrupts_to_the_parent() -> None:
    """Pool initializer: a worker ignores SIGINT. Ctrl-C reaches the whole process group, and a worker that took
    it itself would only report its chunk failed and take the next one (or print a traceback when idle); the
    parent stops every worker at once instead (:func:`stop_pool`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop_pool(pool: ProcessPoolExecutor, grace: float = 0.5) -> None:
    """Stop ``pool`` now rather than when its running chunks finish: cancel the chunks not started, send every
    worker SIGTERM, SIGKILL those still alive after ``grace`` seconds, and wait until all are gone."""
    procs = list((pool._processes or {}).values())  # public only from Python 3.14 (terminate_workers)
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    end = time.monotonic() + grace
    for p in procs:
        p.join(max(0.0, end - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(grace)


@dataclass
class Prepared:
    spec: SimSpec
    notes: list[str] = field(default_factory=list)


def prepare(reps: Reps, plans: Sequence[Plan], stress: Sequence[StressCase] | None, *, seed: int,
            behaviour: Behaviour, engine: str, year: int | None, marginal: bool = True, years: int = 1,
            quota_rule: QuotaRule | None = None, solve_workers: int = 1,
            solve_progress: Callable[[int, int], None] | None = None) -> Prepared:
    """Check the inputs once, up front (plan measures, stress cases, engine) and build the :class:`SimSpec`."""
    if not plans:
        raise ValueError("give at least one plan")
    names = [p.name for p in plans]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        files = [p.source or "<plan>" for p in plans if p.name == dup]
        raise InputError(f"two plans are both called '{dup}' ({' and '.join(files)}): give them different names "
                         "(the name labels the outputs)")
    if engine == "auto":
        engine = "vector"
    if engine not in ("des", "vector"):
        raise ValueError(f"engine must be 'des', 'vector' or 'auto', got '{engine}'")
    if not 1 <= int(years) <= 50:
        raise ValueError(f"years must be between 1 and 50, got {years}")
    if engine == "des" and years > 1:
        raise ValueError("the event engine (des) simulates one year: use --engine vector for --years > 1")
    if year is None:
        spiff_years = [s.window.start.year for p in plans for s in p.of_type("spiff") if s.window is not None]
        year = min(spiff_years) if spiff_years else 2025
    cal = Calendar(int(year))
    cases = tuple(resolve(s, s, cal) for s in (stress or [StressCase(name="base")]))
    case_names = [c.name for c in cases]
    dup = next((n for n in case_names if case_names.count(n) > 1), None)
    if dup:
        raise ValueError(f"two stress cases are both called '{dup}': give them different names")
    notes = []
    for s in stress or []:
        if s.shock is not None and s.shock.date is not None and s.shock.date.year != cal.year:
            when = "applies from 1 January" if s.shock.date.year < cal.year else "never applies"
            notes.append(f"stress case '{s.name}': the shock date {s.shock.date} is outside the simulated year "
                         f"{cal.year}; it {when} (choose the year with --year)")
    for p in plans:
        notes.extend(plan_context(p, reps, cal).notes)
    spec = SimSpec(reps=reps, plans=tuple(plans), cases=cases, cal=cal, behaviour=behaviour, engine=engine,
                   seed=int(seed), marginal=marginal, years=int(years), quota_rule=quota_rule or QuotaRule())
    if behaviour.mode != "none":
        spec = replace(spec, policies=solve_all(spec, solve_workers, solve_progress))
    return Prepared(spec, notes)
