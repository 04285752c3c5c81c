"""Monte Carlo simulation of attainment, pay and plan cost: a SimPy event model of each rep's pipeline and
effort, a NumPy fast path for runs without behaviour, and the one payout engine on top.

>>> from spmopt import simulate
>>> res = simulate("scenarios/sim/reps.csv", ["scenarios/plans/linear_commission.yaml"], trials=200, seed=1)
>>> res.summary()[["plan", "stress", "cost_mean", "cost_p95"]]          # doctest: +SKIP

Modules: :mod:`~spmopt.sim.market` (calendar, stress cases), :mod:`~spmopt.sim.behaviour` (effort and timing),
:mod:`~spmopt.sim.des` (SimPy model), :mod:`~spmopt.sim.vector` (fast path), :mod:`~spmopt.sim.engine` (seeds,
chunks, executors), :mod:`~spmopt.sim.results` (:class:`SimResult` and its metrics).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from spmopt.plans.model import Plan, load_plan
from spmopt.sim.behaviour import Behaviour
from spmopt.sim.engine import execute, prepare
from spmopt.sim.horizon import QuotaRule, parse_quota_rule
from spmopt.sim.inputs import Reps, read_reps
from spmopt.sim.market import StressCase, load_stress, stress_from_dict
from spmopt.sim.results import SimResult

__all__ = ["Behaviour", "QuotaRule", "Reps", "SimResult", "StressCase", "load_stress", "read_reps", "simulate"]

PathLike = str | os.PathLike


def _reps(reps, quotas) -> Reps:
    from spmopt.data.io import read_table

    if isinstance(reps, Reps):
        return reps
    q = None if quotas is None else (quotas if isinstance(quotas, pd.DataFrame) else read_table(quotas))
    if isinstance(reps, pd.DataFrame):
        return read_reps(reps, q)
    return read_reps(read_table(reps), q)


def _plans(plans) -> list[Plan]:
    if isinstance(plans, Plan | str | os.PathLike):
        plans = [plans]
    return [p if isinstance(p, Plan) else load_plan(p) for p in plans]


def _stress(stress) -> list[StressCase] | None:
    if stress is None:
        return None
    if isinstance(stress, str | os.PathLike):
        return load_stress(Path(stress))
    if isinstance(stress, Mapping):
        return stress_from_dict(dict(stress))
    if isinstance(stress, StressCase):
        return [stress]
    return list(stress)


def simulate(reps: Reps | pd.DataFrame | PathLike, plans: Plan | PathLike | Sequence[Plan | PathLike],
             stress: PathLike | Mapping | Sequence[StressCase] | None = None, *, trials: int = 1000,
             seed: int = 0, behaviour: str | Behaviour | Mapping = "none", engine: str = "auto",
             workers: int | None = None, scheduler: str | None = None, chunk_size: int | None = None,
             year: int | None = None, quotas: pd.DataFrame | PathLike | None = None, marginal: bool = True,
             progress: Callable[[int, int], None] | None = None, years: int = 1,
             quota_rule: str | Mapping | QuotaRule | None = None,
             policy_progress: Callable[[int, int], None] | None = None) -> SimResult:
    """Simulate ``trials`` years of every rep under every plan and stress case.

    Parameters
    ----------
    reps : reps file or table ``rep_id,quota,opportunities_per_year,win_rate,deal_size_mean,deal_size_cv
        [,cycle_days,skill]`` (see :mod:`spmopt.sim.inputs`), or validated :class:`Reps`.
    plans : plan files or :class:`~spmopt.plans.Plan` objects; the first is the reference for ``revenue_uplift``.
    stress : a stress file, its content as a dict, or :class:`StressCase` objects (default: one case ``base``,
        a flat market).
    trials, seed : trial ``t`` draws from ``SeedSequence(seed, spawn_key=(t,))``: results are identical for any
        ``workers``, ``chunk_size`` or ``scheduler``.
    behaviour : ``none`` | ``effort`` | ``timing`` | ``full``, or a :class:`Behaviour` (or dict) with parameters
        (see :mod:`spmopt.sim.behaviour`); with behaviour on, each rep's dynamic programme is solved once per plan
        and stress case before the trials run (:mod:`spmopt.sim.policy`).
    engine : ``vector`` (NumPy fast path), ``des`` (SimPy event model, the reference; one year) or ``auto``
        (vector).
    years, quota_rule : simulate ``years`` consecutive years; next year's quota follows ``quota_rule``
        (``fixed``, ``growth:g``, ``ratchet[:g[:weight]]``; :mod:`spmopt.sim.horizon`). Tables get a ``year``
        column.
    workers : processes of the local pool. Default: this process only, so a plain script with no
        ``if __name__ == "__main__":`` guard works as written; give ``workers=os.cpu_count()`` (from a guarded
        script or a notebook) to use every core. The command line uses all cores by default.
    scheduler : address of a Dask distributed scheduler (``tcp://host:8786``); overrides ``workers``.
    year : calendar year simulated (default: the year of the plans' spiff windows, else 2025).
    quotas : optional table/file ``rep_id,quota`` overriding the reps file's quotas.
    marginal : measure marginal pay rates (one extra payout evaluation per plan period).
    progress : called as ``progress(trials_done, trials)`` after each chunk.
    policy_progress : called as ``policy_progress(done, total)`` as the reps' policies are solved (behaviour on).
    """
    from spmopt.errors import InputError

    if trials < 1:
        raise InputError(f"trials must be at least 1, got {trials}")
    if seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed}")
    if year is not None and not 1900 <= year <= 2200:
        raise InputError(f"year must be a calendar year between 1900 and 2200, got {year}")
    if isinstance(behaviour, str):
        behaviour = Behaviour(mode=behaviour)
    elif isinstance(behaviour, Mapping):
        behaviour = Behaviour(**behaviour)
    t0 = time.perf_counter()
    if workers is None and scheduler is None:
        workers = 1
    prep = prepare(_reps(reps, quotas), _plans(plans), _stress(stress), seed=seed, behaviour=behaviour,
                   engine=engine, year=year, marginal=marginal, years=years, quota_rule=parse_quota_rule(quota_rule),
                   solve_workers=workers or 1, solve_progress=policy_progress)
    chunks = execute(prep.spec, trials, workers=workers, scheduler=scheduler, chunk_size=chunk_size,
                     progress=progress)
    return SimResult.from_chunks(prep.spec, chunks, seconds=time.perf_counter() - t0, notes=prep.notes)
