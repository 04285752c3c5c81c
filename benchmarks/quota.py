"""Quota setting: model size and time from 100 to 50,000 holders, exactness of the sums, and the fairness of
each method on the shipped reps (simulated chance of attainment checked on independent trials).

    python benchmarks/quota.py [--smoke]

Scale protocol: holders with log-normal potential and history = potential × U(0.3, 0.6); target = 1.05 ×
Σ history; blend 0.7 potential / 0.3 history; growth −10 % … +30 % (binding for about a third of the holders);
rounded to 1,000. Timed: `set_quotas` end to end (validation, spread, Pyomo build, the two LP stages and
the rounding MIP).
Fairness protocol: `scenarios/quota/reps.csv` (20 reps, sales variability 15–80 %), target 21 M; every method's
P(attain) measured on 20,000 simulated years with seed 2; equal chance fitted on seed 1.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import machine, peak_rss_mib, table, write_section

from spmopt import set_quotas

REPS = str(Path(__file__).resolve().parents[1] / "scenarios" / "quota" / "reps.csv")


def holders(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pot = rng.lognormal(np.log(1e6), 0.5, n)
    return pd.DataFrame({"rep_id": [f"R{i:06d}" for i in range(n)], "potential": pot,
                         "history": pot * rng.uniform(0.3, 0.6, n)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, nothing written")
    args = ap.parse_args()
    sizes = (100, 1000) if args.smoke else (100, 1_000, 10_000, 50_000)
    trials = 2_000 if args.smoke else 20_000
    rows = []
    for n in sizes:
        df = holders(n)
        target = int(round(df["history"].sum() * 1.05 / 1000)) * 1000
        t0 = time.perf_counter()
        q = set_quotas(df, target, "blend", weights={"potential": 0.7, "history": 0.3}, growth=(-0.1, 0.3),
                       unit=1000, simulate=False, options=None)
        s = time.perf_counter() - t0
        qs = q.table["quota"].to_numpy()
        exact = sum(int(x) for x in qs) == target
        cont = set_quotas(df, target, "blend", weights={"potential": 0.7, "history": 0.3}, growth=(-0.1, 0.3),
                          simulate=False)
        sv = q.summary["solver"]
        rows.append({"holders": f"{n:,}", "held by growth": f"{(q.table['bound'] != '').mean():.0%}",
                     "seconds": f"{s:.2f}", "build s": f"{q.summary['solver']['build_seconds']:.2f}",
                     "solves s (3)": f"{sv['seconds'] + (sv['rounding_seconds'] or 0):.2f}",
                     "sum exact (integers)": "yes" if exact else "NO",
                     "max abs(rounded − continuous)": f"{np.abs(qs - cont.table['quota'].to_numpy()).max():,.0f}",
                     "continuous sum error": f"{cont.summary['sum_error']:.1e}"})
        print(rows[-1], flush=True)
    scale = table(rows, list(rows[0]))

    fair = []
    for method, kw in (("potential", {}), ("history", {}), ("blend", {"weights": {"potential": 0.6, "history": 0.4}}),
                       ("equal_chance", {})):
        t0 = time.perf_counter()
        seed = 1 if method == "equal_chance" else 2   # equal chance is fitted on seed 1 and checked on seed 2
        q = set_quotas(REPS, 21_000_000, method, unit=1000, trials=trials, seed=seed, **kw)
        s = time.perf_counter() - t0
        pa = q.summary["p_attain"]
        fair.append({"method": method, "P(attain) min": f"{pa['min']:.1%}", "max": f"{pa['max']:.1%}",
                     "spread (pp)": f"{100 * pa['spread']:.1f}", "sd (pp)": f"{100 * pa['sd']:.1f}",
                     "common (fit)": f"{pa['common']:.1%}" if "common" in pa else "—",
                     "quota/potential CV": f"{q.summary['quota_to_potential']['cv']:.3f}",
                     "seconds": f"{s:.1f}"})
        print(fair[-1], flush=True)
    fairness = table(fair, list(fair[0]))

    acc = []
    for t in ((1_000, 5_000) if args.smoke else (2_000, 5_000, 20_000, 50_000)):
        q = set_quotas(REPS, 21_000_000, "equal_chance", trials=t, seed=1)
        pa = q.summary["p_attain"]
        se = np.sqrt(pa["common"] * (1 - pa["common"]) / t)
        gap = 100 * np.abs(q.table["p_attain"] - pa["common"]).max()
        acc.append({"trials": f"{t:,}", "common": f"{pa['common']:.2%}",
                    "max abs(P − common) (pp), independent run": f"{gap:.2f}",
                    "1 s.e. of one chance (pp)": f"{100 * se:.2f}", "seconds": f"{q.summary['seconds']:.1f}"})
        print(acc[-1], flush=True)
    accuracy = table(acc, list(acc[0]))
    print(scale, fairness, accuracy, sep="\n\n")
    if not args.smoke:
        write_section("quota", "## Quota setting\n\n"
                      f"`benchmarks/quota.py`. {machine()}.\n\n"
                      "**Scale**: blend 0.7/0.3 of potential and history, growth −10 % … +30 % vs history, rounded "
                      "to 1,000, target 1.05 × Σ history; `set_quotas` end to end (two LP stages, rounding MIP). The "
                      "rounded answer is compared with the same model solved without rounding.\n\n" + scale +
                      "\n\n**Fairness on the shipped reps** (`scenarios/quota/reps.csv`, 20 reps, target 21 M, "
                      f"rounded to 1,000): P(attain) on {trials:,} independent simulated years.\n\n" + fairness +
                      "\n\n**Equal-chance accuracy vs trials**: the largest gap between a rep's chance on an "
                      "independent run (seed 2) and the fitted common chance (seed 1).\n\n" + accuracy +
                      f"\n\nPeak RSS {peak_rss_mib():.0f} MiB.\n")


if __name__ == "__main__":
    main()
