"""The shipped North-East case (217 counties, 10 rep bases) at several balance tolerances: distance,
disruption and solve time — the figures behind `make demo`.

    python benchmarks/northeast.py           # writes the 'northeast' section of RESULTS.md
    python benchmarks/northeast.py --smoke   # one tolerance, prints
"""

from __future__ import annotations

import argparse

from common import machine, table, write_section

import spmopt
from spmopt.data.datasets import northeast


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    case = northeast()
    tolerances = [0.20] if args.smoke else [0.20, 0.10, 0.05]
    rows = []
    for tol in tolerances:
        r = spmopt.align(case.units, case.territories, balance={"potential": tol, "workload": 0.15},
                         max_disruption={"potential": 0.40}, time_limit=300, mip_gap=1e-3, contiguity=False)
        s = r.summary()
        rows.append({"potential ±": f"{tol:.0%}", "status": r.status, "distance km": f"{r.metrics.distance:,.0f}",
                     "proved gap %": f"{100 * (r.gap or 0):.2f}",
                     "max dev potential %": f"{100 * s['max_balance_deviation']['potential']:.1f}",
                     "max dev workload %": f"{100 * s['max_balance_deviation']['workload']:.1f}",
                     "potential moved %": f"{100 * s['disruption']['potential']:.1f}",
                     "units moved": s["units_moved"], "solve s": f"{r.solve_seconds:.1f}"})
        print(rows[-1], flush=True)
    cur = r.summary()["current"]
    md = (f"## Shipped North-East case (`make demo` data)\n\n`benchmarks/northeast.py`: 217 counties (2010 Census), "
          f"10 fixed rep bases, workload ±15 %, at most 40 % of potential moved, mip gap 0.1 %. {machine()}.\n\n"
          f"Current alignment: distance {cur['distance']:,.0f} km, potential deviation up to "
          f"±{100 * cur['max_balance_deviation']['potential']:.0f} %, workload up to "
          f"±{100 * cur['max_balance_deviation']['workload']:.0f} %.\n\n" + table(rows, list(rows[0])))
    print(md)
    if not args.smoke:
        write_section("northeast", md)


if __name__ == "__main__":
    main()
