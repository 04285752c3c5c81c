"""Add / remove-territory what-ifs on the shipped North-East data (217 counties, 10 territories).

Each request: balance ±20 % on potential and workload, 60 s, mip gap 0.1 %. Records the objective, the proved
bound and gap (over every candidate centre), the stage that produced the answer, the territories opened and
closed, the share of potential moved, the screening figures and the wall time.

    python benchmarks/whatif.py            # writes the 'whatif' section of RESULTS.md
    python benchmarks/whatif.py --smoke    # add one in New York State only, 20 s, prints
"""

from __future__ import annotations

import argparse
import time

from common import machine, peak_rss_mib, table, write_section

import spmopt
from spmopt.data.datasets import northeast

BAL = {"potential": 0.2, "workload": 0.2}


def cases(smoke: bool):
    if not smoke:
        yield "current 10 territories (no change)", {}
        yield "add 1, any county", {"add": 1}
    yield "add 1, New York State only", {"add": 1, "add_candidates": "state == 'NY'"}
    if smoke:
        return
    yield "add 2, any county", {"add": 2}
    yield "remove T03 (named)", {"remove": ["T03"]}
    yield "remove 1 (chosen)", {"remove": 1}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--time-limit", type=float, default=60.0)
    args = ap.parse_args()
    tl = 20.0 if args.smoke else args.time_limit
    ne = northeast()
    rows = []
    for name, kw in cases(args.smoke):
        t0 = time.perf_counter()
        r = spmopt.align(ne.units, ne.territories, balance=BAL, time_limit=tl, mip_gap=1e-3,
                         **{"contiguity": False, **kw})
        s = r.summary()
        wi = s.get("what_if") or {}
        sc = r.options.get("what_if") or {}
        row = {"request": name, "territories": s["n_territories"], "status": r.status, "stage": r.stage,
               "objective km": f"{r.objective:,.0f}", "bound": f"{r.bound:,.0f}",
               "gap %": f"{100 * (r.gap or 0):.2f}", "opened": ", ".join(wi.get("opened", [])) or "–",
               "closed": ", ".join(wi.get("closed", [])) or "–",
               "potential moved %": f"{100 * s['disruption']['potential']:.1f}",
               "sets screened (feasible)": f"{sc['sets_tried']} ({sc['sets_feasible']})" if sc else "–",
               "wall s": f"{time.perf_counter() - t0:.1f}"}
        rows.append(row)
        print(row, flush=True)
    if args.smoke:
        return
    md = (f"## What-ifs: add or remove territories\n\n`benchmarks/whatif.py`: the shipped North-East counties, "
          f"balance ±20 % on potential and workload, time limit {tl:g} s, mip gap 0.1 %. {machine()}; peak RSS "
          f"{peak_rss_mib():.0f} MiB.\n\n" + table(rows, list(rows[0])) +
          "\n\nThe bound is the exact location–allocation model's, over every candidate centre (217 counties for "
          "'any county'), so the gap is honest; `screen` means the best screened centre set survived. "
          "Balance is against the mean after the change, so the objectives of different territory counts are "
          "not comparable as alignments of the same request, only as distances.")
    write_section("whatif", md)


if __name__ == "__main__":
    main()
