"""Payout engine throughput: 10,000 trials × 1,000 reps × 12 periods under a 3-component plan.

The plan (monthly): a quota bonus with threshold, 2× accelerator and cap; a marginal commission in three tiers
on attainment; and a gate on a second measure that halves the bonus. Credited values are lognormal around
quota. Trials go through the engine in chunks (the simulator's unit of work), so memory stays bounded; the
figure is rep-periods per second on one process.

    python benchmarks/payout.py [--trials 10000] [--reps 1000] [--chunk 250]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import machine, peak_rss_mib, table, write_section

from spmopt.plans import payout, plan_from_dict

PLAN = plan_from_dict({
    "name": "bench", "target_incentive": 60000, "period": "month",
    "measures": {"revenue": "sum", "nps": "mean"},
    "components": [
        {"type": "quota_bonus", "name": "bonus", "measure": "revenue", "weight": 1.0,
         "curve": [[0.5, 0.25], [1.0, 1.0], [1.5, 2.0]], "cap": 2.0},
        {"type": "commission", "name": "kicker", "measure": "revenue", "on": "attainment", "basis": "marginal",
         "tiers": [{"from": 0, "rate": 0.0}, {"from": 1.0, "rate": 0.02}, {"from": 1.5, "rate": 0.04}]},
        {"type": "gate", "measure": "nps", "threshold": 30, "factor": 0.5, "applies_to": ["bonus"]},
    ]})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=1_000)
    ap.add_argument("--periods", type=int, default=12)
    ap.add_argument("--chunk", type=int, default=250, help="trials per engine call")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="200 trials, nothing written")
    args = ap.parse_args()
    if args.smoke:
        args.trials, args.no_write = 200, True
    rng = np.random.default_rng(0)
    R, P = args.reps, args.periods
    quota = np.full((1, R, P), 100_000.0) * rng.uniform(0.8, 1.2, (1, R, 1))
    engine_s = total = 0.0
    cost = 0.0
    t_all = time.perf_counter()
    for start in range(0, args.trials, args.chunk):
        n = min(args.chunk, args.trials - start)
        rev = quota * rng.lognormal(-0.045, 0.3, (n, R, P))
        nps = rng.normal(40, 15, (n, R, P))
        t0 = time.perf_counter()
        res = payout(PLAN, {"revenue": rev, "nps": nps}, {"revenue": quota})
        cost += float(res.total.sum())
        engine_s += time.perf_counter() - t0
        total += n * R * P
        print(f"\r{start + n:>6,}/{args.trials:,} trials  {total / engine_s:,.0f} rep-periods/s", end="", flush=True)
    wall = time.perf_counter() - t_all
    print()
    rate = total / engine_s
    row = {"trials": f"{args.trials:,}", "reps": f"{R:,}", "periods": P, "chunk (trials)": args.chunk,
           "rep-periods": f"{total:,.0f}", "engine s": f"{engine_s:.1f}",
           "wall s (incl. drawing inputs)": f"{wall:.1f}",
           "rep-periods / s": f"{rate:,.0f}", "peak RSS MiB": f"{peak_rss_mib():.0f}",
           "mean cost per rep-year": f"{cost / (args.trials * R):,.0f}"}
    print(table([row], list(row)))
    if not args.no_write:
        write_section("payout", "## Payout engine throughput\n\n"
                      "`benchmarks/payout.py`: one process, `spmopt.plans.payout` on chunks of trials; plan = quota "
                      "bonus (threshold 50 %, 2× accelerator, cap 200 %) + marginal commission kicker on attainment "
                      "(3 tiers) + NPS gate halving the bonus; lognormal credited revenue around quota. Engine time "
                      f"excludes drawing the inputs. {machine()}.\n\n" + table([row], list(row)))


if __name__ == "__main__":
    main()
