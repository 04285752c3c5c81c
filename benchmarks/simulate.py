"""Monte Carlo throughput: events per second of the SimPy model, rep-years per second of the NumPy fast path
(1,000 reps × 10,000 trials) without and with behaviour (the reps' policies solved first, timed apart), and
scaling with workers (local process pool and a Dask LocalCluster).

    python benchmarks/simulate.py [--smoke]

Protocol: every run is end to end through ``spmopt.simulate`` (drawing the years, paying the plan through the
payout engine, summary arrays), one plan (quarterly quota bonus with threshold, 2× accelerator, cap and annual
true-up: ``scenarios/plans/quota_bonus_accelerator.yaml``), one flat ``base`` case. "sampling only" times the
fast path's draw of the years without paying anyone. Wall-clock seconds include starting worker processes.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from common import machine, peak_rss_mib, table, write_section

from spmopt.data.history import sim_reps
from spmopt.plans import load_plan
from spmopt.sim import Behaviour, read_reps, simulate
from spmopt.sim.market import Calendar, StressCase, resolve
from spmopt.sim.vector import VectorModel

warnings.simplefilter("ignore")
PLAN = load_plan("scenarios/plans/quota_bonus_accelerator.yaml")


def reps_table(n: int) -> pd.DataFrame:
    return sim_reps(n_reps=n, seed=3)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, nothing written")
    args = ap.parse_args()
    big_reps, big_trials = (50, 200) if args.smoke else (1_000, 10_000)
    des_reps, des_trials = (5, 4) if args.smoke else (25, 400)
    rows = []

    # SimPy event model
    small = reps_table(des_reps)
    for mode in ("none", "full"):
        trials = des_trials if mode == "none" else max(des_trials // 4, 2)
        for workers in (1, 2):
            res, s = timed(lambda m=mode, w=workers, t=trials: simulate(
                small, PLAN, trials=t, seed=1, behaviour=Behaviour(mode=m), engine="des", workers=w))
            rows.append({"engine": "des (SimPy)", "behaviour": mode, "reps": des_reps, "trials": trials,
                         "workers": workers, "wall s": f"{s:.1f}", "events": f"{res.events:,}",
                         "events / s": f"{res.events / s:,.0f}", "rep-years / s": f"{des_reps * trials / s:,.0f}"})
            print(rows[-1], flush=True)

    # NumPy fast path
    big = read_reps(reps_table(big_reps))
    cal = Calendar(2025)
    case = resolve(StressCase(), StressCase(), cal)
    chunk = 400
    t0 = time.perf_counter()
    for a in range(0, big_trials, chunk):
        VectorModel(big, case, cal).run(1, range(a, min(a + chunk, big_trials)))
    s = time.perf_counter() - t0
    rows.append({"engine": "vector: sampling only", "behaviour": "none", "reps": big_reps, "trials": big_trials,
                 "workers": 1, "wall s": f"{s:.1f}", "events": "—", "events / s": "—",
                 "rep-years / s": f"{big_reps * big_trials / s:,.0f}"})
    print(rows[-1], flush=True)
    for workers in (1, 2):
        res, s = timed(lambda w=workers: simulate(big, PLAN, trials=big_trials, seed=1, workers=w))
        rows.append({"engine": "vector + payout", "behaviour": "none", "reps": big_reps, "trials": big_trials,
                     "workers": workers, "wall s": f"{s:.1f}", "events": "—", "events / s": "—",
                     "rep-years / s": f"{big_reps * big_trials / s:,.0f}"})
        print(rows[-1], flush=True)
    cost_local = res.cost()

    # fast path with behaviour: the policies are solved once (per rep, plan and case), then the years are drawn
    from spmopt.sim.engine import execute, prepare

    beh_trials = big_trials
    for workers in (1, 2):
        t0 = time.perf_counter()
        prep = prepare(big, [PLAN], None, seed=1, behaviour=Behaviour(mode="full"), engine="vector", year=None,
                       solve_workers=workers)
        solve_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        execute(prep.spec, beh_trials, workers=workers)
        sim_s = time.perf_counter() - t1
        rows.append({"engine": "vector + payout", "behaviour": "full", "reps": big_reps, "trials": beh_trials,
                     "workers": workers, "wall s": f"{solve_s + sim_s:.1f} ({solve_s:.1f} solving policies)",
                     "events": "—", "events / s": "—",
                     "rep-years / s": f"{big_reps * beh_trials / sim_s:,.0f} drawing; "
                                      f"{big_reps * beh_trials / (solve_s + sim_s):,.0f} end to end"})
        print(rows[-1], flush=True)

    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        res, s = timed(lambda: simulate(big, PLAN, trials=big_trials, seed=1, scheduler=cluster.scheduler_address))
    same = np.array_equal(res.cost(), cost_local)
    rows.append({"engine": "vector + payout, Dask LocalCluster", "behaviour": "none", "reps": big_reps,
                 "trials": big_trials, "workers": 2, "wall s": f"{s:.1f}", "events": "—", "events / s": "—",
                 "rep-years / s": f"{big_reps * big_trials / s:,.0f}"})
    print(rows[-1], "identical to local:", same, flush=True)
    cols = ["engine", "behaviour", "reps", "trials", "workers", "wall s", "events", "events / s", "rep-years / s"]
    text = table(rows, cols)
    print(text)
    print(f"peak RSS of this process: {peak_rss_mib():.0f} MiB; Dask result identical to the local one: {same}")
    if not args.smoke:
        write_section("simulate", "## Monte Carlo throughput\n\n"
                      "`benchmarks/simulate.py`: end to end through `spmopt.simulate` (draw the years, pay "
                      "`quota_bonus_accelerator.yaml` through the payout engine incl. marginal-pay probes, summary "
                      "arrays); reps from `spmopt.data.history.sim_reps(seed=3)`; flat `base` case. Wall clock "
                      f"includes starting worker processes. {machine()}.\n\n" + text +
                      f"\n\nPeak RSS of the driver process {peak_rss_mib():.0f} MiB. The Dask run's costs are "
                      f"bit-identical to the local run's: {same}.\n")


if __name__ == "__main__":
    main()
